"""Image datasets as uint8 tensors (N, C, H, W) with their official splits: CIFAR-10/100 from the
official pickle batches, MNIST and Fashion-MNIST from their IDX files, CIFAR-10 as a JPEG image
folder, or any folder of class folders (``root/CLASS/*.jpg|png``, with ``train/`` and ``test/`` or
split here). Downloads are checked against their digests and cached; folders are decoded once and
cached (``dacl.images.folder``).
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dacl.data.dataset import Dataset
from dacl.data.download import RemoteFile, data_home, fetch
from dacl.images.arrays import (
    CIFAR_FILES,
    IDX_CONTENTS,
    IDX_FILES,
    IDX_SYSTEM_FOLDERS,
    flatten_images,
    permute_pixels,
    read_cifar_batch,
    read_idx,
)
from dacl.images.folder import decode_image, list_image_folder, read_image_folder

__all__ = ["IMAGE_DATASETS", "ImageDataset", "decoded_bytes", "load_cifar10_jpeg", "load_image_dataset", "split_files",
           "training_files"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


@dataclass
class ImageDataset:
    """Train and test images (N, C, H, W) uint8 with int64 labels indexing ``classes``."""

    name: str
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    classes: list[str]
    info: dict[str, Any] = field(default_factory=dict)


def _cifar(name: str, data_dir=None, cache_dir=None) -> ImageDataset:
    path = fetch(CIFAR_FILES[name], data_dir)
    parts: dict[str, list[tuple[str, dict]]] = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            base = Path(member.name).name
            if member.isfile() and (base.startswith("data_batch") or base in ("test_batch", "train", "test")):
                batch = read_cifar_batch(archive.extractfile(member).read())
                parts["test" if base in ("test_batch", "test") else "train"].append((member.name, batch))
    if not parts["train"] or not parts["test"]:
        raise ValueError(f"{path} holds no CIFAR train and test batches.")

    def stack(batches):
        batches = [b for _, b in sorted(batches, key=lambda item: item[0])]
        images = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
        return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(
            np.concatenate([b["labels"] for b in batches]).astype(np.int64)
        )

    (train, train_labels), (test, test_labels) = stack(parts["train"]), stack(parts["test"])
    classes = CIFAR10_CLASSES if name == "cifar10" else [str(i) for i in range(int(train_labels.max()) + 1)]
    return ImageDataset(name, train, train_labels, test, test_labels, classes, {"source": str(path)})


def _idx(name: str, data_dir=None, cache_dir=None) -> ImageDataset:
    urls, digests = IDX_FILES[name]

    def get(filename: str) -> Tensor:
        remote = RemoteFile(name, filename, tuple(u + filename for u in urls), f"md5:{digests[filename]}",
                            content_digest=IDX_CONTENTS.get(name, {}).get(filename),
                            system_folders=IDX_SYSTEM_FOLDERS.get(name, ()))  # fmt: skip
        return torch.from_numpy(np.array(read_idx(fetch(remote, data_dir))))

    train, test = get("train-images-idx3-ubyte.gz").unsqueeze(1), get("t10k-images-idx3-ubyte.gz").unsqueeze(1)
    train_labels = get("train-labels-idx1-ubyte.gz").long()
    test_labels = get("t10k-labels-idx1-ubyte.gz").long()
    classes = FASHION_CLASSES if name == "fashion-mnist" else [str(i) for i in range(10)]
    return ImageDataset(name, train, train_labels, test, test_labels, classes, {"source": str(data_home(data_dir))})


def _split_index(labels: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted train and test rows of a folder split here (stratified by class)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(len(labels)), test_size=test_size, stratify=labels, random_state=seed)
    return np.sort(train), np.sort(test)


def split_files(root: str | Path, test_size: float = 0.2, seed: int = 0) -> dict[str, tuple[Path, list | None]]:
    """The folder and files of the training and the test part of the image folder ``root``, without
    decoding them: ``root/train`` and ``root/test`` (all their files: None) when ``root`` has both, else
    ``root`` and the files of the stratified split that :func:`load_image_dataset` makes (the same rows)."""
    root = Path(root)
    if (root / "train").is_dir() and (root / "test").is_dir():
        return {"train": (root / "train", None), "test": (root / "test", None)}
    _, files = list_image_folder(root)
    train, test = _split_index(np.array([label for _, label in files]), test_size, seed)
    return {"train": (root, [files[i] for i in train]), "test": (root, [files[i] for i in test])}


def training_files(root: str | Path, test_size: float = 0.2, seed: int = 0) -> tuple[Path, list | None]:
    """The folder and files a run on the image folder ``root`` trains on (:func:`split_files`)."""
    return split_files(root, test_size, seed)["train"]


def decoded_bytes(root: str | Path, image_size: int | None = None) -> int:
    """Bytes the training images of the folder ``root`` take decoded in memory (uint8), from the file
    count and the first image's decoded shape."""
    folder, files = training_files(root)
    files = files if files is not None else list_image_folder(folder)[1]
    first, _ = decode_image(files[0][0], "RGB", image_size)
    return len(files) * first.size


