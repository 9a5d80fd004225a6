"""GraphCL's augmentations (You et al., 2020), batched: every view keeps the graphs valid (edge indices in
range and inside their graph, no empty graph), changes about its ratio, is seeded, and leaves its input alone."""

import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from dacl.core.graph_views import DropNodes, GraphAugment, MaskAttributes, PerturbEdges, Subgraph

VIEWS = (DropNodes, PerturbEdges, MaskAttributes, Subgraph, GraphAugment)


def path(n, features=4, seed=0):
    """A path of ``n`` nodes, both edge directions, as the TU files store them."""
    index = torch.arange(n - 1)
    edges = torch.stack([torch.cat([index, index + 1]), torch.cat([index + 1, index])])
    x = torch.rand(n, features, generator=torch.Generator().manual_seed(seed * 1000 + n))
    return Data(x=x, edge_index=edges, y=torch.tensor([n % 2]))


def batch(sizes=(1, 2, 5, 12, 30, 60)):
    return Batch.from_data_list([path(n) for n in sizes])  # one graph of a single node and no edge


def check_valid(out, graphs):
    counts = torch.bincount(out.batch, minlength=graphs)
    assert (counts >= 1).all(), counts  # no empty graph
    assert out.x.shape[0] == out.batch.shape[0] and (out.batch[1:] >= out.batch[:-1]).all()
    if out.edge_index.numel():
        assert 0 <= int(out.edge_index.min()) and int(out.edge_index.max()) < out.x.shape[0]
        assert (out.batch[out.edge_index[0]] == out.batch[out.edge_index[1]]).all()  # edges stay in their graph
    assert out.ptr.tolist() == [0, *torch.cumsum(counts, 0).tolist()]


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_keeps_graphs_valid_is_seeded_and_leaves_its_input_alone(view):
    data = batch()
    before = (data.x.clone(), data.edge_index.clone(), data.batch.clone())
    for seed in range(20):
        out = view()(data, torch.Generator().manual_seed(seed))
        check_valid(out, data.num_graphs)
        again = view()(data, torch.Generator().manual_seed(seed))
        assert torch.equal(out.x, again.x) and torch.equal(out.edge_index, again.edge_index)
    assert all(torch.equal(a, b) for a, b in zip(before, (data.x, data.edge_index, data.batch)))
    one, two = view().pair(data, torch.Generator().manual_seed(0))
    assert not (torch.equal(one.x, two.x) and torch.equal(one.edge_index, two.edge_index))  # two independent draws


def test_each_view_changes_about_its_share():
    data = Batch.from_data_list([path(200, seed=s) for s in range(10)])
    generator = torch.Generator().manual_seed(0)
    dropped = 1 - DropNodes(0.2)(data, generator).x.shape[0] / data.x.shape[0]
    assert abs(dropped - 0.2) < 0.03
    perturbed = PerturbEdges(0.2)(data, generator)
    assert perturbed.edge_index.shape == data.edge_index.shape  # as many edges added as dropped
    kept = (perturbed.edge_index[:, :, None] == data.edge_index[:, None, :]).all(0).any(1).float().mean()
    assert abs((1 - kept) - 0.2) < 0.03
    masked = (MaskAttributes(0.2)(data, generator).x != data.x).any(1).float().mean()
    assert abs(masked - 0.2) < 0.03
    sub = Subgraph(0.2)(data, generator)
    assert torch.bincount(sub.batch).tolist() == [math.ceil(200 * 0.8)] * 10


def test_a_subgraph_is_connected_around_its_start():
    """On a path the nodes nearest a start node in hops are one run of consecutive nodes."""
    data = Batch.from_data_list([path(40)])
    for seed in range(10):
        out = Subgraph(0.5)(data, torch.Generator().manual_seed(seed))
        kept = (out.x[:, None, :] == data.x[None, :, :]).all(2).float().argmax(1).sort().values
        assert len(kept) == 20 and (kept[1:] - kept[:-1] == 1).all()


def test_graph_augment_draws_one_view_per_graph_and_takes_a_users_views():
    data = Batch.from_data_list([path(50, seed=s) for s in range(40)])
    out = GraphAugment(0.2, views=(MaskAttributes(0.5), DropNodes(0.0)))(data, torch.Generator().manual_seed(0))
    changed = torch.zeros(40, dtype=torch.long).index_add_(0, data.batch, (out.x != data.x).any(1).long()) > 0
    assert 10 < int(changed.sum()) < 30  # about half the graphs drew the masking, the others nothing
    with pytest.raises(ValueError, match="graph views"):
        GraphAugment(views=(lambda batch, generator: batch,))
    with pytest.raises(ValueError, match="ratio"):
        DropNodes(1.0)
    with pytest.raises(ValueError, match="batch of graphs"):
        DropNodes().pair(torch.zeros(3, 2))
