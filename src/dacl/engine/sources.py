"""Where batches come from: a source yields each epoch's batches in an order drawn from the run's
generator, so that a run resumed from a checkpoint (which holds the generator's state) sees the
same batches as an unbroken one.

A source has ``len(source)`` (batches per epoch), ``samples`` (samples per epoch) and
``epoch(generator)``, an iterator of ``(inputs, targets)`` (``targets`` None without labels).
:class:`TensorSource` is the fast path for data held in memory on the device: one permutation per
epoch and a gather per batch, no DataLoader, no host round trip. ``dacl.graphs.GraphSource`` batches
PyG graphs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import Tensor

__all__ = ["BatchSource", "TensorSource"]


class BatchSource(Protocol):
    samples: int

    def __len__(self) -> int: ...

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[Any, Tensor | None]]: ...


class TensorSource:
    """Shuffled batches of ``batch_size`` rows of tensors held in memory (on the run's device); the
    last partial batch is dropped, as mixup and NT-Xent want full batches."""

    def __init__(self, inputs: Tensor, targets: Tensor | None, batch_size: int) -> None:
        if targets is not None and len(targets) != len(inputs):
            raise ValueError(f"targets have {len(targets)} rows but inputs have {len(inputs)}.")
        self.inputs = inputs
        self.targets = targets
        self.batch_size = min(batch_size, len(inputs))
        self.samples = len(self) * self.batch_size

    def __len__(self) -> int:
        return len(self.inputs) // self.batch_size

    def to(self, device: torch.device) -> TensorSource:
        targets = None if self.targets is None else self.targets.to(device)
        return type(self)(self.inputs.to(device), targets, self.batch_size)

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor | None]]:
        order = torch.randperm(len(self.inputs), generator=generator, device=self.inputs.device)
        for batch in range(len(self)):
            index = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield self.inputs[index], None if self.targets is None else self.targets[index]
