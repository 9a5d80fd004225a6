"""GIN encoder, graph DACL, InfoGraph, the TU loader and the Table 4 reproduction."""

import json
import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from dacl.cli import main
from dacl.core.encoders import MixAt
from dacl.core.infograph import InfoGraphLoss, jsd_mi_loss
from dacl.core.losses import NTXentLoss
from dacl.core.views import LinearMixup
from dacl.engine.checkpoint import read_state
from dacl.evaluate import linear_cv_accuracy
from dacl.graphs import GINEncoder, embed_graphs, graph_config, pretrain_graphs
from dacl.graphs.train import build_graph_method
from dacl.graphs.tu import load_tu
from helpers import Killed, kill_at, shared_data

SHARED_TU = shared_data() / "TU"
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
    graphs, nodes = encoder(batch, return_nodes=True)
    assert graphs.shape == (6, 32) and nodes.shape == (batch.num_nodes, 32)
    expected = torch.zeros(6, 32).index_add_(0, batch.batch, nodes)
    assert torch.allclose(graphs, expected, atol=1e-5)
    assert torch.equal(encoder(batch), graphs)
    assert GINEncoder(5, 8, 2, pooling="mean")(batch).shape == (6, 16)
    with pytest.raises(ValueError, match="pooling"):
        GINEncoder(5, 8, 2, pooling="median")


def test_gin_layer_hook_sees_nodes_grouped_by_graph_then_the_output():
    batch = Batch.from_data_list(random_graphs(5))
    encoder = GINEncoder(5, hidden=8, layers=3).eval()
    seen = []
    encoder(batch, hook=lambda layer, h, groups: seen.append((layer, tuple(h.shape), groups)) or h)
    assert [(layer, shape) for layer, shape, _ in seen] == [(0, (batch.num_nodes, 5)), (1, (batch.num_nodes, 8)),
                                                            (2, (batch.num_nodes, 8)), (3, (5, 24))]  # fmt: skip
    assert all(torch.equal(groups, batch.batch) for _, _, groups in seen[:3]) and seen[3][2] is None


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_gin_hook_stacking_two_views_repeats_the_graphs(layer):
    # the hook returns (h, 2h) stacked: the first half of the output is the plain pass, the second the
    # pass whose rows at `layer` were doubled; so the repeated structure (edges, batch, earlier layers) is right
    batch = Batch.from_data_list(random_graphs(6))
    encoder = GINEncoder(5, hidden=8, layers=3).eval()
    stacked = encoder(batch, hook=MixAt(layer, lambda h, groups: torch.cat([h, 2 * h])))
    assert stacked.shape == (12, 24)
    torch.testing.assert_close(stacked[:6], encoder(batch))
    torch.testing.assert_close(stacked[6:], encoder(batch, hook=MixAt(layer, lambda h, groups: 2 * h)))


def test_graph_dacl_loss_is_algorithm_1_on_the_graph_representations():
    graphs = Batch.from_data_list(random_graphs(8))
    config = graph_config(width=8, depth=2, alpha=0.7)
    method = build_graph_method(config, 5)
    loss = method.loss(graphs, None, torch.Generator().manual_seed(0))
    representation = method.encoder(graphs)  # train mode, as in the loss
    view1, view2 = LinearMixup(0.7).pair(representation, torch.Generator().manual_seed(0))
    z = method.head(torch.cat([view1, view2]))
    torch.testing.assert_close(loss, NTXentLoss(1.0)(z[:8], z[8:]))


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


@pytest.mark.parametrize("method, mix_at", [("dacl", -1), ("dacl", 1), ("dacl", 0), ("gaussian", 1), ("dacl+", -1),
                                            ("gaussian", -1), ("infograph", -1), ("none", -1)])  # fmt: skip
def test_every_graph_method_trains_and_embeds(method, mix_at):
    graphs = random_graphs(20)
    config = graph_config(method=method, width=8, depth=2, epochs=2, batch_size=8, mix_at=mix_at)
    result = pretrain_graphs(graphs, config)
    embeddings = embed_graphs(result.encoder, graphs)
    assert embeddings.shape == (20, 16) and torch.isfinite(embeddings).all()
    again = embed_graphs(pretrain_graphs(graphs, config).encoder, graphs)
    assert torch.equal(embeddings, again)  # seeded
    if method != "none":
        assert len(result.history) == 2 and result.history[0]["samples_per_s"] > 0
        assert not torch.equal(
            embeddings,
            embed_graphs(pretrain_graphs(graphs, graph_config(method="none", width=8, depth=2)).encoder, graphs),
        )  # trained: not the initial encoder


