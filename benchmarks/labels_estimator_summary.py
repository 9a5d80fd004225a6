"""The few-label bar, cell by cell (docs/results/labels.md, "The estimators against the bar"), from the
label study's stored results (``dacl reproduce labels ... --out docs/results/labels/estimator/NAME``):

- regret: the best single candidate's test score in hindsight minus the estimator's (points; R² points
  for numbers), and whether it lies within one standard deviation (over draws) of that best candidate;
- the estimator against the trees and the linear model on the raw columns (logistic regression or
  ridge): at least each minus 0.5 point, and at 1% above both wherever a pretrained candidate is;
- issue 44's bar: the estimator against the five baselines a user would fit (those two, scikit-learn's
  self-training around each, its label spreading), and the baselines' seconds.

    python benchmarks/labels_estimator_summary.py [docs/results/labels/estimator] [--against COMMIT]

``--against COMMIT``: the estimator's mean score per cell beside the one stored at ``COMMIT`` (the same
folders read from git), and the mean difference over the cells both have (issue 34: today's defaults
against the previous ones, 367d581).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

PRETRAINED = ("probe", "knn", "fine-tune", "gbdt-raw+features")
ORDER = ("fashion-mnist", "mnist-test", "digits", "adult", "letter", "magic", "spambase", "california-housing",
         "wine-quality")  # fmt: skip


def cells(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*/results.json")):
        rows += json.loads(path.read_text())["rows"]
    return sorted(rows, key=lambda r: (ORDER.index(r["dataset"]) if r["dataset"] in ORDER else 99, r["fraction"]))


def summary(rows: list[dict]) -> tuple[str, dict]:
    lines = ["| dataset | labels | estimator | chose | best candidate | regret | within 1 std | trees | linear "
             "(raw) | vs trees | vs linear | bar |",
             "|---|---:|---:|---|---|---:|---|---:|---:|---:|---:|---|"]  # fmt: skip
    misses, regrets = [], []
    for row in rows:
        if not row["model"].startswith(("DACLClassifier", "DACLRegressor")) or " " in row["model"]:
            continue
        same = {r["model"]: r for r in rows if (r["dataset"], r["fraction"]) == (row["dataset"], row["fraction"])}
        best = same[row["best_candidate"]]
        trees, linear = same["gbdt-raw"], same["linear-raw"]
        regret = 100 * row["regret"]
        regrets.append(regret)
        within = regret <= 100 * best["std"] + 1e-9 if best["draws"] > 1 else regret <= 0.5
        vs_trees, vs_linear = 100 * (row["score"] - trees["score"]), 100 * (row["score"] - linear["score"])
        checks = [within, vs_trees >= -0.5, vs_linear >= -0.5]
        if row["fraction"] <= 0.01:
            pretrained_best = max(same[c]["score"] for c in PRETRAINED if c in same)
            if pretrained_best > max(trees["score"], linear["score"]):
                checks.append(row["score"] > max(trees["score"], linear["score"]))
        ok = all(checks)
        if not ok:
            misses.append(f"{row['dataset']} {100 * row['fraction']:g}%")
        chose = ", ".join(f"{row['chosen'].count(c)}x {c}" for c in dict.fromkeys(row["chosen"]))
        std = f" ± {100 * row['std']:.1f}" if row["draws"] > 1 else ""
        lines.append(
            f"| {row['dataset']} | {100 * row['fraction']:g}% | {100 * row['score']:.1f}{std} | {chose} | "
            f"{row['best_candidate']} {100 * best['score']:.1f}"
            + (f" ± {100 * best['std']:.1f}" if best["draws"] > 1 else "")
            + f" | {regret:+.1f} | {'yes' if within else 'no'} | {100 * trees['score']:.1f} | "
            f"{100 * linear['score']:.1f} | {vs_trees:+.1f} | {vs_linear:+.1f} | {'met' if ok else '**missed**'} |"
        )  # fmt: skip
    totals = {"cells": len(regrets), "mean_regret": sum(regrets) / max(1, len(regrets)), "missed": misses}
    return "\n".join(lines) + "\n", totals


BASELINES = ("gbdt-raw", "linear-raw", "self-training (trees)", "self-training (logistic)", "label spreading (raw)")
SHORT = {"gbdt-raw": "trees", "linear-raw": "linear", "self-training (trees)": "ST trees",
         "self-training (logistic)": "ST logistic", "label spreading (raw)": "LS raw"}  # fmt: skip


def against_baselines(rows: list[dict], estimator: dict | None = None) -> tuple[str, dict]:
    """Issue 44's bar, cell by cell: the estimator's mean score against each of the five baselines a user would
    fit (the trees and the linear model on the raw columns, scikit-learn's self-training around each and its
    label spreading; numbers: ridge, the trees, label spreading of the target), the best of them, and the
    difference. ``estimator``: other scores of the estimator per (dataset, fraction) (an earlier commit's)."""
    head = " | ".join(SHORT[b] for b in BASELINES)
    lines = [f"| dataset | labels | estimator | {head} | best baseline | difference |",
             "|---|---:|---:|" + "---:|" * len(BASELINES) + "---|---:|"]  # fmt: skip
    above_at_one, below, cells_at_one = [], [], 0
    for row in rows:
        if row["model"] not in ("DACLClassifier", "DACLRegressor"):
            continue
        key = (row["dataset"], row["fraction"])
        score = row["score"] if estimator is None else estimator.get(key, {}).get("score")
        same = {r["model"]: r for r in rows if (r["dataset"], r["fraction"]) == key}
        present = [b for b in BASELINES if b in same]
        if score is None or not present:
            continue
        best = max(present, key=lambda b: same[b]["score"])
        difference = 100 * (score - same[best]["score"])
        if row["fraction"] <= 0.01:
            cells_at_one += 1
            if difference > 0:
                above_at_one.append(row["dataset"])
        if difference < -0.5:
            below.append(f"{row['dataset']} {100 * row['fraction']:g}% ({difference:+.1f})")
        values = " | ".join(f"{100 * same[b]['score']:.1f}" if b in same else "" for b in BASELINES)
        lines.append(f"| {row['dataset']} | {100 * row['fraction']:g}% | {100 * score:.1f} | {values} | "
                     f"{SHORT[best]} | {difference:+.1f} |")  # fmt: skip
    totals = {"above_at_1": above_at_one, "cells_at_1": cells_at_one, "more_than_half_point_below": below}
    return "\n".join(lines) + "\n", totals


def baseline_seconds(rows: list[dict]) -> str:
    """Each baseline's seconds to fit and predict (mean over draws), per cell."""
    timed = [b for b in BASELINES[2:] if any(r["model"] == b and "seconds" in r for r in rows)]
    lines = ["| dataset | labels | " + " | ".join(SHORT[b] for b in timed) + " |",
             "|---|---:|" + "---:|" * len(timed)]  # fmt: skip
    for row in rows:
        if row["model"] not in ("DACLClassifier", "DACLRegressor"):
            continue
        same = {r["model"]: r for r in rows if (r["dataset"], r["fraction"]) == (row["dataset"], row["fraction"])}
        lines.append(f"| {row['dataset']} | {100 * row['fraction']:g}% | " + " | ".join(
            f"{same[b]['seconds']:.1f}" if b in same and "seconds" in same[b] else "" for b in timed) + " |")
    return "\n".join(lines) + "\n"


def regression(rows: list[dict]) -> str:
    """The regressor's RMSE beside the trees' and ridge's (lower is better), per cell."""
    lines = ["| dataset | labels | DACLRegressor RMSE | trees RMSE | ridge RMSE | regressor R² | trees R² | ridge R² |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in rows:
        if row["model"] != "DACLRegressor":
            continue
        same = {r["model"]: r for r in rows if (r["dataset"], r["fraction"]) == (row["dataset"], row["fraction"])}
        trees, ridge = same["gbdt-raw"], same["linear-raw"]
        lines.append(
            f"| {row['dataset']} | {100 * row['fraction']:g}% | {row['rmse']:.3f} | {trees['rmse']:.3f} | "
            f"{ridge['rmse']:.3f} | {row['score']:.3f} | {trees['score']:.3f} | {ridge['score']:.3f} |"
        )
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def draws(folder: Path) -> list[dict]:
    """Per (dataset, fraction, draw): each candidate's test score, and the estimator's cross-validation
    table (every setting's held-out score) and its own test score."""
    out: dict[tuple, dict] = {}
    for path in sorted(folder.glob("*/results.json")):
        for cell in json.loads(path.read_text())["cells"]:
            key = (cell["dataset"], cell["fraction"], cell["draw"])
            entry = out.setdefault(key, {"dataset": key[0], "fraction": key[1], "labelled": cell["labelled"],
                                         "test": {}})  # fmt: skip
            if "selection" in cell:
                entry["estimator"], entry["selection"] = cell["score"], cell["selection"]
            else:
                entry["test"][cell["model"]] = cell["score"]
    return [e for e in out.values() if "selection" in e]


def rules(entries: list[dict]) -> str:
    """Other rules, scored from the same stored cells: the regret each would have had (mean points over
    draws), with few labels (< 5 labelled rows per class on average) and with more."""

    def cv_best(entry, with_ensemble: bool):
        key = "cv_accuracy" if "cv_accuracy" in entry["selection"][0] else "cv_r2"
        scored = [r for r in entry["selection"] if r.get(key) is not None and (with_ensemble or r["candidate"] !=
                                                                                 "ensemble")]  # fmt: skip
        if not scored:
            return entry["test"]["probe"]
        return entry["test"][max(scored, key=lambda r: r[key])["candidate"]]

    def margin(entry, points: float):
        """The average of the two best unless the best alone scores ``points`` more in the CV."""
        key = "cv_accuracy" if "cv_accuracy" in entry["selection"][0] else "cv_r2"
        rows = [r for r in entry["selection"] if r.get(key) is not None]
        pair = [r for r in rows if r["candidate"] == "ensemble"]
        if not pair:
            return entry["estimator"]
        single = max((r for r in rows if r["candidate"] != "ensemble"), key=lambda r: r[key])
        if single[key] - pair[0][key] > points / 100:
            return entry["test"][single["candidate"]]
        return entry["test"]["ensemble"]

    named = {
        "the average unless the best alone is 1 point higher in the CV (the rule now)": lambda e: margin(e, 1.0),
        "the average unless the best alone is 0.5 point higher in the CV": lambda e: margin(e, 0.5),
        "the highest CV score, the average of two included (the first rule)": lambda e: cv_best(e, True),
        "CV, no average": lambda e: cv_best(e, False),
        "always the average of the two best by CV": lambda e: e["test"].get("ensemble", e["estimator"]),
        "always the probe": lambda e: e["test"]["probe"],
        "always fine-tuning": lambda e: e["test"]["fine-tune"],
        "always the trees (raw columns)": lambda e: e["test"]["gbdt-raw"],
        "always the linear model (raw columns)": lambda e: e["test"]["linear-raw"],
    }
    lines = ["| rule | mean regret, < 5 labels a class | mean regret, more | cells |", "|---|---:|---:|---:|"]
    for name, rule in named.items():
        few, many = [], []
        for e in entries:
            best = max(v for k, v in e["test"].items() if k != "ensemble")
            per_class = e["labelled"] / CLASSES.get(e["dataset"], 1)  # numbers: the labelled rows
            (few if per_class < 5 else many).append(100 * (best - rule(e)))
        mean = lambda values: f"{sum(values) / len(values):+.2f}" if values else ""  # noqa: E731
        lines.append(f"| {name} | {mean(few)} ({len(few)}) | {mean(many)} ({len(many)}) | {len(few) + len(many)} |")
    return "\n".join(lines) + "\n"


CLASSES = {"fashion-mnist": 10, "mnist-test": 10, "digits": 10, "letter": 26, "adult": 2, "magic": 2, "spambase": 2}


def stored_at(commit: str, folder: Path) -> list[dict]:
    """The cells of ``folder``'s results.json files as stored at ``commit``."""
    root = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                               check=True).stdout.strip())  # fmt: skip
    rows = []
    for path in sorted(folder.resolve().glob("*/results.json")):
        name = path.relative_to(root).as_posix()
        shown = subprocess.run(["git", "show", f"{commit}:{name}"], capture_output=True, text=True, cwd=root)
        if shown.returncode == 0:
            rows += json.loads(shown.stdout)["rows"]
    return rows


