"""The graph protocol (Table 4 of Verma et al., ICML 2021, after InfoGraph): graph embeddings scored by a
linear classifier's stratified k-fold cross-validated accuracy (TU datasets have no test split)."""

from __future__ import annotations

from dacl.evaluate import linear_cv_accuracy
from dacl.graphs.train import embed_graphs

__all__ = ["scores_of_graphs"]


def scores_of_graphs(model, dataset, folds: int = 10, seed: int = 0) -> dict[str, float]:
    """A trained graph model scored on a graph dataset (``dacl evaluate``): the linear classifier's
    ``folds``-fold cross-validated accuracy on the frozen embeddings."""
    features = embed_graphs(model, dataset.graphs)
    return {"accuracy": linear_cv_accuracy(features, dataset.labels.numpy(), folds, seed=seed)}
