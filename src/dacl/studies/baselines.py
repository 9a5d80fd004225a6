"""The semi-supervised models a data scientist tries before dacl, fitted as they would fit them.

Each sees the training split's preprocessed columns (the rows of ``gbdt-raw`` and ``linear-raw``), the
labelled rows with their labels and every other row unlabelled (self-training: at most
``SELF_TRAINING_UNLABELLED`` of them, a seeded sample, for its cost), and predicts the test split:

- ``self-training (trees)``: scikit-learn's ``SelfTrainingClassifier`` (its defaults: threshold 0.75, 10
  rounds) around ``HistGradientBoostingClassifier`` with the leaf size of ``gbdt-raw`` (scikit-learn's 20
  rows would allow no split with a few labels a class);
- ``self-training (logistic)``: ``SelfTrainingClassifier`` around ``LogisticRegression`` (C = 1);
- ``label spreading (raw)``: ``LabelSpreading(kernel="knn")`` (7 neighbours, alpha 0.2).

For numbers scikit-learn has no semi-supervised model: ``SelfTrainingClassifier`` needs class
probabilities for its confidence, and ``LabelSpreading`` takes classes. The closest fair equivalent is
label spreading of the target itself over the same 7-neighbour graph of every training row, alpha 0.2
(``dacl.core.propagation``: Zhou et al.'s iteration is linear, and spreads a number as it spreads each
class's column; a new row gets the mean of its 7 nearest rows' spread values, as ``LabelSpreading``
predicts). Self-training has no such equivalent without inventing a confidence, so the regression
baselines are ridge, the trees and this one.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from dacl.tables.semisupervised.candidates import Task, gbdt_leaf_size

__all__ = ["BASELINES", "SELF_TRAINING_UNLABELLED", "baseline_names", "fit_baseline"]

SPREAD_NEIGHBOURS, SPREAD_ALPHA = 7, 0.2  # scikit-learn's LabelSpreading defaults
# self-training sees the labelled rows and at most this many unlabelled ones (a seeded sample): around the
# trees it refits up to 10 times on the rows it labels, and on mnist-test at 1% (8,000 rows of 784 pixels)
# one fit took 12 minutes on one thread; Fashion-MNIST's 60,000 rows would take hours a draw
SELF_TRAINING_UNLABELLED = 10_000


def _self_training(base: Callable[[np.ndarray, Task, int], Any]) -> Callable[..., np.ndarray]:
    def fit_predict(X, y_marked, labelled, X_test, task: Task, seed: int) -> np.ndarray:
        from sklearn.semi_supervised import SelfTrainingClassifier

        model = SelfTrainingClassifier(base(y_marked[labelled], task, seed)).fit(X, y_marked)
        probabilities = np.zeros((len(X_test), task.classes))
        probabilities[:, model.classes_] = model.predict_proba(X_test)
        return probabilities

    return fit_predict


def _trees(y: np.ndarray, task: Task, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(min_samples_leaf=gbdt_leaf_size(y, task), random_state=seed)


def _logistic(y: np.ndarray, task: Task, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _label_spreading(X, y_marked, labelled, X_test, task: Task, seed: int) -> np.ndarray:
    if task.is_classification:
        from sklearn.semi_supervised import LabelSpreading

        model = LabelSpreading(kernel="knn", n_neighbors=SPREAD_NEIGHBOURS, alpha=SPREAD_ALPHA).fit(X, y_marked)
        probabilities = np.zeros((len(X_test), task.classes))
        probabilities[:, model.classes_] = model.predict_proba(X_test)
        return probabilities
    import torch

    from dacl.core.propagation import knn_graph, nearest, spread_labels

    points = torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32)
    values = torch.as_tensor(np.nan_to_num(y_marked), dtype=torch.float64)
    mask = torch.as_tensor(labelled)
    mean, scale = values[mask].mean(), values[mask].std(unbiased=False).clamp_min(1e-12)
    distances, indices = knn_graph(points, SPREAD_NEIGHBOURS)
    spread, _ = spread_labels(distances, indices, ((values - mean) / scale).float()[:, None], mask,
                              alpha=SPREAD_ALPHA, weighting="binary", steps=30)  # fmt: skip
    query = torch.as_tensor(np.ascontiguousarray(X_test), dtype=torch.float32)
    _, near = nearest(query, points, SPREAD_NEIGHBOURS)
    return (spread[near, 0].double().mean(1) * scale + mean).numpy()


# name -> (fit and predict, classification, regression)
BASELINES: dict[str, tuple[Callable[..., np.ndarray], bool, bool]] = {
    "self-training (trees)": (_self_training(_trees), True, False),
    "self-training (logistic)": (_self_training(_logistic), True, False),
    "label spreading (raw)": (_label_spreading, True, True),
}


def baseline_names(task: Task) -> tuple[str, ...]:
    """The baselines that apply to ``task``."""
    return tuple(n for n, (_, c, r) in BASELINES.items() if (c if task.is_classification else r))


def fit_baseline(name: str, X: np.ndarray, y: np.ndarray, labelled: np.ndarray, X_test: np.ndarray, task: Task,
                 seed: int = 0) -> tuple[np.ndarray, float]:  # fmt: skip
    """Baseline ``name`` fitted on every row of ``X`` with the labels of the rows ``labelled`` (indices)
    only; (its test probabilities or predictions, the seconds of its fit and prediction)."""
    fit_predict = BASELINES[name][0]
    mask = np.zeros(len(X), dtype=bool)
    mask[labelled] = True
    others = np.flatnonzero(~mask)
    if name.startswith("self-training") and len(others) > SELF_TRAINING_UNLABELLED:
        kept = np.sort(np.concatenate([np.flatnonzero(mask), np.random.default_rng(seed).choice(
            others, SELF_TRAINING_UNLABELLED, replace=False)]))  # fmt: skip
        X, y, mask = X[kept], y[kept], mask[kept]
    marked = np.where(mask, y, -1 if task.is_classification else np.nan)
    begun = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's notes on rounds and convergence
        out = fit_predict(X, marked, mask, X_test, task, seed)
    return out, time.perf_counter() - begun
