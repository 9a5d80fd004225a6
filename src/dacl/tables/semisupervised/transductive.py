"""Candidates that use the unlabelled rows at choice time, not only to pretrain.

- ``spread`` and ``spread-raw``: label spreading (Zhou et al., NeurIPS 2004) over a k-NN graph of the
  labelled rows and a sample of the unlabelled ones (``Inputs.unlabelled``, at most
  ``Settings.unlabelled_rows``), on the DACL features (cosine affinities cubed, as Iscen et al., CVPR 2019,
  on a learned embedding) or on the raw columns (Euclidean, one per edge, as scikit-learn's
  ``LabelSpreading(kernel="knn")``);
  ``dacl.core.propagation``. Settings: α, and for classes with or without class-mass normalization (Zhu,
  Ghahramani, Lafferty, ICML 2003: each class's spread mass scaled to its share of the labelled rows). A
  new row is predicted by its ``spread_k`` nearest graph rows' spread labels (the graph's inductive
  extension, Delalleau, Bengio, Le Roux, AISTATS 2005, with uniform weights): the fitted model is a
  :class:`~dacl.tables.semisupervised.candidates.NearestNeighbours` over the graph's rows, saved, loaded and
  exported as the ``knn`` candidate is.
- ``self-train``: self-training (Lee 2013's pseudo-labels; scikit-learn's ``SelfTrainingClassifier``) of
  the best cheap candidate of the choice (``SELF_TRAINABLE``, chosen after the first repeat of the
  cross-validation: ``Settings.self_train_base``): fitted on the labelled rows (in a cross-validation the
  base's own fit of the split, reused: ``Candidate.fit_setting``), it labels the unlabelled rows whose top
  probability reaches ``Settings.self_train_threshold``, at most ``Settings.self_train_rows`` of them (the
  most confident), and is fitted again on both, for ``Settings.self_train_rounds`` rounds. The result is a
  model of the base's kind. The cap bounds a round's refit (up to 8,192 pseudo-labelled rows beside tens
  of labelled ones made the trees' refits most of the choice's time, for no better score).

In a cross-validation each fold's candidates see the fold's training rows with their labels and the
unlabelled rows without: a held-out row is neither in the graph nor among the pseudo-labelled rows
(``Inputs.take`` keeps the same unlabelled rows, which never include a labelled row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dacl.core.propagation import knn_graph, nearest, normalized_affinity, spread_labels
from dacl.tables.semisupervised.candidates import Inputs, NearestNeighbours, Settings, Task

__all__ = [
    "GRAPH_LABELLED",
    "SELF_TRAINABLE",
    "fit_self_trained",
    "fit_spread_features",
    "fit_spread_raw",
    "refit_self_trained",
    "self_train_setting",
    "unlabelled_pool",
]

# the labelled rows in a graph (a stratified sample where there are more): with that many labels, spreading
# them adds little to the supervised candidates, and the graph stays within Settings.unlabelled_rows +
# GRAPH_LABELLED rows
GRAPH_LABELLED = 4096
# the candidates self-training may train: those whose fits take seconds on a few thousand rows
SELF_TRAINABLE = ("probe", "linear-raw", "gbdt-raw", "gbdt-raw+features")


def unlabelled_pool(unlabelled: np.ndarray, seed: int, size: int) -> np.ndarray:
    """Sorted indices of at most ``size`` of the ``unlabelled`` row indices, drawn under ``seed``."""
    unlabelled = np.asarray(unlabelled)
    if len(unlabelled) <= size:
        return np.sort(unlabelled)
    return np.sort(np.random.default_rng(seed).choice(unlabelled, size, replace=False))


def _space(inputs: Inputs, source: str) -> torch.Tensor:
    """The rows as the graph sees them: unit-length features, or the raw columns."""
    if source == "features":
        return F.normalize(torch.as_tensor(np.ascontiguousarray(inputs.features), dtype=torch.float32), dim=1)
    return torch.as_tensor(np.ascontiguousarray(inputs.X), dtype=torch.float32)


def _graph_labelled(y: np.ndarray, task: Task, seed: int) -> np.ndarray:
    """The labelled rows that join the graph: all, or a stratified sample of ``GRAPH_LABELLED``."""
    if len(y) <= GRAPH_LABELLED:
        return np.arange(len(y))
    from dacl.data.subsets import stratified_subset

    if task.is_classification:
        return stratified_subset(y, GRAPH_LABELLED, seed=seed)
    return np.sort(np.random.default_rng(seed).choice(len(y), GRAPH_LABELLED, replace=False))


def _fit_spread(source: str, inputs: Inputs, y: np.ndarray, task: Task, settings: Settings) -> dict[str, Any]:
    if inputs.unlabelled is None or len(inputs.unlabelled) == 0:
        raise ValueError("label spreading needs unlabelled rows (Inputs.unlabelled).")
    pool = _space(inputs.unlabelled, source)
    k = settings.spread_k
    key = ("graph", source, k)
    if key not in inputs.unlabelled.cache:  # the unlabelled rows' own neighbours: once for every fold
        inputs.unlabelled.cache[key] = nearest(pool, pool, k, skip_self=True)
    kept = _graph_labelled(y, task, settings.seed)
    labelled = _space(inputs, source)[torch.as_tensor(kept)]
    points = torch.cat([labelled, pool])
    distances, indices = knn_graph(points, k, known=inputs.unlabelled.cache[key], known_from=len(kept))
    if task.is_classification:
        targets = torch.zeros(len(points), task.classes)
        targets[torch.arange(len(kept)), torch.as_tensor(y[kept]).long()] = 1
        prior = torch.bincount(torch.as_tensor(y[kept]).long(), minlength=task.classes).double() / len(kept)
    else:
        values = torch.as_tensor(y[kept], dtype=torch.float64)
        mean, scale = values.mean(), values.std(unbiased=False).clamp_min(1e-12)
        targets = torch.zeros(len(points), 1)
        targets[: len(kept), 0] = ((values - mean) / scale).float()
    is_labelled = torch.zeros(len(points), dtype=torch.bool)
    is_labelled[: len(kept)] = True
    weighting = "cosine" if source == "features" else "binary"
    nodes = points.numpy()
    affinity = normalized_affinity(distances, indices, weighting)  # the graph's, for every alpha
    fitted = {}
    for alpha in settings.spread_alphas:
        spread, mass = spread_labels(distances, indices, targets, is_labelled, alpha=alpha, weighting=weighting,
                                     affinity=affinity)  # fmt: skip
        reached = (mass > 0)[:, None]
        if not task.is_classification:
            out = torch.where(reached, spread, torch.zeros_like(spread)).double()[:, 0] * scale + mean
            fitted[f"alpha={alpha:g}"] = NearestNeighbours(task, nodes, out.numpy(), k, source)
            continue
        shares = spread.double().clamp_min(0)
        shares = torch.where(reached, shares / shares.sum(1, keepdim=True).clamp_min(1e-12), prior)
        fitted[f"alpha={alpha:g}"] = NearestNeighbours(task, nodes, shares.numpy(), k, source)
        # class-mass normalization: each class's total over the graph in proportion to its labelled share
        balanced = shares * (prior / shares.sum(0).clamp_min(1e-12))
        balanced = balanced / balanced.sum(1, keepdim=True).clamp_min(1e-12)
        fitted[f"alpha={alpha:g}, balanced"] = NearestNeighbours(task, nodes, balanced.numpy(), k, source)
    return fitted


def fit_spread_features(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings) -> dict[str, Any]:
    """``spread``: label spreading on the DACL features (module doc)."""
    return _fit_spread("features", inputs, y, task, settings)


def fit_spread_raw(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings) -> dict[str, Any]:
    """``spread-raw``: label spreading on the raw columns (module doc)."""
    return _fit_spread("X", inputs, y, task, settings)


def self_train_setting(base: tuple[str, str]) -> str:
    """The name of self-training's setting: its base candidate and the base's setting."""
    candidate, setting = base
    return f"{candidate} {setting}".strip()


def _base_of(setting: str) -> tuple[str, str]:
    candidate, _, base_setting = setting.partition(" ")
    if candidate not in SELF_TRAINABLE:
        raise ValueError(f"self-training trains one of {', '.join(SELF_TRAINABLE)}, not {candidate!r}.")
    return candidate, base_setting


# the fit of one setting of a candidate named in the registry (``Candidate.fit_setting``): given by the
# registry, which builds on this module, so that self-training can refit whichever base the choice prefers
BaseFit = Callable[[str], Callable[..., Any]]


def _self_trained(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings, base: tuple[str, str],
                  base_fit: BaseFit) -> Any:  # fmt: skip
    if not task.is_classification:
        raise ValueError("self-training needs class probabilities: classes only.")
    if inputs.unlabelled is None or len(inputs.unlabelled) == 0:
        raise ValueError("self-training needs unlabelled rows (Inputs.unlabelled).")
    candidate, setting = base
    fit = base_fit(candidate)
    model = fit(inputs, y, task, settings, setting)
    for _ in range(settings.self_train_rounds):
        probabilities = model.predict(inputs.unlabelled)
        top = probabilities.max(1)
        confident = np.flatnonzero(top >= settings.self_train_threshold)
        if len(confident) == 0:
            break
        most = settings.self_train_rows
        if most is not None and len(confident) > most:  # the most confident, ties in row order
            confident = np.sort(confident[np.argsort(-top[confident], kind="stable")[:most]])
        pseudo = probabilities[confident].argmax(1)
        joined = inputs.joined(inputs.unlabelled.take(confident))
        model = fit(joined, np.concatenate([y, pseudo]).astype(y.dtype), task, settings, setting)
    return model


def fit_self_trained(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings, *, base_fit: BaseFit
                     ) -> dict[str, Any]:  # fmt: skip
    """``self-train`` of ``settings.self_train_base`` (module doc): one setting, named by the base."""
    if settings.self_train_base is None:
        raise ValueError("self-training needs its base candidate (Settings.self_train_base).")
    base = tuple(settings.self_train_base)
    return {self_train_setting(base): _self_trained(inputs, y, task, settings, base, base_fit)}


def refit_self_trained(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings, setting: str, *,
                       base_fit: BaseFit) -> Any:  # fmt: skip
    """``self-train`` of the base its setting names."""
    base = _base_of(setting)
    return _self_trained(inputs, y, task, replace(settings, self_train_base=base), base, base_fit)
