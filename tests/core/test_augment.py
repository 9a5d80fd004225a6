"""SimCLR's augmentations: ranges of the draws, each operation against a direct computation, determinism."""

import math

import pytest
import torch

from dacl.core.augment import SimCLRAugment


def draws(n=20000, size=32, **kwargs):
    return SimCLRAugment(**kwargs).draw(n, size, size, torch.Generator().manual_seed(0))


def identity_params(n, size, **changes):
    params = {
        "box": torch.tensor([[0.0, 0.0, size, size]]).repeat(n, 1),
        "flip": torch.zeros(n, dtype=torch.bool), "jitter": torch.zeros(n, dtype=torch.bool),
        "brightness": torch.ones(n), "contrast": torch.ones(n), "saturation": torch.ones(n), "hue": torch.zeros(n),
        "grayscale": torch.zeros(n, dtype=torch.bool), "blur": torch.zeros(n, dtype=torch.bool),
        "sigma": torch.ones(n),
    }  # fmt: skip
    params.update(changes)
    return params


def test_crops_lie_in_the_image_and_keep_a_share_in_the_crop_scale():
    p = draws(size=224)
    left, top, w, h = p["box"].unbind(1)
    assert (left >= 0).all() and (top >= 0).all() and (left + w <= 224).all() and (top + h <= 224).all()
    share = w * h / 224**2
    assert share.min() >= 0.075 and share.max() <= 1.0  # 0.08 up to rounding to whole pixels
    assert 0.45 < share.mean() < 0.56  # U(0.08, 1) has mean 0.54; clipping to the image lowers it a little
    unclipped = (w < 224) & (h < 224) & (share > 0.2)
    ratio = (w / h)[unclipped]
    assert ratio.min() > 0.75 * 0.98 and ratio.max() < 4 / 3 * 1.02


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_jitter_factors_and_probabilities_follow_simclr(strength):
    p = draws(jitter_strength=strength)
    for name in ("brightness", "contrast", "saturation"):
        assert p[name].min() >= 1 - 0.8 * strength and p[name].max() <= 1 + 0.8 * strength
        assert p[name].min() < 1 - 0.7 * strength and p[name].max() > 1 + 0.7 * strength  # the whole range
    assert p["hue"].abs().max() <= 0.2 * strength and p["hue"].abs().max() > 0.18 * strength
    for name, rate in (("flip", 0.5), ("jitter", 0.8), ("grayscale", 0.2), ("blur", 0.5)):
        assert abs(p[name].float().mean().item() - rate) < 0.02, name
    assert p["sigma"].min() >= 0.1 and p["sigma"].max() <= 2.0


def test_no_change_crop_flip_and_brightness_against_direct_computations():
    x = torch.rand(4, 3, 8, 8)
    augment = SimCLRAugment(blur=False)
    torch.testing.assert_close(augment.apply(x, identity_params(4, 8)), x, atol=1e-5, rtol=0)
    flipped = augment.apply(x, identity_params(4, 8, flip=torch.ones(4, dtype=torch.bool)))
    torch.testing.assert_close(flipped, x.flip(-1), atol=1e-5, rtol=0)
    # the top-left 4 x 4 quarter resized to 8 x 8 (bilinear, corners aligned)
    quarter = augment.apply(x, identity_params(4, 8, box=torch.tensor([[0.0, 0.0, 4, 4]]).repeat(4, 1)))
    expected = torch.nn.functional.interpolate(x[:, :, :4, :4], size=(8, 8), mode="bilinear", align_corners=True)
    torch.testing.assert_close(quarter, expected, atol=1e-5, rtol=0)
    on = torch.ones(4, dtype=torch.bool)
    brighter = augment.apply(x, identity_params(4, 8, jitter=on, brightness=torch.full((4,), 1.3)))
    torch.testing.assert_close(brighter, (x * 1.3).clamp(0, 1), atol=1e-5, rtol=0)
    gray = augment.apply(x, identity_params(4, 8, grayscale=on))
    expected_gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1).expand_as(x)
    torch.testing.assert_close(gray, expected_gray, atol=1e-4, rtol=0)


def test_a_full_turn_of_hue_and_unit_factors_leave_the_image():
    x = torch.rand(3, 3, 6, 6)
    on = torch.ones(3, dtype=torch.bool)
    out = SimCLRAugment(blur=False).apply(x, identity_params(3, 6, jitter=on))  # factors 1, hue shift 0
    torch.testing.assert_close(out, x, atol=1e-4, rtol=0)
    saturated = SimCLRAugment(blur=False).apply(x, identity_params(3, 6, jitter=on, saturation=torch.zeros(3)))
    assert torch.allclose(saturated[:, 0], saturated[:, 1], atol=1e-4)  # no saturation: gray


def test_views_are_seeded_in_range_and_work_on_gray_images():
    x = torch.rand(16, 3, 32, 32)
    augment = SimCLRAugment()
    first = augment.pair(x, torch.Generator().manual_seed(3))
    again = augment.pair(x, torch.Generator().manual_seed(3))
    other = augment.pair(x, torch.Generator().manual_seed(4))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0]) and not torch.equal(first[0], first[1])
    assert first[0].min() >= 0 and first[0].max() <= 1 and first[0].shape == x.shape
    assert augment(torch.rand(4, 1, 28, 28), torch.Generator().manual_seed(0)).shape == (4, 1, 28, 28)


def test_blur_only_where_asked_or_for_images_larger_than_cifar():
    assert not SimCLRAugment().blurs(32, 32) and SimCLRAugment().blurs(96, 96)
    assert SimCLRAugment(blur=True).blurs(32, 32) and not SimCLRAugment(blur=False).blurs(224, 224)
    x = torch.rand(2, 3, 40, 40)
    on = torch.ones(2, dtype=torch.bool)
    blurred = SimCLRAugment(blur=True).apply(x, identity_params(2, 40, blur=on, sigma=torch.full((2,), 2.0)))
    assert blurred.std() < x.std() * 0.6  # white noise loses most of its variance under σ = 2


def test_bad_input_and_settings_say_what_is_wrong():
    with pytest.raises(ValueError, match="C = 1 or 3"):
        SimCLRAugment()(torch.rand(4, 2, 8, 8), None)
    with pytest.raises(ValueError, match="hidden layers"):
        SimCLRAugment()(torch.rand(4, 16), None)
    with pytest.raises(ValueError, match="crop_scale"):
        SimCLRAugment(crop_scale=(0, 1))
    with pytest.raises(ValueError, match="jitter_strength"):
        SimCLRAugment(jitter_strength=2)
    with pytest.raises(ValueError, match="probability"):
        SimCLRAugment(grayscale=1.5)
    assert math.isclose(SimCLRAugment(jitter_strength=1.0).jitter_strength, 1.0)


def test_blur_on_images_smaller_than_its_kernel_names_the_size():
    import pytest
    import torch

    from dacl.core.augment import SimCLRAugment

    with pytest.raises(ValueError, match="at least 3 x 3 pixels.*1 x 1.*blur=False"):
        SimCLRAugment(blur=True)(torch.rand(4, 3, 1, 1), torch.Generator().manual_seed(0))  # was: a padding error
    assert SimCLRAugment(blur=False)(torch.rand(4, 3, 1, 1), torch.Generator().manual_seed(0)).shape == (4, 3, 1, 1)
