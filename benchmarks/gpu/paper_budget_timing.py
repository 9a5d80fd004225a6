"""Wall time of one pretraining run at the ``paper`` budget on data of Fashion-MNIST's size.

The paper's tabular set-up (Table 1): 12 x 1024 encoder with BatchNorm and ReLU, 3-layer head to
128, batch 4096, LARS lr 0.1 with warm-up and cosine decay, 1000 epochs, here on 60,000 x 784
uniform random inputs (Fashion-MNIST's training set is 60,000 images of 28 x 28). Only the time is
measured: random data carry no labels worth probing. With ``--max-seconds`` the run stops once
the projection says 1000 epochs would exceed it, and reports the projection instead.

    python benchmarks/gpu/paper_budget_timing.py --device cuda --precision bfloat16 --out paper.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from dacl.config import PretrainConfig
from dacl.core.runtime import device_name
from dacl.studies.reproduce.table1 import BUDGETS
from dacl.tables import pretrain


class _OverBudget(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="bfloat16")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--method", default="dacl+")
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--epochs", type=int, default=None, help="default: the paper budget's 1000")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop early when 1000 epochs would not fit")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    budget = BUDGETS["paper"]
    epochs = args.epochs or budget.epochs
    config = PretrainConfig.from_dict(
        {
            **budget.config,
            "method": args.method,
            "epochs": epochs,
            "precision": args.precision,
            "device": args.device,
            "compile": args.compile,
        }
    )
    data = torch.rand(args.samples, args.features, generator=torch.Generator().manual_seed(0))
    records: list[dict[str, float]] = []
    started = time.perf_counter()

    def watch(epoch: int, record: dict[str, float], method) -> None:
        records.append(record)
        if args.max_seconds and epoch >= 5:
            per_epoch = statistics.median(r["seconds"] for r in records[1:])
            if time.perf_counter() - started + per_epoch * (epochs - epoch) > args.max_seconds:
                raise _OverBudget

    finished = True
    try:
        pretrain(data, config, progress=False, callbacks=(watch,))
    except _OverBudget:
        finished = False
    wall = time.perf_counter() - started
    per_epoch = statistics.median(r["seconds"] for r in records[1:]) if len(records) > 1 else records[0]["seconds"]
    steps_per_epoch = args.samples // config.batch_size
    report = {
        "config": config.to_dict(),
        "samples": args.samples,
        "epochs_run": len(records),
        "finished": finished,
        "wall_seconds": wall,
        "first_epoch_seconds": records[0]["seconds"],
        "median_epoch_seconds": per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "ms_per_step": 1000 * per_epoch / steps_per_epoch,
        "samples_per_s": steps_per_epoch * config.batch_size / per_epoch,
        # the paper's 1000 epochs, whatever --epochs ran (the first epoch's start-up counted once)
        "projected_seconds_for_paper_epochs": records[0]["seconds"] + per_epoch * (budget.epochs - 1),
        "final_loss": records[-1]["loss"],
        "device_name": device_name(config.device),
        "torch": torch.__version__,
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps({k: v for k, v in report.items() if k != "config"}, indent=1))


if __name__ == "__main__":
    main()
