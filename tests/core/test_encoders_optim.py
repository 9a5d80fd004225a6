import copy
import math

import pytest
import torch

from dacl.core.encoders import MixAt, MLPEncoder, ProjectionHead, encoder_width
from dacl.core.optim import LARS, build_optimizer, parameter_groups, warmup_cosine


def test_encoder_and_head_shapes_and_layers():
    encoder = MLPEncoder(784, width=64, depth=12)
    head = ProjectionHead(64, 64, 128, depth=3)
    x = torch.randn(10, 784)
    h = encoder(x)
    assert h.shape == (10, 64) and head(h).shape == (10, 128)
    assert len(encoder.blocks) == 12
    assert sum(isinstance(m, torch.nn.Linear) for m in head.modules()) == 3
    assert all(isinstance(b[1], torch.nn.BatchNorm1d) and isinstance(b[2], torch.nn.ReLU) for b in encoder.blocks)


@pytest.mark.parametrize("layer", [0, 1, 3, 5])
def test_layer_hook_sees_every_boundary_and_may_stack_rows(layer):
    encoder = MLPEncoder(8, width=16, depth=5).eval()
    x = torch.randn(4, 8)
    seen = []
    encoder(x, hook=lambda index, h, groups: seen.append((index, tuple(h.shape), groups)) or h)
    assert seen == [(0, (4, 8), None)] + [(i, (4, 16), None) for i in range(1, 6)]
    # the hook at `layer` returns the rows twice: the layers after it see 8 rows, each half the plain pass
    out = encoder(x, hook=MixAt(layer, lambda h, groups: torch.cat([h, h])))
    assert out.shape == (8, 16)
    torch.testing.assert_close(out[:4], encoder(x))
    torch.testing.assert_close(out[4:], encoder(x))
    # a hook that changes the rows at `layer` is the same as changing them by hand between the blocks
    doubled = encoder(x, hook=MixAt(layer, lambda h, groups: 2 * h))
    h = torch.nn.Sequential(*encoder.blocks[:layer])(x)
    torch.testing.assert_close(doubled, torch.nn.Sequential(*encoder.blocks[layer:])(2 * h))


def test_encoder_width_reads_out_features_or_measures():
    assert encoder_width(MLPEncoder(8, 16, 2)) == 16
    plain = torch.nn.Sequential(torch.nn.Linear(8, 7), torch.nn.ReLU())
    assert encoder_width(plain, torch.zeros(2, 8)) == 7
    with pytest.raises(ValueError, match="out_features"):
        encoder_width(plain)


def test_bad_sizes_raise():
    with pytest.raises(ValueError):
        MLPEncoder(0, 8, 2)
    with pytest.raises(ValueError):
        ProjectionHead(8, 8, 4, depth=0)


def test_biases_and_batchnorm_are_excluded_from_decay_and_trust_ratio():
    model = torch.nn.Sequential(MLPEncoder(8, 16, 2), ProjectionHead(16, 16, 4))
    decayed, exempt = parameter_groups(model, 1e-4)
    assert decayed["lars"] and not exempt["lars"] and exempt["weight_decay"] == 0
    assert all(p.ndim == 2 for p in decayed["params"]) and all(p.ndim == 1 for p in exempt["params"])
    assert len(decayed["params"]) + len(exempt["params"]) == len(list(model.parameters()))


def test_lars_step_matches_the_formula():
    weight = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))
    bias = torch.nn.Parameter(torch.tensor([1.0]))
    weight.grad = torch.tensor([[0.6, 0.8]])
    bias.grad = torch.tensor([0.5])
    opt = LARS(
        [
            {"params": [weight], "lars": True, "weight_decay": 0.1},
            {"params": [bias], "lars": False, "weight_decay": 0.0},
        ],
        lr=0.5,
        momentum=0.9,
        trust_coefficient=0.01,
    )
    opt.step()
    g = torch.tensor([[0.6, 0.8]]) + 0.1 * torch.tensor([[3.0, 4.0]])
    ratio = 0.01 * 5.0 / g.norm()
    assert torch.allclose(weight, torch.tensor([[3.0, 4.0]]) - 0.5 * ratio * g)
    assert torch.allclose(bias, torch.tensor([1.0 - 0.5 * 0.5]))
    # second step uses momentum
    weight.grad = torch.tensor([[0.6, 0.8]])
    before = weight.detach().clone()
    opt.step()
    g2 = torch.tensor([[0.6, 0.8]]) + 0.1 * before
    buf = 0.9 * ratio * g + 0.01 * before.norm() / g2.norm() * g2
    assert torch.allclose(weight, before - 0.5 * buf, atol=1e-6)
    # the update is formed in the optimiser's own buffer: the gradient is left as it was
    assert torch.equal(weight.grad, torch.tensor([[0.6, 0.8]]))
    assert all(set(state) == {"momentum_buffer"} for state in opt.state_dict()["state"].values())  # no scratch


def test_build_optimizer_choices():
    model = MLPEncoder(4, 8, 2)
    assert isinstance(build_optimizer(model, "lars", 0.1, 1e-6), LARS)
    assert isinstance(build_optimizer(model, "adamw", 1e-3, 1e-4), torch.optim.AdamW)
    with pytest.raises(ValueError, match="unknown optimizer"):
        build_optimizer(model, "sgdx", 0.1, 0)


@pytest.mark.parametrize("name", ["adamw", "adam"])
def test_the_fused_adam_steps_as_torchs_reference_loop(name):
    """The fused kernel (where torch has it) against the single-tensor loop, 5 steps of the same gradients."""
    torch.manual_seed(0)
    model, reference = MLPEncoder(4, 8, 2), None
    reference = copy.deepcopy(model)
    fused = build_optimizer(model, name, 1e-2, 1e-2)
    groups = [{k: v for k, v in g.items() if k != "lars"} for g in parameter_groups(reference, 1e-2)]
    kind = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    loop = kind(groups, lr=1e-2, weight_decay=1e-2, foreach=False)
    x = torch.randn(16, 4)
    for _ in range(5):
        for net, opt in ((model, fused), (reference, loop)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_warmup_then_cosine():
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert warmup_cosine(100, 100, 10) == pytest.approx(0.0)
    factors = [warmup_cosine(s, 100, 10) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))
