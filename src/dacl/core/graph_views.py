"""GraphCL's augmentations (You et al., NeurIPS 2020, "Graph Contrastive Learning with Augmentations"),
batched: each acts on a whole PyG batch at once (node and edge masks, no loop over graphs), every draw from
the engine's generator, and never leaves a graph empty or an edge index out of range.

- :class:`DropNodes`: each node dropped with probability ``ratio``, with its edges;
- :class:`PerturbEdges`: each edge dropped with probability ``ratio``, and as many edges added between two
  random nodes of the same graph;
- :class:`MaskAttributes`: each node's features replaced, with probability ``ratio``, by Gaussian noise
  (mean 0.5, std 0.5, as GraphCL's code);
- :class:`Subgraph`: the ``1 - ratio`` share of a graph's nodes nearest (in hops) a random start node, ties
  at random: GraphCL's subgraph, grown from a random node by its neighbours, made in one batched pass;
- :class:`GraphAugment`: one of them drawn per graph (GraphCL's "random" setting on TU sets), or any user's.

A batch here is anything with ``x`` (nodes, F), ``edge_index`` (2, E), ``batch`` (nodes,) and ``num_graphs``
(a ``torch_geometric`` ``Batch``); a view returns a shallow copy with new tensors, and the core imports no
graph library. GraphCL's default ratio is 20%.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

__all__ = ["DropNodes", "GraphAugment", "MaskAttributes", "PerturbEdges", "Subgraph", "is_graph_batch"]


def is_graph_batch(x: Any) -> bool:
    """Whether ``x`` is a batch of graphs (PyG's ``Batch``, or anything with its four fields)."""
    return all(hasattr(x, name) for name in ("x", "edge_index", "batch", "num_graphs")) and not isinstance(x, Tensor)


def _check_ratio(ratio: float) -> float:
    if not 0 <= ratio < 1:
        raise ValueError(f"ratio is the share of nodes or edges a view changes, in [0, 1); got {ratio!r}.")
    return float(ratio)


def _uniform(shape: tuple[int, ...] | int, generator: torch.Generator | None, device) -> Tensor:
    return torch.rand(shape, generator=generator, device=device)


def _with(data: Any, **tensors: Tensor) -> Any:
    """A shallow copy of ``data`` (a batch) with some of its tensors replaced (the original is not changed)."""
    out = copy.copy(data)
    for name, value in tensors.items():
        setattr(out, name, value)
    return out


def _counts(batch: Any) -> tuple[Tensor, Tensor]:
    """(nodes per graph, index of each graph's first node)."""
    counts = torch.bincount(batch.batch, minlength=int(batch.num_graphs))
    return counts, torch.cumsum(counts, 0) - counts


def _keep_nodes(batch: Any, keep: Tensor) -> Any:
    """The batch with only the nodes where ``keep`` (at least one per graph: its first node where none was
    kept), their edges, and the nodes renumbered."""
    counts, first = _counts(batch)
    kept_per_graph = torch.zeros_like(counts).index_add_(0, batch.batch, keep.long())
    keep = keep.clone()
    keep[first[(kept_per_graph == 0) & (counts > 0)]] = True
    new_index = torch.cumsum(keep.long(), 0) - 1
    source, target = batch.edge_index
    edges = keep[source] & keep[target]
    edge_index = new_index[batch.edge_index[:, edges]]
    graph = batch.batch[keep]
    out = _with(batch, x=batch.x[keep], edge_index=edge_index, batch=graph)
    if hasattr(batch, "ptr") and batch.ptr is not None:
        sizes = torch.bincount(graph, minlength=int(batch.num_graphs))
        out.ptr = torch.cat([sizes.new_zeros(1), torch.cumsum(sizes, 0)])
    return out


class _GraphView:
    """What every graph view shares: its ratio, a pair of independent draws, and a per-graph choice."""

    graph_views = True  # acts on the input batch of graphs (Contrastive: each view its own encoder pass)

    def __init__(self, ratio: float = 0.2) -> None:
        self.ratio = _check_ratio(ratio)

    def __call__(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        return self.apply(batch, torch.ones(int(batch.num_graphs), dtype=torch.bool, device=batch.x.device),
                          generator)  # fmt: skip

    def apply(self, batch: Any, graphs: Tensor, generator: torch.Generator | None) -> Any:
        """The view on the graphs where ``graphs`` (bool, one per graph); the others unchanged."""
        raise NotImplementedError

    def pair(self, batch: Any, generator: torch.Generator | None = None, *, validate: bool = True):
        if not is_graph_batch(batch):
            raise ValueError(f"{type(self).__name__} acts on a batch of graphs (a PyG Batch), got "
                             f"{type(batch).__name__}.")
        return self(batch, generator), self(batch, generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ratio={self.ratio:g})"


class DropNodes(_GraphView):
    """Each node of the chosen graphs dropped with probability ``ratio``, with its edges (GraphCL)."""

    def apply(self, batch: Any, graphs: Tensor, generator: torch.Generator | None) -> Any:
        drop = (_uniform(batch.x.shape[0], generator, batch.x.device) < self.ratio) & graphs[batch.batch]
        return _keep_nodes(batch, ~drop)


class PerturbEdges(_GraphView):
    """Each edge of the chosen graphs dropped with probability ``ratio``, and as many edges added, each
    between two nodes drawn uniformly from the graph of a dropped edge (GraphCL's edge perturbation)."""

    def apply(self, batch: Any, graphs: Tensor, generator: torch.Generator | None) -> Any:
        device = batch.x.device
        source = batch.edge_index[0]
        graph_of_edge = batch.batch[source]
        drop = (_uniform(source.shape[0], generator, device) < self.ratio) & graphs[graph_of_edge]
        counts, first = _counts(batch)
        owner = graph_of_edge[drop]  # one new edge in the graph of each dropped one
        ends = (_uniform((2, owner.shape[0]), generator, device) * counts[owner]).long()
        added = first[owner] + ends.clamp_max(counts[owner] - 1)
        return _with(batch, edge_index=torch.cat([batch.edge_index[:, ~drop], added], dim=1))


class MaskAttributes(_GraphView):
    """Each node's features in the chosen graphs replaced, with probability ``ratio``, by Gaussian noise of
    mean 0.5 and standard deviation 0.5 (GraphCL's attribute masking)."""

    def apply(self, batch: Any, graphs: Tensor, generator: torch.Generator | None) -> Any:
        x = batch.x
        mask = (_uniform(x.shape[0], generator, x.device) < self.ratio) & graphs[batch.batch]
        noise = 0.5 + 0.5 * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return _with(batch, x=torch.where(mask[:, None], noise, x))


class Subgraph(_GraphView):
    """The ``1 - ratio`` share of each chosen graph's nodes (at least one) nearest a random start node in
    hops, ties broken at random, and their edges: GraphCL's subgraph, which grows a node set from a random
    node by its neighbours, made for all graphs at once by a breadth-first pass (until no node is
    reached any more, or ``max_hops`` where given)."""

    def __init__(self, ratio: float = 0.2, max_hops: int | None = None) -> None:
        super().__init__(ratio)
        self.max_hops = max_hops

    def apply(self, batch: Any, graphs: Tensor, generator: torch.Generator | None) -> Any:
        device = batch.x.device
        nodes = batch.x.shape[0]
        counts, first = _counts(batch)
        offset = (_uniform(counts.shape[0], generator, device) * counts).long()
        start = first + offset.clamp_max(counts - 1).clamp_min(0)
        far = nodes + 1  # unreached
        hops = torch.full((nodes,), far, dtype=torch.long, device=device)
        hops[start[counts > 0]] = 0
        source, target = batch.edge_index
        hops_cap = int(counts.max()) if self.max_hops is None else self.max_hops
        for step in range(1, hops_cap + 1):  # breadth-first, every graph at once
            reached = hops[source] < step
            new = torch.full_like(hops, far).scatter_reduce_(0, target[reached], hops[source[reached]] + 1, "amin")
            updated = torch.minimum(hops, new)
            if torch.equal(updated, hops):
                break
            hops = updated
        keep_count = torch.ceil(counts.double() * (1 - self.ratio)).long().clamp_min(1)
        # rank the nodes of each graph by (hops, a random tie-break); keep the first keep_count reached ones
        key = hops.double() + _uniform(nodes, generator, device).double() * 0.5
        order = torch.argsort(batch.batch.double() * (far + 1) + key)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(nodes, device=device) - first[batch.batch[order]]
        keep = (rank < keep_count[batch.batch]) & (hops < far)
        keep |= ~graphs[batch.batch]  # the graphs not chosen keep every node
        return _keep_nodes(batch, keep)


class GraphAugment(_GraphView):
    """One of ``views`` drawn per graph for each view of the pair (GraphCL's "random" choice among its
    augmentations on TU sets); by default all four at ``ratio``. Each view acts on its own graphs."""

    def __init__(self, ratio: float = 0.2, views: tuple[_GraphView, ...] | None = None) -> None:
        super().__init__(ratio)
        self.views = views if views is not None else (DropNodes(ratio), PerturbEdges(ratio), MaskAttributes(ratio),
                                                       Subgraph(ratio))  # fmt: skip
        if not self.views or not all(hasattr(v, "apply") for v in self.views):
            raise ValueError("GraphAugment's views must be graph views (DropNodes, PerturbEdges, MaskAttributes, "
                             "Subgraph, or a subclass with apply(batch, graphs, generator)).")  # fmt: skip

    def apply(self, batch: Any, graphs: Tensor, generator: torch.Generator | None) -> Any:
        device = batch.x.device
        choice = (_uniform(int(batch.num_graphs), generator, device) * len(self.views)).long()
        choice = choice.clamp_max(len(self.views) - 1)
        for index, view in enumerate(self.views):
            batch = view.apply(batch, graphs & (choice == index), generator)
        return batch

    def __repr__(self) -> str:
        return f"GraphAugment({', '.join(map(repr, self.views))})"