def _folder_pair(
    name: str, root: Path, cache_dir=None, test_size: float = 0.2, seed: int = 0, size: int | None = None
) -> ImageDataset:
    """``root/train`` and ``root/test`` (each ``CLASS/*.jpg``), or one ``root/CLASS/`` split here."""
    if (root / "train").is_dir() and (root / "test").is_dir():
        train = read_image_folder(root / "train", cache_dir, size=size)
        test = read_image_folder(root / "test", cache_dir, size=size)
        if train.classes != test.classes:
            raise ValueError(
                f"{root}/train and {root}/test hold different class folders: {train.classes} vs {test.classes}."
            )
        info = {"source": str(root), "split": "train/ and test/ folders"}
        return ImageDataset(name, train.images, train.labels, test.images, test.labels, train.classes, info)
    folder = read_image_folder(root, cache_dir, size=size)
    train_index, test_index = map(torch.from_numpy, _split_index(folder.labels.numpy(), test_size, seed))
    info = {"source": str(root), "split": f"stratified, test_size={test_size}, seed={seed}"}
    return ImageDataset(name, folder.images[train_index], folder.labels[train_index], folder.images[test_index],
                        folder.labels[test_index], folder.classes, info)  # fmt: skip


def _cifar10_jpeg(data_dir=None, cache_dir=None) -> ImageDataset:
    root = data_home(data_dir) / "cifar10-jpeg"
    if not root.is_dir():
        raise FileNotFoundError(
            f"cifar10-jpeg reads CIFAR-10 as JPEG image folders at {root}/train/CLASS/*.jpg and {root}/test/...; "
            "for the official lossless images use the dataset 'cifar10' (downloaded)."
        )
    dataset = _folder_pair("cifar10-jpeg", root, cache_dir)
    dataset.info["note"] = "JPEG (lossy) copies of CIFAR-10, not the official lossless images"
    return dataset


# name -> loader(data_dir=..., cache_dir=...)
IMAGE_DATASETS: dict[str, Callable[..., ImageDataset]] = {
    "cifar10": partial(_cifar, "cifar10"),
    "cifar100": partial(_cifar, "cifar100"),
    "cifar10-jpeg": _cifar10_jpeg,
    "mnist": partial(_idx, "mnist"),
    "fashion-mnist": partial(_idx, "fashion-mnist"),
}


def load_image_dataset(
    name_or_folder: str | Path,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    image_size: int | None = None,
) -> ImageDataset:
    """An image dataset by name (``IMAGE_DATASETS``) or from a folder of class folders (with
    ``train/`` and ``test/`` inside, or split 80/20 here, stratified); ``image_size`` resizes a folder's
    images (shorter side, then the centre square) when they are decoded (once: the cache keeps them)."""
    key = str(name_or_folder)
    if key in IMAGE_DATASETS:
        if image_size is not None:
            raise ValueError(f"{key} has images of one size already; image_size resizes a folder of images.")
        return IMAGE_DATASETS[key](data_dir=data_dir, cache_dir=cache_dir)
    root = Path(name_or_folder)
    if not root.is_dir():
        raise ValueError(
            f"unknown image dataset {key!r}: not a registered name ({', '.join(IMAGE_DATASETS)}) and no such folder."
        )
    return _folder_pair(root.name, root, cache_dir, size=image_size)


def load_cifar10_jpeg(seed: int = 0, data_dir: str | Path | None = None, permutation_seed: int = 0) -> Dataset:
    """CIFAR-10 from its JPEG image folders (this module's ``load_image_dataset``), flattened and with the
    pixels permuted as the paper's Table 1 (its images read as a table): what runs offline where only the JPEG
    copy is at hand;
    ``cifar10`` is the official lossless set. ``seed`` is not used (the folders hold the official split)."""
    images = load_image_dataset("cifar10-jpeg", data_dir=data_dir)

    def flat(x):
        return permute_pixels(flatten_images(x.numpy()), permutation_seed)

    return Dataset("cifar10-jpeg", flat(images.train_images), images.train_labels.numpy(), flat(images.test_images),
                   images.test_labels.numpy(), {**images.info, "pixel_permutation_seed": permutation_seed})  # fmt: skip
