"""What using the unlabelled rows at choice time costs and how steady it is (issue 44, docs/results/labels.md):

- ``--compare cost``: a default ``DACLClassifier`` / ``DACLRegressor`` fit with the candidates of before
  (probe, knn, fine-tune, linear-raw, gbdt-raw, gbdt-raw+features) and with today's default candidates
  (those plus spread, spread-raw, self-train), the same labelled rows, seed and thread count, one after
  the other in one process: total seconds of each fit, its phases, its test score;
- ``--compare threads``: today's default fit on 1 thread and on 2 (``n_jobs``), the same labelled rows
  and seed: test scores, choices, and whether the two models' test predictions are the same bit for bit
  (since dacl.core.batchnorm they should be: before it, pretraining's sums ran in another order on two
  threads and the encoders differed as by a re-seed).

Every fit is the label study's: the registered dataset's training split, the labels of the study's draw
(``label_subset``), the rest unlabelled, scored on the test split. Each fit is stored as one JSON file
under ``OUT/runs`` (a stopped run skips what is done); ``OUT/results.md`` is the table.

    python benchmarks/unlabelled_rows.py --compare cost --datasets adult,letter,magic,spambase,digits \\
        --fractions 0.01,0.1 --draws 1 --data-dir ../shared/data --out docs/results/unlabelled/cost
    python benchmarks/unlabelled_rows.py --compare threads --fractions 0.01 --draws 3 \\
        --data-dir ../shared/data --out docs/results/unlabelled/threads
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

BEFORE = ("probe", "knn", "fine-tune", "linear-raw", "gbdt-raw", "gbdt-raw+features")
DATASETS = ("digits", "adult", "letter", "magic", "spambase", "mnist-test", "fashion-mnist", "california-housing",
            "wine-quality")  # fmt: skip


def fit_once(dataset, fraction: float, draw: int, threads: int, candidates: tuple[str, ...] | None,
             precision: str = "auto") -> dict:
    """One default fit on the study's label draw (in ``precision``), scored on the test split."""
    from dacl import DACLClassifier, DACLRegressor
    from dacl.data.subsets import label_subset
    from dacl.studies.experiment import prepare_features

    regression = dataset.is_regression
    rows = label_subset(prepare_features(dataset).y_train, fraction, draw, regression)  # the study's draw
    marked = np.asarray(dataset.y_train, dtype=float if regression else object).copy()
    unlabelled = np.setdiff1d(np.arange(len(marked)), rows)
    marked[unlabelled] = np.nan if regression else None
    kind = DACLRegressor if regression else DACLClassifier
    extra = {} if candidates is None else {"candidates": candidates}
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # no encoder cache: each fit pretrains, as a default fit of a new table does (the second of a pair
        # would otherwise load the first's encoder)
        model = kind(random_state=0, n_jobs=threads, encoder_cache=False, precision=precision,
                     **extra).fit(dataset.X_train, marked)  # fmt: skip
    seconds = time.perf_counter() - started
    score = model.score(dataset.X_test, np.asarray(dataset.y_test))
    predicted = model.predict(dataset.X_test) if regression else model.predict_proba(dataset.X_test)
    digest = hashlib.sha256(np.ascontiguousarray(predicted, dtype=np.float64).tobytes()).hexdigest()
    return {"score": float(score), "seconds": seconds, "predictions": digest, "timings": model.timings_,
            "chosen": model.chosen_["model"], "members": model.chosen_["members"], "labelled": len(rows)}  # fmt: skip


def run(args) -> dict:
    from dacl.data import load_dataset
    from dacl.files import write_atomic

    out = Path(args.out)
    variants = ({"before": (1, BEFORE), "today": (1, None)} if args.compare == "cost"
                else {"1 thread": (1, None), "2 threads": (2, None)})  # fmt: skip
    records = []
    for name in args.datasets.split(","):
        dataset = load_dataset(name, data_dir=args.data_dir)
        for fraction in (float(f) for f in args.fractions.split(",")):
            draws = range(args.draws if fraction < 1 else 1) if args.draw is None else [args.draw]
            for draw in draws:
                for variant, (threads, candidates) in variants.items():
                    path = out / "runs" / f"{name}-{fraction:g}-{draw}-{variant.replace(' ', '')}.json"
                    if path.is_file():
                        record = json.loads(path.read_text())
                    else:
                        record = {"dataset": name, "fraction": fraction, "draw": draw, "variant": variant,
                                  "precision": args.precision,
                                  **fit_once(dataset, fraction, draw, threads, candidates, args.precision)}  # fmt: skip
                        write_atomic(path, json.dumps(record).encode())
                    records.append(record)
                    print(f"{name} {fraction:g} draw {draw} {variant}: {100 * record['score']:.1f} in "
                          f"{record['seconds']:.1f} s ({record['chosen']})", flush=True)
    results = {"compare": args.compare, "records": records, "machine": platform.processor() or platform.machine()}
    write_atomic(out / "results.json", json.dumps(results, indent=1).encode())
    write_atomic(out / "results.md", markdown(results, list(variants)).encode())
    return results


def markdown(results: dict, variants: list[str]) -> str:
    cells: dict[tuple, dict[str, dict]] = {}
    for r in results["records"]:
        cells.setdefault((r["dataset"], r["fraction"], r["draw"]), {})[r["variant"]] = r
    first, second = variants
    lines = [f"| dataset | labels | draw | {first} score | {second} score | difference | {first} s | {second} s | "
             f"time ratio | {first} chose | {second} chose |", "|---|---:|---:|" + "---:|" * 6 + "---|---|"]
    ratios, differences, same = [], [], []
    for (name, fraction, draw), pair in cells.items():
        if len(pair) < 2:
            continue
        a, b = pair[first], pair[second]
        ratio, difference = b["seconds"] / a["seconds"], 100 * (b["score"] - a["score"])
        ratios.append(ratio)
        differences.append(difference)
        if "predictions" in a and "predictions" in b:
            same.append(a["predictions"] == b["predictions"])
        lines.append(f"| {name} | {100 * fraction:g}% | {draw} | {100 * a['score']:.1f} | {100 * b['score']:.1f} | "
                     f"{difference:+.1f} | {a['seconds']:.1f} | {b['seconds']:.1f} | {ratio:.2f} | {a['chosen']} | "
                     f"{b['chosen']} |")  # fmt: skip
    if ratios:
        whole = [c for c in cells.values() if len(c) == 2]
        total = sum(c[second]["seconds"] for c in whole) / sum(c[first]["seconds"] for c in whole)
        lines += ["", f"{len(ratios)} fits each; time ratio ({second} / {first}): median {np.median(ratios):.2f}, "
                  f"total {total:.2f}; score difference: mean {np.mean(differences):+.2f}, largest "
                  f"{np.abs(differences).max():.1f} points; {sum(abs(d) > 1 for d in differences)} of "
                  f"{len(differences)} more than 1 point apart."]  # fmt: skip
        if same:
            lines[-1] += f" The same test predictions, bit for bit: {sum(same)} of {len(same)}."
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare", choices=("cost", "threads"), required=True)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--fractions", default="0.01")
    parser.add_argument("--draws", type=int, default=1)
    parser.add_argument("--draw", type=int, default=None, help="only this draw (0-based) of each fraction")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--precision", default="auto", help="the fits' precision (auto: bf16 where the CPU has "
                        "bf16 units); float32 tells MKL's products from oneDNN's bf16 ones")  # fmt: skip
    parser.add_argument("--out", required=True)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
