"""Few labels: the label subsets, fine-tuning and the baselines a data scientist would pick."""

import numpy as np
import pytest
import torch

from dacl import PretrainConfig, pretrain
from dacl.data import load_dataset
from dacl.evaluate import encode, linear_probe_accuracy
from dacl.experiment import prepare_features
from dacl.labels import choose_fine_tuning, fine_tune, fine_tuned_accuracy, gbdt_accuracy, label_subset


@pytest.fixture(scope="module")
def digits():
    return prepare_features(load_dataset("digits"))


def test_label_subsets_are_stratified_seeded_cover_every_class_and_stay_in_the_training_split(digits):
    y = digits.y_train
    for fraction in (0.01, 0.1, 1.0):
        chosen = label_subset(y, fraction, draw=0)
        assert set(np.unique(y[chosen])) == set(np.unique(y))  # every class, even at 1% (14 rows)
        assert len(chosen) == max(10, round(fraction * len(y))) and chosen.max() < len(y)
        assert np.array_equal(chosen, label_subset(y, fraction, draw=0))
        if fraction < 1:
            assert not np.array_equal(chosen, label_subset(y, fraction, draw=1))
            shares = np.bincount(y[chosen], minlength=10) / len(chosen)
            assert np.abs(shares - np.bincount(y) / len(y)).max() < 0.06 + 1 / len(chosen)
    with pytest.raises(ValueError, match="label fraction"):
        label_subset(y, 0.0, 0)


def test_fine_tuning_changes_a_copy_of_the_encoder_and_the_probe_changes_nothing(digits):
    result = pretrain(digits.X_train, PretrainConfig(method="dacl", depth=2, width=32, epochs=3, batch_size=128,
                                                     warmup_epochs=0), progress=False)  # fmt: skip
    encoder = result.encoder
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    labelled = label_subset(digits.y_train, 0.1, draw=0)
    features = encode(encoder, digits.X_train[labelled])
    linear_probe_accuracy(features, digits.y_train[labelled], encode(encoder, digits.X_test), digits.y_test)
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # the probe: frozen
    tuned = fine_tune(encoder, digits.X_train[labelled], digits.y_train[labelled], epochs=30, lr=1e-3)
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # the original: untouched
    assert any(not torch.equal(before[k], v) for k, v in tuned.encoder.state_dict().items())  # the copy moved
    assert fine_tuned_accuracy(tuned, digits.X_test, digits.y_test) > 0.5  # ten classes, 135 labels


def test_fine_tuning_is_chosen_on_the_labelled_rows_only(digits, monkeypatch):
    result = pretrain(digits.X_train, PretrainConfig(method="none", depth=2, width=16), progress=False)
    labelled = label_subset(digits.y_train, 0.1, draw=0)
    seen = []
    import dacl.labels as labels

    original = labels.fine_tune
    monkeypatch.setattr(labels, "fine_tune", lambda enc, X, y, **kw: seen.append(len(y)) or original(enc, X, y, **kw))
    chosen = choose_fine_tuning(result.encoder, digits.X_train[labelled], digits.y_train[labelled], epochs=(2, 5))
    assert chosen["validated"] and chosen["lr"] in (1e-4, 1e-3) and chosen["epochs"] in (2, 5)
    assert seen and all(n == len(labelled) - round(0.2 * len(labelled)) for n in seen)  # labelled rows, never test
    tiny = label_subset(digits.y_train, 0.001, draw=0)  # one row a class: nothing to validate on
    assert not choose_fine_tuning(result.encoder, digits.X_train[tiny], digits.y_train[tiny])["validated"]


def test_gbdt_baseline_on_raw_columns(digits):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from dacl.labels import gbdt_leaf_size

    labelled = label_subset(digits.y_train, 0.1, draw=0)
    assert gbdt_accuracy(digits.X_train[labelled], digits.y_train[labelled], digits.X_test, digits.y_test) > 0.6
    few = label_subset(digits.y_train, 0.015, draw=0)  # 2 rows a class
    assert gbdt_leaf_size(digits.y_train[few]) == 1 and gbdt_leaf_size(digits.y_train) == 20
    X, y = digits.X_train[few], digits.y_train[few]
    stumps = HistGradientBoostingClassifier(random_state=0).fit(X, y).score(digits.X_test, digits.y_test)
    assert stumps < 0.2  # scikit-learn's default leaf of 20 rows cannot split 20 rows: the class prior
    assert gbdt_accuracy(X, y, digits.X_test, digits.y_test) > stumps + 0.2


def test_reproduce_labels_smoke_is_resumable_and_writes_its_table_and_plot(tmp_path, capsys):
    import json

    from dacl.cli import main

    args = ["reproduce", "labels", "--datasets", "digits", "--fractions", "0.05,1", "--budget", "smoke",
            "--methods", "dacl+,none", "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(args) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    rows = {(r["method"], r["protocol"], r["fraction"]) for r in results["rows"]}
    assert ("dacl+", "fine-tune", 0.05) in rows and ("gbdt+dacl+", "raw columns", 1.0) in rows
    assert {(r["fraction"], r["draws"]) for r in results["rows"]} == {(0.05, 2), (1.0, 1)}  # one draw at 100%
    assert "| dacl+ | probe |" in (tmp_path / "labels.md").read_text() and (tmp_path / "labels.png").is_file()
    stored = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert main(args) == 0  # every cell and encoder reused
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == stored
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == results["rows"]
    assert main([*args[:-3], "--fractions", "0", "--out", str(tmp_path), "--quiet"]) == 2


def test_fine_tuning_epochs_are_capped_by_steps_on_large_labelled_sets():
    from dacl.reproduce.labels import LABEL_BUDGETS, fine_tune_grid

    small = LABEL_BUDGETS["small"]
    assert fine_tune_grid(small, 1_347) == (20, 50)  # digits: 5 steps an epoch, no cap
    assert fine_tune_grid(small, 60_000) == (6,)  # 187 steps an epoch: 1000 steps are 6 epochs, for both
    assert fine_tune_grid(small, 12_000) == (20, 28)  # 37 steps an epoch


def test_reproduce_labels_with_block_mixing_names_and_stores_its_rows_apart(tmp_path, monkeypatch):
    import pandas as pd

    from dacl.data import registry
    from dacl.data.tabular import Dataset
    from dacl.reproduce.labels import reproduce_labels

    rng = np.random.default_rng(0)

    def load(seed=0, data_dir=None):
        def frame(n):
            return pd.DataFrame({"x": rng.random(n), "colour": rng.choice(["red", "blue", "green"], n)})

        return Dataset("mixed", frame(200), np.arange(200) % 2, frame(40), np.arange(40) % 2)

    monkeypatch.setitem(registry.DATASETS, "mixed", load)
    seen = []
    import dacl.reproduce.labels as labels

    original = labels.pretrain

    def recording(X, config, **kw):
        seen.append((config.method, None if kw.get("blocks") is None else kw["blocks"].tolist()))
        return original(X, config, **kw)

    monkeypatch.setattr(labels, "pretrain", recording)
    results = reproduce_labels(["mixed"], (0.5,), "smoke", tmp_path, methods=("dacl+", "none"), block_mixing=True,
                               log=lambda *_: None)  # fmt: skip
    assert seen == [("dacl+", [-1, 0, 0, 0]), ("none", None)]  # blocks for the mixup method only
    methods = {r["method"] for r in results["rows"]}
    assert {"dacl+ (blocks)", "none", "gbdt+dacl+ (blocks)"} <= methods and "dacl+" not in methods
    assert any(p.name.startswith("mixed-dacl+-blocks-") for p in (tmp_path / "runs").iterdir())
