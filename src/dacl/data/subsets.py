"""Subsets that dacl takes (smoke budgets, ``max_graphs``, label fractions): stratified and seeded,
so that a subset of a dataset sorted by label still holds every class in its share."""

from __future__ import annotations

import numpy as np

__all__ = ["stratified_subset"]


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
