"""Helpers for ``torch.distributed``: the same code runs in one process and in many (torchrun).

After lightly's ``utils/dist.py``: a gather that keeps gradients, so that a loss may take its
negatives from every process's share of a global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather_with_grad", "rank", "world_size"]


def world_size() -> int:
    """Number of processes of the initialised process group, 1 without one."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank in the initialised process group, 0 without one."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def gather_with_grad(x: Tensor) -> tuple[Tensor, int]:
    """Every process's ``x`` (equal shapes) concatenated along dim 0, gradients flowing back to
    each process's own rows, and the offset of this process's rows; ``(x, 0)`` in one process."""
    if world_size() == 1:
        return x, 0
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0), rank() * x.shape[0]
