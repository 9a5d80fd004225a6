import json

import numpy as np
import pytest

import dacl.studies.reproduce.table1 as table1
from dacl.cli import main
from dacl.data import registry
from dacl.data.dataset import Dataset


@pytest.fixture
def toy(monkeypatch):
    """A registered dataset whose test rows are all 5.0 while training rows lie in [0, 1]."""
    rng = np.random.default_rng(0)

    def load(seed=0, data_dir=None):
        y = np.repeat([0, 1, 2], 60)
        X = rng.random((180, 6)).astype(np.float32) + y[:, None] * 0.1
        return Dataset("toy", X / X.max(), y, np.full((30, 6), 5.0, np.float32), np.repeat([0, 1, 2], 10))

    monkeypatch.setitem(registry.DATASETS, "toy", load)
    calls = []
    original = table1.run_method

    def recording(method, features, config, **kw):
        calls.append((method, float(features.X_test.max()), len(features.y_train)))
        return original(method, features, config, **kw)

    monkeypatch.setattr(table1, "run_method", recording)
    return calls


def test_search_never_sees_the_test_split_and_rows_have_mean_and_std(toy, tmp_path):
    results = table1.reproduce_table1("toy", "smoke", tmp_path, log=lambda *_: None)
    searched = [c for c in toy if c[2] == 144]  # 80% of the 180 training rows
    final = [c for c in toy if c[2] == 180]
    assert searched and final
    assert all(test_max < 2.0 for _, test_max, _ in searched)  # validation rows only (test rows scale to ~5)
    assert all(test_max > 2.0 for _, test_max, _ in final)  # the real test rows
    # the grid of the smoke budget: alpha in {0.7, 0.9} for dacl and dacl+; one sigma needs no search
    assert sum(1 for m, *_ in searched if m == "dacl") == 2 and sum(1 for m, *_ in searched if m == "gaussian") == 0
    rows = {r["method"]: r for r in results["rows"]}
    assert list(rows) == ["none", "gaussian", "dacl", "dacl+", "supervised", "raw"]
    assert rows["dacl"]["seeds"] == [0, 1] and len(rows["dacl"]["accuracies"]) == 2
    assert rows["dacl"]["std"] == pytest.approx(np.std(rows["dacl"]["accuracies"]))
    assert rows["dacl"]["hyperparameters"]["alpha"] in (0.7, 0.9)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"][0]["method"] == "none" and (tmp_path / "table1.png").is_file()
    assert "| DACL+ |" in (tmp_path / "table1.md").read_text()


def test_a_stopped_reproduction_skips_what_is_done(toy, tmp_path, monkeypatch):
    original = table1.run_method

    class Stop(Exception):
        pass

    def stop_after_five(*args, **kw):
        if len(toy) >= 5:
            raise Stop
        return original(*args, **kw)

    monkeypatch.setattr(table1, "run_method", stop_after_five)
    with pytest.raises(Stop):
        table1.reproduce_table1("toy", "smoke", tmp_path, log=lambda *_: None)
    assert len(list((tmp_path / "runs").glob("*.json"))) == 5
    monkeypatch.setattr(table1, "run_method", original)
    first = table1.reproduce_table1("toy", "smoke", tmp_path, log=lambda *_: None)
    done = len(list((tmp_path / "runs").glob("*.json")))
    again = table1.reproduce_table1("toy", "smoke", tmp_path, log=lambda *_: None)
    assert len(list((tmp_path / "runs").glob("*.json"))) == done
    assert [r["accuracy"] for r in first["rows"]] == [r["accuracy"] for r in again["rows"]]


