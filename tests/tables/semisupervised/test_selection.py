"""The choice on the labelled rows: the splits, the rule, the ensemble, the rule for too few labels."""

import re
from dataclasses import dataclass, replace

import numpy as np
import pytest

from dacl.tables.semisupervised import selection
from dacl.tables.semisupervised.candidates import Inputs, Settings, Task
from dacl.tables.semisupervised.registry import CANDIDATES, Candidate
from dacl.tables.semisupervised.selection import select, splits

CLASSES = Task("classification", 3)


def test_stratified_splits_hold_every_row_out_once_a_repeat_and_never_a_single_class_row():
    y = np.repeat([0, 1, 2], [30, 20, 1])
    pairs, notes = splits(y, CLASSES, folds=5)
    assert len(pairs) == 5 * selection.REPEATS  # under 300 rows: repeated
    assert "one labelled row" in notes[0]
    for train, held in pairs:
        assert 50 in train and 50 not in held and not set(train) & set(held)
        assert set(np.bincount(y[held], minlength=3)[:2]) == {6, 4}  # stratified: 30/5, 20/5
    held_out = np.concatenate([held for _, held in pairs[:5]])
    assert sorted(held_out) == list(range(50))  # one repeat: every row (but the single one) held out once


def test_folds_shrink_to_the_rarest_class_large_label_sets_use_one_split_and_numbers_use_k_fold(monkeypatch):
    pairs, _ = splits(np.repeat([0, 1], [400, 3]), Task("classification", 2), folds=5)
    assert len(pairs) == 3  # 3 folds (rarest class), 403 rows: not repeated
    monkeypatch.setattr(selection, "HOLDOUT_FROM", 100)
    pairs, _ = splits(np.repeat([0, 1], [100, 100]), Task("classification", 2))
    assert len(pairs) == 1 and len(pairs[0][1]) == 40
    pairs, _ = splits(np.arange(50.0), Task("regression"), folds=5)
    assert len(pairs) == 5 * selection.REPEATS and all(len(h) == 10 for _, h in pairs)


@dataclass
class Fixed:
    """A fake fitted model: returns the stored outputs of the rows it is asked about."""

    outputs: np.ndarray

    def predict(self, inputs):
        return self.outputs[inputs.X[:, 0].astype(int)]


def _fake(name: str, outputs: np.ndarray) -> Candidate:
    return Candidate(name, name, lambda inputs, y, task, settings: {"": Fixed(outputs)}, False)


def test_the_best_mean_held_out_score_wins_and_the_average_of_two_wins_only_when_higher(monkeypatch):
    y = np.repeat([0, 1], 30)
    right = np.eye(2)[y]
    # "a" is sure and right on rows 0-39, unsure and wrong on 40-59; "b" unsure and wrong on 0-19, sure and right
    # on 20-59: each scores 40/60, their average is right everywhere
    unsure = 0.45 * right + 0.55 * (1 - right)
    a = np.where((np.arange(60) < 40)[:, None], right, unsure)
    b = np.where((np.arange(60) >= 20)[:, None], right, unsure)
    wrong = 1 - right
    registry = {"a": _fake("a", a), "b": _fake("b", b), "wrong": _fake("wrong", wrong)}
    monkeypatch.setattr(selection, "CANDIDATES", registry)
    inputs = Inputs(np.arange(60, dtype=np.float32)[:, None], np.zeros((60, 1)))
    chosen = select(inputs, y, Task("classification", 2), ("a", "b", "wrong"), Settings())
    scores = {r["candidate"]: r["cv_accuracy"] for r in chosen.rows}
    assert scores["wrong"] == 0 and scores["a"] == pytest.approx(40 / 60, abs=0.05)
    assert chosen.choice.name == "ensemble" and scores["ensemble"] > max(scores["a"], scores["b"])
    assert {c for c, _ in chosen.choice.members} == {"a", "b"}
    alone = select(inputs, y, Task("classification", 2), ("a", "b", "wrong"), Settings(), ensemble=False)
    assert alone.choice.name == max(("a", "b"), key=scores.get) and not any(r["candidate"] == "ensemble"
                                                                              for r in alone.rows)  # fmt: skip


