"""The label study: the estimator's choice is made before the test split is scored, every candidate and
the regret are reported, cells are stored and reused; the same on a regression table."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from dacl.data import load_dataset
from dacl.data.dataset import Dataset
from dacl.studies.experiment import prepare_features
from dacl.studies.label_study import (
    BASELINE_MODELS,
    recommendations,
    run_study,
    study_cell,
    study_encoder,
    summarise,
)
from dacl.tables import pretrain
from dacl.tables.semisupervised.candidates import Inputs, Projection, Settings, Task
from dacl.tables.semisupervised.registry import CANDIDATES

SETTINGS = Settings(fine_tune_lrs=(1e-3,), fine_tune_epochs=(2,), gbdt_max_iter=5)


@pytest.fixture(scope="module")
def digits_inputs():
    features = prepare_features(load_dataset("digits"))
    from dacl import PretrainConfig
    from dacl.tables import encode

    encoder = pretrain(features.X_train, PretrainConfig(method="dacl+", depth=2, width=16, epochs=2),
                       progress=False).encoder  # fmt: skip
    train, test = encode(encoder, features.X_train), encode(encoder, features.X_test)
    projection = Projection.fit(train, components=4)
    return (Inputs(features.X_train, train, encoder, projection), features.y_train,
            Inputs(features.X_test, test, encoder, projection), features.y_test)  # fmt: skip


def test_the_choice_is_fixed_before_the_test_split_is_scored(digits_inputs):
    train, y, test, y_test = digits_inputs
    rows = np.arange(0, len(y), 8)
    task = Task("classification", 10)
    honest = study_cell(train, y, rows, test, y_test, task, SETTINGS)
    rng = np.random.default_rng(0)
    noise = Inputs(rng.random(test.X.shape, dtype=np.float32), rng.random(test.features.shape, dtype=np.float32),
                   train.encoder, train.projection)  # fmt: skip
    shuffled = study_cell(train, y, rows, noise, rng.permutation(y_test), task, SETTINGS)
    assert honest["chosen"] == shuffled["chosen"]  # the test split, however wrong, changes nothing in the choice
    assert [r["cv_accuracy"] for r in honest["selection"]] == [r["cv_accuracy"] for r in shuffled["selection"]]
    chosen = [m["candidate"] for m in honest["chosen"]["members"]]
    expected = np.mean([honest["candidates"][c]["score"] for c in chosen]) if len(chosen) == 1 else None
    if expected is not None:
        assert honest["model"]["score"] == expected  # the chosen candidate's own test score
    assert set(honest["candidates"]) >= set(CANDIDATES)


def test_the_study_reports_every_candidate_the_estimator_and_its_regret_and_reuses_its_cells(tmp_path, monkeypatch):
    dataset = load_dataset("digits")
    results = run_study([dataset], (0.05, 1.0), tmp_path, budget="smoke", log=lambda *_: None)
    rows = {(r["model"], r["fraction"]): r for r in results["rows"]}
    assert {(m, 0.05) for m in CANDIDATES} <= set(rows) and ("DACLClassifier", 1.0) in rows
    assert rows[("DACLClassifier", 0.05)]["draws"] == 2 and rows[("DACLClassifier", 1.0)]["draws"] == 1
    # with every label there is no unlabelled row: the candidates that use them are left out
    unlabelled_users = {m for m, c in CANDIDATES.items() if c.uses_unlabelled}
    assert not {(m, 1.0) for m in unlabelled_users} & set(rows)
    for fraction in (0.05, 1.0):
        best = max(rows[(m, fraction)]["score"] for m in CANDIDATES if (m, fraction) in rows)
        assert rows[("DACLClassifier", fraction)]["regret"] == pytest.approx(
            best - rows[("DACLClassifier", fraction)]["score"])  # fmt: skip
        # the five baselines a user would fit, beside the estimator, with their seconds
        baselines = [rows[(m, fraction)] for m in BASELINE_MODELS]
        assert all(r["draws"] == rows[("DACLClassifier", fraction)]["draws"] and r["seconds"] > 0 for r in baselines)
        strongest = max(baselines, key=lambda r: r["score"])
        assert rows[("DACLClassifier", fraction)]["best_baseline"] == strongest["model"]
        assert rows[("DACLClassifier", fraction)]["vs_baselines"] == pytest.approx(
            rows[("DACLClassifier", fraction)]["score"] - strongest["score"])  # fmt: skip
    text = (tmp_path / "labels.md").read_text()
    assert "| **DACLClassifier** |" in text and "regret of DACLClassifier" in text and "DACLClassifier chose" in text
    assert (tmp_path / "labels.png").is_file()
    import dacl.studies.label_study as study

    monkeypatch.setattr(study, "study_cell", lambda *a, **k: pytest.fail("a stored cell was computed again"))
    monkeypatch.setattr(study, "fit_baseline", lambda *a, **k: pytest.fail("a stored baseline was fitted again"))
    again = run_study([dataset], (0.05, 1.0), tmp_path, budget="smoke", log=lambda *_: None)
    assert again["rows"] == results["rows"]
    with pytest.raises(ValueError, match="label fractions"):
        run_study([dataset], (0.05, 0.05), tmp_path, budget="smoke")


def test_the_study_on_a_regression_table_scores_r2_and_rmse_against_ridge_and_trees(tmp_path):
    rng = np.random.default_rng(0)

    def frame(n):
        values = pd.DataFrame({"a": rng.random(n), "b": rng.random(n), "kind": rng.choice(["u", "v"], n)})
        return values, values["a"] * 3 + (values["kind"] == "u") + 0.1 * rng.normal(size=n)

    (X, y), (X_test, y_test) = frame(300), frame(100)
    dataset = Dataset("synthetic", X, y.to_numpy(), X_test, y_test.to_numpy(), {"task": "regression"})
    results = run_study([dataset], (0.1, 1.0), tmp_path, budget="smoke", log=lambda *_: None)
    rows = {(r["model"], r["fraction"]): r for r in results["rows"]}
    full = rows[("DACLRegressor", 1.0)]
    assert full["score"] > 0.8 and full["rmse"] > 0 and "regret" in full
    assert rows[("linear-raw", 1.0)]["score"] > 0.9  # ridge on a linear target
    assert "R² (%) / RMSE" in (tmp_path / "labels.md").read_text()
    assert any("points of R²" in line for line in recommendations(results["rows"]))
    # the cells say their ridge chose its penalty, so cells of the old fixed penalty are never reused
    specs = [json.loads(path.read_text())["spec"] for path in (tmp_path / "runs").glob("*.json")]
    cells = [spec for spec in specs if "candidates" in spec]  # the others: the baselines' draws
    assert cells and all(spec["ridge_alpha"] == "leave-one-out" for spec in cells)
    # numbers: label spreading of the target is the one semi-supervised baseline (no self-training)
    assert rows[("label spreading (raw)", 0.1)]["score"] > 0.5 and ("self-training (trees)", 0.1) not in rows


def test_recommendations_name_the_trees_when_they_win():
    scores = (("gbdt-raw", 0.9), ("knn", 0.8), ("DACLClassifier", 0.8))
    cells = [{"dataset": "d", "task": "classification", "fraction": 0.1, "draw": 0, "labelled": 50, "model": m,
              "score": s, "chosen": "knn"} for m, s in scores]  # fmt: skip
    (line,) = recommendations(summarise(cells))
    assert "use gradient-boosted trees" in line and "10.0 points below" in line


def test_the_demos_few_label_row_scores_the_classifier_beside_the_trees_and_logistic_regression():
    from dacl.studies.label_study import few_labels_demo

    row = few_labels_demo(epochs=2, candidates=("probe", "linear-raw"), fine_tune_epochs=(2,))
    assert row["labelled"] == 67 and row["chosen"] in ("probe", "linear-raw", "ensemble")
    assert all(0 < row[k] <= 1 for k in ("DACLClassifier", "gradient-boosted trees", "logistic regression",
                                         "self-training (trees)", "self-training (logistic)", "label spreading (raw)"))


def test_encoder_variants_run_as_options_over_the_budget_and_bad_ones_stop_before_compute(tmp_path):
    small = Dataset("tiny", *(lambda d: (d.X_train[:300], d.y_train[:300], d.X_test[:100], d.y_test[:100]))(
        load_dataset("digits")))  # fmt: skip
    plain = run_study([small], (0.5,), tmp_path / "plain", budget="smoke", candidates=("probe",), log=lambda *_: None)
    variant = run_study([small], (0.5,), tmp_path / "ple", budget="smoke", candidates=("probe",),
                        pretraining={"numeric_embedding": "ple", "mixup_partners": 2}, log=lambda *_: None)  # fmt: skip
    assert variant["pretraining"] == {"numeric_embedding": "ple", "mixup_partners": 2}
    (folder,) = (tmp_path / "ple" / "encoders").iterdir()
    from dacl.engine.checkpoint import read_state

    config = read_state(folder)["config"]
    assert config["numeric_embedding"] == "ple" and config["mixup_partners"] == 2 and config["depth"] == 2
    scores = lambda r: [c["score"] for c in r["cells"] if c["model"] == "probe"]  # noqa: E731
    assert scores(plain) != scores(variant)
    for bad, match in (({"numeric_embedding": "bins"}, "numeric_embedding"), ({"seed": 3}, "seed"),
                       ({"widht": 8}, "unknown")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            run_study([small], (0.5,), tmp_path / "bad", budget="smoke", pretraining=bad, log=lambda *_: None)
    assert not (tmp_path / "bad").exists()


def test_study_encoder_loads_the_encoder_the_study_stored_and_trains_no_step(tmp_path, monkeypatch):
    """The scripts beside the encoder study (fine_tune_batches.py, ridge_penalty.py) read its encoders
    through study_encoder: same folder name as the study's, the stored weights, no pretraining again."""
    small = Dataset("tiny", *(lambda d: (d.X_train[:300], d.y_train[:300], d.X_test[:100], d.y_test[:100]))(
        load_dataset("digits")))  # fmt: skip
    run_study([small], (0.5,), tmp_path, budget="smoke", candidates=("probe",), log=lambda *_: None)
    (folder,) = (tmp_path / "encoders").iterdir()
    cells = list((tmp_path / "runs").iterdir())
    assert folder.name.startswith("tiny-dacl+-") and cells
    assert all(c.name.startswith(("tiny-dacl+-", "tiny-baselines-")) for c in cells)
    from safetensors import safe_open

    from dacl.core.optim import LARS
    from dacl.engine.checkpoint import find_checkpoint

    monkeypatch.setattr(LARS, "step", lambda *a, **k: pytest.fail("the stored encoder was trained again"))
    encoder, config, blocks = study_encoder("tiny", prepare_features(small), tmp_path, budget="smoke")
    assert [p.name for p in (tmp_path / "encoders").iterdir()] == [folder.name]
    assert blocks is None and config.depth == 2 and config.method == "dacl+"
    with safe_open(str(find_checkpoint(folder)), framework="pt") as f:
        stored = {k.removeprefix("model.encoder."): f.get_tensor(k) for k in f.keys() if k.startswith("model.encoder.")}
    weights = encoder.state_dict()
    assert set(weights) == set(stored) and all(torch.equal(weights[k], stored[k]) for k in stored)


def test_the_study_takes_its_encoder_from_the_encoder_cache_of_every_fit(tmp_path, monkeypatch):
    """Issue 46: with the cache on, a study in a new folder on the same rows pretrains no step: the encoder
    is the cache's (the same weights), as a repeated DACLClassifier fit's."""
    small = Dataset("tiny", *(lambda d: (d.X_train[:300], d.y_train[:300], d.X_test[:100], d.y_test[:100]))(
        load_dataset("digits")))  # fmt: skip
    monkeypatch.setenv("DACL_CACHE", str(tmp_path / "cache"))
    first, _, _ = study_encoder("tiny", prepare_features(small), tmp_path / "one", budget="smoke")
    assert len(list((tmp_path / "cache").iterdir())) == 1 and not (tmp_path / "one" / "encoders").exists()
    from dacl.core.optim import LARS

    monkeypatch.setattr(LARS, "step", lambda *a, **k: pytest.fail("the cached encoder was trained again"))
    again, _, _ = study_encoder("tiny", prepare_features(small), tmp_path / "two", budget="smoke")
    weights = again.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in first.state_dict().items())
