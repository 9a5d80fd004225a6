"""Samples/s of pretraining in 1 and N processes at a fixed global batch: the scaling of the engine.

Each configuration runs ``torch.multiprocessing`` processes in a gloo (CPU) or NCCL (GPU) group on
this machine, every process with ``cores / N`` threads on CPU, training the same model on the same
in-memory data for ``--epochs`` epochs; the figure is the last epoch's samples/s (the global batch
per second, as ``dacl.fit`` reports it), efficiency = samples/s(N) / (N x samples/s(1)) when N
processes share N devices, and samples/s(N) / samples/s(1) when they share one CPU.

    python benchmarks/scaling.py --processes 1,2 --out docs/results/scaling
    python benchmarks/scaling.py --processes 1 --device cuda --out gpu-out/scaling   # one GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import torch
import torch.multiprocessing as mp


def _config(args):
    from dacl import PretrainConfig

    return PretrainConfig(method="dacl+", depth=args.depth, width=args.width, head_depth=3, projection_dim=128,
                          epochs=args.epochs, batch_size=args.batch, warmup_epochs=0, lr=1.0, device=args.device,
                          precision=args.precision, sync_batchnorm=args.sync_batchnorm == "true")  # fmt: skip


def _process(index: int, world: int, init: str, args, out: str) -> None:
    import torch.distributed as dist

    from dacl import pretrain

    os.environ.update({"RANK": str(index), "WORLD_SIZE": str(world), "LOCAL_RANK": str(index)})
    threads = args.threads or (max(1, (os.cpu_count() or 1) // world) if args.device == "cpu" else 1)
    torch.set_num_threads(threads)
    if world > 1:
        backend = "nccl" if args.device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(index)
        dist.init_process_group(backend, init_method=f"file://{init}", rank=index, world_size=world)
    x = torch.rand(args.batch * args.steps, args.features, generator=torch.Generator().manual_seed(0))
    result = pretrain(x, _config(args), progress=False)
    if index == 0:
        Path(out).write_text(json.dumps({"history": result.history, "threads": threads}))
    if world > 1:
        dist.destroy_process_group()


def measure(world: int, args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        mp.spawn(_process, args=(world, str(Path(folder) / "init"), args, str(out)), nprocs=world, join=True)
        record = json.loads(out.read_text())
    return {"processes": world, "threads_per_process": record["threads"],
            "samples_per_s": record["history"][-1]["samples_per_s"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--batch", type=int, default=1024, help="the global batch, fixed")
    parser.add_argument("--steps", type=int, default=20, help="steps an epoch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--sync-batchnorm", dest="sync_batchnorm", default="true", choices=["true", "false"])
    parser.add_argument("--threads", type=int, default=0, help="threads a process (0: the cores shared out)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = [measure(int(n), args) for n in args.processes.split(",")]
    base = rows[0]["samples_per_s"]
    shared = args.device == "cpu"  # processes share one machine's cores
    for row in rows:
        row["speed_up"] = row["samples_per_s"] / base
        row["efficiency"] = row["speed_up"] if shared else row["speed_up"] / row["processes"]
    lines = ["| processes | threads each | samples/s | speed-up | efficiency |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['processes']} | {r['threads_per_process']} | {r['samples_per_s']:.0f} | {r['speed_up']:.2f} | "
              f"{r['efficiency']:.2f} |" for r in rows]  # fmt: skip
    table = "\n".join(lines) + "\n"
    print(table, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        report = {"rows": rows, "args": vars(args) | {"out": str(args.out)}, "cpu": platform.processor(),
                  "cores": os.cpu_count(), "torch": torch.__version__}  # fmt: skip
        (args.out / "scaling.json").write_text(json.dumps(report, indent=2))
        (args.out / "scaling.md").write_text(table)


if __name__ == "__main__":
    main()
