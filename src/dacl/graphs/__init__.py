"""The graphs domain in one place (needs torch_geometric: ``pip install dacl[graphs]``).

from dacl.graphs import embed_graphs, graph_config, load_tu, pretrain_graphs
"""

from dacl.data.graphs import GraphDataset, load_tu
from dacl.graphs.gin import GINEncoder
from dacl.graphs.train import GRAPH_DEFAULTS, GraphSource, embed_graphs, graph_config, pretrain_graphs

__all__ = [
    "GRAPH_DEFAULTS",
    "GINEncoder",
    "GraphDataset",
    "GraphSource",
    "embed_graphs",
    "graph_config",
    "load_tu",
    "pretrain_graphs",
]
