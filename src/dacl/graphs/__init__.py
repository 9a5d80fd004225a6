"""The graphs domain in one place (needs torch_geometric: ``pip install dacl[graphs]``).

The verbs every domain shares: ``pretrain(graphs, config)``, ``load_model(folder)``, ``embed(model, graphs)``,
``load_data(name)`` (a TU dataset); ``graph_config`` gives the paper's set-up.
"""

from dacl.graphs.gin import GINEncoder
from dacl.graphs.protocol import scores_of_graphs
from dacl.graphs.train import (
    GRAPH_DEFAULTS,
    GraphSource,
    embed,
    embed_graphs,
    graph_config,
    load_graph_model,
    load_model,
    pretrain,
    pretrain_graphs,
)
from dacl.graphs.tu import GraphDataset, load_tu

load_data = load_tu

__all__ = [
    "GRAPH_DEFAULTS",
    "GINEncoder",
    "GraphDataset",
    "GraphSource",
    "embed",
    "embed_graphs",
    "graph_config",
    "load_data",
    "load_graph_model",
    "load_model",
    "load_tu",
    "pretrain",
    "pretrain_graphs",
    "scores_of_graphs",
]
