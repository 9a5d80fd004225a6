"""Table 4's protocol (Verma et al., ICML 2021, following InfoGraph): after each of the last epochs a
linear classifier is cross-validated on the embeddings, a run scores their mean, the learning rate with
the best mean over seeds is reported, and every learning rate's runs are kept."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import dacl.studies.reproduce.table4 as table4
from dacl.evaluate import linear_cv_accuracy
from dacl.graphs import embed_graphs, graph_config


def graphs(count=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(count):
        n = 4 + i % 4
        x = torch.rand(n, 3, generator=g) + (i % 2)  # the class shows in the features
        out.append(Data(x=x, edge_index=torch.randint(0, n, (2, 2 * n), generator=g), y=torch.tensor([i % 2])))
    return out


BUDGET = table4.GraphBudget(config={"width": 8, "depth": 2, "epochs": 3, "batch_size": 10}, lrs=(1e-3, 1e-2),
                            repeats=2, last_epochs=2, folds=3)  # fmt: skip


def test_a_run_scores_the_mean_of_the_last_epochs_cross_validated_linear_classifiers():
    data = graphs()
    labels = np.array([int(d.y) for d in data])
    config = graph_config(**BUDGET.config, method="dacl", lr=1e-3, seed=0)
    embeddings = []

    def keep(epoch, record, method):
        if epoch >= 2:
            embeddings.append(embed_graphs(method.encoder, data))

    from dacl.graphs import pretrain_graphs

    pretrain_graphs(data, config, callbacks=(keep,), progress=False)
    run = table4._one_run(data, labels, config, BUDGET)
    expected = [linear_cv_accuracy(e, labels, BUDGET.folds, seed=0) for e in embeddings]
    assert run["epoch_accuracies"] == pytest.approx(expected)  # epochs 2 and 3 of 3
    assert run["accuracy"] == pytest.approx(np.mean(expected))
    untrained = table4._one_run(data, labels, dataclasses.replace(config, method="none"), BUDGET)
    assert len(untrained["epoch_accuracies"]) == 1  # the random encoder is scored once


def test_the_best_learning_rate_by_mean_is_reported_and_every_one_is_kept(tmp_path, monkeypatch):
    data = graphs()
    monkeypatch.setattr(table4, "load_tu", lambda name, data_dir=None: SimpleNamespace(
        graphs=data, labels=np.array([int(d.y) for d in data]), info={"node_features": 3},
        digest=lambda: "0" * 64))  # fmt: skip
    monkeypatch.setitem(table4.GRAPH_BUDGETS, "tiny", BUDGET)
    results = table4.reproduce_table4(["TOY"], "tiny", tmp_path, methods=("dacl", "none"), log=lambda *_: None)
    dacl, none = results["rows"]
    means = {lr: np.mean(runs) for lr, runs in dacl["by_lr"].items()}
    assert set(means) == {"0.001", "0.01"} and str(dacl["lr"]) == max(means, key=means.get)
    assert dacl["accuracy"] == pytest.approx(means[str(dacl["lr"])]) and dacl["seeds"] == [0, 1]
    assert none["lr"] is None and list(none["by_lr"]) == ["None"]
    assert (tmp_path / "table4.md").is_file() and len(list((tmp_path / "runs").glob("*.json"))) == 2 * 2 + 2


def test_a_set_without_published_checksums_is_keyed_on_its_graphs(tmp_path, monkeypatch):
    """Issue 36, class 5: stored runs of a TU set that no checksum vouches for are reused only for the same
    graphs (another folder's copy of the same name computes its own)."""
    from dacl.graphs.tu import GraphDataset

    budget = dataclasses.replace(BUDGET, lrs=(1e-3,), repeats=1)
    monkeypatch.setitem(table4.GRAPH_BUDGETS, "tiny", budget)
    for seed, expected in ((0, 1), (0, 1), (1, 2)):  # the same graphs again, then other graphs
        data = graphs(seed=seed)
        monkeypatch.setattr(table4, "load_tu", lambda name, data_dir=None, data=data: GraphDataset(
            name, data, 3, 2, {"node_features": 3}))  # fmt: skip
        table4.reproduce_table4(["TOY"], "tiny", tmp_path, methods=("none",), log=lambda *_: None)
        assert len(list((tmp_path / "runs").glob("*.json"))) == expected


def test_paired_differences_pair_the_seeds_at_each_rows_learning_rate():
    first = {"seeds": [0, 1, 2], "lr": 0.01, "by_lr": {"0.001": [0.0, 0.0, 0.0], "0.01": [0.7, 0.8, 0.9]},
             "svm_lr": 0.001, "svm_by_lr": {"0.001": [0.6, 0.6, 0.9], "0.01": [0.0, 0.0, 0.0]}}  # fmt: skip
    second = {"seeds": [0, 1, 2], "lr": None, "by_lr": {"None": [0.5, 0.8, 0.6]},
              "svm_lr": None, "svm_by_lr": {"None": [0.6, 0.5, 0.6]}}  # fmt: skip
    differences = np.array([0.2, 0.0, 0.3])
    mean, error = table4.paired_difference(first, second)
    assert mean == pytest.approx(differences.mean())
    assert error == pytest.approx(np.std(differences, ddof=1) / np.sqrt(3))
    assert table4.paired_difference(first, second, "svm")[0] == pytest.approx(np.mean([0.0, 0.1, 0.3]))
    assert table4.paired_difference({**first, "seeds": [0, 1, 3]}, second) is None  # other seeds: no pairs
    assert table4.paired_difference(first, {k: v for k, v in second.items() if k != "svm_by_lr"}, "svm") is None
    results = {"rows": [{**first, "method": "graphcl+dacl", "dataset": "TOY", "accuracy": 0.8, "std": 0.1,
                         "svm_accuracy": 0.7, "svm_std": 0.1},
                        {**second, "method": "graphcl", "dataset": "TOY", "accuracy": 0.63, "std": 0.1,
                         "svm_accuracy": 0.57, "svm_std": 0.05}],
               "budget": {"name": "small", "folds": 10}}  # fmt: skip
    text = table4.table4_markdown(results)
    assert "| GraphCL+DACL − GraphCL | linear | +16.7 ± 8.8 |" in text
    assert "| GraphCL+DACL − GraphCL | svm | +13.3 ± 8.8 |" in text
