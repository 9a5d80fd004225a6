"""Datasets by name, or from a file: the one entry point of the CLI and the reproductions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from dacl.data.images import load_cifar, load_idx_dataset, load_mnist5k
from dacl.data.regression import load_regression
from dacl.data.tabular import Dataset, load_digits_dataset, read_table, split
from dacl.data.uci import load_uci

__all__ = ["DATASETS", "load_dataset"]


def _digits(seed: int = 0, data_dir=None) -> Dataset:
    return load_digits_dataset(seed)


def _cifar10_jpeg(seed: int = 0, data_dir=None, permutation_seed: int = 0) -> Dataset:
    """CIFAR-10 from its JPEG image folders (``dacl.data.image_sets``), flattened and with the pixels
    permuted as the paper's Table 1 (its images read as a table): what runs offline where only the
    JPEG copy is at hand; ``cifar10`` is the official lossless set."""
    from dacl.data.image_sets import load_image_dataset
    from dacl.data.images import flatten_images, permute_pixels

    images = load_image_dataset("cifar10-jpeg", data_dir=data_dir)

    def flat(x):
        return permute_pixels(flatten_images(x.numpy()), permutation_seed)

    return Dataset("cifar10-jpeg", flat(images.train_images), images.train_labels.numpy(), flat(images.test_images),
                   images.test_labels.numpy(), {**images.info, "pixel_permutation_seed": permutation_seed})  # fmt: skip


# name -> loader(seed=..., data_dir=...)
DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": _digits,
    "mnist": partial(load_idx_dataset, "mnist"),
    "mnist-test": partial(load_idx_dataset, "mnist", test_only=True),
    "mnist5k": load_mnist5k,
    "fashion-mnist": partial(load_idx_dataset, "fashion-mnist"),
    "cifar10": partial(load_cifar, "cifar10"),
    "cifar100": partial(load_cifar, "cifar100"),
    "cifar10-jpeg": _cifar10_jpeg,
    **{name: partial(load_uci, name) for name in ("adult", "letter", "magic", "spambase")},
    **{name: partial(load_regression, name) for name in ("california-housing", "wine-quality")},
}


def load_dataset(
    name_or_path: str | Path,
    label: str | int | None = None,
    test: str | Path | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    data_dir: str | Path | None = None,
) -> Dataset:
    """A dataset by registered name (``DATASETS``; files cached under ``data_dir``) or from a file
    with its label column. A file is split into train and test (stratified, ``test_size``,
    ``seed``) unless ``test`` names a second file with the same columns.
    """
    key = str(name_or_path)
    if key in DATASETS:
        return DATASETS[key](seed=seed, data_dir=data_dir)
    path = Path(name_or_path)
    if not path.exists() and not any(c in key for c in "*?["):
        raise ValueError(
            f"unknown dataset {key!r}: not a registered name ({', '.join(sorted(DATASETS))}) and no such file."
        )
    X, y = read_table(path, label)
    if y is None:
        raise ValueError(f"{path} has no labels: name the label column (label=... / --label COLUMN).")
    _check_labels_present(y, path, label)
    if test is None:
        return split(path.stem or path.name, X, y, test_size=test_size, seed=seed, source=str(path), user_file=True)
    X_test, y_test = read_table(test, label)
    _check_labels_present(y_test, Path(test), label)
    return Dataset(path.stem, X, y, X_test, y_test, {"source": str(path), "test": str(test), "user_file": True})


def _check_labels_present(y, path: Path, label) -> None:
    """A labelled dataset has a label on every row: name the file, the column and the count where not."""
    import pandas as pd

    missing = int(pd.isna(pd.Series(y, dtype=object)).sum())
    if missing:
        raise ValueError(
            f"{path} has {missing} row(s) with no value in the label column {label!r}; drop them, or fit a model "
            "on a partly labelled table with dacl fit / DACLClassifier (empty cells are the unlabelled rows)."
        )
