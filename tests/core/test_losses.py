import math

import pytest
import torch

from dacl.core.losses import NTXentLoss
from oracles import cross_entropy_ntxent


def direct_ntxent(z1, z2, tau):
    """Algorithm 1, lines 17-21, written as loops over the 2N views: z_{2k-1}, z_{2k} are the pair."""
    n = len(z1)
    z = []
    for k in range(n):
        z += [z1[k], z2[k]]
    s = [[float(torch.dot(a, b) / (a.norm() * b.norm())) for b in z] for a in z]

    def ell(i, j):
        denominator = sum(math.exp(s[i][k] / tau) for k in range(2 * n) if k != i)
        return -math.log(math.exp(s[i][j] / tau) / denominator)

    return sum(ell(2 * k, 2 * k + 1) + ell(2 * k + 1, 2 * k) for k in range(n)) / (2 * n)


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("n, k", [(2, 3), (5, 4), (16, 8)])
def test_loss_equals_direct_computation_of_algorithm_1(tau, n, k):
    g = torch.Generator().manual_seed(n * 10 + k)
    z1 = torch.randn(n, k, generator=g, dtype=torch.float64)
    z2 = torch.randn(n, k, generator=g, dtype=torch.float64)
    got = NTXentLoss(tau)(z1, z2).item()
    assert got == pytest.approx(direct_ntxent(z1, z2, tau), rel=1e-5)


def test_stable_for_small_temperature_and_large_inputs():
    g = torch.Generator().manual_seed(0)
    z1 = 1e6 * torch.randn(64, 16, generator=g)
    z2 = z1 + 1e3 * torch.randn(64, 16, generator=g)
    z1.requires_grad_(True)
    loss = NTXentLoss(0.1)(z1, z2)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all()
    # identical views: the positive dominates, loss near zero but finite
    same = torch.randn(8, 4, generator=g)
    assert torch.isfinite(NTXentLoss(0.05)(same * 1e8, same * 1e8))


@pytest.mark.parametrize("tau", [0.01, 0.05, 0.1])
def test_extreme_similarities_stay_finite_on_both_sides_of_the_shift_threshold(tau):
    # views equal to their positives and opposite to every other sample: the largest and smallest
    # logits unit vectors allow (±1/τ), in float32
    n = 512
    direction = torch.zeros(n, 8)
    direction[:, 0] = 1.0
    direction[1:, 0] = -1.0
    z = direction.clone().requires_grad_(True)
    loss = NTXentLoss(tau)(z, direction)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    want = cross_entropy_ntxent(direction.double(), direction.double(), tau).item()
    assert loss.item() == pytest.approx(want, rel=1e-4, abs=1e-6)


def test_perfect_alignment_beats_random():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(32, 64, generator=g)
    assert NTXentLoss(0.5)(z, z) < NTXentLoss(0.5)(z, torch.randn(32, 64, generator=g))


@pytest.mark.parametrize(
    "z1, z2, match",
    [
        (torch.ones(4, 3), torch.ones(5, 3), "shape"),
        (torch.ones(4), torch.ones(4), "shape"),
        (torch.ones(1, 3), torch.ones(1, 3), "at least 2"),
    ],
)
def test_bad_shapes_raise(z1, z2, match):
    with pytest.raises(ValueError, match=match):
        NTXentLoss(0.5)(z1, z2)


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(0.0)


@pytest.mark.parametrize("tau", [0.01, 0.049, 0.05, 0.5])  # below 0.05 the row maximum is subtracted
def test_fused_gradient_equals_autograd_of_masked_cross_entropy(tau):
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(12, 6, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(12, 6, generator=g, dtype=torch.float64, requires_grad=True)
    fused = NTXentLoss(tau)(z1, z2)
    grad_fused = torch.autograd.grad(3.0 * fused, (z1, z2))
    reference = cross_entropy_ntxent(z1, z2, tau)  # the bench compares against it too
    grad_reference = torch.autograd.grad(3.0 * reference, (z1, z2))
    assert fused.item() == pytest.approx(reference.item(), rel=1e-12)
    for got, want in zip(grad_fused, grad_reference):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_second_backward_through_reused_buffer_raises():
    z1 = torch.randn(4, 3, requires_grad=True)
    loss = NTXentLoss(0.5)(z1, torch.randn(4, 3))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="only once"):
        loss.backward()


def test_loss_stays_float32_under_bfloat16_autocast():
    g = torch.Generator().manual_seed(5)
    z1, z2 = torch.randn(64, 16, generator=g), torch.randn(64, 16, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = NTXentLoss(0.1)(z1, z2)
    assert inside.dtype == torch.float32
    assert inside.item() == pytest.approx(NTXentLoss(0.1)(z1, z2).item(), rel=1e-6)
