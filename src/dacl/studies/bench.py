"""Speed of DACL pretraining on this machine: ``dacl bench``.

Measured in one run, per batch size and precision: samples/s of the real training loop
(``dacl.pretrain``, through the engine), the model FLOP/s it reaches against this machine's matrix-multiply
FLOP/s (the roofline), the same step written the straightforward way from common parts, the share
of a step spent in the noise and in the loss, and the peak resident memory. Each configuration runs
in a fresh process so that its peak memory is its own.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dacl.config import PretrainConfig
from dacl.core.encoders import MLPEncoder, ProjectionHead
from dacl.core.losses import NTXentLoss, masked_cross_entropy_ntxent
from dacl.core.optim import build_optimizer
from dacl.core.runtime import device_name, synchronize
from dacl.core.views import MixupPlus
from dacl.tables import pretrain

__all__ = [
    "BenchSetup",
    "bench_table",
    "device_name",
    "matmul_flops",
    "model_flops_per_sample",
    "run_bench",
    "synchronize",
]


@dataclass
class BenchSetup:
    """The model benchmarked: the paper's tabular encoder (12 x 1024) with its head, input 784."""

    in_features: int = 784
    width: int = 1024
    depth: int = 12
    head_depth: int = 3
    projection_dim: int = 128
    steps: int = 10
    method: str = "dacl+"
    repeats: int = 3  # dacl and straightforward measured alternately this many times; the best of each kept
    device: str = "cpu"
    compile: bool = False  # dacl's loop through torch.compile (the straightforward step never is)

    def config(self, batch_size: int, precision: str, epochs: int) -> PretrainConfig:
        return PretrainConfig(
            method=self.method, depth=self.depth, width=self.width, head_depth=self.head_depth,
            projection_dim=self.projection_dim, epochs=epochs, batch_size=batch_size, precision=precision,
            warmup_epochs=0, device=self.device, compile=self.compile,
        )  # fmt: skip


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def _best_time(fn, repeats: int, device: torch.device | str = "cpu") -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best


