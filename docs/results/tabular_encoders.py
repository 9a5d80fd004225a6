"""The tables' encoder variants against today's encoder, with few labels (issue 20; docs/results/tabular_encoders.md).

Each variant is options of ``dacl.PretrainConfig`` over the label study's budget (``dacl reproduce labels``
with the same flags runs any one of them): numeric embeddings (PLE, PLR) with views of the raw or of the
embedded columns, one-hot blocks mixed as units, multi-sample mixup (k = 2, 3), the residual MLP, DACL+
views composed with SCARF's corruption; SCARF itself is the baseline the bar names. Every variant runs the
study's cells: the probe, k-NN and fine-tuning on its encoder, the trees and logistic regression on the raw
columns (the same for every variant), at 1% and 10% of the labels.

    # stage 1, screening: one label draw, the smaller tables
    python docs/results/tabular_encoders.py screen --data-dir ../shared/data
    # stage 2, the finalists with 3 draws everywhere (the screening's draws are reused)
    python docs/results/tabular_encoders.py final --variants plain,ple,k3 --data-dir ../shared/data
    # the table (and each variant's pretraining step time, side by side in one process)
    python docs/results/tabular_encoders.py table --step-times

Cells are stored under docs/results/tabular_encoders/VARIANT/ and reused: a stopped run started again
skips what is done.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "tabular_encoders"
# name: (methods, pretraining options over the budget's, one-hot blocks as units)
VARIANTS: dict[str, tuple[tuple[str, ...], dict, bool]] = {
    "plain": (("dacl+",), {}, False),
    "scarf": (("scarf",), {}, False),
    "units": (("dacl+",), {}, True),
    "ple": (("dacl+",), {"numeric_embedding": "ple"}, False),
    "ple-mixed": (("dacl+",), {"numeric_embedding": "ple", "mix_embeddings": True}, False),
    "periodic": (("dacl+",), {"numeric_embedding": "periodic"}, False),
    "periodic-mixed": (("dacl+",), {"numeric_embedding": "periodic", "mix_embeddings": True}, False),
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
ALL_DATASETS = ("fashion-mnist", "mnist-test", "digits", "adult", "letter", "magic", "spambase")
PROTOCOLS = ("probe", "knn", "fine-tune")  # the pretrained encoder's protocols
RAW = ("gbdt-raw", "linear-raw")
CANDIDATE_SET = PROTOCOLS + RAW
FRACTIONS = (0.01, 0.1)


def run_variant(name: str, datasets: list[str], budget: str, data_dir: str | None, out: Path = OUT) -> dict:
    from dacl.data import load_dataset
    from dacl.study import run_study

    methods, pretraining, units = VARIANTS[name]  # the study of `dacl reproduce labels`, fewer candidates
    loaded = [load_dataset(d, data_dir=data_dir) for d in datasets]
    log = lambda *a: print(f"[{name}]", *a, flush=True)  # noqa: E731
    return run_study(loaded, FRACTIONS, out / name, budget=budget, methods=methods, candidates=CANDIDATE_SET,
                     block_mixing=units, pretraining=pretraining, log=log)  # fmt: skip


def summary(name: str, out: Path = OUT) -> dict:
    """Per (dataset, fraction): mean ± std over draws of the best protocol (best mean) and of the probe,
    and the trees' and logistic regression's means, from the variant's results.json."""
    path = out / name / "results.json"
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text())["rows"]
    cells: dict[tuple, dict] = {}
    for r in rows:
        cells.setdefault((r["dataset"], r["fraction"]), {})[r["model"]] = r
    out = {}
    for key, models in cells.items():
        protocols = {p: models[p] for p in PROTOCOLS if p in models}
        if not protocols:
            continue
        best = max(protocols, key=lambda p: protocols[p]["score"])
        out[key] = {"best": best, "best_score": protocols[best]["score"], "best_std": protocols[best]["std"],
                    "probe": protocols.get("probe", {}).get("score"),
                    "draws": protocols[best]["draws"], "trees": models.get("gbdt-raw", {}).get("score"),
                    "linear": models.get("linear-raw", {}).get("score")}  # fmt: skip
    return out


