"""Streaming against in-memory pretraining on a table bigger than this machine wants in memory.

Writes a synthetic table (``--rows`` x ``--columns`` float32, row groups of ``--group`` rows) as
Parquet files into ``--folder`` (not the repository), then, each in a fresh process so that its peak
memory is its own, alternating ``--repeats`` times:

- streaming: ``dacl.tables.pretrain_files`` over the whole table, ``--epochs`` epochs of ``--steps``
  steps each (``steps_per_epoch``: each epoch reads the row groups in a fresh random order, so the
  reader works through ``epochs x steps x batch`` rows from all over the files);
- in memory: ``dacl.pretrain`` on the first ``steps x batch`` rows held as one tensor (min-max scaled
  as the stream scales), the same ``--epochs`` epochs of ``--steps`` steps;

both with the same model, batch, precision and seed. Reports samples/s (mean over the epochs after
the first, which includes start-up), their ratio, and each process's peak RSS.

    python benchmarks/stream_bench.py --folder /tmp/dacl-stream-20m --out docs/results/stream
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import statistics
import time
from pathlib import Path


def write_table(folder: Path, rows: int, columns: int, group: int, files: int) -> float:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.parquet"))) == files:
        return 0.0
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    per_file = rows // files
    names = [f"c{i}" for i in range(columns)]
    for f in range(files):
        path = folder / f"part-{f:03d}.parquet"
        with pq.ParquetWriter(path, pa.schema([(n, pa.float32()) for n in names])) as writer:
            for start in range(0, per_file, group):
                n = min(group, per_file - start)
                block = rng.standard_normal((n, columns), dtype=np.float32)
                writer.write_table(pa.table(dict(zip(names, block.T))), row_group_size=group)
    return time.perf_counter() - started


def config(args):
    from dacl import PretrainConfig

    return PretrainConfig(
        method="dacl",
        depth=args.depth,
        width=args.width,
        head_depth=2,
        projection_dim=128,
        epochs=args.epochs,
        batch_size=args.batch,
        warmup_epochs=0,
        lr=0.5,
        precision=args.precision,
    )


def _record(result, rows: int) -> dict:
    speeds = [h["samples_per_s"] for h in result.history]
    return {
        "samples_per_s": sum(speeds[1:]) / len(speeds[1:]) if len(speeds) > 1 else speeds[0],
        "per_epoch": [round(v) for v in speeds],
        "rows": rows,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _streaming(args, queue):
    from dacl.tables import pretrain_files

    result = pretrain_files(args.folder, config(args), buffer_rows=args.buffer, steps_per_epoch=args.steps,
                            progress=False)  # fmt: skip
    queue.put(_record(result, args.epochs * args.steps * args.batch))


def _in_memory(args, queue):
    import pyarrow.dataset as ds
    import torch

    from dacl import pretrain

    table = ds.dataset(args.folder).head(args.steps * args.batch)
    x = torch.from_numpy(table.to_pandas().to_numpy(dtype="float32", copy=True))
    del table
    x = (x - x.min(0).values) / (x.max(0).values - x.min(0).values)  # min-max, as the stream's preprocessing
    result = pretrain(x, config(args), progress=False)
    queue.put(_record(result, len(x)))


def run(target, args):
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(args, queue))
    process.start()
    record = queue.get()
    process.join()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/dacl-stream-bench"))
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--group", type=int, default=262_144)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--steps", type=int, default=300, help="steps per epoch, both paths")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--buffer", type=int, default=262_144)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    written = write_table(args.folder, args.rows, args.columns, args.group, args.files)
    size = sum(p.stat().st_size for p in args.folder.glob("*.parquet")) / 2**30
    print(
        f"table: {args.rows:,} x {args.columns} in {args.files} files, {size:.2f} GiB on disk"
        + (f" (written in {written:.0f} s)" if written else "")
    )
    records = {"streaming": [], "in_memory": []}
    for _ in range(args.repeats):
        records["streaming"].append(run(_streaming, args))
        print("streaming", records["streaming"][-1])
        records["in_memory"].append(run(_in_memory, args))
        print("in memory", records["in_memory"][-1])
    best = {k: max(r["samples_per_s"] for r in v) for k, v in records.items()}
    # every epoch after each run's first, pooled over the repeats: epochs vary by +-20% on a shared machine
    mean = {k: statistics.mean(e for r in v for e in r["per_epoch"][1:]) for k, v in records.items()}
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "gib_on_disk": size, "records": records,
              "ratio_streaming_to_memory": best["streaming"] / best["in_memory"],
              "ratio_of_mean_epochs": mean["streaming"] / mean["in_memory"],
              "machine": platform.processor() or platform.machine()}  # fmt: skip
    print(
        f"streaming / in memory samples/s: best runs {report['ratio_streaming_to_memory']:.3f}, mean epochs "
        f"{report['ratio_of_mean_epochs']:.3f}; peak RSS streaming "
        f"{max(r['peak_rss_mib'] for r in records['streaming']):.0f} MiB"
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "stream_bench.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
