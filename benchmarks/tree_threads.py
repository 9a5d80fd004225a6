"""The trees' OpenMP threads (issue 34): scikit-learn's ``HistGradientBoostingClassifier`` on one thread and on
two, side by side, on the few-label candidates' sizes: mnist-test's 784 pixels with 10 classes (130, 640 and
2,000 labelled rows, the label study's draws) and small tables of 20 or 64 columns with 2 classes. Where the
work is small, the threads' start-up costs as much as they save; on wide tables two threads pay
(``dacl.tables.semisupervised.candidates.SINGLE_THREAD_BELOW``).

    python benchmarks/tree_threads.py --data-dir ../shared/data --out docs/results/fast_fit/tree_threads.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages


def seconds(X, y, threads: int, **params) -> float:
    with threadpool_limits(threads, user_api="openmp"):
        started = time.perf_counter()
        HistGradientBoostingClassifier(random_state=0, **params).fit(X, y)
        return time.perf_counter() - started


def main() -> None:
    from dacl.data import load_dataset
    from dacl.data.subsets import label_subset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS / "fast_fit" / "tree_threads.json"))
    args = parser.parse_args()
    data = load_dataset("mnist-test", data_dir=args.data_dir)
    pixels = np.asarray(data.X_train, dtype=np.float32) / 255.0
    cases = []
    for n in (130, 640, 2000):
        rows = label_subset(data.y_train, n / len(data.y_train), 0)
        name = f"mnist-test, {len(rows)} x 784, 10 classes"
        cases.append((name, pixels[rows], data.y_train[rows], {"min_samples_leaf": 5}))
    for n, d in ((130, 20), (640, 20), (2000, 20), (640, 64)):
        X, y = make_classification(n_samples=n, n_features=d, n_informative=10, n_classes=2, random_state=0)
        cases.append((f"{n} x {d}, 2 classes", X, y, {}))
    results = []
    for name, X, y, params in cases:
        times = {1: [], 2: []}
        for _ in range(2):
            for threads in (1, 2):
                times[threads].append(seconds(X, y, threads, **params))
        results.append({"case": name, "cells": int(X.shape[0] * X.shape[1]), "one_thread_s": times[1],
                        "two_threads_s": times[2]})  # fmt: skip
        print(name, {k: [round(v, 3) for v in vs] for k, vs in times.items()}, flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
