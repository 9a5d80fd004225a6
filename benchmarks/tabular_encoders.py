"""The tables' encoder variants against today's encoder, with few labels (issue 20; docs/results/tabular_encoders.md).

Each variant is options of ``dacl.PretrainConfig`` over the label study's budget (``dacl reproduce labels``
with the same flags runs any one of them): numeric embeddings (PLE, PLR) with views of the raw or of the
embedded columns, one-hot blocks mixed as units, multi-sample mixup (k = 2, 3), the residual MLP, DACL+
views composed with SCARF's corruption; SCARF itself is the baseline the bar names. Every variant runs the
study's cells: the probe, k-NN and fine-tuning on its encoder, the trees and logistic regression on the raw
columns (the same for every variant), at 1% and 10% of the labels.

    # stage 1, screening: one label draw, the smaller tables
    python benchmarks/tabular_encoders.py screen --data-dir ../shared/data
    # stage 2, the finalists with 3 draws everywhere (the screening's draws are reused)
    python benchmarks/tabular_encoders.py final --variants plain,ple,k3 --data-dir ../shared/data
    # the table (and each variant's pretraining step time, side by side in one process)
    python benchmarks/tabular_encoders.py table --step-times

Cells are stored under docs/results/tabular_encoders/VARIANT/ and reused: a stopped run started again
skips what is done.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

OUT = RESULTS / "tabular_encoders"
# name: (methods, pretraining options over the budget's, one-hot blocks as units)
VARIANTS: dict[str, tuple[tuple[str, ...], dict, bool]] = {
    "plain": (("dacl+",), {}, False),
    "scarf": (("scarf",), {}, False),
    "units": (("dacl+",), {}, True),
    "ple": (("dacl+",), {"numeric_embedding": "ple"}, False),
    "ple-mixed": (("dacl+",), {"numeric_embedding": "ple", "mix_embeddings": True}, False),
    "periodic": (("dacl+",), {"numeric_embedding": "periodic"}, False),
    "periodic-mixed": (("dacl+",), {"numeric_embedding": "periodic", "mix_embeddings": True}, False),
    # learned embeddings of the categorical columns (adult is the one table of the study with categories)
    "categories": (("dacl+",), {"categorical_embedding": 16}, False),
    "k2": (("dacl+",), {"mixup_partners": 2}, False),
    "k3": (("dacl+",), {"mixup_partners": 3}, False),
    "resnet": (("dacl+",), {"table_encoder": "resnet"}, False),
    "dacl+scarf": (("dacl+scarf",), {}, False),
    # DACL+ over the wider menu: the paper's three mixups, SCARF's corruption and Gaussian noise
    "menu": (("dacl+",), {"mixup_types": ("linear", "geometric", "binary", "scarf", "gaussian")}, False),
    # DACL+ without geometric mixup (Eq. 5 is 0 wherever the partner is 0: sparse counts, image backgrounds)
    "no-geometric": (("dacl+",), {"mixup_types": ("linear", "binary")}, False),
}
SCREEN_DATASETS = ("digits", "magic", "spambase", "adult", "letter")
# the label study's seven classification tables and one regression table (scored by R²): the eight
ALL_DATASETS = ("fashion-mnist", "mnist-test", "digits", "adult", "letter", "magic", "spambase", "wine-quality")
PROTOCOLS = ("probe", "knn", "fine-tune")  # the pretrained encoder's protocols
RAW = ("gbdt-raw", "linear-raw")
CANDIDATE_SET = PROTOCOLS + RAW
FRACTIONS = (0.01, 0.1)


def run_variant(
    name: str,
    datasets: list[str],
    budget: str,
    data_dir: str | None,
    out: Path = OUT,
    fractions: tuple[float, ...] = FRACTIONS,
) -> dict:
    from dacl.data import load_dataset
    from dacl.studies.label_study import run_study

    methods, pretraining, units = VARIANTS[name]  # the study of `dacl reproduce labels`, fewer candidates
    loaded = [load_dataset(d, data_dir=data_dir) for d in datasets]
    log = lambda *a: print(f"[{name}]", *a, flush=True)  # noqa: E731
    return run_study(loaded, fractions, out / name, budget=budget, methods=methods, candidates=CANDIDATE_SET,
                     block_mixing=units, pretraining=pretraining, log=log)  # fmt: skip


@dataclass(frozen=True)
class Cells:
    """Which stored cells a table reads: features computed in ``features`` precision (one kind of
    machine: float32 on a CPU without AMX, bfloat16 with it); only the ``first`` draws (1: the
    screening's); fine-tuning that cut its epochs so (``batches``, ``Settings.fine_tune_batches``; cells
    stored before it was an option are "ragged"); logistic regression over these inverse penalties
    (``logistic_cs``, ``Settings.logistic_cs``; cells stored before C was chosen had the one C = 1)."""

    features: str = "float32"
    first: int | None = None
    batches: str = "ragged"
    logistic_cs: tuple[float, ...] = (1.0,)

    def admits(self, spec: dict) -> bool:
        settings = spec.get("settings", {})
        return (spec["features"] == self.features and (self.first is None or spec["draw"] < self.first)
                and settings.get("fine_tune_batches", "ragged") == self.batches
                and tuple(settings.get("logistic_cs", (1.0,))) == tuple(self.logistic_cs))  # fmt: skip

    def describe(self) -> str:
        cs = (
            "C = 1"
            if self.logistic_cs == (1.0,)
            else "C chosen by cross-validation among " + ", ".join(f"{c:g}" for c in self.logistic_cs)
        )
        return f"{self.features} features, fine-tuning's batches {self.batches}, logistic regression's {cs}"


def draws(name: str, out: Path = OUT, cells: Cells = Cells()) -> dict[tuple, list[dict]]:
    """Per (dataset, fraction), one dict per label draw, from the variant's stored cells (``runs/``, so
    every invocation's datasets count) that ``cells`` admits: each protocol's and each raw model's
    test score, the encoder's protocol chosen by cross-validation on the labelled rows (``cv``: no test
    score seen) and the estimator's outcome over the whole candidate set (``dacl.studies.label_study``'s rule)."""
    from dacl.studies.label_study import estimator_outcome
    from dacl.tables.semisupervised.candidates import Task

    by_draw: dict[tuple, dict] = {}
    for path in sorted((out / name / "runs").glob("*.json")):
        record = json.loads(path.read_text())
        spec = record["spec"]
        if not cells.admits(spec):
            continue
        key = (spec["dataset"], spec["fraction"], spec["draw"])
        if key in by_draw:
            raise ValueError(f"{name}: two stored cells for {key} ({path.name} and another); remove the stale one.")
        by_draw[key] = record
    found: dict[tuple, list[dict]] = {}
    for (dataset, fraction, _), record in sorted(by_draw.items()):
        scores = {m: c["score"] for m, c in record["candidates"].items() if m in CANDIDATE_SET}
        cv_key = "cv_accuracy" if "cv_accuracy" in record["selection"][0] else "cv_r2"
        ranked = [r for r in record["selection"] if r["candidate"] in PROTOCOLS and r["candidate"] in scores]
        chosen = max(ranked, key=lambda r: r[cv_key])["candidate"]
        estimator, _ = estimator_outcome(record, Task(record["spec"]["task"]))
        found.setdefault((dataset, fraction), []).append(
            {**scores, "cv": scores[chosen], "cv_choice": chosen, "estimator": estimator["score"]}
        )
    return found


def _mean(found: list[dict], field: str) -> float | None:
    values = [d[field] for d in found if field in d]
    return float(np.mean(values)) if len(values) == len(found) else None


def _std(found: list[dict], field: str) -> float:
    return float(np.std([d[field] for d in found]))


def summary(name: str, out: Path = OUT, cells: Cells = Cells()) -> dict:
    """Per (dataset, fraction): means and stds over draws of the encoder's protocol chosen by
    cross-validation (``cv``), of the best protocol in hindsight (best test mean: optimistic), of the
    probe, of the estimator, and the trees' and logistic regression's means."""
    out_: dict[tuple, dict] = {}
    for key, found in draws(name, out, cells).items():
        mean, std = partial(_mean, found), partial(_std, found)
        best = max((p for p in PROTOCOLS if mean(p) is not None), key=mean)
        out_[key] = {"best": best, "best_score": mean(best), "best_std": std(best), "cv": mean("cv"),
                     "cv_std": std("cv"), "cv_choices": [d["cv_choice"] for d in found],
                     "estimator": mean("estimator"), "estimator_std": std("estimator"), "probe": mean("probe"),
                     "probe_std": std("probe"), "draws": len(found), "trees": mean("gbdt-raw"),
                     "linear": mean("linear-raw")}  # fmt: skip
    return out_


def step_times(
    names: list[str], dataset: str, data_dir: str | None, steps: int = 30, rounds: int = 3
) -> dict[str, float]:
    """Seconds per pretraining step (the whole run of ``steps`` steps, divided) of each variant on
    ``dataset`` at the study's width (4 x 512, batch 512), in one process after one untimed run, the
    variants alternating over ``rounds`` rounds (the median of each)."""
    from dacl import PretrainConfig
    from dacl.data import load_dataset
    from dacl.studies.experiment import prepare_features
    from dacl.tables import pretrain
    from dacl.tables.semisupervised.options import PRETRAINING_DEFAULTS

    features = prepare_features(load_dataset(dataset, data_dir=data_dir))
    X = features.X_train[: 512 * steps]
    times: dict[str, list[float]] = {}
    order = list(dict.fromkeys(["plain", *names]))
    for round_ in range(rounds + 1):
        for name in order if round_ else order[:1]:  # round 0: one untimed run (first-call costs)
            methods, options, units = VARIANTS[name]
            config = PretrainConfig(**{**PRETRAINING_DEFAULTS, **options, "method": methods[0], "epochs": 1,
                                       "warmup_epochs": 0.0})  # fmt: skip
            blocks = features.blocks if units else None
            started = time.perf_counter()
            pretrain(X, config, progress=False, blocks=blocks, categories=features.blocks)
            if round_:
                times.setdefault(name, []).append((time.perf_counter() - started) / (len(X) // 512))
    return {name: float(np.median(t)) for name, t in times.items()}


MEASURES = {
    "cv": "the encoder's protocol (probe, k-NN or fine-tuning) chosen by cross-validation on the labelled rows",
    "best": "the encoder's best protocol in hindsight (the best test mean: optimistic)",
    "probe": "the linear probe on the frozen encoder alone (the paper's protocol)",
    "estimator": "DACLClassifier (DACLRegressor on a regression table) over these candidates (the encoder's "
    "protocols, the trees and logistic regression or ridge on the raw columns, the pair of the two best), chosen by "
    "cross-validation",
}


def _cell(c: dict, measure: str) -> str:
    mean, spread = c[f"{measure}_score" if measure == "best" else measure], c[f"{measure}_std"]
    text = f"{100 * mean:.1f}" + (f" ± {100 * spread:.1f}" if c["draws"] > 1 else "")
    if measure == "best":
        return f"{text} ({c['best']})"
    if measure == "cv":
        choices = _counts(c["cv_choices"])
        return f"{text} ({', '.join(p if c['draws'] == 1 else f'{n}x {p}' for p, n in choices)})"
    return text


def _counts(values: list[str]) -> list[tuple[str, int]]:
    return [(v, values.count(v)) for v in dict.fromkeys(values)]


def table(
    names: list[str],
    times: dict[str, float] | None,
    step_dataset: str | None,
    out: Path = OUT,
    measure: str = "cv",
    cells: Cells = Cells(),
) -> str:
    """Rows the variants, columns dataset x fraction: ``measure`` (MEASURES) as mean ± std over draws,
    then the trees and logistic regression on the raw columns; each variant's step time if timed."""
    summaries = {n: summary(n, out, cells) for n in names}
    keys = sorted({k for s in summaries.values() for k in s}, key=lambda k: (k[0], k[1]))
    head = " | ".join(f"{d} {100 * f:g}%" for d, f in keys)
    lines = ["| variant | " + head + (" | step (ms) | vs plain |" if times else " |"),
             "|---|" + "---:|" * len(keys) + ("---:|---:|" if times else "")]  # fmt: skip
    most_draws = max((c["draws"] for s in summaries.values() for c in s.values()), default=0)
    for name in names:
        texts = []
        for k in keys:
            c = summaries[name].get(k)
            short = f" [{c['draws']} of {most_draws} draws]" if c and c["draws"] < most_draws else ""
            texts.append("" if c is None else _cell(c, measure) + short)
        timing = ""
        if times:
            timing = f" | {1000 * times[name]:.1f} | {times[name] / times['plain']:.2f}x" if name in times else " | |"
        lines.append(f"| {name} | " + " | ".join(texts) + timing + " |")
    for label, field in (("trees (raw columns)", "trees"), ("logistic regression or ridge (raw columns)", "linear")):
        most = [max((s[k] for s in summaries.values() if k in s), key=lambda c: c["draws"]) for k in keys]
        values = [c[field] for c in most]  # the raw columns' models on the most draws any variant has
        lines.append(f"| {label} | " + " | ".join("" if v is None else f"{100 * v:.1f}" for v in values)
                     + (" | | |" if times else " |"))  # fmt: skip
    drawn = "label draws" if cells.first is None else f"the first {cells.first} label draw(s)"
    note = (
        f"\n\nCells: {MEASURES[measure]}; test accuracy (R² on a regression table) x 100, mean ± std over "
        f"{drawn}; {cells.describe()}."
    )
    if times:
        note += (f" Step times: {step_dataset}, 4 x 512, batch 512, one process, the median of 3 alternating "
                 "rounds after an untimed run.")  # fmt: skip
    return "\n".join(lines) + note + "\n"


