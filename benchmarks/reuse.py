"""Pretrain once, fit many times (issue 46): a second `dacl fit` of the same table through the encoder cache
against the first, and `torchrun --nproc-per-node 2 -m dacl fit` against one process, as a user runs them.

cache (``--repeats`` times, each from a cold cache): the first fit, a second on the same rows with other
labelled rows and another --cv (the encoder from the cache), and the second again with --no-cache: seconds
of each, side by side in one run, and whether the cached and uncached models are the same (every file's
digest in model.json but the record's).
torchrun: the same fit in one process (2 threads) and in two (1 thread each), each scored on the test split.

python benchmarks/reuse.py --dataset adult --data-dir ../shared/data   # docs/guide/reuse.md, "Measured"
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages


def table(dataset: str, data_dir: str | None, fraction: float, draw: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows with ``fraction`` of the labels, the rest empty; test rows with every label)."""
    from dacl.data import load_dataset
    from dacl.data.subsets import label_subset

    data = load_dataset(dataset, data_dir=data_dir)
    train = pd.DataFrame(data.X_train).reset_index(drop=True)  # the labels below are set by position
    train.columns = [str(c) for c in train.columns]
    labels = pd.Series(np.asarray(data.y_train).astype(str), dtype=object)
    keep = np.zeros(len(labels), bool)
    keep[label_subset(data.y_train, fraction, draw)] = True
    train["label"] = labels.where(keep, None)
    test = pd.DataFrame(data.X_test).reset_index(drop=True)
    test.columns = train.columns[:-1]
    test["label"] = np.asarray(data.y_test).astype(str)
    return train, test


def fit(args: list[str], launcher: list[str] | None = None) -> float:
    started = time.perf_counter()
    command = [*(launcher or [sys.executable]), "-m", "dacl", "fit", *args, "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - started


def digests(folder: Path) -> dict[str, str]:
    return json.loads((folder / "model.json").read_text())["files"]


def accuracy(folder: Path, test: pd.DataFrame) -> float:
    from dacl import load_predictor

    predicted = load_predictor(folder).predict(test.drop(columns="label"))
    return float(np.mean(np.asarray(predicted).astype(str) == test["label"].to_numpy()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="adult")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--parts", default="cache,torchrun")
    parser.add_argument("--repeats", type=int, default=3, help="first, cached and uncached second fits, each")
    parser.add_argument("--keep", default=None, help="a folder to keep the tables and model folders in")
    parser.add_argument("--out", default=str(RESULTS / "reuse"))
    args = parser.parse_args()
    from dacl.core.runtime import cpu_kind

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"dataset": args.dataset, "fraction": args.fraction, "cpu": cpu_kind()}
    with contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        train, test = table(args.dataset, args.data_dir, args.fraction, draw=0)
        train.to_csv(work / "train.csv", index=False)
        other, _ = table(args.dataset, args.data_dir, args.fraction, draw=1)  # other labelled rows, same rows
        other.to_csv(work / "other.csv", index=False)
        common = ["--label", "label", "--threads", "2", "--seed", "0"]
        if "cache" in args.parts:
            runs = []
            for repeat in range(args.repeats):  # each repeat from a cold cache of its own, side by side
                cache = ["--cache", str(work / f"cache{repeat}")]
                first = fit(["--data", str(work / "train.csv"), "--out", str(work / f"first{repeat}"), *common,
                             *cache])  # fmt: skip
                second = fit(["--data", str(work / "other.csv"), "--out", str(work / f"second{repeat}"), *common,
                              *cache, "--cv", "3"])  # fmt: skip
                uncached = fit(["--data", str(work / "other.csv"), "--out", str(work / f"uncached{repeat}"), *common,
                                "--cv", "3", "--no-cache"])  # fmt: skip
                runs.append({"first_s": first, "second_s": second, "second_without_cache_s": uncached,
                             "speed_up": first / second, "same_model": digests(work / f"second{repeat}") ==
                             digests(work / f"uncached{repeat}"),
                             "test_accuracy": accuracy(work / f"second{repeat}", test)})  # fmt: skip
                print(runs[-1])
            ratios = sorted(r["speed_up"] for r in runs)
            results["cache"] = {"runs": runs, "median_speed_up": ratios[len(ratios) // 2], "least_speed_up": ratios[0],
                                "same_model_every_time": all(r["same_model"] for r in runs)}  # fmt: skip
        if "torchrun" in args.parts:
            one = fit(["--data", str(work / "train.csv"), "--out", str(work / "one"), *common, "--no-cache"])
            launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
            two_common = [c if c != "2" else "1" for c in common]  # one thread a process
            two = fit(["--data", str(work / "train.csv"), "--out", str(work / "two"), *two_common, "--no-cache"],
                      launcher)  # fmt: skip
            results["torchrun"] = {
                "one_process": {"seconds": one, "test_accuracy": accuracy(work / "one", test),
                                "chosen": json.loads((work / "one" / "model.json").read_text())["chosen"]["model"]},
                "two_processes": {"seconds": two, "test_accuracy": accuracy(work / "two", test),
                                  "chosen": json.loads((work / "two" / "model.json").read_text())["chosen"]["model"]},
            }  # fmt: skip
            print(results["torchrun"])
    name = f"{args.dataset}-{'-'.join(args.parts.split(','))}.json"
    (out / name).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
