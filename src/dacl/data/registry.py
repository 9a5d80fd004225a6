"""Datasets by name, or from a file: the one entry point of the CLI and the reproductions.

The registry knows every name and where its reader lives, but imports no domain: a name points at a loader
in its domain's folder (``dacl.tables``, ``dacl.images``) by its module path, imported when the dataset is
first asked for. So ``data/`` stays below the domains (``docs/architecture.md``), listing the names costs
no import, and a user may register a loader of their own (any callable taking ``seed`` and ``data_dir``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from dacl.data.dataset import Dataset

__all__ = ["DATASETS", "DatasetLoader", "load_dataset"]


@dataclass(frozen=True)
class DatasetLoader:
    """A registered dataset's loader, named by ``"module:function"`` and imported on the first call; called
    with ``seed`` and ``data_dir`` (and ``options`` bound first, as ``functools.partial``)."""

    target: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        """The domain folder its reader lives in: ``tables`` or ``images``."""
        return self.target.split(":")[0].split(".")[1]

    def resolve(self) -> Callable[..., Dataset]:
        module, name = self.target.split(":")
        return getattr(import_module(module), name)

    def __call__(self, seed: int = 0, data_dir: str | Path | None = None) -> Dataset:
        return self.resolve()(**self.options, seed=seed, data_dir=data_dir)


def _images(function: str, **options: Any) -> DatasetLoader:
    return DatasetLoader(f"dacl.images.arrays:{function}", options)


def _tables(module: str, function: str, **options: Any) -> DatasetLoader:
    return DatasetLoader(f"dacl.tables.{module}:{function}", options)


# name -> loader(seed=..., data_dir=...): the image sets read as tables are flattened and pixel-permuted
# (the paper's Table 1); as images they are dacl.images.IMAGE_DATASETS
DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": _tables("files", "load_digits_dataset"),
    "mnist": _images("load_idx_dataset", name="mnist"),
    "mnist-test": _images("load_idx_dataset", name="mnist", test_only=True),
    "mnist5k": _images("load_mnist5k"),
    "fashion-mnist": _images("load_idx_dataset", name="fashion-mnist"),
    "cifar10": _images("load_cifar", name="cifar10"),
    "cifar100": _images("load_cifar", name="cifar100"),
    "cifar10-jpeg": DatasetLoader("dacl.images.sets:load_cifar10_jpeg", {}),
    **{name: _tables("uci", "load_uci", name=name) for name in ("adult", "letter", "magic", "spambase")},
    **{name: _tables("regression", "load_regression", name=name) for name in ("california-housing", "wine-quality")},
}

_TABLE_FILE = DatasetLoader("dacl.tables.files:load_table_dataset")


def load_dataset(
    name_or_path: str | Path,
    label: str | int | None = None,
    test: str | Path | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    data_dir: str | Path | None = None,
) -> Dataset:
    """A dataset by registered name (``DATASETS``; files cached under ``data_dir``) or from a table file
    with its label column (``dacl.tables.files.load_table_dataset``). A file is split into train and test
    (stratified, ``test_size``, ``seed``) unless ``test`` names a second file with the same columns.
    """
    key = str(name_or_path)
    if key in DATASETS:
        return DATASETS[key](seed=seed, data_dir=data_dir)
    path = Path(name_or_path)
    if not path.exists() and not any(c in key for c in "*?["):
        raise ValueError(
            f"unknown dataset {key!r}: not a registered name ({', '.join(sorted(DATASETS))}) and no such file."
        )
    return _TABLE_FILE.resolve()(path, label, test=test, test_size=test_size, seed=seed)
