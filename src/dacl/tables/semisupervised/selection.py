"""Choosing a model on the labelled rows only: cross-validation over the candidates, then a refit.

Every candidate (``dacl.tables.semisupervised.candidates``) is fitted on the training part of each split of
the labelled rows and predicts the held-out part; its settings (fine-tuning's lr and epochs) are scored
from the same run. The candidates are ranked by mean held-out accuracy (classes) or R² (numbers, i.e.
mean squared error), and the chosen model is the average of the best candidates' probabilities /
predictions (the two best, and a third within noise of the best: :func:`ensemble_members`), unless the
best alone scores more than ``PAIR_MARGIN`` (1 point) above that average in the same cross-validation
(:func:`prefers_pair`). Nothing outside the labelled rows is ever scored: no
test split can leak into the choice.

The splits (:func:`splits`): stratified k-fold for classes (k = min(folds, rarest class)), k-fold for
numbers; repeated 3 times with fewer than 300 labelled rows (held-out scores on a few rows are noisy,
and those fits are cheap); at most 3 folds from 1,000 labelled rows (every row is still held out once,
and the folds' fits see 2n rows in all instead of 4n); one stratified 80/20 split from 10,000 labelled
rows (the scores are then precise, and each fit is expensive). A class with one labelled row cannot be
held out: its row is in every training part and no held-out part (said in ``notes``). With no split
possible at all (every class has one row), the rule is label spreading on the DACL features where there
are unlabelled rows, else the probe (``FALLBACKS``).

Candidates that use the unlabelled rows (``Inputs.unlabelled``: label spreading, self-training;
``dacl.tables.semisupervised.transductive``) are scored on the same splits: a fold's held-out rows are
never among the rows they see. Self-training trains the best cheap candidate of the first repeat.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dacl.tables.semisupervised.candidates import (
    Inputs,
    OutOfTime,
    Settings,
    Task,
    deadline,
    default_setting,
    fine_tune_setting,
)
from dacl.tables.semisupervised.registry import CANDIDATES
from dacl.tables.semisupervised.transductive import SELF_TRAINABLE

__all__ = [
    "ENSEMBLE",
    "FALLBACKS",
    "MOST_MEMBERS",
    "PAIR_MARGIN",
    "Choice",
    "Selection",
    "ensemble_members",
    "fit_chosen",
    "predict_chosen",
    "prefers_pair",
    "select",
    "splits",
]

ENSEMBLE = "ensemble"
REPEAT_BELOW = 300  # labelled rows under which the k-fold split is repeated
REPEATS = 3
FEWER_FOLDS_FROM = 1_000  # labelled rows from which at most FEWER_FOLDS folds are cut
FEWER_FOLDS = 3
HOLDOUT_FROM = 10_000  # labelled rows from which one 80/20 split replaces k-fold
# the rule when no row can be held out: the first of these among the candidates that apply. Label spreading
# on the features where there are unlabelled rows: with one label a class on digits (13 rows, 3 draws) it
# scored 80.4% against the probe's 66.9% (docs/results/labels.md)
FALLBACKS = ("spread", "probe")
PAIR_MARGIN = 0.01  # the best candidate alone is chosen over the ensemble's average only when 1 point higher
MOST_MEMBERS = 3  # the ensemble averages the two best candidates and a third within noise of the best


@dataclass
class Choice:
    """The chosen model: one (candidate, setting) or the average of two or three."""

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
    skipped: dict[str, str] = field(default_factory=dict)  # candidates left out for time, and why


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
        k = int(min(folds if n < FEWER_FOLDS_FROM else min(folds, FEWER_FOLDS), counts[counts >= 2].min()))
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
    k = min(folds if n < FEWER_FOLDS_FROM else min(folds, FEWER_FOLDS), n // 2)
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


# the order in which the candidates are cross-validated: the cheap ones first, so that under a time limit
# the choice has the most candidates (ranks keep the order the user gave)
COST_ORDER = ("linear-raw", "probe", "knn", "spread-raw", "spread", "gbdt-raw", "gbdt-raw+features", "self-train",
              "fine-tune")
# successive halving: after the first of several repeats of the k-fold split, a candidate (or a setting of
# its grid) whose mean held-out score is below the second best's by more than this many points, and by
# more than twice its own standard error over the folds, is not fitted on the other repeats
HALVING_MARGIN = 0.02


def select(
    inputs: Inputs,
    y: np.ndarray,
    task: Task,
    candidates: tuple[str, ...],
    settings: Settings,
    *,
    folds: int = 5,
    ensemble: bool = True,
    time_limit: float | None = None,
    progress: bool = False,
    halving: bool = True,
) -> Selection:
    """Cross-validate every candidate on the labelled rows (``inputs``, ``y``) and choose (module doc).

    ``time_limit`` (seconds): the choice ends within it, keeping time to refit the best candidates; a
    candidate whose folds would not fit is left out (``Selection.skipped``). ``progress``: a bar over the
    fits (candidate, fold, elapsed, time left). ``halving``: where the split is repeated, candidates and
    settings far behind after the first repeat are not fitted again (``HALVING_MARGIN``)."""
    unknown = [c for c in candidates if c not in CANDIDATES]
    if unknown:
        raise ValueError(f"unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}.")
    if not candidates:
        raise ValueError("no candidate to choose from: name at least one of " + ", ".join(CANDIDATES) + ".")
    started = time.perf_counter()
    pairs, notes = splits(y, task, folds, settings.seed)
    metric = "accuracy" if task.is_classification else "r2"
    skipped: dict[str, str] = _not_applicable(candidates, inputs, task)
    if len(skipped) == len(candidates):
        raise ValueError("no candidate applies here: " + "; ".join(f"{c} {why}" for c, why in skipped.items())
                         + "; add candidates that need neither (probe, linear-raw, gbdt-raw, ...), or give unlabelled "
                         "rows (marked -1 or missing, or X_unlabeled=).")  # fmt: skip
    if not pairs:
        usable = [c for c in candidates if c not in skipped and c != "self-train"] or [candidates[0]]
        fallback = next((c for c in FALLBACKS if c in usable), usable[0])
        reason = f"{'; '.join(notes)}: the rule for this case, {fallback}"
        kept = [c for c in candidates if c not in skipped and c != "self-train"]
        rows = [{"candidate": c, "setting": default_setting(c, settings, len(y), task), "seconds": 0.0,
                 "chosen": c == fallback} for c in kept]  # fmt: skip
        best = {c: default_setting(c, settings, len(y), task) for c in kept}
        return Selection(rows, Choice([(fallback, best[fallback])], reason), notes, metric, best, skipped)
    key = "cv_accuracy" if task.is_classification else "cv_r2"
    rounds = _rounds(pairs, y, task, folds)
    order = sorted(candidates, key=lambda c: COST_ORDER.index(c) if c in COST_ORDER else len(COST_ORDER))
    grids = {c: settings for c in candidates}  # each candidate's settings still in the running
    predictions: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    seconds: dict[tuple[str, str], float] = {}
    split_seconds: dict[str, float] = {}  # each candidate's longest fit of one split
    cut: set[str] = set()  # candidates whose later repeats did not fit in the time
    dropped: dict[tuple[str, str], str] = {}
    deadline_at = None if time_limit is None else started + time_limit
    bar = _bar(progress, sum(len(r) for r in rounds) * len(order))
    fold_inputs: dict[int, Inputs] = {}  # each split's training rows, shared by its candidates' fits
    for number, round_pairs in enumerate(rounds):  # the repeats of the k-fold split (one where not repeated)
        for name in order:
            if name == "self-train" and number == 0 and name not in skipped:
                base = _self_train_base(predictions, pairs, y, task, candidates)
                if base is None:
                    skipped[name] = "left out: none of " + ", ".join(SELF_TRAINABLE) + " was cross-validated"
                else:
                    grids[name] = replace(grids[name], self_train_base=base)
            if name in skipped or name not in grids:
                bar.update(len(round_pairs))
                continue
            for index, (train, held) in round_pairs:
                bar.set_description(f"choice: {name}, fold {index % len(round_pairs) + 1}/{len(round_pairs)}"
                                    + (f", repeat {number + 1}/{len(rounds)}" if len(rounds) > 1 else ""))
                if name in skipped or name not in grids:
                    bar.update(1)
                    continue
                reserve = _refit_reserve(split_seconds, predictions, pairs, y, task)
                per_split = split_seconds.get(name)
                if per_split is None and name == "self-train":
                    per_split = _self_train_estimate(split_seconds, grids[name], len(train), inputs)
                late = _too_late(deadline_at, per_split, reserve)
                try:
                    if late:
                        raise OutOfTime(late)
                    begun = time.perf_counter()
                    if index not in fold_inputs:  # taken once a split (setdefault would copy the rows each time)
                        fold_inputs[index] = inputs.take(train)
                    seen = fold_inputs[index]
                    with deadline(None if deadline_at is None else deadline_at - reserve):
                        fitted = CANDIDATES[name].fit(seen, y[train], task, grids[name])
                    spent = time.perf_counter() - begun
                    if name in SELF_TRAINABLE:  # self-training of this split starts from its fit
                        CANDIDATES[name].remember(seen, y[train], grids[name], fitted)
                except OutOfTime as error:
                    if number == 0:  # not one whole k-fold: left out
                        skipped[name] = f"left out for time ({error}) after {time.perf_counter() - started:.0f} s"
                        for k in [k for k in predictions if k[0] == name]:
                            del predictions[k]
                    else:  # scored on the repeats done
                        cut.add(name)
                        grids.pop(name, None)
                    bar.update(1)
                    continue
                split_seconds[name] = max(split_seconds.get(name, 0.0), spent)
                held_out = inputs.take(held)  # once for every setting of the fit
                for setting, model in fitted.items():
                    predictions.setdefault((name, setting), {})[index] = model.predict(held_out)
                    seconds[(name, setting)] = seconds.get((name, setting), 0.0) + spent / len(fitted)
                bar.update(1)
        if halving and number == 0 and len(rounds) > 1:
            grids, dropped = _halve(grids, predictions, pairs, y, task, len(rounds))
    bar.close()
    fold_inputs.clear()
    scored = {k: v for k, v in predictions.items() if k[0] not in skipped}
    if not scored:
        raise OutOfTime(f"no candidate could be cross-validated in the {time_limit:.3g} s left to the choice")
    rows = []
    for (c, s), by_split in scored.items():
        used = sorted(by_split)
        row = {"candidate": c, "setting": s, **_summary(task, y, [pairs[i] for i in used], [by_split[i] for i in used]),
               "seconds": seconds[(c, s)], "splits": len(used)}  # fmt: skip
        if (c, s) in dropped:
            row["note"] = dropped[(c, s)]
        rows.append(row)
    rank_order = {c: i for i, c in enumerate(candidates)}

    def rank(row: dict[str, Any]) -> tuple:
        return (row[key], row["tie_break"], -rank_order.get(row["candidate"], len(rank_order)))

    contenders = [r for r in rows if (r["candidate"], r["setting"]) not in dropped]
    best_per_candidate = {}
    for row in sorted(contenders, key=rank, reverse=True) + sorted(rows, key=rank, reverse=True):
        best_per_candidate.setdefault(row["candidate"], row)
    ranked = sorted((r for r in best_per_candidate.values() if (r["candidate"], r["setting"]) not in dropped),
                    key=rank, reverse=True)  # fmt: skip
    pair = None
    if ensemble and len(ranked) >= 2:
        group = ensemble_members(ranked, key, len(rounds[0]))
        outputs = [scored[(r["candidate"], r["setting"])] for r in group]
        common = sorted(set.intersection(*(set(o) for o in outputs)))
        averaged = [sum(o[i] for o in outputs) / len(outputs) for i in common]
        pair = {"candidate": ENSEMBLE, "setting": " + ".join(r["candidate"] for r in group),
                **_summary(task, y, [pairs[i] for i in common], averaged),
                "seconds": sum(r["seconds"] for r in group), "splits": len(common)}  # fmt: skip
        rows.append(pair)
    best = pair if prefers_pair(ranked[0], pair, key) else ranked[0]
    if best is pair:
        members = [(r["candidate"], r["setting"]) for r in group]
        alone = ranked[0]
        why = (f"the average of the {len(group)} best candidates ({pair['setting']}: held-out {{what}} {pair[key]:.4f} "
               f"± {pair['cv_std']:.4f}; the best alone, {alone['candidate']}, {alone[key]:.4f}, is not more than "
               f"{100 * PAIR_MARGIN:g} point higher)")  # fmt: skip
    else:
        members = [(best["candidate"], best["setting"])]
        why = f"the highest mean held-out {{what}} ({best[key]:.4f} ± {best['cv_std']:.4f})"
        if pair is not None:
            why += f", over {100 * PAIR_MARGIN:g} point above the average of the best ({pair[key]:.4f})"
    what = "accuracy" if task.is_classification else "R²"
    reason = why.format(what=what) + f"; {len(pairs)} split(s) of the {len(y)} labelled rows"
    if dropped:
        reason += f"; {len(dropped)} setting(s) not fitted after the first repeat (far behind)"
    if cut:
        reason += f"; {', '.join(sorted(cut))} scored on fewer repeats (time)"
    if skipped:
        reason += "; " + "; ".join(f"{c} {why}" for c, why in skipped.items())
    if notes:
        reason += "; " + "; ".join(notes)
    for row in rows:
        row["chosen"] = row is best
        row.pop("tie_break")
    best_settings = {c: row["setting"] for c, row in best_per_candidate.items()}
    return Selection(rows, Choice(members, reason), notes, metric, best_settings, skipped)


def _not_applicable(candidates: tuple[str, ...], inputs: Inputs, task: Task) -> dict[str, str]:
    """The candidates that cannot be fitted on these inputs, and why: those that use unlabelled rows where
    there are none, self-training (classes only) on numbers."""
    out = {}
    for name in candidates:
        candidate = CANDIDATES[name]
        if candidate.uses_unlabelled and (inputs.unlabelled is None or len(inputs.unlabelled) == 0):
            out[name] = "left out: no unlabelled rows"
        elif candidate.classification_only and not task.is_classification:
            out[name] = "left out: it needs class probabilities (classes only)"
    return out


def _self_train_base(predictions, pairs, y: np.ndarray, task: Task, candidates: tuple[str, ...]
                     ) -> tuple[str, str] | None:  # fmt: skip
    """The (candidate, setting) that self-training trains: of the cheap candidates (``SELF_TRAINABLE``)
    cross-validated so far, the highest mean held-out score (ties: the order the user gave)."""
    best, best_key = None, None
    for (c, s), by_split in predictions.items():
        if c not in SELF_TRAINABLE:
            continue
        score = float(np.mean([_score(task, y[pairs[i][1]], p)[0] for i, p in sorted(by_split.items())]))
        key = (score, -candidates.index(c))
        if best_key is None or key > best_key:
            best, best_key = (c, s), key
    return best


def _rounds(pairs, y: np.ndarray, task: Task, folds: int) -> list[list[tuple[int, tuple[np.ndarray, ...]]]]:
    """The splits grouped by repeat of the k-fold split (one group where it is not repeated), indexed."""
    indexed = list(enumerate(pairs))
    repeats = REPEATS if len(pairs) > 1 and len(y) < REPEAT_BELOW and len(pairs) % REPEATS == 0 else 1
    size = len(pairs) // repeats
    return [indexed[r * size : (r + 1) * size] for r in range(repeats)]


def _halve(grids, predictions, pairs, y, task, settings_count) -> tuple[dict, dict]:
    """After the first repeat: a candidate whose every setting is far behind the second-best candidate
    (``HALVING_MARGIN``, and twice the setting's standard error over the folds) is not fitted again, nor a
    learning rate of fine-tuning whose every epoch count is. Returns the narrowed grids and the settings
    left behind, each with why."""
    means, errors = {}, {}
    variance = float(np.var(y)) or 1.0
    for k, by_split in predictions.items():
        scores = [_score(task, y[pairs[i][1]], p)[0] for i, p in sorted(by_split.items())]
        if not task.is_classification:  # minus the MSE, as R²
            scores = [1 + s / variance for s in scores]
        means[k], errors[k] = float(np.mean(scores)), float(np.std(scores) / np.sqrt(len(scores)))
    best_of: dict[str, float] = {}
    for (c, _), m in means.items():
        best_of[c] = max(best_of.get(c, -np.inf), m)
    if len(best_of) < 3:
        return grids, {}
    line = sorted(best_of.values(), reverse=True)[1]
    behind = {k for k, m in means.items() if m < line - max(HALVING_MARGIN, 2 * errors[k])}
    narrowed, dropped = dict(grids), set()
    for c in grids:
        mine = [k for k in means if k[0] == c]
        if mine and all(k in behind for k in mine):
            del narrowed[c]
            dropped.update(mine)
        elif c == "fine-tune" and mine:
            lrs = {fine_tune_setting(s)[0] for (_, s) in mine if (c, s) not in behind}
            narrowed[c] = replace(grids[c], fine_tune_lrs=tuple(lr for lr in grids[c].fine_tune_lrs if lr in lrs))
            dropped.update(k for k in mine if fine_tune_setting(k[1])[0] not in lrs)
    note = "far behind after the first of {} repeats ({:.1f} against the second best's {:.1f})"
    return narrowed, {k: note.format(settings_count, 100 * means[k], 100 * line) for k in dropped}


def _refit_reserve(split_seconds, predictions, pairs, y, task) -> float:
    """Seconds kept for refitting the chosen model on every labelled row: 1.3 x the longest split fit of
    the two candidates ahead so far (a refit sees 1/(k-1) more rows than a fold's fit)."""
    if not split_seconds:
        return 0.0
    means = {}
    for (c, _), by_split in predictions.items():
        mean = float(np.mean([_score(task, y[pairs[i][1]], p)[0] for i, p in by_split.items()]))
        means[c] = max(means.get(c, -np.inf), mean)
    ahead = sorted(means, key=means.get, reverse=True)[:2]
    return 1.3 * sum(split_seconds.get(c, 0.0) for c in ahead)


def _self_train_estimate(split_seconds: dict[str, float], settings: Settings, labelled: int, inputs: Inputs
                         ) -> float | None:  # fmt: skip
    """Seconds a first fold of ``self-train`` may take, before one was timed: its base's fit on the fold
    (timed already; reused where the base was fitted on the same split), then ``self_train_rounds`` refits
    on up to ``self_train_rows`` unlabelled rows beside the labelled ones, each taken to cost in proportion
    to its rows (an upper bound for the trees and linear models, whose fixed costs do not grow). Without it
    a time limit was overrun by the one fold it could not stop."""
    base = settings.self_train_base
    if base is None or base[0] not in split_seconds:
        return None
    pool = 0 if inputs.unlabelled is None else len(inputs.unlabelled)
    pool = pool if settings.self_train_rows is None else min(pool, settings.self_train_rows)
    grown = (labelled + pool) / max(labelled, 1)
    return split_seconds[base[0]] * (1 + settings.self_train_rounds * grown)


def _too_late(deadline_at: float | None, per_split: float | None, reserve: float) -> str:
    """Why a fit of one split should not start: it would end past the deadline less the refit's reserve."""
    if deadline_at is None:
        return ""
    left = deadline_at - reserve - time.perf_counter()
    if left <= 0:
        return "no time left"
    if per_split is not None and per_split > left:
        return f"a fold takes {per_split:.1f} s, {left:.1f} s left"
    return ""


def _bar(enabled: bool, total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="fit", leave=False, desc="choice")


def ensemble_members(ranked: list[dict[str, Any]], key: str, folds: int) -> list[dict[str, Any]]:
    """The candidates the ensemble averages (``ranked``: each candidate's best setting, best first): the two
    best, and up to ``MOST_MEMBERS`` of those whose mean held-out score is within ``PAIR_MARGIN`` or one
    standard error of the best's (its standard deviation over the splits / √folds) below it. With tens of
    labelled rows that error is several points, the candidates within it cannot be told apart, and which
    of them leads turns on numerical noise (the same fit on 1 and 2 threads); their average changes little
    when one of them moves (docs/results/labels.md, "A choice that does not flip")."""
    best = ranked[0]
    within = max(PAIR_MARGIN, float(best.get("cv_std", 0.0)) / np.sqrt(max(folds, 1)))
    close = [r for r in ranked[2:MOST_MEMBERS] if best[key] - r[key] <= within]
    return ranked[:2] + close


def prefers_pair(best: dict[str, Any], pair: dict[str, Any] | None, key: str) -> bool:
    """The rule: the ensemble's average (:func:`ensemble_members`), unless the best alone scores more than
    ``PAIR_MARGIN`` higher in the cross-validation (then the best alone). Chosen on the label study's
    tables (docs/results/labels.md, "Which rule"): the average of good models is rarely worse than
    each and often better, and it dulls the winner's curse of picking the top of noisy scores."""
    return pair is not None and best[key] - pair[key] <= PAIR_MARGIN


def fit_chosen(inputs: Inputs, y: np.ndarray, task: Task, members, settings: Settings) -> list[Any]:
    """Each member (candidate, setting) fitted on every labelled row."""
    return [CANDIDATES[c].fit_setting(inputs, y, task, settings, s) for c, s in members]


def predict_chosen(models: list[Any], inputs: Inputs) -> np.ndarray:
    """The members' probabilities (classes) or predictions (numbers), averaged."""
    outputs = [m.predict(inputs) for m in models]
    return outputs[0] if len(outputs) == 1 else sum(outputs) / len(outputs)
