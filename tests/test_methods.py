import pytest
import torch
from torch import nn

from dacl import PretrainConfig
from dacl.core.encoders import MLPEncoder
from dacl.core.losses import NTXentLoss
from dacl.core.views import LinearMixup
from dacl.methods import METHODS, Contrastive, NoPretraining, Supervised, build_method, method_names


def test_registry_names_by_domain():
    assert method_names("graphs") == ("dacl", "dacl+", "gaussian", "none", "infograph")
    assert "infograph" not in method_names("tables") and "raw" in method_names("tables")
    assert "raw" not in method_names(trainable=True)
    assert all(info.views is not None for info in METHODS.values() if info.kind == "contrastive")


def test_contrastive_loss_at_the_input_is_algorithm_1():
    torch.manual_seed(0)
    encoder, head = MLPEncoder(6, 8, 2), nn.Linear(8, 4)
    method = Contrastive(encoder, head, LinearMixup(0.7), temperature=0.5)
    x = torch.rand(10, 6)
    loss = method.loss(x, None, torch.Generator().manual_seed(1))
    view1, view2 = LinearMixup(0.7).pair(x, torch.Generator().manual_seed(1))
    z = head(encoder(torch.cat([view1, view2])))  # both views through the network as one batch of 2N
    torch.testing.assert_close(loss, NTXentLoss(0.5)(z[:10], z[10:]))


@pytest.mark.parametrize("mix_at", [1, 2, -1])
def test_hidden_mixup_mixes_after_layer_l_eq4(mix_at):
    torch.manual_seed(0)
    encoder, head = MLPEncoder(6, 8, 2), nn.Linear(8, 4)
    method = Contrastive(encoder, head, LinearMixup(0.7), temperature=0.5, mix_at=mix_at)
    x = torch.rand(10, 6)
    loss = method.loss(x, None, torch.Generator().manual_seed(1))
    layer = 2 if mix_at == -1 else mix_at
    hidden = nn.Sequential(*encoder.blocks[:layer])(x)
    view1, view2 = LinearMixup(0.7).pair(hidden, torch.Generator().manual_seed(1))
    z = head(nn.Sequential(*encoder.blocks[layer:])(torch.cat([view1, view2])))
    torch.testing.assert_close(loss, NTXentLoss(0.5)(z[:10], z[10:]))


def test_a_users_encoder_without_hooks_works_at_the_input_and_is_refused_inside():
    plain = nn.Sequential(nn.Linear(6, 5), nn.ReLU())
    method = Contrastive(plain, nn.Linear(5, 3), lambda x, g: x + 0.1)
    assert torch.isfinite(method.loss(torch.rand(4, 6), None, torch.Generator()))
    with pytest.raises(ValueError, match="no depth"):
        Contrastive(plain, nn.Linear(5, 3), LinearMixup(), mix_at=-1)
    plain.depth = 2
    with pytest.raises(ValueError, match="takes no hook"):
        Contrastive(plain, nn.Linear(5, 3), LinearMixup(), mix_at=1)


def test_build_method_by_kind():
    encoder = MLPEncoder(6, 8, 2)
    config = PretrainConfig(depth=2, width=8)
    assert isinstance(build_method(config, encoder, 8), Contrastive)
    assert isinstance(build_method(PretrainConfig(method="none"), encoder, 8), NoPretraining)
    supervised = build_method(PretrainConfig(method="supervised"), encoder, 8, n_classes=3)
    assert isinstance(supervised, Supervised) and supervised(torch.rand(4, 6)).shape == (4, 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_method(PretrainConfig(method="supervised"), encoder, 8)
    with pytest.raises(ValueError, match="takes no views"):
        build_method(PretrainConfig(method="none"), encoder, 8, views=LinearMixup())
    head = build_method(PretrainConfig(projection_dim=None, head_depth=2), encoder, 8).head
    assert head(torch.rand(4, 8)).shape == (4, 8)  # projection_dim None: as wide as the encoder
