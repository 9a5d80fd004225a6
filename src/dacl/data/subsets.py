"""Subsets that dacl takes (smoke budgets, ``max_graphs``, label fractions): stratified and seeded,
so that a subset of a dataset sorted by label still holds every class in its share."""

from __future__ import annotations

import numpy as np

__all__ = ["label_subset", "stratified_subset"]


def stratified_subset(labels, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` samples with each class in its share (every class at least once
    where ``size`` allows), drawn under ``seed``; all indices when ``size`` covers the data."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    if size >= len(labels):
        return np.arange(len(labels))
    classes = np.unique(labels)
    if size < len(classes):
        raise ValueError(
            f"a subset of {size} samples cannot hold all {len(classes)} classes; take at least {len(classes)}."
        )
    chosen, _ = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed)
    return np.sort(chosen)


def label_subset(y_train, fraction: float, draw: int, regression: bool = False) -> np.ndarray:
    """Sorted indices of ``fraction`` of the training rows that keep their labels, different for each
    ``draw``: stratified by class (every class at least once), or for numbers by the target's decile
    (so that a few labelled rows still span its range)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"a label fraction must lie in (0, 1], got {fraction}.")
    y_train = np.asarray(y_train)
    if regression:
        edges = np.quantile(y_train, np.linspace(0, 1, 11)[1:-1])
        strata = np.searchsorted(edges, y_train, side="right")
        size = max(2, round(fraction * len(y_train)))
        if size < len(np.unique(strata)):  # fewer rows than deciles: a plain random draw
            return np.sort(np.random.default_rng(draw).choice(len(y_train), size, replace=False))
        return stratified_subset(strata, size, seed=draw)
    size = max(len(np.unique(y_train)), round(fraction * len(y_train)))
    return stratified_subset(y_train, size, seed=draw)
