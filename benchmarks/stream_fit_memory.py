"""Peak memory of ``dacl fit`` on a Parquet folder (streamed) as the table grows (docs/results/speed.md,
"Few labels").

Writes synthetic tables (``--columns`` float32 columns and a class label, ``--labelled`` of the rows
labelled, the rest an empty cell; row groups of ``--group`` rows over ``--files`` files) of each size
in ``--rows`` into ``--folder`` (not the repository), then runs ``dacl fit --data FOLDER --label y``
on each in a fresh process (its peak RSS is its own), pretraining capped at ``--max-steps`` steps:
the memory of a streamed fit is the stream's buffer, the model and the labelled rows, so it should not
grow with the unlabelled rows. Beside each, what the same table takes in memory as the in-memory path
holds it (the float32 columns, and the 512 encoder features of every row).

    python benchmarks/stream_fit_memory.py --folder /tmp/dacl-fit-stream --out docs/results/stream-fit
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path


def write_table(folder: Path, rows: int, columns: int, labelled: float, group: int, files: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if len(list(folder.glob("*.parquet"))) == files:
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=columns).astype(np.float32)
    per_file = rows // files
    for index in range(files):
        X = rng.normal(size=(per_file, columns)).astype(np.float32)
        y = (X @ weights > 0).astype(np.float64)
        y[rng.random(per_file) >= labelled] = np.nan  # the unlabelled rows: an empty label cell
        table = pa.table({**{f"f{i}": X[:, i] for i in range(columns)}, "y": y})
        pq.write_table(table, folder / f"part-{index:03d}.parquet", row_group_size=group)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", default="/tmp/dacl-fit-stream")
    parser.add_argument("--out", default="docs/results/stream-fit")
    parser.add_argument("--rows", default="1000000,4000000")
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--labelled", type=float, default=0.01)
    parser.add_argument("--group", type=int, default=65_536)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--max-steps", type=int, default=100)
    parser.add_argument("--candidates", default="probe,knn,linear-raw,gbdt-raw")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_out = []
    for rows in (int(r) for r in args.rows.split(",")):
        folder = Path(args.folder) / f"rows-{rows}"
        write_table(folder, rows, args.columns, args.labelled, args.group, args.files)
        model = Path(args.folder) / f"model-{rows}"
        code = (
            "import resource, sys; from dacl.cli import main; code = main(sys.argv[1:]); "
            "print('PEAK_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); raise SystemExit(code)"
        )
        command = [sys.executable, "-c", code, "fit", "--data", str(folder), "--label", "y", "--out", str(model),
                   "--overwrite", "--quiet", "--max-steps", str(args.max_steps),
                   "--candidates", args.candidates]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("PEAK_KIB"))
        state = json.loads((model / "model.json").read_text())
        width = state["encoder"]["width"]
        row = {"rows": rows, "labelled": state["rows"]["labelled"], "seconds": round(seconds, 1),
               "peak_rss_gib": round(peak / 2**20, 2),
               "in_memory_columns_gib": round(rows * args.columns * 4 / 2**30, 2),
               "in_memory_features_gib": round(rows * width * 4 / 2**30, 2),
               "chosen": state["chosen"]["model"]}  # fmt: skip
        rows_out.append(row)
        print(json.dumps(row), flush=True)
    report = {"machine": platform.processor() or platform.machine(), "columns": args.columns,
              "max_steps": args.max_steps, "candidates": args.candidates, "rows": rows_out,
              "children_peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}  # fmt: skip
    (out / "stream-fit.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
