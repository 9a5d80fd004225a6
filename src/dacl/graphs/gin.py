"""Graph Isomorphism Network encoder of the paper's graph set-up (Table 4).

A GIN (Xu et al., 2019) on torch_geometric: each layer is a GINConv whose update is a 2-layer MLP
(Linear -> BatchNorm -> ReLU -> Linear), followed by ReLU and BatchNorm; every layer's node
embeddings are pooled per graph and concatenated, giving a ``layers x hidden`` graph representation
(the paper: 4 layers of 512 units, sum pooling), as in InfoGraph (Sun et al., 2020).

Hidden mixup reaches it through the layer hook of ``dacl.core.encoders``: ``hook(l, h, batch)`` on the
node features (l = 0) and the node embeddings after layer l < layers, each row grouped by its graph,
and ``hook(layers, g, None)`` on the graph representation g, the encoder's output (the paper's
choice, Eq. 4). A hook that stacks both views of the nodes doubles the batch of graphs from there on.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager, suppress

import torch
from torch import Tensor, nn
from torch_geometric.nn import GINConv, global_add_pool, global_max_pool, global_mean_pool

from dacl.core.encoders import LayerHook
from dacl.data.download import data_home

__all__ = ["GINEncoder", "POOLINGS"]

POOLINGS = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}


@contextmanager
def _generated_code_in_the_cache():
    """torch_geometric writes the Python module it generates for a layer class into the system's temp
    folder and never deletes it (one file per process): have it write into dacl's cache instead, and
    delete that folder's files older than a day (a running process has imported its own already)."""
    folder = data_home() / "pyg-generated"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.py"):
        with suppress(OSError):
            if time.time() - old.stat().st_mtime > 86_400:
                old.unlink()
    previous, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous


class GINEncoder(nn.Module):
    """``forward(data)`` -> graph representations (B, layers*hidden) of a PyG batch; with
    ``return_nodes=True`` also the node embeddings (N, layers*hidden), every layer's output concatenated."""

    def __init__(self, in_features: int, hidden: int = 512, layers: int = 4, pooling: str = "sum") -> None:
        super().__init__()
        if in_features < 1 or hidden < 1 or layers < 1:
            raise ValueError(f"in_features, hidden and layers must be positive, got {in_features}, {hidden}, {layers}.")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, got {pooling!r}.")
        self.pool = POOLINGS[pooling]
        self.layers = self.depth = layers
        self.hidden = hidden
        self.out_features = layers * hidden
        sizes = [in_features] + [hidden] * layers
        with _generated_code_in_the_cache():
            self.convs = nn.ModuleList(
                GINConv(
                    nn.Sequential(nn.Linear(a, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden))
                )
                for a in sizes[:-1]
            )
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(layers))

    def layer(self, index: int, h: Tensor, edge_index: Tensor) -> Tensor:
        """One GIN layer: message passing, the MLP update, ReLU, BatchNorm."""
        return self.norms[index](self.convs[index](h, edge_index).relu())

    def forward(
        self, data, hook: LayerHook | None = None, return_nodes: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        h, edge_index, num_graphs = data.x, data.edge_index, int(data.num_graphs)
        batch = data.batch if data.batch is not None else h.new_zeros(h.shape[0], dtype=torch.long)
        outputs: list[Tensor] = []
        for index in range(self.layers):
            if hook is not None:
                mixed = hook(index, h, batch)
                if mixed.shape[0] != h.shape[0]:  # views stacked: the graphs repeated from here on
                    copies = mixed.shape[0] // h.shape[0]
                    edge_index, batch, outputs = _repeat(edge_index, batch, outputs, h.shape[0], num_graphs, copies)
                    num_graphs *= copies
                if outputs:  # layer l's part of the representation is the mixed embedding
                    outputs[-1] = mixed
                h = mixed
            h = self.layer(index, h, edge_index)
            outputs.append(h)
        graphs = torch.cat([self.pool(out, batch, size=num_graphs) for out in outputs], dim=1)
        if hook is not None:
            graphs = hook(self.layers, graphs, None)
        return (graphs, torch.cat(outputs, dim=1)) if return_nodes else graphs


def _repeat(edge_index: Tensor, batch: Tensor, outputs: list[Tensor], nodes: int, graphs: int, copies: int):
    """The batch's structure ``copies`` times over, copy k's nodes offset by k x nodes."""
    offsets = torch.arange(copies, device=batch.device)
    edge_index = (edge_index.unsqueeze(0) + (offsets * nodes).view(-1, 1, 1)).permute(1, 0, 2).reshape(2, -1)
    batch = (batch.unsqueeze(0) + (offsets * graphs).view(-1, 1)).reshape(-1)
    return edge_index, batch, [out.repeat(copies, 1) for out in outputs]
