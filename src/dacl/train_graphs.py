"""Pretraining graph encoders: DACL with hidden mixup on GIN, Gaussian noise, InfoGraph, none.

Graphs have no fixed topology, so DACL mixes fixed-length hidden representations (Eq. 4 of
Verma et al., ICML 2021): by default the graph representation at the encoder's output, as in the
paper. ``mix_at = l`` (1 <= l < layers) instead mixes after GIN layer l, which the paper leaves to
future work; there each node embedding h_v of graph i becomes λ_i h_v + (1 - λ_i) m_j, m_j the mean
node embedding of the partner graph j ≠ i, λ_i ~ U(α, 1), and message passing goes on from the
mixed embeddings (one λ and one partner per graph and per view, as in Algorithm 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.loader import DataLoader
from torch_geometric.nn import global_mean_pool

from dacl.losses import NTXentLoss
from dacl.models.gin import GINEncoder
from dacl.models.infograph import InfoGraphLoss
from dacl.models.mlp import ProjectionHead
from dacl.noise import GaussianNoise, LinearMixup, MixupPlus, sample_partners

__all__ = ["GRAPH_METHODS", "GraphPretrainConfig", "GraphPretrainResult", "embed_graphs", "pretrain_graphs"]

GRAPH_METHODS = ("dacl", "dacl+", "gaussian", "infograph", "none")


@dataclass
class GraphPretrainConfig:
    """The paper's graph set-up (Sec. 5.3): GIN 4 x 512, sum pooling, a 3-layer head of the same
    width, 20 epochs, batch 128, Adam, α = 0.9, τ = 1.0."""

    method: str = "dacl"
    hidden: int = 512
    layers: int = 4
    pooling: str = "sum"
    head_depth: int = 3
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    temperature: float = 1.0
    alpha: float = 0.9
    rho: float = 0.3
    sigma: float = 0.1
    mix_at: int | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.method not in GRAPH_METHODS:
            raise ValueError(f"unknown graph method {self.method!r}; choose one of {', '.join(GRAPH_METHODS)}.")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2: mixup and InfoGraph need other graphs in the batch.")
        if self.mix_at is not None:
            if not 1 <= self.mix_at <= self.layers:
                raise ValueError(
                    f"mix_at must lie in [1, layers={self.layers}] (or None: the output), got {self.mix_at}."
                )
            if self.mix_at < self.layers and self.method != "dacl":
                raise ValueError("mixing after an intermediate GIN layer is implemented for method 'dacl' (linear).")


@dataclass
class GraphPretrainResult:
    encoder: GINEncoder
    config: GraphPretrainConfig
    history: list[dict[str, float]] = field(default_factory=list)


def _node_mixup(alpha: float, generator: torch.Generator, batch: Tensor, num_graphs: int) -> Callable:
    """A node hook that mixes every node of graph i with the mean node embedding of a partner graph."""

    def hook(h: Tensor) -> Tensor:
        means = global_mean_pool(h, batch, size=num_graphs)
        partner = sample_partners(num_graphs, generator, h.device)
        lam = alpha + (1 - alpha) * torch.rand((num_graphs, 1), generator=generator, device=h.device)
        return lam[batch] * h + (1 - lam[batch]) * means[partner][batch]

    return hook


def _views(config: GraphPretrainConfig):
    if config.method == "dacl":
        return LinearMixup(config.alpha)
    if config.method == "dacl+":
        # GIN representations end in BatchNorm and are signed: geometric mixup (x >= 0) does not apply.
        return MixupPlus(config.alpha, rho=config.rho, types=("linear", "binary"))
    return GaussianNoise(config.sigma)


@torch.no_grad()
def embed_graphs(encoder: GINEncoder, graphs: list, batch_size: int = 512) -> Tensor:
    """Graph representations (G, layers*hidden) of the frozen encoder, in the order of ``graphs``."""
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    parts = []
    for batch in DataLoader(graphs, batch_size=batch_size, shuffle=False):
        batch = batch.to(device)
        parts.append(encoder(batch.x, batch.edge_index, batch.batch)[0].cpu())
    encoder.train(was_training)
    return torch.cat(parts)


def pretrain_graphs(
    graphs: list,
    config: GraphPretrainConfig | None = None,
    *,
    progress: bool = False,
    on_epoch_end: Callable[[int, GINEncoder], None] | None = None,
) -> GraphPretrainResult:
    """Pretrain a GIN on ``graphs`` (``torch_geometric.data.Data`` with ``x`` and ``edge_index``).

    ``on_epoch_end(epoch, encoder)`` is called after every epoch (e.g. to evaluate the last ones).
    """
    config = config or GraphPretrainConfig()
    if len(graphs) < 2:
        raise ValueError(f"need at least 2 graphs to pretrain, got {len(graphs)}.")
    if any(getattr(g, "x", None) is None for g in graphs):
        raise ValueError("every graph needs node features x; dacl.data.graphs.load_tu adds one-hot degrees.")
    device = torch.device(config.device)
    in_features = graphs[0].x.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        encoder = GINEncoder(in_features, config.hidden, config.layers, config.pooling).to(device)
        width = encoder.out_features
        head: nn.Module = (
            InfoGraphLoss(width)
            if config.method == "infograph"
            else ProjectionHead(width, width, width, config.head_depth)
        ).to(device)
    result = GraphPretrainResult(encoder, config)
    if config.method == "none" or config.epochs == 0:
        encoder.eval()
        return result

    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=config.lr)
    criterion = NTXentLoss(config.temperature)
    views = None if config.method == "infograph" else _views(config)
    mix_inside = config.mix_at is not None and config.mix_at < config.layers
    loader = DataLoader(graphs, batch_size=config.batch_size, shuffle=True, drop_last=len(graphs) > config.batch_size,
                        generator=generator)  # fmt: skip

    from tqdm.auto import tqdm

    bar = tqdm(total=config.epochs * len(loader), disable=not progress, desc=f"graph {config.method}", leave=False)
    encoder.train()
    head.train()
    for epoch in range(config.epochs):
        started, total, count, seen = time.perf_counter(), 0.0, 0, 0
        for batch in loader:
            batch = batch.to(device)
            if batch.num_graphs < 2:
                continue
            if config.method == "infograph":
                graph_repr, node_repr = encoder(batch.x, batch.edge_index, batch.batch)
                loss = head(graph_repr, node_repr, batch.batch)
            elif mix_inside:
                z = []
                for _ in range(2):  # two independent views, each with its own λ and partners
                    hook = _node_mixup(config.alpha, generator, batch.batch, batch.num_graphs)
                    graph_repr, _ = encoder(
                        batch.x, batch.edge_index, batch.batch,
                        node_hook=lambda index, h, hook=hook: hook(h) if index == config.mix_at else h,
                    )  # fmt: skip
                    z.append(head(graph_repr))
                loss = criterion(z[0], z[1])
            else:
                graph_repr, _ = encoder(batch.x, batch.edge_index, batch.batch)
                view1, view2 = views(graph_repr, generator)
                z = head(torch.cat([view1, view2]))
                loss = criterion(z[: batch.num_graphs], z[batch.num_graphs :])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += 1
            seen += batch.num_graphs
            bar.update(1)
        seconds = time.perf_counter() - started
        record = {"epoch": epoch + 1, "loss": total / max(count, 1), "seconds": seconds, "graphs_per_s": seen / seconds}
        result.history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.4f}", graphs_s=f"{record['graphs_per_s']:.0f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, encoder)
            encoder.train()
    bar.close()
    encoder.eval()
    return result
