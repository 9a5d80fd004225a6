"""Where batches come from: a source yields each epoch's batches in an order drawn from the run's
generator, so that a run resumed from a checkpoint (which holds the generator's state) sees the
same batches as an unbroken one.

A source has ``len(source)`` (batches per epoch), ``samples`` (samples per epoch) and
``epoch(generator)``, an iterator of ``(inputs, targets)`` (``targets`` None without labels); a source
that can train in several processes also has ``shard(rank, world_size)``: the same source giving
this process its share of every global batch (every process draws the same order from equally
seeded generators, and takes its own consecutive slice of each batch); a source with
``set_epoch(epoch)`` is told the epoch before each (as DistributedSampler is), so that it can place
the epoch in its own order (``dacl.images.stream``).
:class:`TensorSource` is the fast path for data held in memory on the device: one permutation per
epoch and a gather per batch, no DataLoader, no host round trip. ``dacl.graphs.GraphSource`` batches
PyG graphs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import Tensor

__all__ = ["BatchSource", "TensorSource", "check_shardable"]


def check_shardable(batch_size: int, world: int) -> int:
    """Rows of a global batch of ``batch_size`` that each of ``world`` processes takes."""
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} is not divisible by the {world} processes; "
            f"use a multiple of {world} (the global batch is split evenly)."
        )
    return batch_size // world


class BatchSource(Protocol):
    samples: int

    def __len__(self) -> int: ...

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[Any, Tensor | None]]: ...


class TensorSource:
    """Shuffled batches of ``batch_size`` rows of tensors held in memory (on the run's device); the
    last partial batch is dropped, as mixup and NT-Xent want full batches. ``steps_per_epoch`` ends an
    epoch after that many batches of its fresh order (rows drawn without replacement within an epoch),
    as the table stream's does. ``even=True`` (supervised fine-tuning on few rows) instead cuts every
    epoch's order into ``ceil(rows / batch_size)`` batches of equal size (±1 row): every row is seen in
    every epoch, and no step is taken on the few rows a full-batch cut leaves over (on 800 rows, 3 x 256
    and a step of 32 rows cost fine-tuning 5 points, docs/results/fine_tune_batches.md). One process."""

    def __init__(
        self,
        inputs: Tensor,
        targets: Tensor | None,
        batch_size: int,
        steps_per_epoch: int | None = None,
        *,
        even: bool = False,
    ) -> None:
        if targets is not None and len(targets) != len(inputs):
            raise ValueError(f"targets have {len(targets)} rows but inputs have {len(inputs)}.")
        if steps_per_epoch is not None and steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive number of steps, got {steps_per_epoch}.")
        if even and len(inputs) < 2:
            raise ValueError(f"even batches need at least 2 rows, got {len(inputs)}.")
        self.inputs = inputs
        self.targets = targets
        self.batch_size = min(batch_size, len(inputs))
        self.steps_per_epoch = steps_per_epoch
        self.even = even
        self.samples = len(inputs) if even else len(self) * self.batch_size  # of the global batches
        self.rank, self.world = 0, 1

    def _whole(self) -> int:
        """Batches in one pass: full ones, or the even cut's (each of at least 2 rows, as BatchNorm needs)."""
        rows = len(self.inputs)
        return min(-(-rows // self.batch_size), rows // 2) if self.even else rows // self.batch_size

    def __len__(self) -> int:
        whole = self._whole()
        return whole if self.steps_per_epoch is None else min(whole, self.steps_per_epoch)

    def to(self, device: torch.device) -> TensorSource:
        moved = copy.copy(self)
        moved.inputs = self.inputs.to(device)
        moved.targets = None if self.targets is None else self.targets.to(device)
        return moved

    def shard(self, rank: int, world: int) -> TensorSource:
        """Process ``rank`` of ``world``: rows ``rank * B/world`` to ``(rank + 1) * B/world`` of every batch."""
        if self.even:
            raise ValueError("even batches run in one process; shard full batches (even=False).")
        check_shardable(self.batch_size, world)
        shard = copy.copy(self)
        shard.rank, shard.world = rank, world
        return shard

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor | None]]:
        order = torch.randperm(len(self.inputs), generator=generator, device=self.inputs.device)
        if self.even:
            for index in order.tensor_split(self._whole())[: len(self)]:
                yield self.inputs[index], None if self.targets is None else self.targets[index]
            return
        local = self.batch_size // self.world
        for batch in range(len(self)):
            start = batch * self.batch_size + self.rank * local
            index = order[start : start + local]
            yield self.inputs[index], None if self.targets is None else self.targets[index]
