"""Rows per onnxruntime run (``dacl.tables.semisupervised.onnx_runtime.ROWS_PER_RUN``), side by side in one
process: the graphs ``benchmarks/predict_speed.py`` exports (``WORK/NAME.onnx``) run on its 100,000 new rows
all at once and 16,384, 4,096, 2,048 and 1,024 rows a run, the best of ``--repeats`` alternating rounds
(docs/results/speed.md, "Predictions with the graph of a spread model").

    python benchmarks/predict_speed.py --previous /tmp/dacl-before-44 --out docs/results/predict-speed/issue-44
    python benchmarks/onnx_chunk_speed.py --work /tmp/dacl-predict-speed
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from predict_onnx import graph_inputs  # noqa: E402  (the example's own input builder)

SIZES = (100_000, 16_384, 4_096, 2_048, 1_024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="/tmp/dacl-predict-speed")
    parser.add_argument("--models", default="chosen,probe,trees,spread")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    work = Path(args.work)
    frame = pd.read_csv(work / "new.csv")
    print("| model | " + " | ".join(f"{size:,} rows a run (s)" for size in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for name in args.models.split(","):
        session = onnxruntime.InferenceSession(str(work / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        feeds = graph_inputs(session, frame)
        seconds: dict[int, list[float]] = {size: [] for size in SIZES}
        for _ in range(args.repeats):
            for size in SIZES:
                started = time.perf_counter()
                parts = [session.run(None, {k: v[s : s + size] for k, v in feeds.items()})
                         for s in range(0, len(frame), size)]  # fmt: skip
                np.concatenate([part[0] for part in parts])
                seconds[size].append(time.perf_counter() - started)
        print(f"| {name} | " + " | ".join(f"{min(seconds[size]):.2f}" for size in SIZES) + " |", flush=True)


if __name__ == "__main__":
    main()
