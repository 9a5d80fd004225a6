"""The estimator's fit on a shared CPU (issue 34): alone, and with one CPU-bound process beside it, today's
thread policy (``dacl.core.threads``: the usable cores less the busy ones) against the previous code
(torch's and OpenMP's default of a thread per core), side by side in one run.

The table is issue 34's: 1,000 rows x 20 columns (``sklearn.datasets.make_classification``), 10% labelled,
``DACLClassifier(random_state=0)`` at its defaults, each fit in a fresh process as a user runs it. The busy
process is a Python loop (one core's worth of work); the fits alternate between the versions and between
alone and beside it.

    python benchmarks/shared_cpu.py --out docs/results/fast_fit/shared_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fast_fit import PREVIOUS_COMMIT, cpu_name, previous_tree  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

FIT = """
import time, warnings, numpy as np
warnings.simplefilter("ignore")
from sklearn.datasets import make_classification
from dacl import DACLClassifier

X, y = make_classification(n_samples=1000, n_features=20, n_informative=10, random_state=0)
y = np.where(np.random.default_rng(0).random(1000) < 0.1, y, -1)
started = time.perf_counter()
DACLClassifier(random_state=0).fit(X, y)
print(time.perf_counter() - started)
"""


def fit_seconds(code: str, busy: bool, commit: str) -> float:
    env = dict(os.environ)
    if code == "previous":
        env["PYTHONPATH"] = str(previous_tree(commit) / "src")
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        if neighbour is not None:
            time.sleep(0.5)
        done = subprocess.run([sys.executable, "-c", FIT], env=env, capture_output=True, text=True, check=True)
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "fast_fit" / "shared_cpu.json"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--commit", default=PREVIOUS_COMMIT)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {}
    for repeat in range(args.repeats):
        for code in ("today", "previous") if repeat % 2 == 0 else ("previous", "today"):
            for busy in (False, True):
                key = f"{code}, {'one busy process beside it' if busy else 'alone'}"
                runs.setdefault(key, []).append(fit_seconds(code, busy, args.commit))
                print(key, f"{runs[key][-1]:.1f} s", flush=True)
    median = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
    result = {"cpu": cpu_name(), "cores": os.cpu_count(), "runs": runs, "median": median,
              "slowdown": {code: median[f"{code}, one busy process beside it"] / median[f"{code}, alone"]
                           for code in ("today", "previous")},
              "today_alone_over_previous_alone": median["today, alone"] / median["previous, alone"]}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
