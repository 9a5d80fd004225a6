"""The graphs domain: PyG graphs, the GIN encoder, the one engine (``dacl.engine.fit``).

Graphs have no fixed topology, so DACL mixes fixed-length hidden representations (Eq. 4 of
Verma et al., ICML 2021): by default (``mix_at = -1``) the graph representation, the GIN's output,
as in the paper. ``mix_at = l`` (0 <= l < layers) instead mixes the node embeddings after GIN layer l
(0: the node features), which the paper leaves to future work: every node embedding h_v of graph i
becomes λ_i h_v + (1 - λ_i) m_j, m_j the mean node embedding of a partner graph j ≠ i, λ_i ~ U(α, 1),
and message passing goes on from the mixed embeddings (one λ and one partner per graph and view).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dacl.config import PretrainConfig
from dacl.engine.domain import model_encoder, read_model_state, refuse_if_too_big, with_weights
from dacl.engine.loop import Callback, PretrainResult, fit
from dacl.engine.sources import check_shardable
from dacl.graphs.gin import GINEncoder
from dacl.methods import build_method, method_names

__all__ = ["GRAPH_DEFAULTS", "GraphSource", "build_graph_method", "embed", "embed_graphs", "graph_config",
           "load_graph_model", "load_model", "pretrain", "pretrain_graphs"]  # fmt: skip

# The paper's graph set-up (Sec. 5.3): GIN 4 x 512, sum pooling, a 3-layer head as wide as the graph
# representation, 20 epochs, batch 128, Adam at a constant learning rate, α = 0.9, τ = 1.0, mixing
# the GIN's output. GIN outputs end in BatchNorm and are signed, so DACL+ draws linear and binary
# mixup only (geometric mixup needs x >= 0). float32: bf16 is unmeasured on graphs.
GRAPH_DEFAULTS: dict[str, Any] = {
    "method": "dacl", "depth": 4, "width": 512, "pooling": "sum", "head_depth": 3, "projection_dim": None,
    "epochs": 20, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "warmup_epochs": 0.0,
    "schedule": "constant", "temperature": 1.0, "alpha": 0.9, "mixup_types": ("linear", "binary"), "mix_at": -1,
    "precision": "float32",
}  # fmt: skip


def graph_config(**options: Any) -> PretrainConfig:
    """A :class:`PretrainConfig` with the paper's graph defaults, overridden by ``options``."""
    return PretrainConfig.from_dict(options, **GRAPH_DEFAULTS)


class GraphSource:
    """Shuffled batches of ``batch_size`` graphs collated into PyG batches; the last partial batch
    is dropped (with fewer graphs than one batch, all of them make the one batch)."""

    def __init__(self, graphs: Sequence, batch_size: int) -> None:
        self.graphs = graphs
        self.batch_size = min(batch_size, len(graphs))
        self.sizes = [self.batch_size] * (len(graphs) // self.batch_size)
        self.samples = sum(self.sizes)
        self.rank, self.world = 0, 1

    def shard(self, rank: int, world: int) -> GraphSource:
        """Process ``rank`` of ``world``: its consecutive slice of every batch of graphs."""
        check_shardable(self.batch_size, world)
        shard = copy.copy(self)
        shard.rank, shard.world = rank, world
        return shard

    def __len__(self) -> int:
        return len(self.sizes)

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[Any, Tensor]]:
        from torch_geometric.data import Batch

        order = torch.randperm(len(self.graphs), generator=generator, device=generator.device).tolist()
        start = 0
        for size in self.sizes:
            local = size // self.world
            first = start + self.rank * local
            batch = Batch.from_data_list([self.graphs[i] for i in order[first : first + local]])
            start += size
            yield batch, batch.y


def check_graphs(graphs: Sequence) -> int:
    """The node-feature width of ``graphs``; a clear error for graphs dacl cannot train on."""
    if len(graphs) < 2:
        raise ValueError(f"need at least 2 graphs to pretrain, got {len(graphs)}.")
    widths = set()
    for index, graph in enumerate(graphs):
        x = getattr(graph, "x", None)
        if x is None:
            raise ValueError(f"graph {index} has no node features x; dacl.graphs.tu.load_tu adds one-hot degrees.")
        if x.shape[0] == 0:
            raise ValueError(f"graph {index} has no nodes; drop empty graphs before pretraining.")
        widths.add(x.shape[1])
    if len(widths) > 1:
        raise ValueError(f"graphs have node features of different widths {sorted(widths)}; give them one width.")
    return widths.pop()


