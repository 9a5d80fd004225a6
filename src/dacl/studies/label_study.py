"""The label study on any table: what ``DACLClassifier`` / ``DACLRegressor`` and each model they choose
between score with 1%, 10%, 100% of the labels, on a test split that none of them sees.

Per dataset, each method's encoder (DACL+ by default) is pretrained once on the whole training split
without labels, as the estimators pretrain on every row. Then, per label fraction and draw, a subset
of the training rows keeps its labels (stratified; for numbers by decile; ``label_subset``) and:

1. the estimator's choice is made on those rows only (``dacl.tables.semisupervised.selection.select``), and
   fixed before any test row is scored;
2. every candidate, at its best cross-validated setting, is refitted on the labelled rows and scored
   on the test split; the estimator's score is its chosen model's (one candidate, or the average of
   the best two or three);
3. the *regret* is the best candidate's test score in hindsight minus the estimator's.

Every cell is stored as one JSON file under ``out/runs`` and every encoder as a checkpoint under
``out/encoders``, so a stopped study started again skips what is done. ``dacl reproduce labels`` is
this study on registered datasets; ``dacl compare --fractions`` on a user's file.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from dacl.config import PretrainConfig
from dacl.core.runtime import resolve_precision
from dacl.data.dataset import Dataset
from dacl.data.subsets import label_subset
from dacl.files import write_atomic
from dacl.methods import mixes_blocks
from dacl.studies.baselines import BASELINES, SELF_TRAINING_UNLABELLED, baseline_names, fit_baseline
from dacl.studies.experiment import prepare_features
from dacl.studies.runs import experiment_options, run_key, stored_options, stored_run
from dacl.tables import encode, pretrain
from dacl.tables.encoder_cache import cache_folder, pretrain_cached
from dacl.tables.semisupervised.candidates import (
    CLASSIFICATION,
    REGRESSION,
    Inputs,
    Projection,
    Settings,
    Task,
)
from dacl.tables.semisupervised.estimators import capped_pretraining
from dacl.tables.semisupervised.options import MAX_STEPS, PRETRAINING_DEFAULTS, PRETRAINING_SHARE
from dacl.tables.semisupervised.registry import CANDIDATES
from dacl.tables.semisupervised.selection import ENSEMBLE, MOST_MEMBERS, prefers_pair, select
from dacl.tables.semisupervised.transductive import unlabelled_pool

__all__ = [
    "STUDY_BUDGETS",
    "StudyBudget",
    "check_pretraining",
    "label_study",
    "recommendations",
    "run_study",
    "study_cell",
    "study_markdown",
    "summarise",
    "write_study",
]

RAW_CANDIDATES = tuple(name for name, c in CANDIDATES.items() if not c.uses_encoder)
TREES = {CLASSIFICATION: "gbdt-raw", REGRESSION: "gbdt-raw"}
LINEAR = "linear-raw"
# what a data scientist fits without dacl: the trees and the linear model on the raw columns (at the settings
# the choice's cross-validation gives them), scikit-learn's self-training and label spreading
BASELINE_MODELS = ("gbdt-raw", "linear-raw", *BASELINES)


@dataclass(frozen=True)
class StudyBudget:
    """``pretraining``: options of ``dacl.PretrainConfig`` (epochs lowered to ``max_steps``);
    ``settings``: the candidates' (``dacl.tables.semisupervised.candidates.Settings``); ``draws`` label draws
    per fraction below 1; ``max_train`` caps the training rows (smoke tests)."""

    pretraining: dict[str, Any]
    draws: int
    max_steps: int | None = MAX_STEPS
    settings: dict[str, Any] = field(default_factory=dict)
    folds: int = 5
    max_train: int | None = None


STUDY_BUDGETS = {
    # the estimators' defaults: what a user gets from DACLClassifier() / DACLRegressor()
    "small": StudyBudget(pretraining=PRETRAINING_DEFAULTS, draws=3),
    # the same with one label draw: screening many variants (its cells are small's first draw, reused)
    "screen": StudyBudget(pretraining=PRETRAINING_DEFAULTS, draws=1),
    "smoke": StudyBudget(pretraining={"depth": 2, "width": 32, "batch_size": 128, "epochs": 2, "warmup_epochs": 0.0},
                         draws=2, max_steps=None, max_train=600,
                         settings={"fine_tune_lrs": (1e-3,), "fine_tune_epochs": (2,), "gbdt_max_iter": 5}),
}  # fmt: skip


def _metrics(task: Task, y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy (classes); R² and RMSE (numbers), on the test split."""
    if task.is_classification:
        return {"score": float((predicted.argmax(1) == y).mean())}
    mse = float(((predicted - y) ** 2).mean())
    return {"score": float(1 - mse / float(np.var(y))), "rmse": float(np.sqrt(mse))}


