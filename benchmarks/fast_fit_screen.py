"""Screening for the fast defaults (issue 34): the estimators' encoder narrower and pretrained for fewer
steps, each candidate's test score against today's encoder (4 x 512, at most 1,500 steps), one label draw
at 1% and 10%, through the label study (``dacl.studies.label_study.label_study``: the choice and every candidate on
the same draws). Cells and encoders are stored under docs/results/fast_fit/screen/VARIANT and reused.

    python benchmarks/fast_fit_screen.py run --data-dir ../shared/data [--variants w256-s500,...]
    python benchmarks/fast_fit_screen.py table --variants previous,w512-s500,w256-s500

``previous`` is today's encoder before issue 34 (4 x 512, at most 1,500 steps, float32), read from the encoder
study's stored cells of the same draw (its candidate set: probe, k-NN, fine-tuning, trees, logistic regression).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

OUT = RESULTS / "fast_fit" / "screen"
# name: (width, most pretraining steps, batch size)
VARIANTS = {"w512-s1500": (512, 1500, 512), "w512-s500": (512, 500, 512), "w256-s1500": (256, 1500, 512),
            "w256-s500": (256, 500, 512), "w256-s250": (256, 250, 512), "w512-s250": (512, 250, 512),
            "w512-b256-s500": (512, 500, 256)}  # fmt: skip
DATASETS = ("digits", "magic", "spambase", "adult", "letter", "wine-quality", "california-housing", "mnist-test")
FRACTIONS = (0.01, 0.1)
SHOWN = ("probe", "knn", "fine-tune", "gbdt-raw", "linear-raw", "estimator")


def run(variants: list[str], datasets: list[str], data_dir: str | None) -> None:
    from dacl.data import load_dataset
    from dacl.studies.label_study import STUDY_BUDGETS, StudyBudget, label_study
    from dacl.tables.semisupervised.options import PRETRAINING_DEFAULTS

    for name in variants:
        width, steps, batch = VARIANTS[name]
        budget = f"screen-{name}"
        STUDY_BUDGETS[budget] = StudyBudget(pretraining=PRETRAINING_DEFAULTS, draws=1, max_steps=steps)
        for dataset in datasets:
            log = lambda *a, n=name: print(f"[{n}]", *a, flush=True)  # noqa: E731
            label_study(load_dataset(dataset, data_dir=data_dir), FRACTIONS, OUT / name, budget=budget,
                        pretraining={"width": width, "batch_size": batch}, log=log)  # fmt: skip


# today's encoder (4 x 512, 1,500 steps, float32 on this AMD EPYC) under today's protocol: the encoder study's
# stored "plain" cells, draw 0 (docs/results/tabular_encoders.md, "The bar under today's defaults")
REFERENCE = ("previous", RESULTS / "tabular_encoders" / "plain" / "runs")


def _admitted(spec: dict) -> bool:
    settings = spec.get("settings", {})
    return (spec["draw"] == 0 and settings.get("fine_tune_batches") == "even" and spec["features"] == "float32"
            and tuple(settings.get("logistic_cs", ())) == (0.01, 0.1, 1.0, 10.0))  # fmt: skip


def cells(name: str) -> dict[tuple[str, float], dict[str, float]]:
    """(dataset, fraction) -> model -> test score (x 100), from the variant's stored cells."""
    from dacl.studies.label_study import estimator_outcome
    from dacl.tables.semisupervised.candidates import CLASSIFICATION, REGRESSION, Task

    table = {}
    folder = REFERENCE[1] if name == REFERENCE[0] else OUT / name / "runs"
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        spec = record["spec"]
        if name == REFERENCE[0] and not _admitted(spec):
            continue
        task = Task(CLASSIFICATION, 2) if spec["task"] == CLASSIFICATION else Task(REGRESSION)
        scores = {m: 100 * s["score"] for m, s in record["candidates"].items()}
        scores["estimator"] = 100 * estimator_outcome(record, task)[0]["score"]
        scores["seconds"] = record["seconds"]
        table[(spec["dataset"], spec["fraction"])] = scores
    return table


def table(variants: list[str]) -> str:
    stored = {name: cells(name) for name in variants}
    base = stored[variants[0]]
    lines = ["| dataset | labels | " + " | ".join(f"{v}: {m}" for v in variants for m in ("probe", "fine-tune",
             "estimator")) + " |", "|---|---:|" + "---:|" * (3 * len(variants))]  # fmt: skip
    for key in sorted(base):
        row = [f"{stored[v].get(key, {}).get(m, float('nan')):.1f}" for v in variants
               for m in ("probe", "fine-tune", "estimator")]  # fmt: skip
        lines.append(f"| {key[0]} | {100 * key[1]:g}% | " + " | ".join(row) + " |")
    lines += ["", "| variant | " + " | ".join(f"mean {m} - {variants[0]}'s" for m in SHOWN) + " | cells |",
              "|---|" + "---:|" * (len(SHOWN) + 1)]  # fmt: skip
    for v in variants[1:]:
        common = [k for k in base if k in stored[v]]
        diffs = [np.mean([stored[v][k][m] - base[k][m] for k in common]) if common else float("nan") for m in SHOWN]
        lines.append(f"| {v} | " + " | ".join(f"{d:+.2f}" for d in diffs) + f" | {len(common)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("run", "table"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    variants = args.variants.split(",")
    if args.what == "run":
        run(variants, args.datasets.split(","), args.data_dir)
    else:
        print(table(variants))
