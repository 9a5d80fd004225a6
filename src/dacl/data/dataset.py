"""A labelled dataset as arrays, and its seeded train/test split: what every domain's reader returns and the
registry (``dacl.data.registry``) hands out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Dataset", "split"]


@dataclass
class Dataset:
    """A train/test split. ``X_*`` are DataFrames (mixed column types) or float arrays; ``y_*`` arrays."""

    name: str
    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        """Whether ``y`` are numbers to predict (``info["task"] == "regression"``) rather than classes."""
        return self.info.get("task") == "regression"

    def digest(self) -> str:
        """SHA-256 of the data itself (every split's columns, their names and values, and the labels), so that
        results stored for one dataset are never taken for another of the same name."""
        import hashlib

        digest = hashlib.sha256()
        for part in (self.X_train, self.y_train, self.X_test, self.y_test):
            if isinstance(part, pd.DataFrame):
                digest.update(repr(list(map(str, part.columns))).encode())
                digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
            else:
                array = np.asarray(part)
                digest.update(f"{array.dtype}{array.shape}".encode())
                digest.update(pd.util.hash_pandas_object(pd.Series(array.ravel(), dtype=object), index=False)
                              .to_numpy().tobytes() if array.dtype == object else np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def __repr__(self) -> str:
        target = "regression" if self.is_regression else f"classes={len(np.unique(self.y_train))}"
        return (
            f"Dataset({self.name!r}, train={tuple(np.shape(self.X_train))}, test={tuple(np.shape(self.X_test))}, "
            f"{target})"
        )


def split(
    name: str, X: Any, y: np.ndarray, test_size: float = 0.2, seed: int = 0, stratify: bool = True, **info
) -> Dataset:
    """A seeded train/test split of (X, y), stratified by class unless ``stratify=False`` (numbers)."""
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y if stratify else None, random_state=seed
    )
    kind = "stratified" if stratify else "random"
    return Dataset(
        name,
        X_train,
        np.asarray(y_train),
        X_test,
        np.asarray(y_test),
        {"split": f"{kind}, test_size={test_size}, seed={seed}", **info},
    )
