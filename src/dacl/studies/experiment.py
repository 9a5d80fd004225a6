"""Run methods on a dataset and evaluate them side by side with the linear protocol and k-NN.

Rows follow Table 1 of Verma et al. (ICML 2021): No-Pretraining (``none``), Gaussian-noise,
DACL, DACL+, full supervised training, plus the probe on the raw input features (``raw``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from dacl.config import PretrainConfig
from dacl.data.dataset import Dataset
from dacl.engine.loop import PretrainResult
from dacl.evaluate import knn_accuracy, linear_probe_accuracy
from dacl.methods import METHODS, method_names
from dacl.tables import encode, pretrain
from dacl.tables.preprocess import check_no_infinite, column_names, make_preprocessor, normalized_table, one_hot_blocks

__all__ = ["COMPARE_METHODS", "Features", "compare", "evaluate_encoder", "prepare_features", "run_method"]

COMPARE_METHODS = method_names("tables")


@dataclasses.dataclass
class Features:
    """The preprocessed, numeric train/test matrices and integer labels of a dataset."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: np.ndarray
    # each column's one-hot block (0, 1, ...) or -1 (dacl.tables.preprocess.one_hot_blocks)
    blocks: np.ndarray | None = None
    # the fitted make_preprocessor transformer (None where a saved one was applied) and its columns' names
    preprocessor: Any = None
    columns: list[str] | None = None


class _Saved:
    """A preprocessing fitted elsewhere (a streamed run's, saved in its checkpoint) in the fitted
    transformer's shape; ``clip``: values beyond [0, 1] clipped, as the stream clips them."""

    def __init__(self, saved, clip: bool) -> None:
        self.saved, self.clip = saved, clip

    def transform(self, X):

        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        values = self.saved.transform(frame)
        return np.clip(values, 0.0, 1.0, out=values) if self.clip else values


def prepare_features(dataset: Dataset, scale: str = "minmax", impute: bool = True, saved: Any = None) -> Features:
    """Fit the preprocessing on the training split only and apply it to both splits (``saved``: a
    ``dacl.tables.saved_preprocessing.SavedPreprocessing`` to apply instead, as a streamed run fitted it);
    class labels become 0..C-1 (``classes``), the numbers of a regression dataset stay as they are."""
    dataset = dataclasses.replace(dataset, X_train=normalized_table(dataset.X_train, f"{dataset.name}'s training rows"),
                                  X_test=normalized_table(dataset.X_test, f"{dataset.name}'s test rows"))  # fmt: skip
    source = dataset.info.get("source", dataset.name)
    for X, split in ((dataset.X_train, "training"), (dataset.X_test, "test")):
        check_no_infinite(X, f"the {split} rows of {source}")
    if saved is not None:
        preprocessor = _Saved(saved, clip=scale == "minmax")
        blocks = None
    else:
        preprocessor = make_preprocessor(dataset.X_train, scale, impute).fit(dataset.X_train)
        blocks = one_hot_blocks(preprocessor)
    fitted = {"preprocessor": None if saved is not None else preprocessor, "columns": column_names(dataset.X_train)}
    if dataset.is_regression:
        return Features(
            preprocessor.transform(dataset.X_train).astype(np.float32),
            np.asarray(dataset.y_train, dtype=np.float64),
            preprocessor.transform(dataset.X_test).astype(np.float32),
            np.asarray(dataset.y_test, dtype=np.float64),
            np.array([]),
            blocks,
            **fitted,
        )
    classes, y_train = np.unique(dataset.y_train, return_inverse=True)
    unseen = set(np.unique(dataset.y_test)) - set(classes)
    if unseen:
        raise ValueError(f"the test split has labels never seen in training: {sorted(unseen)[:5]}.")
    y_test = np.searchsorted(classes, dataset.y_test)
    return Features(
        preprocessor.transform(dataset.X_train).astype(np.float32),
        y_train,
        preprocessor.transform(dataset.X_test).astype(np.float32),
        y_test,
        classes,
        blocks,
        **fitted,
    )


def evaluate_encoder(result: PretrainResult, features: Features, knn_k: int = 10) -> dict[str, float]:
    """Linear-probe and k-NN test accuracy of the frozen encoder (projection head discarded).

    For ``supervised`` the accuracy is the trained network's own (the paper's "full network
    supervised training" row) and the linear-probe accuracy on its encoder is reported beside it.
    """
    train = encode(result.encoder, features.X_train)
    test = encode(result.encoder, features.X_test)
    probe = linear_probe_accuracy(train, features.y_train, test, features.y_test)
    scores = {"accuracy": probe, "knn_accuracy": knn_accuracy(train, features.y_train, test, features.y_test, knn_k)}
    if METHODS[result.config.method].kind == "supervised":
        device = next(result.model.parameters()).device
        with torch.no_grad():
            logits = result.model(torch.as_tensor(features.X_test, device=device))
        scores["probe_accuracy"] = probe
        scores["accuracy"] = float((logits.argmax(1).cpu().numpy() == features.y_test).mean())
    return scores


def run_method(
    method: str, features: Features, config: PretrainConfig, *, progress: bool = False, knn_k: int = 10, **train_kw
) -> tuple[dict[str, Any], list[dict[str, float]]]:
    """One row: train ``method`` (or take the raw features), evaluate, time it. Returns (row, history)."""
    if method not in COMPARE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(COMPARE_METHODS)}.")
    started = time.perf_counter()
    if METHODS[method].kind == "raw":
        f = features
        scores = {
            "accuracy": linear_probe_accuracy(f.X_train, f.y_train, f.X_test, f.y_test),
            "knn_accuracy": knn_accuracy(f.X_train, f.y_train, f.X_test, f.y_test, knn_k),
        }
        history: list[dict[str, float]] = []
    else:
        result = pretrain(
            features.X_train,
            dataclasses.replace(config, method=method),
            features.y_train,
            progress=progress,
            **{"categories": features.blocks, **train_kw},
        )
        scores = evaluate_encoder(result, features, knn_k)
        history = result.history
    return {"method": method, **scores, "seconds": time.perf_counter() - started}, history


def compare(
    dataset: Dataset,
    methods: list[str],
    config: PretrainConfig,
    *,
    scale: str = "minmax",
    progress: bool = False,
    knn_k: int = 10,
) -> dict[str, Any]:
    """Every method on one dataset with one configuration; the results as ``{"rows", "histories", ...}``."""
    features = prepare_features(dataset, scale)
    rows, histories = [], {}
    for method in methods:
        row, history = run_method(method, features, config, progress=progress, knn_k=knn_k)
        rows.append({"method": row.pop("method"), "dataset": dataset.name, **row})
        histories[method] = history
    return {
        "rows": rows,
        "histories": histories,
        "dataset": {
            "name": dataset.name,
            "train": int(len(features.y_train)),
            "test": int(len(features.y_test)),
            "features": int(features.X_train.shape[1]),
            "classes": int(len(features.classes)),
            **dataset.info,
        },
        "config": config.to_dict(),
        "scale": scale,
    }