def bar(names: list[str], out: Path = OUT, measure: str = "cv", cells: Cells = Cells(), baseline: str = "scarf") -> str:
    """Issue 20's bar per variant: on how many datasets its ``measure`` beats the better of the trees
    and logistic regression on the raw columns (fitted on the same draws, in its own cells) at 1% and at
    10% of the labels, and ``baseline`` (SCARF, the same measure) at 1% where SCARF has as many draws;
    with the lowest margin (points) and the datasets that count."""
    summaries = {n: summary(n, out, cells) for n in [*names, baseline]}
    field = "best_score" if measure == "best" else measure
    lines = ["| variant | 1%: beats max(trees, LR) | worst margin | 10%: beats max(trees, LR) | worst margin "
             f"| 1%: beats {baseline} | worst margin |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name in names:
        texts = []
        for fraction, against in ((0.01, "raw"), (0.1, "raw"), (0.01, baseline)):
            mine = summaries[name]
            keys = sorted(k for k in mine if k[1] == fraction and (against == "raw" or (
                k in summaries[baseline] and summaries[baseline][k]["draws"] == mine[k]["draws"])))  # fmt: skip
            if not keys:
                texts += ["", ""]
                continue
            margins = []
            for k in keys:
                c = mine[k]
                other = max(c["trees"], c["linear"]) if against == "raw" else summaries[baseline][k][field]
                margins.append(c[field] - other)
            wins = ", ".join(k[0] for k, m in zip(keys, margins) if m > 0) or "none"
            texts += [f"{sum(m > 0 for m in margins)} of {len(keys)} ({wins})", f"{100 * min(margins):+.1f}"]
        lines.append(f"| {name} | " + " | ".join(texts) + " |")
    return "\n".join(lines) + f"\n\nMeasure: {MEASURES[measure]}; {cells.describe()}.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["screen", "final", "table"])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--datasets", default=None, help="default: the stage's")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--step-times", action="store_true", help="with table: time each variant's step")
    parser.add_argument("--step-dataset", default="adult")
    parser.add_argument("--budget", default=None, help="default: screen, or small for final (smoke: a quick check)")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument(
        "--fractions", default=None, help="with screen/final: some of the label fractions (default 0.01,0.1)"
    )
    parser.add_argument("--measure", choices=list(MEASURES), default="cv", help="with table: what a cell shows")
    parser.add_argument("--draws", type=int, default=None, help="with table: only the first draws (1: the screening)")
    parser.add_argument(
        "--features",
        default="float32",
        help="with table: the cells' feature precision "
        "(float32 without AMX, bfloat16 with it): one kind of machine per table",
    )
    parser.add_argument(
        "--batches",
        choices=["ragged", "even"],
        default="ragged",
        help="with table: the cells whose fine-tuning cut epochs so (the stored finals: ragged, before the fix)",
    )
    parser.add_argument(
        "--logistic-cs",
        default="1",
        help="with table: the cells whose logistic regression chose among these C (1: the fixed C of the cells "
        "stored before; 0.01,0.1,1,10: today's default)",
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if args.stage == "table":
        times = step_times(names, args.step_dataset, args.data_dir) if args.step_times else None
        cells = Cells(args.features, args.draws, args.batches, tuple(float(c) for c in args.logistic_cs.split(",")))
        text = table(names, times, args.step_dataset, Path(args.out), args.measure, cells)
        rows = [n for n in names if n != "scarf"]
        text += "\n" + bar(rows, Path(args.out), args.measure, cells)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "table.md").write_text(text)
        print(text)
        return
    datasets = [d.strip() for d in args.datasets.split(",")] if args.datasets else None
    datasets = datasets or list(SCREEN_DATASETS if args.stage == "screen" else ALL_DATASETS)
    fractions = tuple(float(f) for f in args.fractions.split(",")) if args.fractions else FRACTIONS
    if not set(fractions) <= set(FRACTIONS):
        sys.exit(f"--fractions takes some of {','.join(map(str, FRACTIONS))}, got {args.fractions}")
    budget = args.budget or ("screen" if args.stage == "screen" else "small")
    from dacl.tables.semisupervised.candidates import shared_raw_fits

    with shared_raw_fits():  # the trees and logistic regression on the raw columns: once per fold for all variants
        for name in names:
            started = time.perf_counter()
            run_variant(name, datasets, budget, args.data_dir, Path(args.out), fractions)
            print(f"[{name}] {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