def against(rows: list[dict], before: list[dict], commit: str) -> str:
    """The estimator's mean score per cell, today and at ``commit``, and the mean difference."""
    def estimators(cells):
        return {(r["dataset"], r["fraction"]): r for r in cells
                if r["model"] in ("DACLClassifier", "DACLRegressor")}  # fmt: skip

    now, then = estimators(rows), estimators(before)
    lines = [f"| dataset | labels | estimator now | at {commit} | difference |", "|---|---:|---:|---:|---:|"]
    differences = []
    for key in sorted(set(now) & set(then), key=lambda k: (ORDER.index(k[0]) if k[0] in ORDER else 99, k[1])):
        difference = 100 * (now[key]["score"] - then[key]["score"])
        differences.append(difference)
        lines.append(f"| {key[0]} | {100 * key[1]:g}% | {100 * now[key]['score']:.1f} | "
                     f"{100 * then[key]['score']:.1f} | {difference:+.1f} |")  # fmt: skip
    mean = sum(differences) / max(1, len(differences))
    return "\n".join(lines) + f"\n\n{len(differences)} cells; mean difference {mean:+.2f} points\n"


def _baseline_totals(totals: dict) -> str:
    below = totals["more_than_half_point_below"]
    return (f"At 1% of the labels above the best baseline on {len(totals['above_at_1'])} of {totals['cells_at_1']} "
            f"datasets; more than 0.5 point below it in {len(below)} cells"
            + (": " + ", ".join(below) if below else "") + ".\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=str(RESULTS / "labels" / "estimator"),
                        help="the label study's folders, one per dataset; default the stored ones")  # fmt: skip
    parser.add_argument("--against", default=None, help="a commit: its stored cells beside today's")
    arguments = parser.parse_args()
    folder, commit = Path(arguments.folder), arguments.against
    if commit:
        before = stored_at(commit, folder)
        print(against(cells(folder), before, commit))
        earlier = {(r["dataset"], r["fraction"]): r for r in before
                   if r["model"] in ("DACLClassifier", "DACLRegressor")}  # fmt: skip
        table, totals = against_baselines(cells(folder), earlier)
        print(f"The estimator at {commit} against the five baselines (today's runs of them):\n\n{table}")
        print(_baseline_totals(totals))
        return
    table, totals = against_baselines(cells(folder))
    print(table)
    print(_baseline_totals(totals))
    print(baseline_seconds(cells(folder)))
    table, totals = summary(cells(folder))
    print(table)
    print(
        f"{totals['cells']} cells; mean regret {totals['mean_regret']:+.2f} points; bar missed in "
        f"{len(totals['missed'])}: {', '.join(totals['missed']) or 'none'}\n"
    )
    print(regression(cells(folder)))
    print(rules(draws(folder)))


if __name__ == "__main__":
    main()
