"""Graph Isomorphism Network encoder of the paper's graph set-up (Table 4).

A GIN (Xu et al., 2019) on torch_geometric: each layer is a GINConv whose update is a 2-layer MLP
(Linear -> BatchNorm -> ReLU -> Linear), followed by ReLU and BatchNorm; every layer's node
embeddings are pooled per graph and concatenated, giving a ``layers x hidden`` graph representation
(the paper: 4 layers of 512 units, sum pooling), as in InfoGraph (Sun et al., 2020).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GINConv, global_add_pool, global_max_pool, global_mean_pool

__all__ = ["GINEncoder", "POOLINGS"]

POOLINGS = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}


class GINEncoder(nn.Module):
    """``forward(x, edge_index, batch)`` -> (graph representation (B, layers*hidden), node
    embeddings (N, layers*hidden)), the node embeddings being every layer's output concatenated."""

    def __init__(self, in_features: int, hidden: int = 512, layers: int = 4, pooling: str = "sum") -> None:
        super().__init__()
        if in_features < 1 or hidden < 1 or layers < 1:
            raise ValueError(f"in_features, hidden and layers must be positive, got {in_features}, {hidden}, {layers}.")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, got {pooling!r}.")
        self.pool = POOLINGS[pooling]
        self.layers = layers
        self.hidden = hidden
        self.out_features = layers * hidden
        sizes = [in_features] + [hidden] * layers
        self.convs = nn.ModuleList(
            GINConv(nn.Sequential(nn.Linear(a, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden)))
            for a in sizes[:-1]
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(layers))

    def layer(self, index: int, h: Tensor, edge_index: Tensor) -> Tensor:
        """One GIN layer: message passing, the MLP update, ReLU, BatchNorm."""
        return self.norms[index](self.convs[index](h, edge_index).relu())

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, node_hook=None) -> tuple[Tensor, Tensor]:
        """``node_hook(index, h)``, if given, may replace the node embeddings after layer ``index``
        (1-based) before the next layer sees them: how hidden mixup reaches intermediate layers."""
        outputs = []
        h = x
        for index in range(self.layers):
            h = self.layer(index, h, edge_index)
            if node_hook is not None:
                h = node_hook(index + 1, h)
            outputs.append(h)
        graphs = torch.cat([self.pool(h, batch) for h in outputs], dim=1)
        return graphs, torch.cat(outputs, dim=1)
