"""Graph API in one place (needs torch_geometric: ``pip install dacl[graphs]``).

from dacl.graphs import GraphPretrainConfig, embed_graphs, load_tu, pretrain_graphs
"""

from dacl.data.graphs import GraphDataset, load_tu
from dacl.train_graphs import GRAPH_METHODS, GraphPretrainConfig, GraphPretrainResult, embed_graphs, pretrain_graphs

__all__ = [
    "GRAPH_METHODS",
    "GraphDataset",
    "GraphPretrainConfig",
    "GraphPretrainResult",
    "embed_graphs",
    "load_tu",
    "pretrain_graphs",
]