def test_graph_runs_resume_exactly_after_a_kill(tmp_path):
    graphs = random_graphs(30)
    config = graph_config(method="dacl", width=8, depth=2, epochs=4, batch_size=8)
    unbroken = pretrain_graphs(graphs, config)

    with pytest.raises(Killed):
        pretrain_graphs(graphs, config, checkpoint_dir=tmp_path, checkpoint_every=1, callbacks=(kill_at(2),))
    assert read_state(tmp_path)["epoch"] == 1 and read_state(tmp_path)["domain"] == "graphs"  # killed before 2's
    resumed = pretrain_graphs(graphs, config, checkpoint_dir=tmp_path, resume=True)
    for key, value in unbroken.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in unbroken.history]


def test_graph_config_errors():
    with pytest.raises(ValueError, match="unknown method"):
        graph_config(method="simclr-graphs")
    with pytest.raises(ValueError, match="does not apply to graphs"):
        pretrain_graphs(random_graphs(10), graph_config(method="scarf", width=4, depth=1))
    with pytest.raises(ValueError, match="mix_at must lie in"):  # the GIN's depth decides, when it is built
        pretrain_graphs(random_graphs(10), graph_config(mix_at=7, width=4, depth=2, epochs=1))
    with pytest.raises(ValueError, match="set-valued"):
        pretrain_graphs(random_graphs(10), graph_config(method="dacl+", mix_at=1, width=4, depth=2, epochs=1))
    with pytest.raises(ValueError, match="at least 2 graphs"):
        pretrain_graphs(random_graphs(1), graph_config(width=4, depth=1))
    empty = random_graphs(4)
    empty[2] = Data(x=torch.zeros(0, 5), edge_index=torch.zeros(2, 0, dtype=torch.long), y=torch.tensor([0]))
    with pytest.raises(ValueError, match="graph 2 has no nodes"):
        pretrain_graphs(empty, graph_config(width=4, depth=1))


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


def test_a_dataset_of_the_same_name_from_another_folder_is_never_served_from_the_cache(tmp_path):
    write_tu(tmp_path / "a", "TOY", [0, 1] * 20)  # 40 graphs, 2 classes
    write_tu(tmp_path / "b", "TOY", [0, 1, 2] * 17 + [0])  # 52 graphs, 3 classes
    first = load_tu("TOY", data_dir=tmp_path / "a")
    second = load_tu("TOY", data_dir=tmp_path / "b")  # was: folder a's 40 graphs, source named b
    assert (len(first.graphs), first.num_classes) == (40, 2)
    assert (len(second.graphs), second.num_classes) == (52, 3)
    assert second.info["source"] == str(tmp_path / "b" / "TOY" / "raw")
    again = load_tu("TOY", data_dir=tmp_path / "a")  # a's cache is still a's
    assert len(again.graphs) == 40


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
    assert "(paper 85.3 ± 1.3)" in (out / "table4.md").read_text()  # the paper's MUTAG figure beside ours
    stored = len(list((out / "runs").glob("*.json")))
    assert main(args) == 0  # a second run reuses every stored run
    assert len(list((out / "runs").glob("*.json"))) == stored
    assert main([*args, "--methods", "dacl@1"]) == 0  # hidden mixup after an intermediate layer
    assert "mix after layer 1" in (out / "table4.md").read_text()
    assert main([*args, "--methods", "scarf"]) == 2  # a method of another domain
    assert main([*args, "--methods", "dacl", "--repeats", "1"]) == 0  # seed 0's stored run, no new training
    assert len(list((out / "runs").glob("*.json"))) == stored + 2
    assert "(1 seed)" in (out / "table4.md").read_text()


def test_torch_geometrics_generated_module_goes_to_the_dacl_cache_not_the_temp_folder(tmp_path):
    import os
    import subprocess
    import sys

    temp, data = tmp_path / "tmp", tmp_path / "data"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "DACL_DATA_DIR": str(data)}
    subprocess.run([sys.executable, "-c", "from dacl.graphs import GINEncoder; GINEncoder(5, 8, 2)"], env=env,
                   check=True)  # fmt: skip
    assert not list(temp.glob("*.py"))  # was: one torch_geometric...GINConv_propagate_*.py per process
    assert len(list((data / "pyg-generated").glob("*.py"))) == 1


def test_a_gin_too_big_for_the_memory_is_refused_before_it_is_built():
    """Issue 36, class 6, graphs."""
    from dacl.graphs import graph_config
    from dacl.graphs.train import build_graph_method

    with pytest.raises(ValueError, match=r"needs about [\d.]+ GiB \(a 4 x 1048576 GIN\).*--width"):
        build_graph_method(graph_config(width=2**20, depth=4), 8)


