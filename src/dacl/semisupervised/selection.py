"""Choosing a model on the labelled rows only: cross-validation over the candidates, then a refit.

Every candidate (``dacl.semisupervised.candidates``) is fitted on the training part of each split of
the labelled rows and predicts the held-out part; its settings (fine-tuning's lr and epochs) are scored
from the same run. The candidates are ranked by mean held-out accuracy (classes) or R² (numbers, i.e.
mean squared error), and the chosen model is the average of the two best candidates' probabilities /
predictions, unless the best alone scores more than ``PAIR_MARGIN`` (1 point) above that average in the
same cross-validation (:func:`prefers_pair`). Nothing outside the labelled rows is ever scored: no
test split can leak into the choice.

The splits (:func:`splits`): stratified k-fold for classes (k = min(folds, rarest class)), k-fold for
numbers; repeated 3 times with fewer than 300 labelled rows (held-out scores on a few rows are noisy,
and those fits are cheap); one stratified 80/20 split from 10,000 labelled rows (the scores are then
precise, and each fit is expensive). A class with one labelled row cannot be held out: its row is in
every training part and no held-out part (said in ``notes``). With no split possible at all (every
class has one row), the rule is the probe on the DACL features, where the label study finds the
pretrained encoder strongest (docs/results/labels.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dacl.semisupervised.candidates import CANDIDATES, Inputs, Settings, Task, default_setting

__all__ = [
    "ENSEMBLE",
    "PAIR_MARGIN",
    "Choice",
    "Selection",
    "fit_chosen",
    "predict_chosen",
    "prefers_pair",
    "select",
    "splits",
]

ENSEMBLE = "ensemble"
REPEAT_BELOW = 300  # labelled rows under which the k-fold split is repeated
REPEATS = 3
HOLDOUT_FROM = 10_000  # labelled rows from which one 80/20 split replaces k-fold
FALLBACK = "probe"  # the rule when no row can be held out
PAIR_MARGIN = 0.01  # the best candidate alone is chosen over the average of two only when 1 point higher


@dataclass
class Choice:
    """The chosen model: one (candidate, setting) or the average of two."""

    members: list[tuple[str, str]]
    reason: str

    @property
    def name(self) -> str:
        return ENSEMBLE if len(self.members) > 1 else self.members[0][0]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.name, "members": [{"candidate": c, "setting": s} for c, s in self.members],
                "reason": self.reason}  # fmt: skip


@dataclass
class Selection:
    """Each candidate setting's cross-validated score (``rows``), the choice, and how it was made."""

    rows: list[dict[str, Any]]
    choice: Choice
    notes: list[str] = field(default_factory=list)
    metric: str = "accuracy"
    best: dict[str, str] = field(default_factory=dict)  # each candidate's best setting (ensemble left out)


