"""The graph protocols: graph embeddings scored by stratified k-fold cross-validation (TU datasets have no
test split), by the paper's linear classifier (Table 4 of Verma et al., ICML 2021, after InfoGraph) or by the
cross-validated SVM that InfoGraph, GraphCL and GraphMAE publish (``dacl.evaluate.svm_cv_accuracy``)."""

from __future__ import annotations

from dacl.evaluate import PROTOCOLS, linear_cv_accuracy, svm_cv_accuracy
from dacl.graphs.train import embed_graphs

__all__ = ["PROTOCOLS", "protocol_accuracy", "scores_of_graphs"]


def protocol_accuracy(features, labels, protocol: str = "linear", folds: int = 10, seed: int = 0) -> float:
    """``folds``-fold cross-validated accuracy of ``features`` under ``protocol`` ("linear" or "svm")."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}.")
    score = linear_cv_accuracy if protocol == "linear" else svm_cv_accuracy
    return score(features, labels, folds, seed=seed)


def scores_of_graphs(model, dataset, folds: int = 10, seed: int = 0, protocol: str = "linear") -> dict[str, float]:
    """A trained graph model scored on a graph dataset (``dacl evaluate``): ``protocol``'s ``folds``-fold
    cross-validated accuracy on the frozen embeddings."""
    features = embed_graphs(model, dataset.graphs)
    return {"accuracy": protocol_accuracy(features, dataset.labels.numpy(), protocol, folds, seed)}