# --- GraphCL (issue 38) and the SVM protocol ----------------------------------------------------------


@pytest.mark.parametrize("method", ["graphcl", "graphcl+dacl"])
def test_graphcl_methods_pretrain_through_the_engine_deterministically(method):
    config = graph_config(method=method, epochs=3, width=16, depth=2, batch_size=8, seed=0)
    runs = [pretrain_graphs(random_graphs(24), config, progress=False) for _ in range(2)]
    assert all(math.isfinite(h["loss"]) for h in runs[0].history)
    first, second = (r.model.state_dict() for r in runs)
    assert all(torch.equal(first[k], second[k]) for k in first)  # the same seed, the same weights


def test_graphcl_plus_dacl_is_the_sum_of_both_losses():
    """SimCLR+DACL's rule on graphs: GraphCL's NT-Xent on two augmented batches plus DACL's on two mixups of
    the graph representation (Eq. 4), with the same weights and the same random draws in that order."""
    from dacl.core.graph_views import GraphAugment

    summed = build_graph_method(graph_config(method="graphcl+dacl", width=16, depth=2), 5)
    graphcl = build_graph_method(graph_config(method="graphcl", width=16, depth=2), 5)
    dacl = build_graph_method(graph_config(method="dacl", width=16, depth=2), 5)
    for single in (graphcl, dacl):
        single.load_state_dict(summed.state_dict())
    data = Batch.from_data_list(random_graphs(8))
    total = summed.loss(data, None, torch.Generator().manual_seed(3))
    generator = torch.Generator().manual_seed(3)
    parts = graphcl.loss(data, None, generator) + dacl.loss(data, None, generator)
    torch.testing.assert_close(total, parts)
    assert isinstance(graphcl.views, GraphAugment) and graphcl.views.ratio == 0.2  # GraphCL's default ratio


def test_both_protocols_folds_are_stratified_and_seeded():
    from dacl.evaluate import cv_folds

    labels = np.array([0] * 90 + [1] * 10)
    folds = cv_folds(labels, 10, seed=0)
    assert all(np.bincount(labels[test]).tolist() == [9, 1] for _, test in folds)  # each class spread evenly
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(100))
    again, other = cv_folds(labels, 10, seed=0), cv_folds(labels, 10, seed=1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_the_svm_protocol_scores_as_the_literature_does():
    from dacl.evaluate import svm_cv_accuracy
    from dacl.graphs.protocol import protocol_accuracy

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 30)
    separable = rng.normal(size=(90, 8)) + 4 * np.eye(8)[labels]
    assert svm_cv_accuracy(separable, labels) == 1.0
    noise = rng.normal(size=(90, 8))
    assert svm_cv_accuracy(noise, labels, seed=0) == svm_cv_accuracy(noise, labels, seed=0)
    assert svm_cv_accuracy(noise, labels) < 0.6  # chance is 1/3
    assert protocol_accuracy(separable, labels, "svm") == 1.0
    with pytest.raises(ValueError, match="protocol must be one of linear, svm"):
        protocol_accuracy(separable, labels, "rbf")


def test_table4_scores_graphcl_under_both_protocols(tmp_path):
    from dacl.studies.reproduce.table4 import reproduce_table4, table4_markdown

    graphs = random_graphs(40)
    import dacl.studies.reproduce.table4 as table4

    class Toy:
        name, info = "toy", {"node_features": "random"}

        def __init__(self):
            self.graphs, self.labels = graphs, torch.tensor([int(g.y) for g in graphs])

        def digest(self):
            return "0" * 64

    original = table4.load_tu
    table4.load_tu = lambda name, data_dir=None: Toy()
    try:
        results = reproduce_table4(["toy"], "smoke", tmp_path, methods=("graphcl", "none"), protocols=("linear", "svm"),
                                   log=lambda *a: None)  # fmt: skip
    finally:
        table4.load_tu = original
    rows = {r["method"]: r for r in results["rows"]}
    assert 0 <= rows["graphcl"]["svm_accuracy"] <= 1 and 0 <= rows["none"]["accuracy"] <= 1
    for row in rows.values():  # every seed's SVM score kept, for paired comparisons
        scores = row["svm_by_lr"][str(row["svm_lr"])]
        assert len(scores) == len(row["seeds"]) and np.mean(scores) == pytest.approx(row["svm_accuracy"])
    assert "Under the SVM protocol" in table4_markdown(results)
    with pytest.raises(ValueError, match="protocols are linear, svm"):
        reproduce_table4(["toy"], "smoke", tmp_path, protocols=("rbf",))
