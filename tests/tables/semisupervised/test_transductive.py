"""The candidates that use the unlabelled rows: label spreading against Zhou et al.'s closed form, self-training
against its definition, and no held-out label of a fold ever reaching them."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dacl.tables.semisupervised.candidates import Inputs, Settings, Task
from dacl.tables.semisupervised.options import UNLABELLED_CANDIDATES
from dacl.tables.semisupervised.registry import CANDIDATES
from dacl.tables.semisupervised.selection import select
from dacl.tables.semisupervised.transductive import (
    SELF_TRAINABLE,
    fit_spread_features,
    fit_spread_raw,
    unlabelled_pool,
)
from oracles import label_spreading

CLASSES = Task("classification", 3)
SETTINGS = Settings(fine_tune_lrs=(1e-3,), fine_tune_epochs=(2,), gbdt_max_iter=5, logistic_cs=(1.0,))


def _clusters(labelled=45, unlabelled=150, seed=0):
    """Three separated clusters: labelled rows and unlabelled ones, features = the columns (unique rows)."""
    rng = np.random.default_rng(seed)
    n = labelled + unlabelled
    y = np.arange(n) % 3
    X = (np.eye(3)[y] * 2 + rng.normal(scale=0.6, size=(n, 3))).astype(np.float32)
    X = np.hstack([X, rng.random((n, 2), dtype=np.float32)])
    pool = Inputs(X[labelled:], X[labelled:])
    return Inputs(X[:labelled], X[:labelled], unlabelled=pool), y[:labelled], y[labelled:]


def test_the_registry_and_the_cli_list_agree_on_which_candidates_use_unlabelled_rows():
    assert {n for n, c in CANDIDATES.items() if c.uses_unlabelled} == set(UNLABELLED_CANDIDATES)


@pytest.mark.parametrize("source", ["features", "X"])
def test_spreading_gives_each_graph_row_zhou_et_als_spread_labels(source):
    inputs, y, _ = _clusters(30, 60)
    settings = dataclasses.replace(SETTINGS, spread_alphas=(0.5,), spread_k=6)  # 20 steps converge at alpha 0.5
    fit = fit_spread_features if source == "features" else fit_spread_raw
    fitted = fit(inputs, y, CLASSES, settings)
    assert set(fitted) == {"alpha=0.5", "alpha=0.5, balanced"}
    model = fitted["alpha=0.5"]
    points = np.vstack([inputs.features, inputs.unlabelled.features]) if source == "features" else np.vstack(
        [inputs.X, inputs.unlabelled.X])  # fmt: skip
    if source == "features":
        points = F.normalize(torch.as_tensor(points), dim=1).numpy()
    np.testing.assert_allclose(model.features, points, atol=1e-6)  # the graph's rows: the labelled, then the pool
    labelled = np.arange(90) < 30
    expected, _ = label_spreading(points, np.eye(3)[np.concatenate([y, np.zeros(60, int)])], labelled, 6, 0.5,
                                  "cosine" if source == "features" else "binary")  # fmt: skip
    expected = np.clip(expected, 0, None)
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.targets, expected, atol=2e-3)
    prior = np.bincount(y, minlength=3) / len(y)
    balanced = expected * prior / expected.sum(0)  # class-mass normalization (Zhu et al. 2003)
    np.testing.assert_allclose(fitted["alpha=0.5, balanced"].targets, balanced / balanced.sum(1, keepdims=True),
                               atol=2e-3)  # fmt: skip


def test_spreading_labels_new_rows_by_their_nearest_graph_rows():
    inputs, y, y_pool = _clusters()
    model = fit_spread_features(inputs, y, CLASSES, SETTINGS)["alpha=0.99"]
    new, y_new, _ = _clusters(seed=1)
    assert (model.predict(new).argmax(1) == y_new).mean() > 0.9
    regression = fit_spread_raw(inputs, y * 10.0, Task("regression"), SETTINGS)["alpha=0.9"]
    predicted = regression.predict(new)
    assert predicted.shape == (45,) and np.abs(predicted - y_new * 10.0).mean() < 3


def test_self_training_refits_its_base_with_the_confident_predictions_on_the_unlabelled_rows(monkeypatch):
    inputs, y, _ = _clusters()
    base = CANDIDATES["linear-raw"]
    seen = []

    def spy(inputs, y, task, settings, setting):
        seen.append((len(inputs), y.copy()))
        return base.refit(inputs, y, task, settings, setting)

    monkeypatch.setitem(CANDIDATES, "linear-raw", dataclasses.replace(base, refit=spy))
    settings = dataclasses.replace(SETTINGS, self_train_base=("linear-raw", ""), self_train_threshold=1.01)
    (alone,) = CANDIDATES["self-train"].fit(inputs, y, CLASSES, settings).values()  # nothing confident: the base alone
    assert [n for n, _ in seen] == [45]
    direct = base.refit(inputs, y, CLASSES, settings, "")
    np.testing.assert_array_equal(alone.predict(inputs.unlabelled), direct.predict(inputs.unlabelled))
    seen.clear()
    settings = dataclasses.replace(settings, self_train_threshold=0.0, self_train_rounds=2)
    CANDIDATES["self-train"].fit(inputs, y, CLASSES, settings)
    assert [n for n, _ in seen] == [45, 195, 195]  # every unlabelled row confident: labelled + pool, twice
    pseudo = direct.predict(inputs.unlabelled).argmax(1)
    np.testing.assert_array_equal(seen[1][1], np.concatenate([y, pseudo]))  # the base's own predictions


def test_a_self_training_round_adds_at_most_its_cap_of_pseudo_labelled_rows_the_most_confident(monkeypatch):
    inputs, y, _ = _clusters()
    base = CANDIDATES["linear-raw"]
    seen = []

    def spy(inputs, y, task, settings, setting):
        seen.append(inputs)
        return base.refit(inputs, y, task, settings, setting)

    monkeypatch.setitem(CANDIDATES, "linear-raw", dataclasses.replace(base, refit=spy))
    settings = dataclasses.replace(SETTINGS, self_train_base=("linear-raw", ""), self_train_threshold=0.0,
                                   self_train_rounds=1, self_train_rows=20)  # fmt: skip
    CANDIDATES["self-train"].fit(inputs, y, CLASSES, settings)
    assert [len(s) for s in seen] == [45, 65]
    top = base.refit(inputs, y, CLASSES, settings, "").predict(inputs.unlabelled).max(1)
    expected = np.sort(np.argsort(-top, kind="stable")[:20])  # the 20 highest top probabilities
    np.testing.assert_array_equal(seen[1].X[45:], inputs.unlabelled.X[expected])
    assert top[expected].min() >= np.delete(top, expected).max()


def test_in_the_choice_self_training_starts_from_its_bases_fit_of_the_same_split_and_scores_as_a_fresh_fit(
        monkeypatch):  # fmt: skip
    """The base's fold fits are reused (seeded: the same models), so self-training refits only with the
    pseudo-labels: its held-out score is that of self-training fitted from scratch on each split."""
    from dacl.tables.semisupervised.selection import splits

    inputs, y, _ = _clusters(60, 120)
    base = CANDIDATES["gbdt-raw"]
    sizes = []

    def counting(inputs, y, task, settings):
        sizes.append(len(inputs))
        return base.fit(inputs, y, task, settings)

    monkeypatch.setitem(CANDIDATES, "gbdt-raw", dataclasses.replace(base, fit=counting))
    chosen = select(inputs, y, CLASSES, ("gbdt-raw", "self-train"), SETTINGS, folds=3, halving=False)
    pairs, _ = splits(y, CLASSES, 3, SETTINGS.seed)
    assert sizes[: len(pairs)] == [len(t) for t, _ in pairs]  # the base's own folds
    assert all(n > 60 for n in sizes[len(pairs) :])  # then only refits with pseudo-labelled rows
    row = next(r for r in chosen.rows if r["candidate"] == "self-train")
    assert row["setting"] == "gbdt-raw"
    fresh = dataclasses.replace(SETTINGS, self_train_base=("gbdt-raw", ""))
    correct = [(CANDIDATES["self-train"].fit(inputs.take(t), y[t], CLASSES, fresh)["gbdt-raw"].predict(
        inputs.take(v)).argmax(1) == y[v]).mean() for t, v in pairs]  # fmt: skip
    assert row["cv_accuracy"] == pytest.approx(np.mean(correct), abs=1e-12)


def test_no_held_out_row_of_a_fold_reaches_a_candidate_that_uses_unlabelled_rows(monkeypatch):
    """Every fit of every candidate during the choice, self-training's inner fits included, sees only its
    fold's training rows with labels and the unlabelled rows without: the held-out rows (and so their labels)
    are never among the rows it is given."""
    inputs, y, _ = _clusters(60, 120)
    labelled_rows = {row.tobytes() for row in inputs.X}
    calls = []

    def spying(candidate):
        def fit(inputs, y, task, settings):
            calls.append((candidate.name, inputs, len(y)))
            return candidate.fit(inputs, y, task, settings)

        def refit(inputs, y, task, settings, setting):
            calls.append((candidate.name, inputs, len(y)))
            return candidate.fit_setting(inputs, y, task, settings, setting)

        return dataclasses.replace(candidate, fit=fit, refit=refit)

    for name in list(CANDIDATES):
        monkeypatch.setitem(CANDIDATES, name, spying(CANDIDATES[name]))
    names = ("probe", "linear-raw", "gbdt-raw", "spread", "spread-raw", "self-train")
    chosen = select(inputs, y, CLASSES, names, SETTINGS, folds=3, halving=False)
    assert {c for c, *_ in calls} >= set(names) and "self-train" in {r["candidate"] for r in chosen.rows}
    folds = 0
    for name, seen, targets in calls:
        assert targets == len(seen)  # a label for each row it is given, no more
        given = {row.tobytes() for row in seen.X}
        unlabelled = {row.tobytes() for row in seen.unlabelled.X}
        training = given & labelled_rows
        held_out = labelled_rows - training
        assert not held_out & given and not held_out & unlabelled, name
        assert given <= training | unlabelled  # self-training: its fold's rows and pseudo-labelled pool rows
        folds += len(held_out) > 0
    assert folds >= 3 * len(names)


def test_the_estimators_pool_holds_unlabelled_rows_only(monkeypatch):
    from dacl import DACLClassifier

    rng = np.random.default_rng(0)
    X = rng.random((300, 4)).astype(np.float32)
    y = np.where(np.arange(300) < 60, (X[:, 0] > 0.5).astype(int), -1)
    seen = []
    spread = CANDIDATES["spread"]

    def spy(inputs, y, task, settings):
        seen.append(inputs.unlabelled.X.copy())
        return spread.fit(inputs, y, task, settings)

    monkeypatch.setitem(CANDIDATES, "spread", dataclasses.replace(spread, fit=spy))
    model = DACLClassifier(epochs=2, depth=1, width=8, batch_size=64, warmup_epochs=0.0, cv=2, random_state=0,
                           candidates=("probe", "spread"), fine_tune_epochs=(2,)).fit(X, y)  # fmt: skip
    scaled = model.dacl_.preprocessed(X)
    labelled = {row.tobytes() for row in scaled[:60]}
    assert seen and all(len(pool) == 240 and not {row.tobytes() for row in pool} & labelled for pool in seen)


def test_candidates_that_cannot_apply_are_left_out_with_the_reason():
    inputs, y, _ = _clusters()
    without = dataclasses.replace(inputs, unlabelled=None)
    chosen = select(without, y, CLASSES, ("probe", "spread", "self-train"), SETTINGS, folds=3)
    assert chosen.skipped == {"spread": "left out: no unlabelled rows", "self-train": "left out: no unlabelled rows"}
    numbers = select(inputs, y * 1.0, Task("regression"), ("linear-raw", "spread-raw", "self-train"), SETTINGS,
                     folds=3)  # fmt: skip
    assert "classes only" in numbers.skipped["self-train"] and "spread-raw" not in numbers.skipped
    with pytest.raises(ValueError, match="no candidate applies"):
        select(without, y, CLASSES, ("spread",), SETTINGS)


def test_self_training_trains_the_best_cheap_candidate_of_the_first_repeat():
    inputs, y, _ = _clusters()
    chosen = select(inputs, y, CLASSES, ("linear-raw", "gbdt-raw", "knn", "self-train"), SETTINGS, folds=3)
    (row,) = [r for r in chosen.rows if r["candidate"] == "self-train"]
    first = [r for r in chosen.rows if r["candidate"] in SELF_TRAINABLE]
    best = max(first, key=lambda r: r["cv_accuracy"])  # one repeat here: the first repeat is every split
    assert row["setting"] == best["candidate"] + (f" {best['setting']}" if best["setting"] else "")


def test_with_one_label_a_class_the_rule_is_spreading_where_there_are_unlabelled_rows():
    inputs, y, _ = _clusters()
    rows = np.array([0, 1, 2])  # one row a class: nothing can be held out
    chosen = select(inputs.take(rows), y[rows], CLASSES, ("probe", "spread"), SETTINGS)
    assert chosen.choice.members == [("spread", "alpha=0.99, balanced")]
    alone = select(dataclasses.replace(inputs.take(rows), unlabelled=None), y[rows], CLASSES, ("probe", "spread"),
                   SETTINGS)  # fmt: skip
    assert alone.choice.members[0][0] == "probe"


def test_the_pool_is_a_seeded_sample_of_the_unlabelled_rows():
    rows = np.arange(10_000, 20_000)
    pool = unlabelled_pool(rows, seed=3, size=100)
    assert len(pool) == 100 and set(pool) <= set(rows) and (np.diff(pool) > 0).all()
    np.testing.assert_array_equal(pool, unlabelled_pool(rows, seed=3, size=100))
    assert not np.array_equal(pool, unlabelled_pool(rows, seed=4, size=100))
    np.testing.assert_array_equal(unlabelled_pool(rows[:50], seed=3, size=100), rows[:50])


def test_a_graph_is_computed_once_for_the_unlabelled_rows_of_every_fold(monkeypatch):
    from dacl.tables.semisupervised import transductive

    inputs, y, _ = _clusters()
    calls = []
    original = transductive.nearest

    def counting(query, reference, k, **kwargs):
        calls.append((len(query), len(reference)))
        return original(query, reference, k, **kwargs)

    monkeypatch.setattr(transductive, "nearest", counting)
    select(inputs, y, CLASSES, ("spread",), SETTINGS, folds=3)
    assert calls == [(150, 150)]  # the pool's own neighbours: once, for the three folds
