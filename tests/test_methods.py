import pytest
import torch
from torch import nn

from dacl import PretrainConfig
from dacl.core.encoders import MLPEncoder
from dacl.core.losses import NTXentLoss
from dacl.core.views import LinearMixup
from dacl.methods import METHODS, Contrastive, NoPretraining, Supervised, build_method, method_names


def test_registry_names_by_domain():
    assert method_names("graphs") == ("dacl", "dacl+", "gaussian", "none", "infograph", "graphcl", "graphcl+dacl")
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


def test_a_users_encoder_without_hooks_works_at_the_input_and_the_output_and_is_refused_inside():
    plain = nn.Sequential(nn.Linear(6, 5), nn.ReLU())
    method = Contrastive(plain, nn.Linear(5, 3), lambda x, g: x + 0.1)
    assert torch.isfinite(method.loss(torch.rand(4, 6), None, torch.Generator()))
    # mix_at=-1: the output is mixed after the encoder ran, so no hook is needed (Eq. 4 on the representation)
    head = nn.Linear(5, 3)
    method = Contrastive(plain, head, LinearMixup(0.7), mix_at=-1)
    x = torch.rand(8, 6)
    loss = method.loss(x, None, torch.Generator().manual_seed(3))
    view1, view2 = LinearMixup(0.7).pair(plain(x), torch.Generator().manual_seed(3))
    assert torch.allclose(loss, method.criterion(head(view1), head(view2)))
    plain.depth = 2
    with pytest.raises(ValueError, match="takes no hook"):
        Contrastive(plain, nn.Linear(5, 3), LinearMixup(), mix_at=1)
    assert Contrastive(plain, nn.Linear(5, 3), LinearMixup(), mix_at=2).mixes_output


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


def test_simclr_plus_dacl_is_the_sum_of_the_two_losses_computed_separately():
    from dacl.core.augment import SimCLRAugment
    from dacl.core.views import SummedPairs
    from dacl.images.resnet import ResNet
    from oracles import cross_entropy_ntxent

    torch.manual_seed(0)
    encoder = ResNet("resnet18", "cifar", 1 / 16)
    head = nn.Linear(encoder.out_features, 8)
    x = torch.rand(6, 3, 16, 16)
    augment, mixup = SimCLRAugment(), LinearMixup(0.9)
    method = Contrastive(encoder, head, SummedPairs(augment, mixup), temperature=0.5)
    got = method.loss(x, None, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)  # the same draws, in the same order: augmentations, then mixup
    total = 0
    for views in (augment, mixup):
        v1, v2 = views.pair(x, g)
        z = head(encoder(torch.cat([v1, v2])))  # each pair its own BatchNorm batch of 2N, as the method
        total = total + cross_entropy_ntxent(z[:6], z[6:], 0.5)
    torch.testing.assert_close(got, total, rtol=1e-5, atol=1e-5)
    simclr_only = Contrastive(encoder, head, augment, temperature=0.5).loss(x, None, torch.Generator().manual_seed(1))
    assert simclr_only < got  # the DACL term adds a positive loss
    with pytest.raises(ValueError, match="mix_at=0"):
        Contrastive(encoder, head, SummedPairs(augment, mixup), mix_at=2)


def test_image_methods_are_registered_for_images_only_where_they_apply():
    images = method_names("images")
    assert {"simclr", "simclr+dacl", "dacl", "dacl+", "gaussian", "none", "supervised"} <= set(images)
    assert "simclr" not in method_names("tables") and "scarf" not in images and "infograph" not in images
    config = PretrainConfig(method="simclr+dacl", crop_scale=0.2, jitter_strength=1.0, blur="on")
    views = METHODS["simclr+dacl"].views(config)
    augment, mixup = views.pair_makers
    assert augment.crop_scale == (0.2, 1.0) and augment.jitter_strength == 1.0 and augment.blur is True
    assert isinstance(mixup, LinearMixup) and mixup.alpha == config.alpha


def test_the_registry_says_which_methods_mix_one_hot_blocks_as_units():
    from dacl import PretrainConfig
    from dacl.methods import mixes_blocks

    for method in ("dacl", "dacl+", "dacl-geometric", "dacl-binary"):
        assert mixes_blocks(PretrainConfig(method=method)), method
        assert not mixes_blocks(PretrainConfig(method=method, mix_at=1)), method
    for method in ("scarf", "gaussian", "dacl+scarf", "supervised", "none"):
        assert not mixes_blocks(PretrainConfig(method=method)), method
