"""The image-folder reader: the layout users have, decoded once, cached, invalidated by any change."""

import os

import numpy as np
import pytest
from PIL import Image

from dacl.images.folder import read_image_folder
from helpers import shared_data

SHARED = shared_data() / "cifar10-jpeg"


def write_folder(root, sizes=(4, 4)):
    rng = np.random.default_rng(0)
    pixels = {}
    for name, count in zip(("cat", "dog"), sizes):
        (root / name).mkdir(parents=True)
        for i in range(count):
            array = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            Image.fromarray(array).save(root / name / f"{i}.png")  # lossless: the pixels come back exactly
            pixels[(name, i)] = array
    return pixels


def test_reads_the_layout_as_uint8_nchw_with_sorted_classes(tmp_path):
    pixels = write_folder(tmp_path / "imgs")
    folder = read_image_folder(tmp_path / "imgs", cache_dir=tmp_path / "cache")
    assert folder.classes == ["cat", "dog"] and folder.images.shape == (8, 3, 6, 5)
    assert folder.images.dtype.is_floating_point is False and folder.labels.tolist() == [0] * 4 + [1] * 4
    np.testing.assert_array_equal(folder.images[5].permute(1, 2, 0).numpy(), pixels[("dog", 1)])


def test_decoded_once_then_cached_and_a_changed_file_is_decoded_again(tmp_path, monkeypatch):
    write_folder(tmp_path / "imgs")
    first = read_image_folder(tmp_path / "imgs", cache_dir=tmp_path / "cache")
    assert first.cache.is_file()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    with monkeypatch.context() as patch:
        patch.setattr(Image, "open", no_decoding)
        again = read_image_folder(tmp_path / "imgs", cache_dir=tmp_path / "cache")
    assert again.images.equal(first.images)
    changed = tmp_path / "imgs" / "cat" / "0.png"
    Image.fromarray(np.zeros((6, 5, 3), dtype=np.uint8)).save(changed)
    os.utime(changed, ns=(1, 10**18))
    fresh = read_image_folder(tmp_path / "imgs", cache_dir=tmp_path / "cache")
    assert fresh.cache != first.cache and int(fresh.images[0].sum()) == 0


def test_bad_folders_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image folder"):
        read_image_folder(tmp_path / "none")
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="no class folders"):
        read_image_folder(tmp_path / "flat")
    write_folder(tmp_path / "mixed", sizes=(1, 1))
    Image.fromarray(np.zeros((9, 9, 3), dtype=np.uint8)).save(tmp_path / "mixed" / "dog" / "big.png")
    with pytest.raises(ValueError, match="give one side to resize them to"):
        read_image_folder(tmp_path / "mixed", cache_dir=tmp_path / "cache")
    (tmp_path / "broken" / "cat").mkdir(parents=True)
    (tmp_path / "broken" / "cat" / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="cannot decode"):
        read_image_folder(tmp_path / "broken", cache_dir=tmp_path / "cache")


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/cifar10-jpeg is not beside the checkout")
def test_cifar10_jpeg_test_split(tmp_path):
    folder = read_image_folder(SHARED / "test", cache_dir=tmp_path)
    assert folder.images.shape == (10000, 3, 32, 32) and len(folder.classes) == 10
    assert np.bincount(folder.labels.numpy()).tolist() == [1000] * 10


def test_sixteen_bit_grayscale_images_are_scaled_to_eight_bits_not_clipped(tmp_path):
    for label, level in (("dark", 8192), ("light", 57344)):
        (tmp_path / "set" / label).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((4, 4), level + i, dtype=np.uint16)).save(tmp_path / "set" / label / f"{i}.png")
    folder = read_image_folder(tmp_path / "set", cache_dir=tmp_path / "cache", mode="L")
    dark, light = folder.images[folder.labels == 0], folder.images[folder.labels == 1]
    assert int(dark.float().mean()) == round(8192 * 255 / 65535)  # 32, not 255
    assert int(light.float().mean()) == round(57344 * 255 / 65535)  # 223, not 255


