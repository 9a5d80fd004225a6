"""The training loop: one for every domain, every method and every user's model (after nanoGPT's
``train.py``).

Read top to bottom: resolve the device and precision (here, when the run starts, never in the
config), move the method there, build the optimiser and the generator, resume from a checkpoint if
asked; then per epoch the batches of the source, and per step the learning rate (warm-up, then
cosine or constant), autocast, the method's loss (Algorithm 1 of Verma et al., ICML 2021, for the
contrastive methods), backward and the optimiser step. Nothing is read back from the device during
an epoch: the loss is summed on the device and read once at the epoch's end, where a NaN or
infinite loss stops the run, the history grows, callbacks run and checkpoints are written atomically.

Inside a process group (torchrun, or ``torch.distributed.init_process_group`` before ``fit``) the
same loop runs in every process: each takes its share of every global batch (``config.batch_size``
is the global batch), the method runs inside ``DistributedDataParallel`` (gradients averaged over
processes, NT-Xent negatives gathered from all of them), BatchNorm normalises over the global batch
(``sync_batchnorm``), the batch order is the same everywhere and each process draws its own views;
process 0 writes checkpoints, shows progress and runs callbacks, and every process resumes.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dacl.config import PretrainConfig
from dacl.core.distributed import all_reduce_mean, barrier, local_rank, rank, sync_batchnorm, world_size
from dacl.core.optim import build_optimizer, warmup_cosine
from dacl.core.runtime import autocast, resolve_device, resolve_precision, synchronize
from dacl.engine.checkpoint import (
    CHECKPOINT_FILE,
    PREVIOUS_FILE,
    RandomStateMismatch,
    find_checkpoint,
    load_checkpoint,
    read_state,
    remove_leftovers,
    save_checkpoint,
)
from dacl.engine.sources import BatchSource
from dacl.methods import Method

__all__ = ["Callback", "PretrainResult", "fit"]

# called after every epoch with (epoch, that epoch's history record, the method), before that epoch's
# checkpoint: entries a callback adds to the record (an evaluation) are kept in the checkpoint's history
Callback = Callable[[int, dict[str, float], Method], None]


@dataclass
class PretrainResult:
    """The trained method (its ``encoder`` is what downstream tasks use), the config and the history."""

    model: Method
    config: PretrainConfig
    history: list[dict[str, float]] = field(default_factory=list)
    # how the run was placed: {"device", "precision", "processes"} (also in its checkpoint's "resolved")
    placement: dict[str, Any] = field(default_factory=dict)
    # steps taken, and the run's length where ``time_limit`` shortened it (its schedule fitted to the time)
    steps: int = 0
    shortened_to: int | None = None

    @property
    def encoder(self) -> nn.Module:
        return self.model.encoder


def fit(
    method: Method,
    source: BatchSource,
    config: PretrainConfig,
    *,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    state: dict[str, Any] | None = None,
    time_limit: float | None = None,
) -> PretrainResult:
    """Train ``method`` on the batches of ``source`` for ``config.epochs`` epochs.

    With ``checkpoint_dir`` a checkpoint is written every ``checkpoint_every`` epochs (0: only at
    the end) and at the end; ``resume=True`` continues from the checkpoint there and reaches the
    same weights as an unbroken run. ``state`` (JSON-able) is stored in every checkpoint.
    ``time_limit`` (seconds): the run fits in it. After its first steps have been timed, and again
    after every epoch, a run that would take longer is shortened to the steps that fit, its warm-up and
    cosine decay fitted to the new length (``shortened_to``), so that it still ends at a low learning
    rate; past the limit it stops at once. A shortened run does not repeat an unlimited one.
    """
    started_run = time.perf_counter()
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit}.")
    if checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be 0 (only at the end) or a number of epochs, got {checkpoint_every}.")
    device = resolve_device(config.device)
    processes, main = world_size(), rank() == 0
    if time_limit is not None and processes > 1:
        raise ValueError("time_limit fits one process's run; in several processes give epochs instead.")
    if processes > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank())
    precision = resolve_precision(config.precision, device)
    method.to(device)
    if processes > 1:
        shard = getattr(source, "shard", None)
        if shard is None:
            raise ValueError(
                f"{type(source).__name__} cannot split its batches over {processes} processes: "
                "give it shard(rank, world_size) (see dacl.engine.sources)."
            )
        source = shard(rank(), processes)
        if config.sync_batchnorm:
            sync_batchnorm(method)
    placement = {"device": str(device), "precision": precision, "processes": processes}
    result = PretrainResult(method, config, placement=placement)
    run_state = {"config": config.to_dict(), "resolved": placement, **(state or {})}

    def checkpoint(epoch: int, optimizer=None, generator=None) -> None:
        if checkpoint_dir is not None:
            if main:
                save_checkpoint(checkpoint_dir, method, optimizer, generator,
                                {**run_state, "epoch": epoch, "history": result.history})  # fmt: skip
            barrier()

    if not method.trains or config.epochs == 0:
        method.eval()
        checkpoint(0)
        return result

    steps_per_epoch = len(source)
    if steps_per_epoch < 1:
        raise ValueError("the data hold no full batch; lower batch_size or add samples.")
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = min(int(config.warmup_epochs * steps_per_epoch), total_steps - 1)
    if config.warmup_epochs and warmup_steps >= total_steps / 2:
        warnings.warn(
            f"the learning-rate warm-up ({config.warmup_epochs:g} epochs) takes {warmup_steps} of the run's "
            f"{total_steps} steps, so the run trains mostly below its peak lr; set warmup_epochs to about a tenth "
            f"of epochs ({config.epochs}) or fewer.",
            stacklevel=2,
        )
    optimizer = build_optimizer(method, config.optimizer, config.lr, config.weight_decay, config.momentum)
    generator = torch.Generator(device=device).manual_seed(config.seed)  # the batch order: equal in every process
    views = generator if processes == 1 else torch.Generator(device=device)  # each process its own views

    start_epoch = 0
    found = (
        resume
        and checkpoint_dir is not None
        and any((Path(checkpoint_dir) / name).is_file() for name in (CHECKPOINT_FILE, PREVIOUS_FILE))
    )
    if found:
        if main:
            remove_leftovers(checkpoint_dir)
        barrier()
        start_epoch = _resume(checkpoint_dir, method, optimizer, generator, config, precision, result)

    from tqdm.auto import tqdm

    bar = tqdm(total=total_steps, initial=start_epoch * steps_per_epoch, disable=not (progress and main),
               desc=config.method, unit="step", leave=False)  # fmt: skip
    step_method = method.compiled() if config.compile else method
    train_step = step_method.loss
    if processes > 1:
        from torch.nn.parallel import DistributedDataParallel

        # BatchNorm buffers are not broadcast from process 0 at every step: they are equal under global
        # BatchNorm, and each process's own (by design) without it
        quiet = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        buffers = {"forward_sync_buffers": False} if quiet else {"broadcast_buffers": False}
        ids = [device.index] if device.type == "cuda" else None
        train_step = DistributedDataParallel(_Loss(step_method), device_ids=ids, **buffers)
    method.train()
    lr = config.lr
    step = start_epoch * steps_per_epoch
    budget = _TimeBudget(time_limit, started_run, device) if time_limit is not None else None
    for epoch in range(start_epoch, config.epochs):
        if step >= total_steps:
            break
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        taken = 0
        if processes > 1:  # a function of the run, epoch and process: exact on resume without saving it
            views.manual_seed(config.seed * 1_000_003 + epoch * 1_009 + rank() + 1)
        set_epoch = getattr(source, "set_epoch", None)  # a stream that places the epoch in its passes
        if set_epoch is not None:
            set_epoch(epoch)
        for inputs, targets in source.epoch(generator):
            lr = config.lr * warmup_cosine(step, total_steps, warmup_steps, config.schedule)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            inputs, targets = _to(inputs, device), _to(targets, device)
            with autocast(device, precision):
                loss = train_step(inputs, targets, views)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            bar.update(1)
            step, taken = step + 1, taken + 1
            if budget is not None:
                total_steps, warmup_steps = budget.replan(step, total_steps, warmup_steps, timed_steps=8)
                if budget.expired():
                    total_steps = step
                bar.total = total_steps
            if step >= total_steps:
                break
        epoch_loss = all_reduce_mean(loss_sum).item() / max(1, taken)  # waits for the device: true timing
        seconds = time.perf_counter() - started
        if not math.isfinite(epoch_loss):
            raise FloatingPointError(
                f"the loss became {epoch_loss} in epoch {epoch + 1}; lower lr (now {config.lr}) or raise temperature."
            )
        record = {"epoch": epoch + 1, "loss": epoch_loss, "lr": lr, "seconds": seconds,
                  "samples_per_s": source.samples * taken / len(source) / seconds}  # fmt: skip
        result.history.append(record)
        bar.set_postfix(loss=f"{epoch_loss:.4f}", samples_s=f"{record['samples_per_s']:.0f}")
        for callback in callbacks if main else ():  # before the checkpoint: what it adds to the record is saved
            callback(epoch + 1, record, method)
        method.train()
        if budget is not None:
            total_steps, warmup_steps = budget.replan(step, total_steps, warmup_steps)
            bar.total = total_steps
        last = epoch + 1 == config.epochs or step >= total_steps
        if last or (checkpoint_every and (epoch + 1) % checkpoint_every == 0):
            checkpoint(epoch + 1, optimizer, generator)
    bar.close()
    method.eval()
    result.steps = step
    if step < steps_per_epoch * config.epochs:
        result.shortened_to = step
    return result


class _TimeBudget:
    """A run's time limit: the seconds per step measured on the run itself, the run shortened to fit."""

    def __init__(self, limit: float, started: float, device: torch.device) -> None:
        self.deadline = started + limit
        self.device = device
        self.mark: tuple[int, float] | None = None  # (step, clock) after the first step: its start-up excluded

    def expired(self) -> bool:
        return time.perf_counter() >= self.deadline

    def replan(self, step: int, total: int, warmup: int, timed_steps: int | None = None) -> tuple[int, int]:
        """(total steps, warm-up steps) that end by the deadline at the pace measured so far; called after
        every step with ``timed_steps`` (re-plans once that many steps after the first are timed) and
        after every epoch without it."""
        if self.mark is None:
            synchronize(self.device)
            self.mark = (step, time.perf_counter())
            return total, warmup
        first, clock = self.mark
        if timed_steps is not None and step - first != timed_steps:
            return total, warmup
        synchronize(self.device)
        now = time.perf_counter()
        per_step = (now - clock) / max(1, step - first)
        fits = step + int((self.deadline - now) / per_step) if per_step > 0 else total
        if fits >= total:
            return total, warmup
        shorter = max(step, fits)
        return shorter, min(warmup, max(0, int(warmup * shorter / total)))