def build_graph_method(
    config: PretrainConfig, in_features: int, *, encoder: torch.nn.Module | None = None, views: Any = None
):
    """The method ``config.method`` on a GIN (or on a user's ``encoder``: any module from a PyG batch to
    one row per graph), initialised from ``config.seed`` without touching the global random state."""
    if config.method not in method_names("graphs"):
        raise ValueError(
            f"method {config.method!r} does not apply to graphs; choose one of {', '.join(method_names('graphs'))}."
        )
    if encoder is None:  # a GIN layer's MLP: two width x width layers; weights x4 (gradients, optimiser buffers)
        width, depth = config.width, config.depth
        weights = in_features * width + (2 * depth - 1) * width**2 + 3 * (depth * width) ** 2  # the head: 3 layers
        refuse_if_too_big(16 * weights, config.device, f"a {config.depth} x {config.width} GIN",
                          "--width or --depth")  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if encoder is None:
            encoder = GINEncoder(in_features, config.width, config.depth, config.pooling)
        width = getattr(encoder, "out_features", None)
        if not isinstance(width, int):
            raise ValueError(f"{type(encoder).__name__} needs out_features: the width of its graph representation.")
        return build_method(config, encoder, width, views=views)


def pretrain_graphs(
    graphs: Sequence,
    config: PretrainConfig | None = None,
    labels: Any = None,
    *,
    encoder: torch.nn.Module | None = None,
    views: Any = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool = True,
    callbacks: tuple[Callback, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> PretrainResult:
    """Pretrain a GIN (or ``encoder``, with ``out_features``) on ``graphs`` (``torch_geometric.data.Data``
    with ``x`` and ``edge_index``) with everything the engine gives: schedule, precision, checkpoints,
    resume, callbacks; ``views`` replace the method's (they mix the graph representations at ``mix_at=-1``).
    ``labels`` are not used: no graph method trains on labels (kept for the domains' one signature)."""
    config = config or graph_config()
    if labels is not None:
        raise ValueError("graph methods train without labels; the graph protocol scores them afterwards.")
    in_features = check_graphs(graphs)
    method = build_graph_method(config, in_features, encoder=encoder, views=views)
    source = GraphSource(graphs, config.batch_size)
    state = {"domain": "graphs", "in_features": in_features, "graphs": len(graphs), "metadata": metadata or {},
             "encoder": None if encoder is None else type(encoder).__qualname__}  # fmt: skip
    return fit(method, source, config, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
               resume=resume, progress=progress, callbacks=callbacks, state=state)  # fmt: skip


def load_graph_model(checkpoint_dir: str | Path, encoder: torch.nn.Module | None = None) -> PretrainResult:
    """Rebuild a trained graph model from a checkpoint folder (no code is run from it); a run made with a
    user's encoder needs a fresh instance of it as ``encoder``."""
    state, config = read_model_state(checkpoint_dir, "graphs", encoder)
    return with_weights(checkpoint_dir, build_graph_method(config, state["in_features"], encoder=encoder), config,
                        state)  # fmt: skip


@torch.no_grad()
def embed_graphs(encoder: torch.nn.Module | PretrainResult, graphs: Sequence, batch_size: int = 512) -> Tensor:
    """Graph representations (G, width) of the frozen encoder (or of a trained model), in the order of
    ``graphs``."""
    from torch_geometric.data import Batch

    encoder, _ = model_encoder(encoder)
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    parts = [encoder(Batch.from_data_list(list(graphs[i : i + batch_size])).to(device)).float().cpu()
             for i in range(0, len(graphs), batch_size)]  # fmt: skip
    encoder.train(was_training)
    return torch.cat(parts)


# The domain's verbs under the names every domain shares (dacl.tables, dacl.images, dacl.graphs)
pretrain = pretrain_graphs
load_model = load_graph_model
embed = embed_graphs
