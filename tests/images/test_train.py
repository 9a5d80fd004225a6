"""The images domain on the engine: every image method trains, resumes exactly, reloads; bad input is named."""

import pytest
import torch

from dacl.images import (
    ImageSource,
    build_image_method,
    embed_images,
    image_config,
    load_image_model,
    pretrain_images,
)
from dacl.methods import method_names


def tiny_images(n=16, channels=3, side=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, side, side), generator=g, dtype=torch.uint8), torch.arange(n) % 2


def tiny(**options):
    values = {
        "resnet_width": 1 / 16,
        "epochs": 2,
        "batch_size": 8,
        "lr": 0.1,
        "warmup_epochs": 0,
        "precision": "float32",
    }
    return image_config(**(values | options))


@pytest.mark.parametrize("method", [m for m in method_names("images")])
def test_every_image_method_trains_on_uint8_images(method):
    images, labels = tiny_images()
    result = pretrain_images(images, tiny(method=method), labels, progress=False)
    if method == "none":
        assert result.history == []
    else:
        assert len(result.history) == 2 and all(torch.isfinite(torch.tensor(h["loss"])) for h in result.history)
    features = embed_images(result.encoder, images[:5])
    assert features.shape == (5, result.encoder.out_features)


def test_gray_images_and_the_imagenet_stem():
    images, _ = tiny_images(channels=1, side=72)
    config = tiny(method="simclr", epochs=1)
    result = pretrain_images(images, config, progress=False)
    assert result.encoder.stem[0].kernel_size == (7, 7)  # auto: larger than 64 x 64
    assert embed_images(result.encoder, images).shape == (16, result.encoder.out_features)


def test_a_resumed_run_repeats_an_unbroken_one_and_reloads(tmp_path):
    images, _ = tiny_images()
    config = tiny(method="simclr+dacl", epochs=3)
    unbroken = pretrain_images(images, config, checkpoint_dir=tmp_path / "a", progress=False)
    # stop a 3-epoch run after epoch 2 (its checkpoint written), then resume it
    with pytest.raises(KeyboardInterrupt):
        pretrain_images(
            images,
            config,
            checkpoint_dir=tmp_path / "b",
            checkpoint_every=1,
            progress=False,
            callbacks=(stop_after(2),),
        )
    resumed = pretrain_images(images, config, checkpoint_dir=tmp_path / "b", resume=True, progress=False)
    for (name, a), b in zip(unbroken.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    loaded = load_image_model(tmp_path / "b")
    x = images[:4].float() / 255
    torch.testing.assert_close(loaded.encoder(x), resumed.encoder.eval()(x))
    assert loaded.encoder.mean.flatten().tolist() == pytest.approx((images.float() / 255).mean((0, 2, 3)).tolist())


def stop_after(epoch):
    """A callback that stops the run in the epoch after ``epoch`` (whose checkpoint was written)."""

    def callback(done, record, method):
        if done == epoch + 1:
            raise KeyboardInterrupt

    return callback


def test_image_source_gives_float_batches_in_the_unit_range():
    images, labels = tiny_images()
    source = ImageSource(images, labels, 4)
    batches = list(source.epoch(torch.Generator().manual_seed(0)))
    assert len(batches) == 4 and batches[0][0].dtype == torch.float32
    assert 0 <= batches[0][0].min() and batches[0][0].max() <= 1
    seen = torch.cat([b for b, _ in batches])
    assert sorted((seen * 255).round().sum((1, 2, 3)).tolist()) == sorted(images.float().sum((1, 2, 3)).tolist())


def test_bad_images_and_methods_say_what_is_wrong():
    images, _ = tiny_images()
    with pytest.raises(ValueError, match="uint8"):
        pretrain_images(images.float() / 255, tiny())
    with pytest.raises(ValueError, match="permute"):
        pretrain_images(images.permute(0, 2, 3, 1), tiny())
    with pytest.raises(ValueError, match="labels"):
        pretrain_images(images, tiny(method="supervised"))
    with pytest.raises(ValueError, match="does not apply to images"):
        pretrain_images(images, tiny(method="scarf"))
    with pytest.raises(ValueError, match="at least 2"):
        pretrain_images(images[:1], tiny())


def test_narrow_resnets_stay_out_of_channels_last_where_onednn_breaks():
    """Narrower than 8 channels at a strided 1 x 1 convolution, channels_last's backward corrupts the heap on
    AVX2 CPUs (torch 2.13): such a ResNet keeps the default layout, a wider one is made channels_last."""
    narrow = build_image_method(tiny(method="simclr"), 3, 8)
    wide = build_image_method(tiny(method="simclr", resnet_width=1 / 8), 3, 8)
    assert not narrow.encoder.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert wide.encoder.stem[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_a_resnet_too_big_for_the_memory_is_refused_before_it_is_built():
    """Issue 36, class 6, images: the weights grow with the square of the width multiplier."""
    from dacl.images import build_image_method, image_config

    with pytest.raises(ValueError, match=r"needs about [\d.]+ GiB \(a resnet50 of width 1000.*--resnet-width"):
        build_image_method(image_config(architecture="resnet50", resnet_width=1000), 3, 32)
