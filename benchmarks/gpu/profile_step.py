"""Where a training step's time goes: ``torch.profiler`` over 10 steps of the paper's tabular model
(12 x 1024 encoder, 3-layer head, DACL+, LARS), after 10 warm-up steps; the operators with the most
device time, and the wall time per step.

    python benchmarks/gpu/profile_step.py --device cuda --precision bfloat16 --batch-size 4096
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from dacl.config import PretrainConfig
from dacl.core.optim import build_optimizer
from dacl.core.runtime import synchronize
from dacl.tables import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="bfloat16")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args()

    config = PretrainConfig(device=args.device, precision=args.precision, batch_size=args.batch_size)
    device = torch.device(args.device)
    model = build(config, 784).to(device)
    optimizer = build_optimizer(model, config.optimizer, config.lr, config.weight_decay, config.momentum)
    generator = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(args.batch_size, 784, device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bfloat16"):
            loss = model.loss(x, None, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(10):
        step()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(10):
        step()
    synchronize(device)
    per_step_ms = 100 * (time.perf_counter() - started)  # 10 steps: 1000 ms / 10
    print(f"{args.precision}, batch {args.batch_size}: {per_step_ms:.2f} ms a step (no profiler)")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as trace:
        for _ in range(10):
            step()
        synchronize(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(trace.key_averages().table(sort_by=key, row_limit=args.rows, max_name_column_width=50))


if __name__ == "__main__":
    main()
