"""Semi-supervised models for a table with few labels: pretrain DACL on every row, choose on the
labelled rows (cross-validation) among the frozen features' models, fine-tuning and the raw columns'
models, predict (``DACLClassifier``, ``DACLRegressor``)."""

from dacl.semisupervised.estimators import DACLClassifier, DACLRegressor

__all__ = ["DACLClassifier", "DACLRegressor"]