def test_images_in_subfolders_of_a_class_belong_to_it(tmp_path):
    for path in ("set/cat/a.png", "set/cat/indoor/b.png", "set/cat/indoor/night/c.png", "set/dog/d.png",
                 "set/dog/.hidden/e.png"):  # fmt: skip
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / path)
    folder = read_image_folder(tmp_path / "set", cache_dir=tmp_path / "cache")
    assert folder.classes == ["cat", "dog"] and folder.labels.tolist() == [0, 0, 0, 1]  # was: 1 cat, 1 dog


def test_a_folder_of_mixed_sizes_is_resized_to_image_size_and_otherwise_the_sizes_are_named(tmp_path):
    rng = np.random.default_rng(0)
    for label, shape in (("a", (150, 150)), ("a", (150, 124)), ("b", (72, 150)), ("b", (150, 150))):
        (tmp_path / "set" / label).mkdir(parents=True, exist_ok=True)
        name = f"{len(list((tmp_path / 'set' / label).iterdir()))}.png"
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(tmp_path / "set" / label / name)
    with pytest.raises(ValueError, match=r"3 sizes \(150x150 \(2\).*image_size=N \(--image-size N\)"):
        read_image_folder(tmp_path / "set", cache_dir=tmp_path / "cache")
    folder = read_image_folder(tmp_path / "set", cache_dir=tmp_path / "cache", size=32)
    assert folder.images.shape == (4, 3, 32, 32) and folder.labels.tolist() == [0, 0, 1, 1]
    assert {p.name.split("-")[2] for p in (tmp_path / "cache").iterdir()} == {"32"}  # the size is in the cache key


def test_exif_rotated_photos_are_decoded_as_viewers_show_them(tmp_path):
    (tmp_path / "set" / "a").mkdir(parents=True)
    image = Image.fromarray(np.zeros((10, 20, 3), dtype=np.uint8))  # 20 wide, 10 high
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    image.save(tmp_path / "set" / "a" / "photo.jpg", exif=exif)
    Image.fromarray(np.zeros((20, 10, 3), dtype=np.uint8)).save(tmp_path / "set" / "a" / "upright.png")
    folder = read_image_folder(tmp_path / "set", cache_dir=tmp_path / "cache")  # one size once rotated
    assert folder.images.shape == (2, 3, 20, 10)


def test_pretrain_a_folder_of_mixed_sizes_from_the_command_line(tmp_path, capsys):
    from dacl.cli import main

    rng = np.random.default_rng(1)
    for label in ("a", "b"):
        (tmp_path / "set" / label).mkdir(parents=True)
        for i, shape in enumerate([(20, 24), (24, 20), (18, 18), (30, 20)] * 2):
            Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(
                tmp_path / "set" / label / f"{i}.png"
            )
    args = ["pretrain", "--domain", "images", "--data", str(tmp_path / "set"), "--image-size", "16",
            "--method", "dacl", "--resnet-width", "0.0625", "--epochs", "1", "--batch-size", "8",
            "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "1 epochs" in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run")]) == 0  # decoded at the recorded size again


def test_tiny_images_animated_gifs_and_cmyk_jpegs_at_a_chosen_size(tmp_path):
    root = tmp_path / "odd"
    (root / "a").mkdir(parents=True)
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(root / "a" / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(root / "a" / "cmyk.jpg", quality=95)  # red in CMYK
    folder = read_image_folder(root, cache_dir=tmp_path / "cache", size=8)
    gif, cmyk = folder.images[0].float().mean((1, 2)), folder.images[1].float().mean((1, 2))
    assert gif[0] > 200 and gif[2] < 60  # the first frame (red), as PIL and torchvision's loader read it
    assert cmyk[0] > 200 and cmyk[1] < 60 and cmyk[2] < 60  # CMYK converted to RGB red, not inverted
    Image.new("RGB", (1, 1), (9, 9, 9)).save(root / "a" / "dot.png")
    with pytest.raises(ValueError, match=r"dot.png is 1x1 pixels: enlarging it over 8x to 32x32"):
        read_image_folder(root, cache_dir=tmp_path / "cache", size=32)
    assert read_image_folder(root, cache_dir=tmp_path / "cache", size=8).images.shape == (3, 3, 8, 8)