def study_cell(
    train: Inputs,
    y: np.ndarray,
    rows: np.ndarray,
    test: Inputs,
    y_test: np.ndarray,
    task: Task,
    settings: Settings,
    candidates: tuple[str, ...] = tuple(CANDIDATES),
    folds: int = 5,
    time_limit: float | None = None,
    progress: bool = False,
    outputs: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """One label draw: the choice on the labelled ``rows`` only (within ``time_limit`` seconds, as the
    estimators'), then every candidate and the choice on the test split (module doc). Returns the choice,
    the cross-validation table and the test scores; ``outputs``, where given, receives each candidate's test
    probabilities or predictions (for studying rules afterwards)."""
    started = time.perf_counter()
    pool = unlabelled_pool(np.setdiff1d(np.arange(len(y)), rows), settings.seed, settings.unlabelled_rows)
    labelled = dataclasses.replace(train.take(rows), unlabelled=train.take(pool) if len(pool) else None)
    y_labelled = y[rows]
    selection = select(labelled, y_labelled, task, candidates, settings, folds=folds, time_limit=time_limit,
                       progress=progress)  # fmt: skip
    chosen = selection.choice.to_dict()  # fixed here: nothing below changes it
    fitted, test_outputs, seconds = {}, {}, {}
    for name in (c for c in candidates if c not in selection.skipped):
        begun = time.perf_counter()
        fitted[name] = CANDIDATES[name].fit_setting(labelled, y_labelled, task, settings, selection.best[name])
        test_outputs[name] = fitted[name].predict(test)
        seconds[name] = time.perf_counter() - begun
    scores = {name: {**_metrics(task, y_test, out), "setting": selection.best[name], "seconds": seconds[name]}
              for name, out in test_outputs.items()}  # fmt: skip
    if outputs is not None:
        outputs.update(test_outputs)
    ensemble = [r for r in selection.rows if r["candidate"] == ENSEMBLE]
    if ensemble:
        members = ensemble[0]["setting"].split(" + ")  # "gbdt-raw + gbdt-raw+features + probe": the names
        scores[ENSEMBLE] = {**_metrics(task, y_test, sum(test_outputs[m] for m in members) / len(members)),
                            "setting": ensemble[0]["setting"]}  # fmt: skip
    members = [m["candidate"] for m in chosen["members"]]
    model = _metrics(task, y_test, sum(test_outputs[m] for m in members) / len(members))
    cv_key = "cv_accuracy" if task.is_classification else "cv_r2"
    if selection.skipped:
        chosen["skipped"] = dict(selection.skipped)
    return {"chosen": chosen, "model": model, "candidates": scores, "notes": selection.notes,
            "selection": [{k: v for k, v in r.items() if k in ("candidate", "setting", cv_key, "cv_std", "chosen")}
                          for r in selection.rows],
            "seconds": time.perf_counter() - started}  # fmt: skip


def estimator_outcome(record: dict[str, Any], task: Task) -> tuple[dict[str, float], str]:
    """The estimator's test score and choice in a stored cell, by the rule of this version
    (``dacl.tables.semisupervised.selection.prefers_pair``) applied to the cell's cross-validation table: a
    cell stores every candidate's and the pair's test score, so a rule changed later is scored on the
    same cells without computing them again."""
    key = "cv_accuracy" if task.is_classification else "cv_r2"
    pair = next((r for r in record["selection"] if r["candidate"] == ENSEMBLE), None)
    if pair is None or ENSEMBLE not in record["candidates"]:
        return record["model"], record["chosen"]["model"]
    first = pair["setting"].split(" + ")[0]  # the best alone, as ranked when the cell was computed
    best = max((r for r in record["selection"] if r["candidate"] == first), key=lambda r: r[key])
    if prefers_pair(best, pair, key):
        return {k: v for k, v in record["candidates"][ENSEMBLE].items() if k != "setting"}, ENSEMBLE
    return {k: v for k, v in record["candidates"][first].items() if k not in ("setting", "seconds")}, first


def _estimator_name(task: Task) -> str:
    return "DACLClassifier" if task.is_classification else "DACLRegressor"


def label_study(
    dataset: Dataset,
    fractions: tuple[float, ...],
    out: str | Path,
    *,
    budget: str = "small",
    methods: tuple[str, ...] = ("dacl+",),
    candidates: tuple[str, ...] = tuple(CANDIDATES),
    block_mixing: bool = False,
    pretraining: dict[str, Any] | None = None,
    progress: bool = False,
    log=print,
    time_limit: float | None = None,
    baselines: bool = True,
) -> dict[str, Any]:
    """The study on one dataset (module doc); returns its cells, and writes nothing but the cells and
    encoders (``write_study`` writes the tables and the plot). ``block_mixing``: the mixup methods mix
    each categorical column's one-hot block as one unit (``DACLClassifier(one_hot_mixing="blocks")``).
    ``pretraining``: options of :class:`dacl.PretrainConfig` over the budget's (``numeric_embedding``,
    ``mixup_partners``, ...): the encoder variants of docs/results/tabular_encoders.md. ``time_limit``:
    every cell is what ``DACLClassifier(time_limit=...)`` does on its labels (the encoder pretrained in
    at most ``PRETRAINING_SHARE`` of it, each cell's choice in what it leaves). ``baselines``: scikit-learn's
    semi-supervised models on every draw too (:func:`baseline_scores`)."""
    if budget not in STUDY_BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; choose one of {', '.join(STUDY_BUDGETS)}.")
    overrides = check_pretraining(pretraining)
    if not fractions or any(not 0 < f <= 1 for f in fractions) or len(set(fractions)) != len(fractions):
        raise ValueError(f"label fractions must be distinct numbers in (0, 1], got {list(fractions)}.")
    plan = STUDY_BUDGETS[budget]
    out = Path(out)
    regression = dataset.is_regression
    if plan.max_train and len(dataset.y_train) > plan.max_train:
        keep = label_subset(dataset.y_train, plan.max_train / len(dataset.y_train), draw=0, regression=regression)
        dataset = dataclasses.replace(dataset, X_train=_rows(dataset.X_train, keep), y_train=dataset.y_train[keep])
    # a file's cells and encoder are keyed on its data: another file of the same name never reuses them (a
    # registered dataset's name is its data: downloaded and checked against published checksums)
    data_key = dataset.digest()[:16] if dataset.info.get("user_file") else None
    features = prepare_features(dataset)
    X, y, X_test, y_test = features.X_train, features.y_train, features.X_test, features.y_test
    task = Task(REGRESSION) if regression else Task(CLASSIFICATION, len(features.classes))
    settings = Settings(**plan.settings)
    cells = []
    for index, method in enumerate(methods):
        begun = time.perf_counter()
        encoder, config, blocks = study_encoder(dataset.name, features, out, budget=budget, method=method,
                                                pretraining=overrides, block_mixing=block_mixing,
                                                progress=progress, time_limit=time_limit,
                                                data_key=data_key)  # fmt: skip
        choice_limit = None if time_limit is None else max(1e-3, time_limit - (time.perf_counter() - begun))
        precision = config.precision  # the features as the estimator computes them (bf16 on AMX)
        train_features, test_features = (
            encode(encoder, X, precision=precision),
            encode(encoder, X_test, precision=precision),
        )
        projection = Projection.fit(train_features, seed=settings.seed)
        train = Inputs(X, train_features, encoder, projection, precision)
        test = Inputs(X_test, test_features, encoder, projection, precision)
        suffix = "" if index == 0 else f" ({method}{' blocks' if blocks is not None else ''})"
        for fraction in fractions:
            # with every label, every draw labels the same rows: one draw
            for draw in range(plan.draws if fraction < 1 else 1):
                rows = label_subset(y, fraction, draw, regression=regression)
                spec = {"dataset": dataset.name, "fraction": fraction, "draw": draw, "labelled": len(rows),
                        "task": task.kind, "pretraining": stored_options(config), "candidates": list(candidates),
                        "settings": dataclasses.asdict(settings), "folds": plan.folds,
                        "features": resolve_precision(precision, "cpu")}  # fmt: skip
                if blocks is not None:
                    spec["mixing"] = "one-hot blocks as units"
                if regression:  # cells of the fixed penalty (alpha=1), stored before, are not taken for these
                    spec["ridge_alpha"] = "leave-one-out"
                spec["ensemble"] = f"up to {MOST_MEMBERS} within one standard error"  # the rule (issue 44)
                if time_limit is not None:
                    spec["time_limit"] = time_limit
                if data_key is not None:
                    spec["data"] = data_key
                name = study_run_name(dataset.name, method, blocks)
                outputs: dict[str, np.ndarray] = {}
                compute = partial(study_cell, train, y, rows, test, y_test, task, settings, candidates, plan.folds,
                                  choice_limit, progress, outputs)  # fmt: skip
                record = stored_run(out, name, spec, partial(_with_spec, spec, compute))
                if outputs:  # computed now: the test outputs beside the cell, for studies of the rule (not in git)
                    _save_outputs(Path(out) / "outputs" / f"{name}-{run_key(spec)}.npz", outputs, y_test)
                base = {"dataset": dataset.name, "task": task.kind, "fraction": fraction, "draw": draw,
                        "labelled": len(rows), "method": method, "test_rows": len(y_test)}  # fmt: skip
                for name, score in record["candidates"].items():
                    if index > 0 and name in RAW_CANDIDATES:
                        continue  # the raw columns' models do not depend on the encoder
                    cells.append({**base, "model": name + ("" if name in RAW_CANDIDATES else suffix), **score})
                model, chosen = estimator_outcome(record, task)
                cells.append({**base, "model": _estimator_name(task) + suffix, **model, "chosen": chosen,
                              "notes": record["notes"], "selection": record["selection"]})  # fmt: skip
                if index == 0 and baselines:  # they do not depend on the encoder: once per label draw
                    scores = baseline_scores(out, dataset.name, X, y, rows, X_test, y_test, task, fraction, draw,
                                             settings.seed, data_key)  # fmt: skip
                    cells += [{**base, "model": name, **score} for name, score in scores.items()]
            log(f"{dataset.name} ({method}), {fraction:g} of the labels: done")
    return {"cells": cells, "task": task.kind, "fractions": list(fractions), "budget": budget}


def baseline_scores(out, name: str, X: np.ndarray, y: np.ndarray, rows: np.ndarray, X_test: np.ndarray,
                    y_test: np.ndarray, task: Task, fraction: float, draw: int, seed: int = 0,
                    data_key: str | None = None) -> dict[str, dict[str, float]]:  # fmt: skip
    """Each semi-supervised baseline of ``dacl.studies.baselines`` (scikit-learn's self-training and label
    spreading as a user fits them) on one label draw: its test score and seconds, stored under
    ``out/runs/NAME-baselines-KEY.json`` (keyed by the draw, not by the encoder or the candidates)."""
    names = baseline_names(task)
    spec = {"dataset": name, "fraction": fraction, "draw": draw, "labelled": len(rows), "task": task.kind,
            "baselines": list(names), "seed": seed, "rows": len(y), "columns": int(X.shape[1]),
            "self_training_unlabelled": SELF_TRAINING_UNLABELLED}  # fmt: skip
    if data_key is not None:
        spec["data"] = data_key

    def compute() -> dict[str, Any]:
        scores = {}
        for baseline in names:
            predicted, seconds = fit_baseline(baseline, X, y, rows, X_test, task, seed)
            scores[baseline] = {**_metrics(task, y_test, predicted), "seconds": seconds}
        return {"spec": spec, "scores": scores}

    return stored_run(out, f"{name}-baselines", spec, compute)["scores"]


def study_encoder(
    name: str,
    features: Any,
    out: str | Path,
    *,
    budget: str = "small",
    method: str = "dacl+",
    pretraining: dict[str, Any] | None = None,
    block_mixing: bool = False,
    progress: bool = False,
    time_limit: float | None = None,
    data_key: str | None = None,
) -> tuple[Any, PretrainConfig, Any]:
    """The study's encoder of ``method`` on dataset ``name``'s prepared ``features``: its configuration
    (the budget's pretraining, ``pretraining`` over it, capped to the budget's steps), pretrained into
    ``out/encoders/NAME-METHOD[-blocks]-KEY`` or resumed from there (a stored one is loaded). Returns
    (encoder, configuration, the one-hot blocks mixed as units or None). ``time_limit``: the pretraining
    of an estimator fitted within it (``PRETRAINING_SHARE`` of it), in a folder of its own. ``data_key``: a
    digest of a file's data, in the folder's name (another file of the same name pretrains its own)."""
    plan = STUDY_BUDGETS[budget]
    values = {**plan.pretraining, **(pretraining or {}), "method": method}
    config = PretrainConfig.from_dict(capped_pretraining(values, len(features.y_train), plan.max_steps))
    blocks = features.blocks if block_mixing and mixes_blocks(config) else None
    key = run_key(experiment_options(config))
    limit = None if time_limit is None else PRETRAINING_SHARE * time_limit
    suffix = ("" if limit is None else f"-t{limit:g}") + ("" if data_key is None else f"-d{data_key}")
    folder = Path(out) / "encoders" / f"{study_run_name(name, method, blocks)}-{key}{suffix}"
    cache = cache_folder(True)  # the encoder cache (dacl.tables.encoder_cache), as every fit's, where it is on
    if cache is not None and limit is None and not folder.exists():
        result, _ = pretrain_cached(cache, features.X_train, config, blocks=blocks, categories=features.blocks,
                                    progress=progress)  # fmt: skip
        return result.encoder, config, blocks
    encoder = pretrain(features.X_train, config, checkpoint_dir=folder, resume=True, progress=progress, blocks=blocks,
                       categories=features.blocks, time_limit=limit).encoder  # fmt: skip
    return encoder, config, blocks


def study_run_name(name: str, method: str, blocks: Any) -> str:
    """The prefix of a study's stored cells and of its encoder's folder: NAME-METHOD, and ``-blocks``
    where the one-hot blocks are mixed as units."""
    return f"{name}-{method}{'-blocks' if blocks is not None else ''}"


def _rows(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _save_outputs(path: Path, outputs: dict[str, np.ndarray], y_test: np.ndarray) -> None:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, y_test=y_test, **{k: v.astype(np.float32) for k, v in outputs.items()})
    write_atomic(path, buffer.getvalue())


def _with_spec(spec: dict[str, Any], compute) -> dict[str, Any]:
    return {"spec": spec, **compute()}


def check_pretraining(pretraining: dict[str, Any] | None) -> dict[str, Any]:
    """``pretraining`` options checked before any compute (unknown names and bad values raise); the
    method comes from ``methods`` and the seed from the study."""
    overrides = dict(pretraining or {})
    fixed = sorted({"method", "seed"} & set(overrides))
    if fixed:
        raise ValueError(
            f"the study sets {', '.join(fixed)} itself (methods=, the draws); leave it out of pretraining."
        )
    PretrainConfig.from_dict(overrides)
    return overrides


def summarise(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over draws per (dataset, fraction, model), with the regret of each estimator row:
    the best single candidate's mean in hindsight minus the estimator's mean (score points)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for c in cells:
        groups.setdefault((c["dataset"], c["fraction"], c["model"]), []).append(c)
    rows = []
    for (dataset, fraction, model), members in groups.items():
        scores = np.array([m["score"] for m in members])
        row = {"dataset": dataset, "task": members[0]["task"], "fraction": fraction, "model": model,
               "score": float(scores.mean()), "std": float(scores.std()), "draws": len(members),
               "labelled": int(np.mean([m["labelled"] for m in members]))}  # fmt: skip
        if "rmse" in members[0]:
            row["rmse"] = float(np.mean([m["rmse"] for m in members]))
        if "chosen" in members[0]:
            row["chosen"] = [m["chosen"] for m in members]
        if "test_rows" in members[0]:
            row["test_rows"] = members[0]["test_rows"]
        if all("seconds" in m for m in members):
            row["seconds"] = float(np.mean([m["seconds"] for m in members]))
        rows.append(row)
    for row in rows:
        if row["model"].startswith(("DACLClassifier", "DACLRegressor")):
            suffix = row["model"].partition(" ")[2]  # "(scarf)" for a second method's rows
            names = {c if c in RAW_CANDIDATES or not suffix else f"{c} {suffix}" for c in CANDIDATES}
            singles = [r for r in rows if (r["dataset"], r["fraction"]) == (row["dataset"], row["fraction"])
                       and r["model"] in names]  # fmt: skip
            best = max(singles, key=lambda r: r["score"])
            row["best_candidate"], row["regret"] = best["model"], best["score"] - row["score"]
            others = [r for r in rows if (r["dataset"], r["fraction"]) == (row["dataset"], row["fraction"])
                      and r["model"] in BASELINE_MODELS]  # fmt: skip
            if others:
                strongest = max(others, key=lambda r: r["score"])
                row["best_baseline"], row["vs_baselines"] = strongest["model"], row["score"] - strongest["score"]
    return rows


FEWEST_TEST_ROWS = 100  # below, one test row moves accuracy by over a point: no advice is given


def recommendations(rows: list[dict[str, Any]]) -> list[str]:
    """One plain sentence per (dataset, fraction): the estimator or the best of the baselines
    (``BASELINE_MODELS``), and by how much."""
    lines = []
    for row in rows:
        if row["model"] not in ("DACLClassifier", "DACLRegressor"):
            continue
        unit = "points" if row["task"] == CLASSIFICATION else "points of R²"
        what = f"{100 * row['fraction']:g}% of the labels ({row['labelled']} rows)"
        if "best_baseline" not in row:
            lines.append(f"{row['dataset']}: with {what} {row['model']} scores {100 * row['score']:.1f}.")
            continue
        gap, other = 100 * row["vs_baselines"], _baseline_text(row["best_baseline"])
        chosen = ", ".join(f"{n}x {m}" for m, n in _counts(row.get("chosen", [])))
        tested = row.get("test_rows")
        on = f" on {tested} test rows" if tested else ""
        if tested is not None and tested < FEWEST_TEST_ROWS:
            lines.append(f"{row['dataset']}: with {what} no advice: the test split has {tested} rows, too few to "
                         f"tell the models apart (the estimator {gap:+.1f} {unit} against {other}; one test row "
                         f"is {100 / tested:.1f} points); give a file with more labelled rows, or --test FILE.")
        elif gap >= 0:
            lines.append(f"{row['dataset']}: with {what} use {row['model']} ({gap:+.1f} {unit} over the best "
                         f"baseline, {other}{on}; it chose {chosen}).")  # fmt: skip
        else:
            lines.append(f"{row['dataset']}: with {what} use {other} ({row['model']} is {-gap:.1f} {unit} below "
                         f"it{on}; it chose {chosen}).")  # fmt: skip
    return lines


def _baseline_text(model: str) -> str:
    return {"gbdt-raw": "gradient-boosted trees on the raw columns",
            "linear-raw": "the linear model on the raw columns"}.get(model, f"scikit-learn's {model}")  # fmt: skip


def _counts(values: list[str]) -> list[tuple[str, int]]:
    return [(v, values.count(v)) for v in dict.fromkeys(values)]


def study_markdown(results: dict[str, Any], with_recommendations: bool = True) -> str:
    """Per dataset: rows the models, columns the label fractions (mean ± std over draws; R² and RMSE for
    numbers), then the estimator's regret and choices, then the recommendations."""
    parts = []
    fractions = results["fractions"]
    rows = results["rows"]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = {(r["model"], r["fraction"]): r for r in rows if r["dataset"] == name}
        regression = next(r for r in rows if r["dataset"] == name)["task"] == REGRESSION
        unit = "R² (%) / RMSE" if regression else "accuracy (%)"
        head = " | ".join(f"{100 * f:g}% labels" for f in fractions)
        lines = [f"### {name}", "", f"Test {unit}, mean ± std over label draws.", "",
                 f"| model | {head} |", "|---|" + "---:|" * len(fractions)]  # fmt: skip
        for model in dict.fromkeys(m for m, _ in mine):
            texts = []
            for f in fractions:
                r = mine.get((model, f))
                if r is None:
                    texts.append("")
                    continue
                text = f"{100 * r['score']:.1f}" + (f" ± {100 * r['std']:.1f}" if r["draws"] > 1 else "")
                texts.append(text + (f" / {r['rmse']:.4g}" if "rmse" in r else ""))
            bold = model.startswith(("DACLClassifier", "DACLRegressor"))
            lines.append(f"| {'**' + model + '**' if bold else model} | " + " | ".join(texts) + " |")
        for model in [
            m for m in dict.fromkeys(m for m, _ in mine) if m.startswith(("DACLClassifier", "DACLRegressor"))
        ]:
            regrets = [mine.get((model, f)) for f in fractions]
            lines.append(
                f"| regret of {model} (best candidate − it) | "
                + " | ".join("" if r is None else f"{100 * r['regret']:+.1f} ({r['best_candidate']})" for r in regrets)
                + " |"
            )
            if any(r is not None and "best_baseline" in r for r in regrets):
                lines.append(
                    f"| {model} − best baseline | "
                    + " | ".join("" if r is None or "best_baseline" not in r
                                 else f"{100 * r['vs_baselines']:+.1f} ({r['best_baseline']})" for r in regrets)
                    + " |"
                )  # fmt: skip
            lines.append(
                f"| {model} chose | "
                + " | ".join(
                    "" if r is None else ", ".join(f"{n}x {m}" for m, n in _counts(r["chosen"])) for r in regrets
                )
                + " |"
            )
        timed = [(m, f, mine[(m, f)]["seconds"]) for m in dict.fromkeys(m for m, _ in mine) if m in BASELINES
                 for f in fractions if (m, f) in mine and "seconds" in mine[(m, f)]]  # fmt: skip
        if timed:
            lines += ["", "Baselines' seconds to fit and predict (mean over draws): " + "; ".join(
                f"{m} at {100 * f:g}% {t:.1f} s" for m, f, t in timed) + "."]  # fmt: skip
        parts.append("\n".join(lines) + "\n")
    if with_recommendations:
        parts.append("\n".join(f"- {line}" for line in recommendations(rows)) + "\n")
    return "\n".join(parts)


def write_study(results: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """results.json, labels.md and labels.png in ``out``."""
    out = Path(out)
    paths = {"json": out / "results.json", "markdown": out / "labels.md", "plot": out / "labels.png"}
    write_atomic(paths["json"], json.dumps(results, indent=2).encode())
    write_atomic(paths["markdown"], study_markdown(results).encode())
    _plot(results, paths["plot"])
    return paths


def _plot(results: dict[str, Any], path: Path) -> None:
    """Test score against the label fraction, one panel per dataset, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        mine = [r for r in rows if r["dataset"] == name]
        for model in dict.fromkeys(r["model"] for r in mine):
            line = sorted((r for r in mine if r["model"] == model), key=lambda r: r["fraction"])
            estimator = model.startswith(("DACLClassifier", "DACLRegressor"))
            ax.errorbar([r["fraction"] for r in line], [100 * r["score"] for r in line],
                        yerr=[100 * r["std"] for r in line], capsize=3, marker="o", color=colours[model],
                        linewidth=3 if estimator else 1.2, linestyle="-" if estimator or model in CANDIDATES else ":",
                        label=model, zorder=3 if estimator else 2)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("share of the training labels")
        ax.set_ylabel(("test R² (%)" if mine[0]["task"] == REGRESSION else "test accuracy (%)") + ", mean ± std")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_study(
    datasets: list[Dataset],
    fractions: tuple[float, ...],
    out: str | Path,
    *,
    budget: str = "small",
    methods: tuple[str, ...] = ("dacl+",),
    candidates: tuple[str, ...] = tuple(CANDIDATES),
    block_mixing: bool = False,
    pretraining: dict[str, Any] | None = None,
    progress: bool = False,
    log=print,
    time_limit: float | None = None,
    baselines: bool = True,
) -> dict[str, Any]:
    """:func:`label_study` on each dataset, then results.json, labels.md and labels.png in ``out``."""
    started = time.perf_counter()
    check_pretraining(pretraining)
    cells: list[dict[str, Any]] = []
    for dataset in datasets:
        cells += label_study(dataset, fractions, out, budget=budget, methods=methods, candidates=candidates,
                             block_mixing=block_mixing, pretraining=pretraining, progress=progress,
                             log=log, time_limit=time_limit, baselines=baselines)["cells"]  # fmt: skip
    results = {"cells": cells, "rows": summarise(cells), "fractions": list(fractions), "budget": budget,
               "budget_detail": dataclasses.asdict(STUDY_BUDGETS[budget]), "methods": list(methods),
               "pretraining": dict(pretraining or {}), "seconds": time.perf_counter() - started}  # fmt: skip
    write_study(results, out)
    return results


def few_labels_demo(fraction: float = 0.05, seed: int = 0, **params: Any) -> dict[str, Any]:
    """The demo's few-label row: scikit-learn's digits with ``fraction`` of the training labels (the rest
    marked -1), ``DACLClassifier()`` at its defaults against the trees and logistic regression fitted on
    the same labelled rows (the study's ``gbdt-raw`` and ``linear-raw``) and scikit-learn's self-training
    and label spreading on every training row (``dacl.studies.baselines``), all scored on the test split;
    ``params`` go to the classifier (``epochs=2``: a quick look)."""
    from dacl.tables.files import load_digits_dataset
    from dacl.tables.semisupervised import DACLClassifier

    data = load_digits_dataset()
    rows = label_subset(data.y_train, fraction, draw=seed)
    marked = np.full(len(data.y_train), -1)
    marked[rows] = data.y_train[rows]
    started = time.perf_counter()
    model = DACLClassifier(random_state=seed, **params).fit(data.X_train, marked)
    seconds = time.perf_counter() - started
    row = {"labelled": len(rows), "unlabelled": len(data.y_train) - len(rows), "fraction": fraction,
           "DACLClassifier": model.score(data.X_test, data.y_test), "chosen": model.chosen_["model"],
           "seconds": seconds}  # fmt: skip
    scaled = model.dacl_.preprocessed  # the same preprocessing as the classifier's raw columns
    train = Inputs(scaled(data.X_train[rows]), np.zeros((len(rows), 0), np.float32))
    test = Inputs(scaled(data.X_test), np.zeros((len(data.y_test), 0), np.float32))
    # the baselines at scikit-learn's defaults, as a user fits them (logistic regression's C = 1)
    task, settings = Task(CLASSIFICATION, 10), Settings(seed=seed, logistic_cs=(1.0,))
    for name, candidate in (("gradient-boosted trees", "gbdt-raw"), ("logistic regression", "linear-raw")):
        (fitted,) = CANDIDATES[candidate].fit(train, data.y_train[rows], task, settings).values()
        row[name] = _metrics(task, data.y_test, fitted.predict(test))["score"]
    for name in baseline_names(task):  # scikit-learn's semi-supervised models, on every training row
        predicted, _ = fit_baseline(name, scaled(data.X_train), data.y_train, rows, test.X, task, seed)
        row[name] = _metrics(task, data.y_test, predicted)["score"]
    return row