def test_with_no_row_to_hold_out_the_rule_is_the_probe(monkeypatch):
    y = np.arange(5)  # one labelled row a class
    inputs = Inputs(np.random.default_rng(0).random((5, 3)).astype(np.float32), np.zeros((5, 2), np.float32))
    calls = []
    monkeypatch.setattr(selection, "CANDIDATES", {  # no candidate is fitted: the rule alone
        name: replace(c, fit=lambda *a, name=name: calls.append(name), refit=None) for name, c in CANDIDATES.items()})
    chosen = select(inputs, y, Task("classification", 5), ("linear-raw", "probe", "fine-tune"), Settings())
    assert chosen.choice.members == [("probe", "C=1")] and not calls  # logistic regression at its C nearest 1
    assert "nothing can be held out" in chosen.choice.reason
    assert chosen.best["fine-tune"] == "lr=0.001, epochs=50"
    with pytest.raises(ValueError, match="unknown candidate"):
        select(inputs, y, Task("classification", 5), ("probe", "forest"), Settings())


def test_the_best_alone_is_chosen_over_the_average_only_when_more_than_a_point_higher(monkeypatch):
    y = np.repeat([0, 1], 50)
    right = np.eye(2)[y]
    unsure_right, sure_right = 0.6 * right + 0.4 * (1 - right), 0.95 * right + 0.05 * (1 - right)
    good = np.where((np.arange(100) < 96)[:, None], unsure_right, 1 - unsure_right)  # 96/100, unsure
    poor = np.where((np.arange(100) < 40)[:, None], 1 - sure_right, sure_right)  # 60/100, sure when wrong
    registry = {"good": _fake("good", good), "poor": _fake("poor", poor)}
    monkeypatch.setattr(selection, "CANDIDATES", registry)
    inputs = Inputs(np.arange(100, dtype=np.float32)[:, None], np.zeros((100, 1)))
    chosen = select(inputs, y, Task("classification", 2), ("good", "poor"), Settings())
    scores = {r["candidate"]: r["cv_accuracy"] for r in chosen.rows}
    assert scores["good"] - scores["ensemble"] > selection.PAIR_MARGIN and chosen.choice.members == [("good", "")]
    assert selection.prefers_pair({"s": 0.90}, {"s": 0.895}, "s") and not selection.prefers_pair({"s": 0.9}, None, "s")


def test_candidates_far_behind_after_the_first_repeat_are_not_fitted_again(monkeypatch):
    y = np.repeat([0, 1], 30)  # 60 rows: 5 folds, repeated 3 times
    right = np.eye(2)[y]
    fits = {"a": 0, "b": 0, "wrong": 0}

    def counted(name, outputs):
        def fit(inputs, labels, task, settings):
            fits[name] += 1
            return {"": Fixed(outputs)}

        return Candidate(name, name, fit, False)

    near = np.where((np.arange(60) % 10 == 0)[:, None], 1 - right, right)  # 90%
    registry = {"a": counted("a", right), "b": counted("b", near), "wrong": counted("wrong", 1 - right)}
    monkeypatch.setattr(selection, "CANDIDATES", registry)
    inputs = Inputs(np.arange(60, dtype=np.float32)[:, None], np.zeros((60, 1)))
    chosen = select(inputs, y, Task("classification", 2), ("a", "b", "wrong"), Settings())
    assert fits == {"a": 15, "b": 15, "wrong": 5}  # "wrong" left after the first repeat
    rows = {r["candidate"]: r for r in chosen.rows}
    assert rows["wrong"]["splits"] == 5 and "far behind" in rows["wrong"]["note"]
    assert rows["a"]["splits"] == 15 and {c for c, _ in chosen.choice.members} <= {"a", "b"}
    fits.update(a=0, b=0, wrong=0)
    select(inputs, y, Task("classification", 2), ("a", "b", "wrong"), Settings(), halving=False)
    assert fits == {"a": 15, "b": 15, "wrong": 15}


def test_a_time_limit_leaves_out_the_candidates_whose_folds_do_not_fit(monkeypatch):
    import time

    y = np.repeat([0, 1], 200)  # 400 rows: 5 folds, not repeated
    right = np.eye(2)[y]

    def slow(inputs, labels, task, settings):
        time.sleep(0.4)
        return {"": Fixed(right)}

    registry = {"fast": _fake("fast", 0.6 * right + 0.2), "slow": Candidate("slow", "slow", slow, False)}
    monkeypatch.setattr(selection, "CANDIDATES", registry)
    inputs = Inputs(np.arange(400, dtype=np.float32)[:, None], np.zeros((400, 1)))
    started = time.perf_counter()
    chosen = select(inputs, y, Task("classification", 2), ("slow", "fast"), Settings(), time_limit=1.0)
    assert time.perf_counter() - started < 1.1
    assert "slow" in chosen.skipped and "left out for time" in chosen.skipped["slow"]
    assert chosen.choice.members == [("fast", "")] and "left out for time" in chosen.choice.reason
    unlimited = select(inputs, y, Task("classification", 2), ("slow", "fast"), Settings())
    assert not unlimited.skipped and unlimited.choice.members[0] == ("slow", "")


