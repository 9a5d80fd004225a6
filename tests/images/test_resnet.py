"""ResNet encoders: stems, strides, widths, parameter counts against the published ones, the hook."""

import pytest
import torch

from dacl.core.encoders import MixAt
from dacl.images.resnet import resnet


def params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_published_trunks():
    # torchvision's resnet18 and resnet50 without their 1000-way classifier (513,000 and 2,049,000)
    assert params(resnet("resnet18", "imagenet")) == 11_689_512 - 513_000
    assert params(resnet("resnet50", "imagenet")) == 25_557_032 - 2_049_000
    # the CIFAR stem swaps the 7x7x3x64 convolution for a 3x3x3x64 one
    assert params(resnet("resnet18", "cifar")) == 11_689_512 - 513_000 - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64


@pytest.mark.parametrize("stem, size, sides", [("cifar", 32, [32, 16, 8, 4]), ("imagenet", 64, [16, 8, 4, 2])])
def test_stems_give_the_expected_feature_map_sides(stem, size, sides):
    model = resnet("resnet18", stem).eval()
    seen = {}
    out = model(torch.rand(2, 3, size, size), hook=lambda layer, h, groups: seen.setdefault(layer, h.shape) and h)
    assert out.shape == (2, 512) and seen[0] == (2, 3, size, size) and seen[5] == (2, 512)
    assert [seen[layer][2] for layer in (1, 2, 3, 4)] == sides
    assert [seen[layer][1] for layer in (1, 2, 3, 4)] == [64, 128, 256, 512]


def test_width_multiplies_channels_and_resnet50_4x_has_8192_features():
    assert resnet("resnet18", width=2).out_features == 1024
    assert resnet("resnet50", width=1).out_features == 2048
    with torch.device("meta"):  # built without memory: SimCLR's ResNet-50 (4x) has 375M parameters
        wide = resnet("resnet50", "cifar", width=4)
    assert wide.out_features == 8192 and 370e6 < params(wide) < 380e6


def test_hook_stacking_two_views_of_a_feature_map_runs_the_rest_on_both():
    model = resnet("resnet18").eval()
    x = torch.rand(3, 3, 32, 32)
    stacked = model(x, hook=MixAt(2, lambda h, groups: torch.cat([h, h])))
    assert stacked.shape == (6, 512)
    torch.testing.assert_close(stacked[:3], model(x))
    torch.testing.assert_close(stacked[3:], model(x))


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="architecture"):
        resnet("resnet101")
    with pytest.raises(ValueError, match="stem"):
        resnet("resnet18", "tiny")