def step_times(dataset: str, data_dir: str | None, steps: int = 30) -> dict[str, float]:
    """Seconds per pretraining step of each variant on ``dataset`` at the study's width (4 x 512, batch 512),
    in one process, variants alternating over two rounds (the median of each)."""
    from dacl import PretrainConfig
    from dacl.data import load_dataset
    from dacl.experiment import prepare_features
    from dacl.semisupervised.options import PRETRAINING_DEFAULTS
    from dacl.tables import pretrain

    features = prepare_features(load_dataset(dataset, data_dir=data_dir))
    X = features.X_train[: 512 * steps]
    times: dict[str, list[float]] = {}
    for _ in range(2):
        for name, (methods, options, units) in VARIANTS.items():
            config = PretrainConfig(**{**PRETRAINING_DEFAULTS, **options, "method": methods[0], "epochs": 1,
                                       "warmup_epochs": 0.0})  # fmt: skip
            blocks = features.blocks if units else None
            started = time.perf_counter()
            pretrain(X, config, progress=False, blocks=blocks)
            times.setdefault(name, []).append((time.perf_counter() - started) / (len(X) // 512))
    return {name: float(np.median(t)) for name, t in times.items()}


def table(names: list[str], times: dict[str, float] | None, step_dataset: str | None, out: Path = OUT) -> str:
    summaries = {n: summary(n, out) for n in names}
    keys = sorted({k for s in summaries.values() for k in s}, key=lambda k: (k[0], k[1]))
    head = " | ".join(f"{d} {100 * f:g}%" for d, f in keys)
    lines = ["| variant | " + head + (" | step (ms) | vs plain |" if times else " |"),
             "|---|" + "---:|" * len(keys) + ("---:|---:|" if times else "")]  # fmt: skip
    for name in names:
        cells = []
        for key in keys:
            c = summaries[name].get(key)
            if c is None:
                cells.append("")
                continue
            spread = f" ± {100 * c['best_std']:.1f}" if c["draws"] > 1 else ""
            probe = f"{100 * c['probe']:.1f}" if c["probe"] is not None else "-"
            cells.append(f"{100 * c['best_score']:.1f}{spread} ({c['best']}; probe {probe})")
        timing = ""
        if times:
            timing = f" | {1000 * times[name]:.1f} | {times[name] / times['plain']:.2f}x" if name in times else " | |"
        lines.append(f"| {name} | " + " | ".join(cells) + timing + " |")
    baseline = next((summaries[n] for n in names if summaries[n]), {})
    for label, field in (("trees (raw columns)", "trees"), ("logistic regression (raw columns)", "linear")):
        values = [baseline.get(k, {}).get(field) for k in keys]
        lines.append(f"| {label} | " + " | ".join("" if v is None else f"{100 * v:.1f}" for v in values)
                     + (" | | |" if times else " |"))  # fmt: skip
    note = ""
    if times:
        note = f"\n\nStep times: {step_dataset}, 4 x 512, batch 512, one process, median of 2 alternating rounds."
    return "\n".join(lines) + note + "\n"


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
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if args.stage == "table":
        times = step_times(args.step_dataset, args.data_dir) if args.step_times else None
        text = table(names, times, args.step_dataset, Path(args.out))
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "table.md").write_text(text)
        print(text)
        return
    datasets = [d.strip() for d in args.datasets.split(",")] if args.datasets else None
    datasets = datasets or list(SCREEN_DATASETS if args.stage == "screen" else ALL_DATASETS)
    budget = args.budget or ("screen" if args.stage == "screen" else "small")
    for name in names:
        started = time.perf_counter()
        run_variant(name, datasets, budget, args.data_dir, Path(args.out))
        print(f"[{name}] {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