def matmul_flops(
    dtype: torch.dtype, size: int = 2048, repeats: int = 5, rows: int | None = None, device: str = "cpu"
) -> float:
    """The matrix-multiply FLOP/s of ``device`` at ``dtype``: a (rows x size) @ (size x size) product
    (square when ``rows`` is None) of random data, best of ``repeats``."""
    rows = rows or size
    a = torch.randn(rows, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    return 2 * rows * size**2 / _best_time(lambda: torch.mm(a, b), repeats, device)


def model_flops_per_sample(setup: BenchSetup, batch_size: int) -> float:
    """Matrix-multiply FLOPs of one training step per sample: both views forward through every
    Linear layer and backward (weight and input gradients: 2x forward; the first layer's input is
    data, so it gets no input gradient: 1x), plus the (2N x 2N) similarity forward and backward."""
    first = setup.in_features * setup.width
    sizes = [setup.width] * setup.depth
    rest = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    head = [setup.width] * setup.head_depth + [setup.projection_dim]
    rest += sum(a * b for a, b in zip(head[:-1], head[1:]))
    per_view = 2 * first * 2 + 2 * rest * 3  # 2 FLOPs a multiply-add; forward + backward
    similarity = 2 * (2 * batch_size) * setup.projection_dim * 2  # (2N x K) @ (K x 2N), per sample
    return 2 * per_view + 3 * similarity


def _measure_loop(setup: BenchSetup, batch_size: int, precision: str) -> float:
    """Samples/s of ``dacl.pretrain`` itself: the last of two epochs of ``steps`` steps."""
    data = torch.rand(batch_size * setup.steps, setup.in_features)
    result = pretrain(data, setup.config(batch_size, precision, epochs=2), progress=False)
    return result.history[-1]["samples_per_s"]


def _straightforward_step_time(setup: BenchSetup, batch_size: int, precision: str) -> float:
    """Seconds per step of the step written from common parts: a DataLoader over a TensorDataset,
    DACL+ mixup done per batch in plain Python, each view through the network separately, and the
    usual NT-Xent (exp, masked sum, log). The optimiser is the same LARS as dacl's, so the ratio
    measures the step, not the choice of optimiser."""
    from torch.utils.data import DataLoader, TensorDataset

    device = torch.device(setup.device)
    torch.manual_seed(0)
    encoder = MLPEncoder(setup.in_features, setup.width, setup.depth).to(device)
    head = ProjectionHead(setup.width, setup.width, setup.projection_dim, setup.head_depth).to(device)
    optimizer = build_optimizer(torch.nn.ModuleList([encoder, head]), "lars", 0.1, 1e-6)
    loader = DataLoader(
        TensorDataset(torch.rand(batch_size * setup.steps, setup.in_features)),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
    )
    tau = 0.5

    def mix(x):
        n = x.shape[0]
        partner = x[(torch.arange(n, device=device) + torch.randint(1, n, (n,), device=device)) % n]
        kind = torch.randint(0, 3, (n, 1), device=device)
        lam = 0.9 + 0.1 * torch.rand(n, 1, device=device)
        linear = lam * x + (1 - lam) * partner
        geometric = x.pow(lam) * partner.pow(1 - lam)
        mask = (torch.rand_like(x) > 0.3).float()
        binary = x * mask + partner * (1 - mask)
        return torch.where(kind == 0, linear, torch.where(kind == 1, geometric, binary))

    def ntxent(z1, z2):
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        n = z1.shape[0]
        sim = torch.exp(z @ z.T / tau)
        mask = ~torch.eye(2 * n, dtype=torch.bool, device=device)
        denominator = (sim * mask).sum(1)
        positive = torch.exp((z[:n] * z[n:]).sum(1) / tau).repeat(2)
        return -torch.log(positive / denominator).mean()

    def epoch():
        for (x,) in loader:
            x = x.to(device)  # batches come from host memory, as a DataLoader gives them
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
                z1 = head(encoder(mix(x)))
                z2 = head(encoder(mix(x)))
                loss = ntxent(z1.float(), z2.float())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    epoch()  # warm-up
    synchronize(device)
    started = time.perf_counter()
    epoch()
    synchronize(device)
    return (time.perf_counter() - started) / setup.steps


def _shares(setup: BenchSetup, batch_size: int, samples_per_s: float) -> dict[str, float]:
    """Seconds of the noise (both views of a batch) and of the loss (forward and backward), as
    shares of one training step at the measured speed; and dacl's fused loss against the
    masked ``cross_entropy`` form, timed side by side on the same projections."""
    step = batch_size / samples_per_s
    device = setup.device
    x = torch.rand(batch_size, setup.in_features, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    noise = MixupPlus()
    noise_time = _best_time(lambda: noise.pair(x, generator), 5, device)
    z = torch.randn(2 * batch_size, setup.projection_dim, device=device, requires_grad=True)
    criterion = NTXentLoss(0.5)
    loss_time = _best_time(lambda: criterion(z[:batch_size], z[batch_size:]).backward(), 5, device)
    reference = masked_cross_entropy_ntxent
    reference_time = _best_time(lambda: reference(z[:batch_size], z[batch_size:], 0.5).backward(), 5, device)
    return {"noise_share": noise_time / step, "loss_share": loss_time / step,
            "loss_speedup_vs_cross_entropy": reference_time / loss_time}  # fmt: skip


def _one_configuration(setup: BenchSetup, batch_size: int, precision: str, roofline_size: int, queue) -> None:
    """dacl and the straightforward step alternately (so that a slow spell of a shared machine hits
    both), the best of each; then the shares and this precision's matmul roofline, in the same process."""
    ours, straightforward = [], []
    for _ in range(max(1, setup.repeats)):
        ours.append(_measure_loop(setup, batch_size, precision))
        straightforward.append(batch_size / _straightforward_step_time(setup, batch_size, precision))
    samples_per_s = max(ours)
    shares = _shares(setup, batch_size, samples_per_s)
    # The roofline: the best of the square probe and the model's own largest product (both views,
    # 2N x width times width x width), so that a fraction above 1 cannot come from a slow probe shape.
    dtype = DTYPES[precision]
    roofline = max(matmul_flops(dtype, roofline_size, device=setup.device),
                   matmul_flops(dtype, setup.width, rows=2 * batch_size, device=setup.device))  # fmt: skip
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    on_gpu = torch.device(setup.device).type == "cuda"
    queue.put({
        "samples_per_s": samples_per_s,
        "samples_per_s_runs": ours,
        "straightforward_samples_per_s": max(straightforward),
        "straightforward_samples_per_s_runs": straightforward,
        "speedup_vs_straightforward": samples_per_s / max(straightforward),
        **shares,
        "roofline_flops_per_s": roofline,
        "peak_rss_mb": peak_kb / 1024,
        "peak_device_mb": torch.cuda.max_memory_allocated(setup.device) / 2**20 if on_gpu else None,
    })  # fmt: skip


def run_bench(
    out: str | Path | None = None,
    setup: BenchSetup | None = None,
    batch_sizes: tuple[int, ...] = (1024, 4096),
    precisions: tuple[str, ...] = ("float32", "bfloat16"),
    roofline_size: int = 2048,
) -> dict[str, Any]:
    """Measure every (batch size, precision) pair; write ``bench.json`` into ``out`` if given."""
    setup = setup or BenchSetup()
    context = mp.get_context("spawn")
    rows = []
    for batch_size in batch_sizes:
        for precision in precisions:
            queue = context.Queue()
            worker = context.Process(
                target=_one_configuration, args=(setup, batch_size, precision, roofline_size, queue)
            )
            worker.start()
            measured = queue.get()
            worker.join()
            flops = measured["samples_per_s"] * model_flops_per_sample(setup, batch_size)
            rows.append({
                "batch_size": batch_size,
                "precision": precision,
                **measured,
                "model_flops_per_s": flops,
                "roofline_fraction": flops / measured["roofline_flops_per_s"],
            })  # fmt: skip
    rooflines = {p: max(r["roofline_flops_per_s"] for r in rows if r["precision"] == p) for p in precisions}
    report = {
        "setup": setup.__dict__,
        "rooflines": rooflines,
        "rows": rows,
        "machine": {"processor": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__, "device": device_name(setup.device)},
    }  # fmt: skip
    if out is not None:
        from dacl.files import write_atomic

        write_atomic(Path(out) / "bench.json", json.dumps(report, indent=2).encode())
    return report


def bench_table(report: dict[str, Any]) -> str:
    """The bench rows as a Markdown table."""
    lines = [
        "| batch | precision | samples/s | model GFLOP/s | roofline fraction | vs straightforward | noise share | "
        "loss share | fused loss vs cross_entropy | peak RSS (MB) | peak device memory (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        device_mb = "-" if r.get("peak_device_mb") is None else f"{r['peak_device_mb']:.0f}"
        lines.append(
            f"| {r['batch_size']} | {r['precision']} | {r['samples_per_s']:.0f} | {r['model_flops_per_s'] / 1e9:.1f} | "
            f"{r['roofline_fraction']:.2f} | {r['speedup_vs_straightforward']:.2f}x | {100 * r['noise_share']:.1f}% | "
            f"{100 * r['loss_share']:.1f}% | {r['loss_speedup_vs_cross_entropy']:.2f}x | "
            f"{r['peak_rss_mb']:.0f} | {device_mb} |"
        )
    return "\n".join(lines) + "\n"
