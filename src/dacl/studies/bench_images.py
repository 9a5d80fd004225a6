"""Speed of a SimCLR step on images: ``dacl bench --domain images``.

Measured in one process, alternating, the best of ``repeats`` for each:

- **dacl**: the engine's own loop (``dacl.images.pretrain_images``, the last of two epochs): uint8
  images held on the device, both views augmented per batch on the device from the run's generator,
  both views through the network as one batch of 2N, channels_last, the run's precision;
- **straightforward**: what a SimCLR script usually does: a ``DataLoader`` with ``workers`` worker
  processes whose dataset augments one image at a time (the same crop, flip, colour and grayscale
  operations, applied per image), each view sent through the network separately, the textbook
  cross-entropy NT-Xent, the same model, precision and LARS optimiser, default memory format.

Also the share of a dacl step spent augmenting (both views of one batch, timed alone).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from dacl.core.augment import SimCLRAugment
from dacl.core.losses import masked_cross_entropy_ntxent
from dacl.core.optim import build_optimizer
from dacl.core.runtime import autocast, device_name, resolve_precision, synchronize
from dacl.images.train import build_image_method, image_config, pretrain_images

__all__ = ["ImageBenchSetup", "image_bench_table", "run_image_bench"]


@dataclass
class ImageBenchSetup:
    """The model and data timed: SimCLR on (channels x side x side) random uint8 images."""

    architecture: str = "resnet18"
    resnet_width: float = 1.0
    side: int = 32
    channels: int = 3
    batch_size: int = 256
    steps: int = 8
    workers: int = 2
    repeats: int = 2
    device: str = "cpu"
    precision: str = "auto"

    def config(self, epochs: int):
        return image_config(method="simclr", architecture=self.architecture, resnet_width=self.resnet_width,
                            batch_size=self.batch_size, epochs=epochs, warmup_epochs=0, lr=1.0, device=self.device,
                            precision=self.precision)  # fmt: skip


def _images(setup: ImageBenchSetup) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    shape = (setup.batch_size * setup.steps, setup.channels, setup.side, setup.side)
    return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)


def _dacl_samples_per_s(setup: ImageBenchSetup, images: torch.Tensor) -> float:
    result = pretrain_images(images, setup.config(epochs=2), progress=False)
    return result.history[-1]["samples_per_s"]


class _PerImageViews(torch.utils.data.Dataset):
    """Two augmented views of one image at a time, made in the DataLoader's workers."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images
        self.augment = SimCLRAugment()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images[index : index + 1].float().div_(255)
        return self.augment(image)[0], self.augment(image)[0]


def _worker_threads(_: int) -> None:
    torch.set_num_threads(1)


def _straightforward_samples_per_s(setup: ImageBenchSetup, images: torch.Tensor) -> float:
    device = torch.device(setup.device)
    precision = resolve_precision(setup.precision, device)
    config = setup.config(epochs=1)
    method = build_image_method(config, setup.channels, setup.side, channels_last=False).to(device)
    optimizer = build_optimizer(method, "lars", 1.0, 1e-6)
    loader = torch.utils.data.DataLoader(
        _PerImageViews(images), batch_size=setup.batch_size, shuffle=True, drop_last=True,
        num_workers=setup.workers, worker_init_fn=_worker_threads if setup.workers else None,
        pin_memory=device.type == "cuda", persistent_workers=False,
    )  # fmt: skip

    def epoch() -> None:
        for view1, view2 in loader:
            view1, view2 = view1.to(device, non_blocking=True), view2.to(device, non_blocking=True)
            with autocast(device, precision):
                z1 = method.head(method.encoder(view1))
                z2 = method.head(method.encoder(view2))
                loss = masked_cross_entropy_ntxent(z1.float(), z2.float(), config.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize(device)

    epoch()  # warm-up: workers start, kernels compile
    started = time.perf_counter()
    epoch()
    return len(loader) * setup.batch_size / (time.perf_counter() - started)


def _augment_seconds(setup: ImageBenchSetup, images: torch.Tensor) -> float:
    """Seconds to augment both views of one batch on the device, best of five."""
    device = torch.device(setup.device)
    batch = images[: setup.batch_size].to(device).float().div_(255)
    augment, g = SimCLRAugment(), torch.Generator(device=device).manual_seed(0)
    augment.pair(batch, g)
    best = float("inf")
    for _ in range(5):
        synchronize(device)
        started = time.perf_counter()
        augment.pair(batch, g)
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best


def run_image_bench(setup: ImageBenchSetup) -> dict[str, Any]:
    """Samples/s of the dacl step and of the straightforward one, alternated; the augmentation share."""
    images = _images(setup)
    dacl, straightforward = [], []
    for _ in range(setup.repeats):
        dacl.append(_dacl_samples_per_s(setup, images))
        straightforward.append(_straightforward_samples_per_s(setup, images))
    best_dacl, best_straightforward = max(dacl), max(straightforward)
    augment = _augment_seconds(setup, images)
    step = setup.batch_size / best_dacl
    precision = resolve_precision(setup.precision, torch.device(setup.device))
    return {
        "setup": asdict(setup), "device": device_name(setup.device), "precision": precision,
        "dacl_samples_per_s": best_dacl, "straightforward_samples_per_s": best_straightforward,
        "ratio": best_dacl / best_straightforward, "dacl_all": dacl, "straightforward_all": straightforward,
        "augment_seconds_per_step": augment, "step_seconds": step, "augment_share": augment / step,
        "threads": torch.get_num_threads(),
    }  # fmt: skip


def image_bench_table(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    s = report["setup"]
    lines = [
        f"SimCLR step, {s['architecture']} (width {s['resnet_width']:g}), {s['channels']} x {s['side']} x {s['side']} "
        f"images, batch {s['batch_size']}, {report['precision']}, {report['device']}",
        "",
        "| step | images/s (samples, two views each) | vs straightforward |",
        "|---|---:|---:|",
        f"| dacl (engine: batched augmentation on the device, one 2N pass) | {report['dacl_samples_per_s']:.0f} | "
        f"{report['ratio']:.2f}x |",
        f"| straightforward (DataLoader, {s['workers']} workers, per-image augmentation, one pass per view) | "
        f"{report['straightforward_samples_per_s']:.0f} | 1.00x |",
        "",
        f"Augmenting both views of a batch: {1000 * report['augment_seconds_per_step']:.1f} ms of a "
        f"{1000 * report['step_seconds']:.1f} ms dacl step ({100 * report['augment_share']:.1f}%).",
    ]
    return "\n".join(lines) + "\n"