def test_cli_reproduce_table1_smoke(toy, tmp_path, capsys):
    assert main(["reproduce", "table1", "--dataset", "toy", "--budget", "smoke", "--out", str(tmp_path),
                 "--methods", "none,dacl,raw", "--quiet"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "| DACL |" in out and "wall time" in out
    assert main(["reproduce", "table1", "--dataset", "toy", "--budget", "huge", "--out", str(tmp_path)]) == 2


def test_step_cap_lowers_epochs_only_on_large_data():
    from dacl.config import epochs_within

    assert epochs_within(100, 800, n_train=4000, batch_size=512) == 100  # 7 steps/epoch: 700 steps
    assert epochs_within(100, 800, n_train=32561, batch_size=512) == 13  # 63 steps/epoch: ceil(800/63)
    assert epochs_within(100, None, n_train=32561, batch_size=512) == 100
    assert epochs_within(5, 800, n_train=10, batch_size=512) == 5  # fewer rows than a batch: one step/epoch


def test_claim_verdicts_and_summary():
    from dacl.studies.reproduce.table1 import claim_verdicts, table1_summary

    def row(method, accuracy, std):
        return {"method": method, "accuracy": accuracy, "std": std}

    results = {"dataset": {"name": "toy"}, "rows": [
        row("none", 0.80, 0.01), row("gaussian", 0.90, 0.01), row("dacl", 0.85, 0.01), row("dacl+", 0.855, 0.01),
        row("supervised", 0.95, 0.01)]}  # fmt: skip
    verdicts = dict(claim_verdicts(results))
    assert verdicts["DACL beats Gaussian-noise"].startswith("does not hold (-5.00")
    assert verdicts["DACL beats No-Pretraining"].startswith("holds (+5.00")
    assert verdicts["DACL+ adds to DACL"].startswith("within noise (+0.50")
    summary = table1_summary([results])
    assert "| DACL+ | 85.50 ± 1.00 |" in summary and "| DACL beats Gaussian-noise | does not hold" in summary
    # the same dataset at two budgets: two columns, each naming its budget
    small, medium = {**results, "budget": {"name": "small"}}, {**results, "budget": {"name": "medium"}}
    medium["rows"] = [{**r, "accuracy": r["accuracy"] - 0.1} for r in results["rows"]]
    summary = table1_summary([small, medium])
    assert "| method | toy (small) | toy (medium) |" in summary
    assert "| DACL+ | 85.50 ± 1.00 | 75.50 ± 1.00 |" in summary


@pytest.mark.parametrize("name", sorted(table1.BUDGETS))
def test_every_budget_searches_a_subset_of_the_papers_grid(name):
    budget = table1.BUDGETS[name]
    assert set(budget.alphas) <= {0.5, 0.6, 0.7, 0.8, 0.9}
    assert set(budget.rhos) <= {0.1, 0.3, 0.5}
    assert set(budget.sigmas) <= {0.05, 0.1, 0.3, 0.5}
    assert set(budget.temperatures) <= {0.1, 0.5, 1.0}
    config = table1.PretrainConfig.from_dict(budget.config)  # every budget's options are valid options
    if name == "paper":
        assert (config.depth, config.width, config.batch_size, budget.epochs) == (12, 1024, 4096, 1000)
        assert (config.optimizer, config.lr, config.schedule) == ("lars", 0.1, "cosine")
        assert budget.alphas == (0.5, 0.6, 0.7, 0.8, 0.9) and budget.temperatures == (0.1, 0.5, 1.0)


def test_a_changed_budget_never_reuses_a_stored_run(toy, tmp_path, monkeypatch):
    import dataclasses

    table1.reproduce_table1("toy", "smoke", tmp_path, methods=("none", "dacl"), log=lambda *_: None)
    stored = len(list((tmp_path / "runs").glob("*.json")))
    calls = len(toy)
    changed = dataclasses.replace(
        table1.BUDGETS["smoke"], config={**table1.BUDGETS["smoke"].config, "warmup_epochs": 0}
    )
    monkeypatch.setitem(table1.BUDGETS, "smoke", changed)
    table1.reproduce_table1("toy", "smoke", tmp_path, methods=("none", "dacl"), log=lambda *_: None)
    assert len(list((tmp_path / "runs").glob("*.json"))) == 2 * stored and len(toy) == 2 * calls


def test_the_paper_column_shows_the_papers_table_1():
    from dacl.studies.reproduce.table1 import table1_markdown

    rows = [{"method": m, "accuracy": 0.5, "std": 0.01, "knn_accuracy": 0.4, "hyperparameters": {}}
            for m in ("none", "dacl+", "raw")]  # fmt: skip
    text = table1_markdown({"dataset": {"name": "fashion-mnist"}, "rows": rows})
    assert "| DACL+ | 50.00 ± 1.00 | 40.00 | 82.4 |" in text
    assert "| No-Pretraining | 50.00 ± 1.00 | 40.00 | 66.6 |" in text
    assert "| Linear probe on raw features | 50.00 ± 1.00 | 40.00 | - |" in text  # not a row of the paper


def test_hyperparameters_borrowed_from_a_smaller_budget_skip_the_search(toy, tmp_path, capsys):
    small = table1.reproduce_table1("toy", "smoke", tmp_path / "small", methods=("dacl", "gaussian"),
                                    log=lambda *_: None)  # fmt: skip
    searched = len(toy)
    chosen = {row["method"]: row["hyperparameters"] for row in small["rows"]}
    assert main(["reproduce", "table1", "--dataset", "toy", "--budget", "smoke", "--methods", "dacl,gaussian",
                 "--out", str(tmp_path / "big"), "--hyperparameters-from", str(tmp_path / "small"),
                 "--quiet"]) == 0  # fmt: skip
    assert "smoke` budget's search" in capsys.readouterr().out
    assert not list((tmp_path / "big" / "runs").glob("search-*"))  # no search run: only the 2 x 2 final runs
    assert len(toy) - searched == 4
    big = json.loads((tmp_path / "big" / "results.json").read_text())
    assert {row["method"]: row["hyperparameters"] for row in big["rows"]} == chosen
    assert big["hyperparameters_from"]["budget"] == "smoke"
    with pytest.raises(ValueError, match="no row 'dacl\\+'"):
        table1.reproduce_table1("toy", "smoke", tmp_path / "c", methods=("dacl+",),
                                hyperparameters_from=tmp_path / "small")  # fmt: skip
    with pytest.raises(ValueError, match="not on 'other'"):
        table1.borrowed_hyperparameters(tmp_path / "small", "other")
    with pytest.raises(ValueError, match="no results.json"):
        table1.borrowed_hyperparameters(tmp_path / "nowhere", "toy")


def test_medium_caps_the_warm_up_at_a_third_of_a_run():
    medium, runtime = table1.BUDGETS["medium"], {"device": "cpu", "precision": "float32", "compile": False}
    # Fashion-MNIST's final runs: 800 steps are 14 epochs of 58 steps; 10 epochs of warm-up would take 71%
    assert table1._config(medium, 14, 0, {}, runtime).warmup_epochs == pytest.approx(14 / 3)
    # mnist-test's stored runs (30-epoch search, 100-epoch final) keep their 10 epochs, so they are reused
    assert table1._config(medium, 30, 0, {}, runtime).warmup_epochs == 10.0
    assert table1._config(medium, 100, 0, {}, runtime).warmup_epochs == 10.0
    assert table1._config(table1.BUDGETS["small"], 7, 0, {}, runtime).warmup_epochs == 10.0  # as stored
