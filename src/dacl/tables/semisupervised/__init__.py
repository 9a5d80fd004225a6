"""Semi-supervised models for a table with few labels: pretrain DACL on every row, choose on the
labelled rows (cross-validation) among the frozen features' models, fine-tuning and the raw columns'
models, predict (``DACLClassifier``, ``DACLRegressor``). The names load on first use, so that the
CLI reads ``dacl.tables.semisupervised.options`` without loading scikit-learn."""

from importlib import import_module
from typing import Any

__all__ = ["DACLClassifier", "DACLRegressor"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("dacl.tables.semisupervised.estimators"), name)
    raise AttributeError(f"module 'dacl.tables.semisupervised' has no attribute {name!r}")
