"""Helpers for ``torch.distributed``: the same code runs in one process and in many (torchrun).

After lightly's ``utils/dist.py``: a gather that keeps gradients, so that a loss may take its
negatives from every process's share of a global batch; and BatchNorm over the global batch
(SimCLR's global BN), on every device: torch's ``SyncBatchNorm`` refuses CPU tensors, so gloo runs
use :class:`GlobalBatchNorm`, which sums the per-process statistics with a differentiable all-reduce.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "GlobalBatchNorm",
    "all_reduce_mean",
    "alone",
    "barrier",
    "gather_with_grad",
    "init_from_environment",
    "is_distributed",
    "local_rank",
    "rank",
    "sync_batchnorm",
    "world_size",
]


_alone = False  # inside ``alone()``: this process works as if there were no process group


def _grouped() -> bool:
    return not _alone and dist.is_available() and dist.is_initialized()


def is_distributed() -> bool:
    """Whether a process group with more than one process is initialised (and not set aside by ``alone``)."""
    return _grouped() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes of the initialised process group, 1 without one."""
    return dist.get_world_size() if _grouped() else 1


def rank() -> int:
    """This process's rank in the initialised process group, 0 without one."""
    return dist.get_rank() if _grouped() else 0


@contextmanager
def alone() -> Iterator[None]:
    """Work in this process only, whatever process group exists: every helper here answers as in one
    process (a fit's choice on rank 0 after a pretraining on every rank trains its candidates alone)."""
    global _alone
    before, _alone = _alone, True
    try:
        yield
    finally:
        _alone = before


def local_rank() -> int:
    """This process's rank on its machine (torchrun's ``LOCAL_RANK``), 0 without one."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def init_from_environment(device: str = "cpu") -> bool:
    """Join the process group torchrun describes (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR``, ...):
    NCCL for CUDA devices, gloo otherwise. Returns whether a group of several processes exists."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        if cuda:
            torch.cuda.set_device(local_rank())
        dist.init_process_group("nccl" if cuda else "gloo")
    return is_distributed()


def barrier() -> None:
    """Wait for every process (no-op in one process)."""
    if is_distributed():
        dist.barrier()


def all_reduce_mean(x: Tensor) -> Tensor:
    """The mean of ``x`` over processes (``x`` itself in one process)."""
    if not is_distributed():
        return x
    x = x.clone()
    dist.all_reduce(x)
    return x / world_size()


class _GatherRows(torch.autograd.Function):
    """All processes' rows; backward: the gradient of every process's loss for this process's rows
    (summed over processes: each process's loss depends on every row)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        parts = [torch.empty_like(x) for _ in range(world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        rows = grad.shape[0] // world_size()
        return grad[rank() * rows : (rank() + 1) * rows]


class _SumOverProcesses(torch.autograd.Function):
    """The sum of ``x`` over processes; backward: the sum of the gradients (every process uses it)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        total = x.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def gather_with_grad(x: Tensor) -> tuple[Tensor, int]:
    """Every process's ``x`` (equal shapes) concatenated along dim 0, gradients flowing back to
    each process's own rows, and the offset of this process's rows; ``(x, 0)`` in one process."""
    if world_size() == 1:
        return x, 0
    return _GatherRows.apply(x), rank() * x.shape[0]


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch: every process's sums of
    x and x² and its row count are added by an all-reduce that gradients flow through, so that N
    processes with B/N rows each normalise, and differentiate, exactly as one process with B rows.
    In one process, or in eval mode, it is ``nn.BatchNorm``."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects (N, C, ...) input, got shape {tuple(x.shape)}.")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        channels = x.shape[1]
        dims = [0, *range(2, x.dim())]
        values = x.float()
        count = torch.full((1,), values.numel() / channels, device=x.device)
        stats = _SumOverProcesses.apply(torch.cat([values.sum(dims), values.square().sum(dims), count]))
        total = stats[-1]
        mean = stats[:channels] / total
        var = (stats[channels : 2 * channels] / total - mean.square()).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(var.detach() * total / (total - 1).clamp_min(1), factor)
        shape = (1, channels) + (1,) * (x.dim() - 2)
        out = (values - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)


def sync_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm layer normalising over the global batch: torch's
    ``SyncBatchNorm`` on CUDA, :class:`GlobalBatchNorm` elsewhere; parameters and buffers kept."""
    if next(module.parameters(), torch.empty(0)).device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        converted = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                    module.track_running_stats)  # fmt: skip
        converted.load_state_dict(module.state_dict())
        converted.to(next(module.buffers(), torch.empty(0)).device)
        if module.affine:
            converted.weight, converted.bias = module.weight, module.bias  # the same parameters
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, sync_batchnorm(child))
    return module
