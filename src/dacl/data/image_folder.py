"""Image folders (``root/CLASS/*.jpg|png``, the layout users have) as uint8 tensors in memory,
decoded once and cached, so that 60,000 JPEGs are not decoded at every run.

The cache is one ``.npz`` per folder (``allow_pickle=False`` on reading: no code runs), named by a
digest of the folder's path and of every file's name, size and modification time: any added,
removed or changed image makes a new one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from dacl.data.download import data_home

__all__ = ["DECODER", "IMAGE_SUFFIXES", "ImageFolder", "read_image_folder"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class ImageFolder:
    """``images`` (N, C, H, W) uint8, ``labels`` (N,) int64 indices into ``classes`` (sorted folder names)."""

    images: Tensor
    labels: Tensor
    classes: list[str]
    cache: Path | None = None


def _listing(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{root} holds no class folders; lay images out as {root}/CLASS/NAME.jpg.")
    files = []
    for index, name in enumerate(classes):
        # images in subfolders of a class folder belong to the class (torchvision's ImageFolder does the same)
        found = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))  # fmt: skip
        if not found:
            raise ValueError(f"class folder {root / name} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        files += [(p, index) for p in found]
    return classes, files


# Bumped when decoding changes (2: 16-bit images scaled to 8 bits, not clipped), so no cache made by
# another decoder is read.
DECODER = 2


def _fingerprint(root: Path, files: list[tuple[Path, int]]) -> str:
    h = hashlib.sha256(f"{root.resolve()}|decoder {DECODER}".encode())
    for path, label in files:
        stat = path.stat()
        h.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}|{label}\n".encode())
    return h.hexdigest()[:24]


def _eight_bit(image):
    """``image`` with 8-bit channels: a 16-bit (or 32-bit integer) grayscale image is scaled by its
    type's range (65535 -> 255), which PIL's conversion would instead clip at 255."""
    from PIL import Image

    if image.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return image
    values = np.asarray(image).astype(np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
    return Image.fromarray(np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8), "L")


def _decode(files: list[tuple[Path, int]], mode: str) -> np.ndarray:
    from PIL import Image

    first = None
    images = None
    for row, (path, _) in enumerate(files):
        try:
            with Image.open(path) as image:
                array = np.asarray(_eight_bit(image).convert(mode))
        except OSError as error:
            raise ValueError(f"cannot decode {path}: {error}") from None
        if first is None:
            first = array.shape
            images = np.empty((len(files), *array.shape), dtype=np.uint8)
        elif array.shape != first:
            raise ValueError(
                f"{path} is {array.shape[1]}x{array.shape[0]} but the folder's first image is {first[1]}x{first[0]}; "
                "resize the images to one size first."
            )
        images[row] = array
    return images


def read_image_folder(root: str | Path, cache_dir: str | Path | None = None, mode: str = "RGB") -> ImageFolder:
    """All images under ``root/CLASS/`` as uint8 (N, C, H, W), decoded once and cached under
    ``cache_dir`` (default: the data folder's ``image-cache/``); ``mode`` is PIL's ("RGB", "L")."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such image folder: {root}")
    classes, files = _listing(root)
    folder = Path(cache_dir) if cache_dir is not None else data_home() / "image-cache"
    cache = folder / f"{root.name}-{mode}-{_fingerprint(root, files)}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            images, labels = stored["images"], stored["labels"]
    else:
        images = _decode(files, mode)
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