def test_under_a_time_limit_self_training_is_not_started_where_its_base_scaled_to_the_unlabelled_rows_would_not_fit(
        monkeypatch):  # fmt: skip
    """Its first fold's time is unknown until it has run, and it cannot stop inside a refit: estimated from
    its base's fold (0.05 s) x (1 + 2 rounds x 13.5 times the rows: every unlabelled row, uncapped) = 1.4 s,
    over the 1 s limit."""
    import time

    y = np.repeat([0, 1], 200)
    right = np.eye(2)[y]
    started_self_training = []

    def base(inputs, labels, task, settings):
        time.sleep(0.05)
        return {"": Fixed(0.6 * right + 0.2)}

    def self_trained(inputs, labels, task, settings):
        started_self_training.append(len(inputs))
        return {"linear-raw": Fixed(right)}  # named by its base, as self_train_setting names it

    monkeypatch.setattr(selection, "CANDIDATES", {
        "linear-raw": Candidate("linear-raw", "", base, False),
        "self-train": Candidate("self-train", "", self_trained, False, uses_unlabelled=True)})  # fmt: skip
    pool = Inputs(np.zeros((4000, 1), np.float32), np.zeros((4000, 1)))
    inputs = Inputs(np.arange(400, dtype=np.float32)[:, None], np.zeros((400, 1)), unlabelled=pool)
    two, settings = Task("classification", 2), Settings(self_train_rounds=2, self_train_rows=None)
    select(inputs, y, two, ("linear-raw", "self-train"), settings)  # no limit: fitted on every fold
    assert len(started_self_training) == 5  # (and the scoring's imports paid outside the limit)
    started_self_training.clear()
    chosen = select(inputs, y, two, ("linear-raw", "self-train"), settings, time_limit=1.0)
    assert started_self_training == [] and "left out for time" in chosen.skipped["self-train"]
    estimate = re.search(r"a fold takes ([\d.]+) s", chosen.skipped["self-train"])
    assert estimate and 1.35 <= float(estimate.group(1)) < 2.5  # 1.4 s and what sleep(0.05) overshoots, x 28


def test_the_cheap_candidates_are_cross_validated_first(monkeypatch):
    order = []

    def recording(name):
        def fit(inputs, labels, task, settings):
            order.append(name)
            return {"": Fixed(np.full((400, 2), 0.5))}

        return Candidate(name, name, fit, False)

    names = ("fine-tune", "gbdt-raw", "probe", "linear-raw")
    monkeypatch.setattr(selection, "CANDIDATES", {n: recording(n) for n in names})
    inputs = Inputs(np.arange(400, dtype=np.float32)[:, None], np.zeros((400, 1)))
    select(inputs, np.repeat([0, 1], 200), Task("classification", 2), names, Settings())
    assert list(dict.fromkeys(order)) == ["linear-raw", "probe", "gbdt-raw", "fine-tune"]


def test_from_a_thousand_labelled_rows_three_folds_hold_every_row_out_once():
    y = np.repeat([0, 1], 600)
    pairs, _ = splits(y, Task("classification", 2), folds=5)
    assert len(pairs) == selection.FEWER_FOLDS == 3
    assert sorted(np.concatenate([held for _, held in pairs])) == list(range(1200))
    assert len(splits(np.arange(1500.0), Task("regression"), folds=5)[0]) == 3
    assert len(splits(np.repeat([0, 1], 400), Task("classification", 2), folds=5)[0]) == 5  # under 1,000: 5


def test_the_ensemble_takes_a_third_candidate_only_within_noise_of_the_best():
    from dacl.tables.semisupervised.selection import MOST_MEMBERS, ensemble_members

    def ranked(scores, std):
        return [{"candidate": f"c{i}", "setting": "", "cv_accuracy": s, "cv_std": std} for i, s in enumerate(scores)]

    key = "cv_accuracy"
    # precise scores (many labels): only candidates within the 1-point margin join the two best
    assert [r["candidate"] for r in ensemble_members(ranked([0.90, 0.85, 0.80], 0.002), key, 5)] == ["c0", "c1"]
    assert len(ensemble_members(ranked([0.90, 0.85, 0.895], 0.002), key, 5)) == 3
    # noisy scores (tens of labels: a standard deviation of 15 points over 5 folds, an error of 6.7): the third
    # is within noise of the best and joins; never more than MOST_MEMBERS
    assert len(ensemble_members(ranked([0.90, 0.88, 0.85, 0.84, 0.83], 0.15), key, 5)) == MOST_MEMBERS == 3
    assert len(ensemble_members(ranked([0.90, 0.88, 0.80], 0.15), key, 5)) == 2  # 10 points: beyond the error
