"""InfoGraph (Sun et al., ICLR 2020): the local-global mutual-information objective, the paper's
graph baseline (Verma et al., ICML 2021, Table 4).

Node ("local") and graph ("global") representations of the same encoder are scored by a pair of
discriminators; pairs of a node and its own graph are positives, all other node-graph pairs
negatives; the Jensen-Shannon estimator of their mutual information is maximised.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FeedForward", "InfoGraphLoss", "jsd_mi_loss"]


class FeedForward(nn.Module):
    """3-layer ReLU MLP plus a linear shortcut: InfoGraph's discriminator network."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU()
        )
        self.shortcut = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + self.shortcut(x)


def jsd_mi_loss(scores: Tensor, positive: Tensor) -> Tensor:
    """Negative Jensen-Shannon MI estimate over a (nodes x graphs) score matrix.

    E_P[log 2 - softplus(-s)] over positive pairs minus E_N[softplus(-s) + s - log 2] over negatives,
    each a mean over its pairs; returned negated, to be minimised.
    """
    log2 = math.log(2.0)
    positive = positive.to(scores.dtype)
    negative = 1.0 - positive
    expected_positive = ((log2 - F.softplus(-scores)) * positive).sum() / positive.sum()
    expected_negative = ((F.softplus(-scores) + scores - log2) * negative).sum() / negative.sum().clamp(min=1)
    return expected_negative - expected_positive


class InfoGraphLoss(nn.Module):
    """Called on (graph representations (B, D), node representations (N, D), batch vector (N,))."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.local = FeedForward(width)
        self.global_ = FeedForward(width)

    def forward(self, graphs: Tensor, nodes: Tensor, batch: Tensor) -> Tensor:
        if graphs.shape[0] < 2:
            raise ValueError("InfoGraph needs at least 2 graphs per batch to have negative pairs.")
        scores = self.local(nodes) @ self.global_(graphs).T  # (N, B)
        positive = F.one_hot(batch, graphs.shape[0]).bool()
        return jsd_mi_loss(scores, positive)
