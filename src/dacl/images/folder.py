"""Image folders (``root/CLASS/*.jpg|png``, the layout users have) as uint8 tensors in memory,
decoded once and cached, so that 60,000 JPEGs are not decoded at every run.

The cache is one ``.npz`` per folder (``allow_pickle=False`` on reading: no code runs), named by a
digest of the folder's path and of every file's name, size and modification time: any added,
removed or changed image makes a new one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from dacl.data.download import data_home, files_fingerprint

__all__ = [
    "DECODER",
    "IMAGE_SUFFIXES",
    "ImageFolder",
    "decode_image",
    "image_files",
    "list_image_folder",
    "read_image_folder",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


@dataclass
class ImageFolder:
    """``images`` (N, C, H, W) uint8, ``labels`` (N,) int64 indices into ``classes`` (sorted folder names)."""

    images: Tensor
    labels: Tensor
    classes: list[str]
    cache: Path | None = None


def image_files(root: str | Path) -> tuple[list[str], list[str], list[int]]:
    """The sorted class folders of ``root``, every image file under them (paths as strings, each class's in
    the order of their path parts) and each file's class index; hidden files and folders are left out.
    ``os.walk`` and strings: a folder of 100,000 images is listed in under a second."""
    root = str(root)
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise ValueError(f"{root} holds no class folders; lay images out as {root}/CLASS/NAME.jpg.")
    names: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        found = []
        # images in subfolders of a class folder belong to the class (torchvision's ImageFolder does the same)
        for folder, subfolders, files in os.walk(os.path.join(root, name)):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            found += [os.path.join(folder, f) for f in files
                      if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES]  # fmt: skip
        if not found:
            raise ValueError(f"class folder {os.path.join(root, name)} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        names += sorted(found, key=lambda path: path.split(os.sep))  # the order of Path objects
        labels += [index] * len(found)
    return classes, names, labels


def list_image_folder(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """The sorted class folders of ``root`` and every image file under them with its class index."""
    classes, names, labels = image_files(root)
    return classes, [(Path(name), label) for name, label in zip(names, labels)]


# Bumped when decoding changes (2: 16-bit images scaled to 8 bits, not clipped), so no cache made by
# another decoder is read.
DECODER = 2


def _eight_bit(image):
    """``image`` with 8-bit channels: a 16-bit (or 32-bit integer) grayscale image is scaled by its
    type's range (65535 -> 255), which PIL's conversion would instead clip at 255."""
    from PIL import Image

    if image.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return image
    values = np.asarray(image).astype(np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
    return Image.fromarray(np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8), "L")


def _resized(image, size: int):
    """``image`` resized so that its shorter side is ``size`` (bilinear, antialiased), then its centre
    ``size`` x ``size`` (torchvision's Resize(size) + CenterCrop(size))."""
    from PIL import Image

    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    if new != (width, height):
        image = image.resize(new, Image.Resampling.BILINEAR, reducing_gap=None)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


# An image enlarged more than this to reach image_size holds no content at that size (a 1 x 1 icon).
MAX_ENLARGEMENT = 8


def decode_image(path: Path, mode: str, size: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """One image file as uint8 (H, W) or (H, W, C) in PIL's ``mode``, rotated as its EXIF orientation says
    (as viewers show it), 16-bit images scaled to 8 bits, an animated image's first frame (as PIL and
    torchvision's loader read it), CMYK converted by PIL; with ``size`` resized (shorter side) and
    centre-cropped to ``size`` x ``size``. Returns the array and the (width, height) before resizing; a
    ValueError names the file that cannot be decoded."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(_eight_bit(image))
            image = image.convert(mode)
            found = image.size
            if size is not None:
                if min(found) * MAX_ENLARGEMENT < size:
                    raise ValueError(
                        f"{path} is {found[0]}x{found[1]} pixels: enlarging it over {MAX_ENLARGEMENT}x to "
                        f"{size}x{size} (image_size) leaves no content; remove it, or choose a smaller image_size."
                    )
                image = _resized(image, size)
            return np.asarray(image), found
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:  # PIL's errors for broken files
        raise ValueError(f"cannot decode {path}: {error}") from None


def _decode(files: list[tuple[Path, int]], mode: str, size: int | None = None) -> np.ndarray:
    first = None
    images = None
    sizes: dict[tuple[int, int], int] = {}
    for row, (path, _) in enumerate(files):
        array, found = decode_image(path, mode, size)
        sizes[found] = sizes.get(found, 0) + 1
        if first is None:
            first = array.shape
            images = np.empty((len(files), *array.shape), dtype=np.uint8)
        elif array.shape != first:
            if size is None:
                continue  # counted in sizes; refused below, with every size found
        images[row] = array
    if size is None and len(sizes) > 1:
        raise ValueError(sizes_message(sizes))
    return images


def sizes_message(sizes: dict[tuple[int, int], int]) -> str:
    """The error for a folder of images of several sizes read without ``image_size``."""
    found = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sorted(sizes.items(), key=lambda kv: -kv[1])[:6])
    return (
        f"the images are of {len(sizes)} sizes ({found}{', ...' if len(sizes) > 6 else ''}); give one side to "
        "resize them to (the shorter side, then the centre square): image_size=N (--image-size N), e.g. 32 for "
        "the CIFAR stem or 224 for the ImageNet stem."
    )


def read_image_folder(
    root: str | Path, cache_dir: str | Path | None = None, mode: str = "RGB", size: int | None = None
) -> ImageFolder:
    """All images under ``root/CLASS/`` as uint8 (N, C, H, W), decoded once and cached under
    ``cache_dir`` (default: the data folder's ``image-cache/``); ``mode`` is PIL's ("RGB", "L"). ``size``:
    each image resized (shorter side) and centre-cropped to ``size`` x ``size`` when decoded; without it
    the images must share one size (an error lists the sizes found)."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"image_size must be a whole number of pixels >= 1, got {size!r}.")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such image folder: {root}")
    classes, files = list_image_folder(root)
    folder = Path(cache_dir) if cache_dir is not None else data_home() / "image-cache"
    cache = folder / f"{root.name}-{mode}-{size or 'as-is'}-{files_fingerprint(root, files, f'decoder {DECODER}')}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            images, labels = stored["images"], stored["labels"]
    else:
        images = _decode(files, mode, size)
        labels = np.array([label for _, label in files], dtype=np.int64)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{cache.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, images=images, labels=labels)
            os.replace(tmp, cache)  # atomic: a killed decode leaves no half cache
        finally:
            Path(tmp).unlink(missing_ok=True)
    tensor = torch.from_numpy(images)
    tensor = tensor.unsqueeze(1) if tensor.dim() == 3 else tensor.permute(0, 3, 1, 2).contiguous()
    return ImageFolder(tensor, torch.from_numpy(labels), classes, cache)
