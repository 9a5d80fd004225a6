"""The estimators' fit, timed: where the time goes, and today's defaults against the previous ones (issue 34).

Each cell is one ``DACLClassifier`` / ``DACLRegressor`` fit at its defaults (``random_state=0``) on a label study
dataset with one label draw (draw 0 of ``dacl.data.subsets.label_subset``: 1% or 10% of the training rows keep
their labels, the rest are marked unlabelled), run in a fresh process as a user runs it, then scored on the test
split. ``--code previous`` runs the code of an earlier commit (a git worktree of ``--commit``, default the commit
before issue 34's work) on the same cell: both in one run, alternating, so that their ratio is measured on one
machine in one state. Every phase is timed by wrapping the functions both versions share (the pretraining
``DACL.fit``, ``encode``, each candidate's ``fit`` in the cross-validation, the refit ``fit_chosen``), so the
same instrument reads both.

    # where the time goes (the issue's four tables, 1% and 10%), today's code
    python benchmarks/fast_fit.py profile --data-dir ../shared/data
    # today's defaults against the previous ones on the label study's 1% and 10% cells, side by side
    python benchmarks/fast_fit.py compare --data-dir ../shared/data
    # the tables of docs/results/speed.md from the stored cells
    python benchmarks/fast_fit.py table

Cells are stored under docs/results/fast_fit/cells/ (one JSON each) and reused: a stopped run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "docs" / "results"  # where the results and their page are
OUT = HERE / "fast_fit" / "cells"
PREVIOUS_COMMIT = "367d581"  # the last commit before issue 34's work: the previous defaults
# the label study's nine datasets, the quick ones first (a stopped run has its cheap cells)
LABEL_DATASETS = ("digits", "wine-quality", "spambase", "magic", "adult", "letter", "california-housing", "mnist-test",
                  "fashion-mnist")  # fmt: skip
PROFILE_DATASETS = ("digits", "magic", "adult", "fashion-mnist")
REGRESSION = ("california-housing", "wine-quality")
FRACTIONS = (0.01, 0.1)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_cell(dataset: str, fraction: float, data_dir: str | None) -> dict:
    """One fit, instrumented (in this process, with whatever ``dacl`` it imports)."""
    import numpy as np
    import torch

    import dacl.tables.semisupervised.estimators as estimators
    import dacl.tables.transformer as transformer
    from dacl import DACLClassifier, DACLRegressor
    from dacl.data import load_dataset
    from dacl.data.subsets import label_subset
    from dacl.tables.semisupervised.registry import CANDIDATES

    phases: dict[str, float] = {}
    candidate_seconds: dict[str, float] = {}

    def timed(name, function, into):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                into[name] = into.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    transformer.DACL.fit = timed("pretraining", transformer.DACL.fit, phases)
    estimators.encode = timed("features", estimators.encode, phases)
    estimators.fit_chosen = timed("refit", estimators.fit_chosen, phases)
    for name, candidate in CANDIDATES.items():
        object.__setattr__(candidate, "fit", timed(name, candidate.fit, candidate_seconds))
    data = load_dataset(dataset, data_dir=data_dir)
    regression = dataset in REGRESSION
    rows = label_subset(data.y_train, fraction, 0, regression=regression)
    if regression:
        y = np.full(len(data.y_train), np.nan)
        model = DACLRegressor(random_state=0)
    else:
        y = np.full(len(data.y_train), None, dtype=object)
        model = DACLClassifier(random_state=0)
    y[rows] = data.y_train[rows]
    started = time.perf_counter()
    model.fit(data.X_train, y)
    seconds = time.perf_counter() - started
    phases["choice"] = sum(candidate_seconds.values())
    selection = model.selection_
    per_setting = [{"candidate": r["candidate"], "setting": r["setting"], "seconds": float(r["seconds"])}
                   for r in selection.to_dict("records") if r["candidate"] != "ensemble"]  # fmt: skip
    return {"dataset": dataset, "fraction": fraction, "labelled": len(rows), "rows": len(data.y_train),
            "columns": int(np.shape(model.dacl_.preprocessed(data.X_train[:2]))[1]), "seconds": seconds,
            "phases": phases, "candidates": candidate_seconds, "settings": per_setting,
            "score": float(model.score(data.X_test, data.y_test)), "chosen": model.chosen_,
            "epochs": len(model.history_), "threads": torch.get_num_threads(), "cpu": cpu_name(),
            "precision": _precision(model), "torch": torch.__version__}  # fmt: skip


def _precision(model) -> str:
    from dacl.core.runtime import resolve_precision

    return resolve_precision(model.precision, "cpu")


def previous_tree(commit: str) -> Path:
    """A git worktree of ``commit`` (made once), whose ``src`` is imported for the previous code."""
    tree = Path("/tmp") / f"dacl-previous-{commit}"
    if not (tree / "src" / "dacl").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], check=True, cwd=HERE.parent.parent)
    return tree


def cell_path(code: str, dataset: str, fraction: float) -> Path:
    return OUT / f"{code}-{dataset}-{fraction:g}.json"


def cell(code: str, dataset: str, fraction: float, data_dir: str | None, commit: str) -> dict:
    """The stored cell, or one fit in a fresh process with ``code`` ("today" or "previous")."""
    path = cell_path(code, dataset, fraction)
    if path.exists():
        return json.loads(path.read_text())
    env = dict(os.environ)
    if code == "previous":
        env["PYTHONPATH"] = str(previous_tree(commit) / "src")
    command = [sys.executable, __file__, "cell", "--dataset", dataset, "--fraction", str(fraction)]
    if data_dir:
        command += ["--data-dir", data_dir]
    print(f"[{code}] {dataset} {fraction:g} ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{code} {dataset} {fraction}: {done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record.update(code=code, commit=commit if code == "previous" else _head(),
                  process_seconds=time.perf_counter() - started)
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    print(f"[{code}] {dataset} {fraction:g}: {record['seconds']:.1f} s, score {record['score']:.4f}", flush=True)
    return record


def _head() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE)
    return done.stdout.strip()


def profile_table(datasets, fractions, code: str = "today") -> str:
    lines = ["| dataset | labels | rows x columns | fit (s) | preprocessing + pretraining | features | "
             "linear-raw | probe | knn | gbdt-raw | gbdt-raw+features | fine-tune | refit |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for dataset in datasets:
        for fraction in fractions:
            path = cell_path(code, dataset, fraction)
            if not path.exists():
                continue
            r = json.loads(path.read_text())
            c, p = r["candidates"], r["phases"]
            shown = [f"{c.get(n, 0.0):.1f}" for n in ("linear-raw", "probe", "knn", "gbdt-raw", "gbdt-raw+features",
                                                        "fine-tune")]  # fmt: skip
            lines.append(f"| {dataset} | {100 * fraction:g}% ({r['labelled']}) | {r['rows']} x {r['columns']} | "
                         f"{r['seconds']:.1f} | {p.get('pretraining', 0):.1f} | {p.get('features', 0):.1f} | "
                         + " | ".join(shown) + f" | {p.get('refit', 0):.1f} |")  # fmt: skip
    return "\n".join(lines)


def settings_table(datasets, fractions, code: str = "today") -> str:
    lines = ["| dataset | labels | candidate | setting | seconds |", "|---|---:|---|---|---:|"]
    for dataset in datasets:
        for fraction in fractions:
            path = cell_path(code, dataset, fraction)
            if path.exists():
                r = json.loads(path.read_text())
                for s in r["settings"]:
                    if s["candidate"] == "fine-tune" or s["seconds"] > 1:
                        lines.append(f"| {dataset} | {100 * fraction:g}% | {s['candidate']} | {s['setting'] or '-'} | "
                                     f"{s['seconds']:.1f} |")  # fmt: skip
    return "\n".join(lines)


def compare_table(datasets, fractions) -> str:
    lines = ["| dataset | labels | previous fit (s) | today's fit (s) | speed-up | previous score | today's score | "
             "difference (points) | today chose |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    ratios, differences = [], []
    for dataset in datasets:
        for fraction in fractions:
            a, b = cell_path("previous", dataset, fraction), cell_path("today", dataset, fraction)
            if not (a.exists() and b.exists()):
                continue
            old, new = json.loads(a.read_text()), json.loads(b.read_text())
            ratio, diff = old["seconds"] / new["seconds"], 100 * (new["score"] - old["score"])
            ratios.append(ratio)
            differences.append(diff)
            chose = new["chosen"]["model"] + (f" ({' + '.join(m['candidate'] for m in new['chosen']['members'])})"
                                              if new["chosen"]["model"] == "ensemble" else "")  # fmt: skip
            lines.append(f"| {dataset} | {100 * fraction:g}% | {old['seconds']:.1f} | {new['seconds']:.1f} | "
                         f"{ratio:.1f}x | {100 * old['score']:.1f} | {100 * new['score']:.1f} | {diff:+.1f} | "
                         f"{chose} |")  # fmt: skip
    if ratios:
        lines.append(f"\n{len(ratios)} cells: median speed-up {statistics.median(ratios):.1f}x (range "
                     f"{min(ratios):.1f}-{max(ratios):.1f}x); mean score difference "
                     f"{statistics.mean(differences):+.2f} points (accuracy, or R² x 100 for the regression "
                     "tables).")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("cell", "profile", "compare", "table"))
    parser.add_argument("--dataset")
    parser.add_argument("--fraction", type=float)
    parser.add_argument("--datasets", default=None)
    parser.add_argument("--fractions", default=",".join(map(str, FRACTIONS)))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--commit", default=PREVIOUS_COMMIT)
    args = parser.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    if args.what == "cell":
        print(json.dumps(run_cell(args.dataset, args.fraction, args.data_dir)))
    elif args.what == "profile":
        datasets = args.datasets.split(",") if args.datasets else PROFILE_DATASETS
        for dataset in datasets:
            for fraction in fractions:
                cell("today", dataset, fraction, args.data_dir, args.commit)
        print(profile_table(datasets, fractions))
    elif args.what == "compare":
        datasets = args.datasets.split(",") if args.datasets else LABEL_DATASETS
        for number, (dataset, fraction) in enumerate((d, f) for d in datasets for f in fractions):
            order = ("previous", "today") if number % 2 else ("today", "previous")  # alternating
            for code in order:
                cell(code, dataset, fraction, args.data_dir, args.commit)
        print(compare_table(datasets, fractions))
    else:
        datasets = args.datasets.split(",") if args.datasets else LABEL_DATASETS
        print(profile_table(datasets, fractions, "previous"), "\n")
        print(profile_table(datasets, fractions, "today"), "\n")
        print(settings_table(PROFILE_DATASETS, fractions), "\n")
        print(compare_table(datasets, fractions))


if __name__ == "__main__":
    main()