class _Loss(nn.Module):
    """The method's loss as ``forward``, so that DistributedDataParallel sees the step's forward."""

    def __init__(self, method: Method) -> None:
        super().__init__()
        self.method = method

    def forward(self, inputs: Any, targets: Any, generator: torch.Generator) -> torch.Tensor:
        return self.method.loss(inputs, targets, generator)


def _resume(checkpoint_dir, method, optimizer, generator, config, precision, result) -> int:
    """Restore the method, optimiser, generator and history; return the epoch to continue from."""
    checkpoint_dir = find_checkpoint(checkpoint_dir)  # the newest whole file, found (and warned about) once
    saved = read_state(checkpoint_dir)
    # options added since the checkpoint was written take their defaults, which compute as before them
    saved_config = type(config).from_dict(saved["config"]).to_dict()
    if saved_config != config.to_dict():
        differing = sorted(k for k, v in config.to_dict().items() if saved_config.get(k) != v)
        raise ValueError(
            f"cannot resume: the checkpoint in {checkpoint_dir} was made with other settings "
            f"({', '.join(differing)}); use the same config or another checkpoint folder."
        )
    was = saved.get("resolved", {}).get("precision")
    if was is not None and was != precision:
        warnings.warn(
            f"resuming a run trained in {was} in {precision} (precision 'auto' resolves per machine); "
            f"set precision='{was}' to continue exactly as it started.",
            stacklevel=3,
        )
    try:
        load_checkpoint(checkpoint_dir, method, optimizer, generator)
    except RandomStateMismatch as error:  # resumed on another device type: the weights load, the draws differ
        generator.manual_seed(config.seed + saved["epoch"])
        warnings.warn(f"{error} Reseeded: the resumed run will not repeat an unbroken one exactly.", stacklevel=3)
    result.history = saved["history"]
    return saved["epoch"]


def _to(value: Any, device: torch.device) -> Any:
    """A batch's part on ``device`` (tensors and PyG batches have ``to``); None stays None."""
    return value if value is None else value.to(device, non_blocking=True)
