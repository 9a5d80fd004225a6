"""GIN encoder, graph DACL, InfoGraph, the TU loader and the Table 4 reproduction."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from dacl.cli import main
from dacl.data.graphs import load_tu
from dacl.evaluate import linear_cv_accuracy
from dacl.models.gin import GINEncoder
from dacl.models.infograph import InfoGraphLoss, jsd_mi_loss
from dacl.train_graphs import GraphPretrainConfig, _node_mixup, embed_graphs, pretrain_graphs

SHARED_TU = Path(__file__).resolve().parents[2] / "shared" / "data" / "TU"
needs_shared = pytest.mark.skipif(not SHARED_TU.is_dir(), reason="../shared/data/TU is not beside the checkout")


def random_graphs(count=12, features=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(count):
        n = 3 + i % 5
        edges = torch.randint(0, n, (2, 2 * n), generator=g)
        graphs.append(Data(x=torch.rand(n, features, generator=g), edge_index=edges, y=torch.tensor([i % 2])))
    return graphs


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DACL_DATA_DIR", str(tmp_path / "cache"))


def test_gin_shapes_and_sum_pooling():
    batch = Batch.from_data_list(random_graphs(6))
    encoder = GINEncoder(5, hidden=8, layers=4).eval()
    graphs, nodes = encoder(batch.x, batch.edge_index, batch.batch)
    assert graphs.shape == (6, 32) and nodes.shape == (batch.num_nodes, 32)
    expected = torch.zeros(6, 32).index_add_(0, batch.batch, nodes)
    assert torch.allclose(graphs, expected, atol=1e-5)
    assert GINEncoder(5, 8, 2, pooling="mean")(batch.x, batch.edge_index, batch.batch)[0].shape == (6, 16)
    with pytest.raises(ValueError, match="pooling"):
        GINEncoder(5, 8, 2, pooling="median")


def test_node_mixup_partners_are_other_graphs_and_lambda_in_range():
    # each node embedding is the one-hot of its graph, so a mixed node is lam e_i + (1 - lam) e_j
    sizes = torch.tensor([3, 4, 2, 5, 1])
    batch = torch.repeat_interleave(torch.arange(5), sizes)
    h = torch.nn.functional.one_hot(batch, 5).float()
    for seed in range(20):
        mixed = _node_mixup(0.7, torch.Generator().manual_seed(seed), batch, 5)(h)
        for i in range(5):
            rows = mixed[batch == i]
            assert torch.allclose(rows, rows[0].expand_as(rows))  # one lambda and one partner per graph
            lam = rows[0, i].item()
            others = rows[0].clone()
            others[i] = -1
            partner = int(others.argmax())
            assert 0.7 - 1e-6 <= lam <= 1 + 1e-6 and partner != i
            assert rows[0, partner].item() == pytest.approx(1 - lam, abs=1e-6)


def test_graph_representation_mixup_never_uses_the_graph_itself():
    from dacl.noise import LinearMixup

    reps = torch.eye(10)
    view, _ = LinearMixup(0.9)(reps, torch.Generator().manual_seed(0))
    off = view.clone()
    off[torch.arange(10), torch.arange(10)] = 0
    assert (off.argmax(1) != torch.arange(10)).all()


def direct_jsd(scores, positive):
    pos, neg = [], []
    for n in range(scores.shape[0]):
        for b in range(scores.shape[1]):
            s = scores[n, b].item()
            softplus = math.log1p(math.exp(-s))
            if positive[n, b]:
                pos.append(math.log(2) - softplus)
            else:
                neg.append(softplus + s - math.log(2))
    return sum(neg) / len(neg) - sum(pos) / len(pos)


def test_infograph_loss_equals_a_direct_computation():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(7, 3, generator=g, dtype=torch.float64)
    batch = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    positive = torch.nn.functional.one_hot(batch, 3).bool()
    assert jsd_mi_loss(scores, positive).item() == pytest.approx(direct_jsd(scores, positive), rel=1e-9)
    loss = InfoGraphLoss(6)
    graphs, nodes = torch.randn(3, 6, generator=g), torch.randn(7, 6, generator=g)
    expected = direct_jsd((loss.local(nodes) @ loss.global_(graphs).T).detach().double(), positive)
    assert loss(graphs, nodes, batch).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="at least 2 graphs"):
        loss(graphs[:1], nodes[:2], torch.tensor([0, 0]))


@pytest.mark.parametrize("method, mix_at", [("dacl", None), ("dacl", 1), ("dacl+", None), ("gaussian", None),
                                            ("infograph", None), ("none", None)])  # fmt: skip
def test_every_graph_method_trains_and_embeds(method, mix_at):
    graphs = random_graphs(20)
    config = GraphPretrainConfig(method=method, hidden=8, layers=2, epochs=2, batch_size=8, mix_at=mix_at)
    result = pretrain_graphs(graphs, config)
    embeddings = embed_graphs(result.encoder, graphs)
    assert embeddings.shape == (20, 16) and torch.isfinite(embeddings).all()
    again = embed_graphs(pretrain_graphs(graphs, config).encoder, graphs)
    assert torch.equal(embeddings, again)  # seeded
    if method != "none":
        assert len(result.history) == 2 and result.history[0]["graphs_per_s"] > 0


def test_graph_config_errors():
    with pytest.raises(ValueError, match="unknown graph method"):
        GraphPretrainConfig(method="graphcl")
    with pytest.raises(ValueError, match="mix_at"):
        GraphPretrainConfig(mix_at=7)
    with pytest.raises(ValueError, match="intermediate"):
        GraphPretrainConfig(method="infograph", mix_at=2)
    with pytest.raises(ValueError, match="at least 2 graphs"):
        pretrain_graphs(random_graphs(1), GraphPretrainConfig(hidden=4, layers=1))


def test_linear_cv_accuracy_separates_separable_classes():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    X = rng.normal(size=(120, 4)) + 4 * np.eye(3, 4)[y]
    assert linear_cv_accuracy(X, y) > 0.95
    assert linear_cv_accuracy(rng.normal(size=(120, 4)), y) < 0.6


def write_tu(root, name, labels):
    raw = root / name / "raw"
    raw.mkdir(parents=True)
    # graphs of 3 nodes in a path: edges (1-2, 2-3) both ways
    edges, indicator = [], []
    for g in range(len(labels)):
        a, b, c = 3 * g + 1, 3 * g + 2, 3 * g + 3
        edges += [(a, b), (b, a), (b, c), (c, b)]
        indicator += [g + 1] * 3
    (raw / f"{name}_A.txt").write_text("\n".join(f"{u}, {v}" for u, v in edges) + "\n")
    (raw / f"{name}_graph_indicator.txt").write_text("\n".join(map(str, indicator)) + "\n")
    (raw / f"{name}_graph_labels.txt").write_text("\n".join(map(str, labels)) + "\n")


def test_loader_maps_labels_and_builds_degree_features(tmp_path):
    write_tu(tmp_path / "local", "TOY", [0, 2, 2, 0])
    dataset = load_tu("TOY", data_dir=tmp_path / "local", degree_cap=1)
    assert dataset.labels.tolist() == [0, 1, 1, 0] and dataset.num_classes == 2
    assert dataset.info["raw_labels"] == ["0", "2"]
    # degrees 1, 2, 1 capped at 1 -> every node in the last column
    assert dataset.graphs[0].x.tolist() == [[0.0, 1.0]] * 3


@needs_shared
def test_loader_on_mutag_from_shared_data():
    dataset = load_tu("MUTAG", data_dir=SHARED_TU)
    assert len(dataset.graphs) == 188 and dataset.num_features == 7 and dataset.num_classes == 2
    assert dataset.info["raw_labels"] == ["-1", "1"] and dataset.info["node_features"] == "one-hot node labels"


@needs_shared
def test_reproduce_table4_smoke_end_to_end(tmp_path, capsys):
    out = tmp_path / "t4"
    args = ["reproduce", "table4", "--datasets", "MUTAG", "--budget", "smoke", "--data-dir", str(SHARED_TU),
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["dacl", "infograph", "none"]
    assert all(0 <= r["accuracy"] <= 1 and r["seeds"] == [0, 1] for r in rows)
    assert "| DACL |" in (out / "table4.md").read_text()
    stored = len(list((out / "runs").glob("*.json")))
    assert main(args) == 0  # a second run reuses every stored run
    assert len(list((out / "runs").glob("*.json"))) == stored
    assert main([*args, "--methods", "dacl@1"]) == 0  # hidden mixup after an intermediate layer
    assert "mix after layer 1" in (out / "table4.md").read_text()
    assert main([*args, "--methods", "graphcl"]) == 2
    assert main([*args, "--methods", "dacl", "--repeats", "1"]) == 0  # seed 0's stored run, no new training
    assert len(list((out / "runs").glob("*.json"))) == stored + 2
    assert "(1 seed)" in (out / "table4.md").read_text()