def splits(y: np.ndarray, task: Task, folds: int = 5, seed: int = 0) -> tuple[list[tuple[np.ndarray, ...]], list[str]]:
    """The (train, held-out) index pairs of the labelled rows ``y``, and notes on how they were made."""
    from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, train_test_split

    n, notes = len(y), []
    rows = np.arange(n)
    if task.is_classification:
        counts = np.bincount(y, minlength=task.classes)
        single = np.flatnonzero(counts == 1)
        if len(single):
            notes.append(f"{len(single)} class(es) with one labelled row ({', '.join(map(str, single[:10]))}): "
                         "their rows are in every training part and never held out")  # fmt: skip
        rows = rows[counts[y] >= 2]
        if len(np.unique(y[rows])) < 2:
            notes.append("fewer than two classes have two labelled rows: nothing can be held out")
            return [], notes
        k = int(min(folds, counts[counts >= 2].min()))
        always = np.setdiff1d(np.arange(n), rows)
        if len(rows) >= HOLDOUT_FROM:
            train, held = train_test_split(rows, test_size=0.2, stratify=y[rows], random_state=seed)
            pairs = [(train, held)]
        else:
            repeats = REPEATS if n < REPEAT_BELOW else 1
            splitter = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
            pairs = [(rows[t], rows[v]) for t, v in splitter.split(rows, y[rows])]
        return [(np.sort(np.concatenate([always, t])), np.sort(v)) for t, v in pairs], notes
    if n < 4:
        notes.append(f"{n} labelled rows: too few to hold any out")
        return [], notes
    if n >= HOLDOUT_FROM:
        train, held = train_test_split(rows, test_size=0.2, random_state=seed)
        return [(np.sort(train), np.sort(held))], notes
    k = min(folds, n // 2)
    splitter = (RepeatedKFold(n_splits=k, n_repeats=REPEATS, random_state=seed) if n < REPEAT_BELOW
                else KFold(n_splits=k, shuffle=True, random_state=seed))  # fmt: skip
    return [(np.sort(t), np.sort(v)) for t, v in splitter.split(rows)], notes


def _score(task: Task, y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """(score, tie-break): accuracy and minus the Brier score (classes); minus the mean squared error
    twice (numbers). Higher is better for both."""
    if task.is_classification:
        brier = float(((predicted - np.eye(task.classes)[y]) ** 2).sum(1).mean())
        return float((predicted.argmax(1) == y).mean()), -brier
    mse = float(((predicted - y) ** 2).mean())
    return -mse, -mse


def _summary(task: Task, y: np.ndarray, pairs, held_out: list[np.ndarray]) -> dict[str, Any]:
    """Mean and std over the splits of the held-out score (accuracy; numbers: R² and RMSE)."""
    scores = [_score(task, y[v], p) for (_, v), p in zip(pairs, held_out)]
    main = np.array([s[0] for s in scores])
    out = {"tie_break": float(np.mean([s[1] for s in scores]))}
    if task.is_classification:
        return {"cv_accuracy": float(main.mean()), "cv_std": float(main.std()), **out}
    variance = float(np.var(y)) or 1.0
    r2 = 1 + main / variance
    return {"cv_r2": float(r2.mean()), "cv_std": float(r2.std()), "cv_rmse": float(np.sqrt(-main).mean()), **out}


def select(
    inputs: Inputs,
    y: np.ndarray,
    task: Task,
    candidates: tuple[str, ...],
    settings: Settings,
    *,
    folds: int = 5,
    ensemble: bool = True,
) -> Selection:
    """Cross-validate every candidate on the labelled rows (``inputs``, ``y``) and choose (module doc)."""
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}.")
    if not candidates:
        raise ValueError("no candidate to choose from: name at least one of " + ", ".join(CANDIDATES) + ".")
    pairs, notes = splits(y, task, folds, settings.seed)
    metric = "accuracy" if task.is_classification else "r2"
    if not pairs:
        fallback = FALLBACK if FALLBACK in candidates else candidates[0]
        reason = f"{'; '.join(notes)}: the rule for this case, {fallback}"
        rows = [{"candidate": c, "setting": default_setting(c, settings, len(y), task), "seconds": 0.0,
                 "chosen": c == fallback} for c in candidates]  # fmt: skip
        best = {c: default_setting(c, settings, len(y), task) for c in candidates}
        return Selection(rows, Choice([(fallback, best[fallback])], reason), notes, metric, best)
    predictions: dict[tuple[str, str], list[np.ndarray]] = {}
    seconds: dict[tuple[str, str], float] = {}
    for name in candidates:
        candidate = CANDIDATES[name]
        for train, held in pairs:
            started = time.perf_counter()
            fitted = candidate.fit(inputs.take(train), y[train], task, settings)
            share = (time.perf_counter() - started) / len(fitted)
            for setting, model in fitted.items():
                predictions.setdefault((name, setting), []).append(model.predict(inputs.take(held)))
                seconds[(name, setting)] = seconds.get((name, setting), 0.0) + share
    rows = [{"candidate": c, "setting": s, **_summary(task, y, pairs, p), "seconds": seconds[(c, s)]}
            for (c, s), p in predictions.items()]  # fmt: skip
    key = "cv_accuracy" if task.is_classification else "cv_r2"
    order = {c: i for i, c in enumerate(candidates)}

    def rank(row: dict[str, Any]) -> tuple:
        return (row[key], row["tie_break"], -order.get(row["candidate"], len(order)))

    best_per_candidate = {}
    for row in sorted(rows, key=rank, reverse=True):
        best_per_candidate.setdefault(row["candidate"], row)
    ranked = sorted(best_per_candidate.values(), key=rank, reverse=True)
    pair = None
    if ensemble and len(ranked) >= 2:
        first, second = ranked[0], ranked[1]
        averaged = [(a + b) / 2 for a, b in zip(predictions[(first["candidate"], first["setting"])],
                                                 predictions[(second["candidate"], second["setting"])])]  # fmt: skip
        pair = {"candidate": ENSEMBLE, "setting": f"{first['candidate']} + {second['candidate']}",
                **_summary(task, y, pairs, averaged), "seconds": first["seconds"] + second["seconds"]}  # fmt: skip
        rows.append(pair)
    best = pair if prefers_pair(ranked[0], pair, key) else ranked[0]
    if best is pair:
        members = [(r["candidate"], r["setting"]) for r in ranked[:2]]
        alone = ranked[0]
        why = (f"the average of the two best candidates ({pair['setting']}: held-out {{what}} {pair[key]:.4f} ± "
               f"{pair['cv_std']:.4f}; the best alone, {alone['candidate']}, {alone[key]:.4f}, is not more than "
               f"{100 * PAIR_MARGIN:g} point higher)")  # fmt: skip
    else:
        members = [(best["candidate"], best["setting"])]
        why = f"the highest mean held-out {{what}} ({best[key]:.4f} ± {best['cv_std']:.4f})"
        if pair is not None:
            why += f", over {100 * PAIR_MARGIN:g} point above the average of the two best ({pair[key]:.4f})"
    what = "accuracy" if task.is_classification else "R²"
    reason = why.format(what=what) + f"; {len(pairs)} split(s) of the {len(y)} labelled rows"
    if notes:
        reason += "; " + "; ".join(notes)
    for row in rows:
        row["chosen"] = row is best
        row.pop("tie_break")
    best_settings = {c: row["setting"] for c, row in best_per_candidate.items()}
    return Selection(rows, Choice(members, reason), notes, metric, best_settings)


def prefers_pair(best: dict[str, Any], pair: dict[str, Any] | None, key: str) -> bool:
    """The rule: the average of the two best candidates, unless the best alone scores more than
    ``PAIR_MARGIN`` higher in the cross-validation (then the best alone). Chosen on the label study's
    tables (docs/results/labels.md, "Which rule"): the average of two good models is rarely worse than
    either and often better, and it dulls the winner's curse of picking the top of noisy scores."""
    return pair is not None and best[key] - pair[key] <= PAIR_MARGIN


def fit_chosen(inputs: Inputs, y: np.ndarray, task: Task, members, settings: Settings) -> list[Any]:
    """Each member (candidate, setting) fitted on every labelled row."""
    return [CANDIDATES[c].fit_setting(inputs, y, task, settings, s) for c, s in members]


def predict_chosen(models: list[Any], inputs: Inputs) -> np.ndarray:
    """The members' probabilities (classes) or predictions (numbers), averaged."""
    outputs = [m.predict(inputs) for m in models]
    return outputs[0] if len(outputs) == 1 else sum(outputs) / len(outputs)
