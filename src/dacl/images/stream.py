"""Image folders bigger than memory: the files are listed once, and every epoch they are decoded and
resized in DataLoader worker processes, in an order drawn per pass, as batches of uint8 that become
float [0, 1] on the run's device (where the views and SimCLR's augmentations run, as for images held
in memory).

- **Order**: pass ``p`` over the files is ``randperm(N)`` from a generator seeded by the run's seed and
  ``p``; global step ``g`` is position ``g mod P`` of pass ``g // P`` (``P`` whole batches a pass). An
  epoch is ``P`` steps, or ``steps_per_epoch`` (a checkpoint that many steps apart on folders whose pass
  takes hours): the epoch number in the checkpoint then gives the order and the position, so a resumed
  run decodes exactly the batches an unbroken one would, without decoding the skipped ones.
- **Processes** (torchrun): every process draws the same order and decodes only its own consecutive
  slice of each global batch.
- **Decoding**: PIL, as ``dacl.images.folder.decode_image`` (EXIF rotation, 16-bit to 8-bit, first
  frame of an animation, resize of the shorter side and centre crop). A file that cannot be decoded
  stops the run with its name; a worker that dies (a decoder crash, the kernel's OOM killer) stops it
  with the files that worker was decoding (each worker records its file in shared memory).
- **A folder that changes**: it is listed again at the start of every epoch (``os.walk``: under a
  second for 100,000 files); removed files stop the run before they are read (the checkpoint of the
  last epoch stays), added ones are named in a warning and the run goes on with the files listed at
  its start; a rewritten file is read as it is now.
"""

from __future__ import annotations

import copy
import gc
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dacl.engine.sources import check_shardable
from dacl.images.folder import decode_image, image_files

__all__ = ["ImageFolderStream", "Pixels", "default_workers"]


def default_workers() -> int:
    """Decoding processes by default: one core left to training, at least one, at most 8."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


class Pixels:
    """A batch of uint8 images (N, C, H, W) on the host that becomes float [0, 1] on the device it is
    moved to (the engine moves every batch with ``.to(device)``): a quarter of the bytes cross."""

    __slots__ = ("images",)

    def __init__(self, images: Tensor) -> None:
        self.images = images

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Tensor:
        return self.images.to(device, non_blocking=non_blocking).float().div_(255)

    def __len__(self) -> int:
        return len(self.images)


class _DecodedFiles(torch.utils.data.Dataset):
    """File ``index`` decoded to uint8 (C, H, W) with its label; the worker's slot of ``busy`` holds the
    index while it decodes (read by the main process when a worker dies)."""

    def __init__(self, paths: np.ndarray, labels: Tensor, mode: str, size: int | None, shape: tuple, busy: Tensor):
        self.paths, self.labels, self.mode, self.size, self.shape, self.busy = paths, labels, mode, size, shape, busy

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        info = torch.utils.data.get_worker_info()
        slot = 0 if info is None else info.id
        self.busy[slot] = index
        path = Path(self.paths[index])
        array, found = decode_image(path, self.mode, self.size)
        image = torch.from_numpy(np.array(array))  # PIL's array is read-only
        image = image.unsqueeze(0) if image.dim() == 2 else image.permute(2, 0, 1)
        if tuple(image.shape) != self.shape:
            raise ValueError(
                f"{path} is {found[0]}x{found[1]} but the folder's first image is "
                f"{self.shape[2]}x{self.shape[1]}; give image_size=N (--image-size N) to resize every image."
            )
        self.busy[slot] = -1
        return image.contiguous(), self.labels[index]


class ImageFolderStream:
    """Shuffled batches of images decoded from a folder of class folders (``root/CLASS/*.jpg``) at every
    epoch (a source of :func:`dacl.engine.fit`; ``shard`` splits every batch between processes).

    ``files``: (path, class index) pairs to train on (default: every image under ``root``);
    ``image_size``: each image resized (shorter side) and centre-cropped (default: the images' own
    size, which must then be one); ``workers``: decoding processes (0: in this process);
    ``with_labels``: batches carry the class indices (for ``supervised``)."""

    def __init__(
        self,
        root: str | Path,
        batch_size: int,
        *,
        files: list[tuple[Path, int]] | None = None,
        image_size: int | None = None,
        mode: str = "RGB",
        workers: int | None = None,
        steps_per_epoch: int | None = None,
        seed: int = 0,
        with_labels: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"no such image folder: {self.root}")
        self.classes, listed, labels = image_files(self.root)
        names = listed
        if files is not None:
            names, labels = [str(p) for p, _ in files], [label for _, label in files]
        # one NumPy array of names, not a list of Path objects: forked workers touching the objects' reference
        # counts would copy the pages that hold them (memory that grows with the folder, in every worker)
        self.paths = np.array(names)
        self.labels = torch.tensor(labels, dtype=torch.int64)
        self.listed = set(names)  # the files trained on, and those seen added since
        self.known = set(listed)  # every file of the folder at the start, trained on or not
        if batch_size > len(names):
            raise ValueError(f"batch_size {batch_size} is larger than the {len(names)} images of {self.root}.")
        if steps_per_epoch is not None and steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive number of steps, got {steps_per_epoch}.")
        if workers is not None and workers < 0:
            raise ValueError(f"workers must be 0 (decode in this process) or more, got {workers}.")
        first, _ = decode_image(Path(self.paths[0]), mode, image_size)
        self.shape = (1, *first.shape) if first.ndim == 2 else (first.shape[2], *first.shape[:2])
        self.mode, self.image_size, self.seed, self.with_labels = mode, image_size, seed, with_labels
        self.workers = default_workers() if workers is None else workers
        self.batch_size = batch_size
        self.pass_steps = len(self.paths) // batch_size
        self.steps = min(self.pass_steps, steps_per_epoch or self.pass_steps)
        self.samples = self.steps * batch_size  # of the global batches, in every process
        self.rank, self.world, self.local = 0, 1, batch_size
        self.current_epoch = 0
        self._sampler, self._loader, self._busy = _Batches(), None, None

    def __len__(self) -> int:
        return self.steps

    def shard(self, rank: int, world: int) -> ImageFolderStream:
        """Process ``rank`` of ``world``: rows ``rank * B/world`` to ``(rank + 1) * B/world`` of every batch."""
        shard = copy.copy(self)
        shard.local = check_shardable(self.batch_size, world)
        shard.rank, shard.world = rank, world
        return shard

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next ``epoch()`` yields (the engine sets it; it places the epoch in the passes)."""
        self.current_epoch = epoch

    def order(self, pass_index: int) -> Tensor:
        """The files' order in pass ``pass_index``: equal in every process and on every resume."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + pass_index)
        return torch.randperm(len(self.paths), generator=generator)

    def batches(self, epoch: int) -> list[list[int]]:
        """The file indices this process decodes at each step of ``epoch``."""
        orders: dict[int, Tensor] = {}
        batches = []
        for step in range(epoch * self.steps, (epoch + 1) * self.steps):
            pass_index, position = divmod(step, self.pass_steps)
            if pass_index not in orders:
                orders = {pass_index: self.order(pass_index)}
            start = position * self.batch_size + self.rank * self.local
            batches.append(orders[pass_index][start : start + self.local].tolist())
        return batches

    def check_unchanged(self) -> None:
        """The folder listed again (under a second for 100,000 files): files removed from those trained on stop
        the run, added ones are named in a warning (once). A rewritten file is read as it is now."""
        _, now, _ = image_files(self.root)
        now = set(now)
        removed = sorted(self.listed - now)
        if removed:
            raise FileNotFoundError(
                f"{len(removed)} image(s) of {self.root} were removed during the run (e.g. {', '.join(removed[:3])}); "
                "the run trains on the files listed at its start: restore them, or start a new run on the folder "
                "as it is now (the last checkpoint holds the training so far)."
            )
        added = sorted(now - self.known)
        if added:
            warnings.warn(
                f"{len(added)} image(s) were added to {self.root} during the run (e.g. {', '.join(added[:3])}); the "
                "run goes on with the files listed at its start; a new run takes the folder as it is.",
                stacklevel=3,
            )
            self.known |= set(added)

    def decoded(self, batches: list[list[int]]) -> Iterator[tuple[Tensor, Tensor]]:
        """The images and labels of ``batches`` (lists of file indices), decoded by the stream's workers. The
        workers are started once, at the first call (before a model's memory exists: a process forked later
        would keep a copy of every page of the trainer's heap that the trainer then rewrites), and serve
        every later call."""
        self._sampler.batches = batches
        if self._loader is None:
            self._busy = torch.full((max(self.workers, 1),), -1, dtype=torch.int64).share_memory_()
            dataset = _DecodedFiles(self.paths, self.labels, self.mode, self.image_size, self.shape, self._busy)
            extra: dict[str, Any] = {"prefetch_factor": 4, "persistent_workers": True} if self.workers else {}
            self._loader = torch.utils.data.DataLoader(dataset, batch_sampler=self._sampler, num_workers=self.workers,
                                                       **extra)  # fmt: skip
        self._busy.fill_(-1)
        return _plain_worker_errors(_started(self._loader))

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[tuple[Pixels, Tensor | None]]:
        self.check_unchanged()
        iterator = self.decoded(self.batches(self.current_epoch))
        while True:
            try:
                images, labels = next(iterator)
            except StopIteration:
                return
            except RuntimeError as error:
                if "exited unexpectedly" not in str(error) and "killed by signal" not in str(error):
                    raise
                decoding = [str(self.paths[i]) for i in self._busy.tolist() if i >= 0]
                raise RuntimeError(
                    f"an image-decoding worker died ({error}) while decoding {', '.join(decoding) or 'no file'}; open "
                    "that file with PIL to see why, or remove it; workers=0 (--image-workers 0) decodes in the main "
                    "process, where a Python error names the file."
                ) from None
            yield Pixels(images), labels if self.with_labels else None

    def in_order(self, batch_size: int = 256) -> Iterator[tuple[Tensor, Tensor]]:
        """Every file once, in the listing's order, decoded by the stream's workers: (uint8 images, labels)
        batches of up to ``batch_size`` (the last one smaller)."""
        n = len(self.paths)
        yield from self.decoded([list(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)])

    def statistics(self, count: int = 2048) -> tuple[list[float], list[float]]:
        """Per-channel mean and std, in [0, 1] units, of ``count`` images spread evenly over the files."""
        spread = np.unique(np.linspace(0, len(self.paths) - 1, num=min(count, len(self.paths))).round().astype(int))
        batches = [spread[i : i + 256].tolist() for i in range(0, len(spread), 256)]
        total = torch.zeros(self.shape[0], dtype=torch.float64)
        squares = torch.zeros_like(total)
        pixels = 0
        for images, _ in self.decoded(batches):
            values = images.to(torch.float64).div_(255)
            total += values.sum(dim=(0, 2, 3))
            squares += values.square().sum(dim=(0, 2, 3))
            pixels += values.numel() // self.shape[0]
        mean = total / pixels
        return mean.tolist(), (squares / pixels - mean.square()).clamp_min(1e-12).sqrt().tolist()


class _Batches:
    """The batch sampler of the stream's one DataLoader: the index lists of its next iteration."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def worker_message(error: BaseException) -> str | None:
    """The message of the error a DataLoader worker raised, without torch's wrapping ("Caught ValueError in
    DataLoader worker process 0. Original Traceback ..."); None for an error that is not a worker's."""
    text = str(error)
    if "in DataLoader worker process" not in text:
        return None
    last = [line for line in text.strip().splitlines() if line.strip()][-1].strip()
    prefix = f"{type(error).__name__}: "
    return last[len(prefix) :] if last.startswith(prefix) else last


def _plain_worker_errors(batches: Iterator) -> Iterator:
    """``batches``, an error of a worker raised again as the worker said it (the same type, its message)."""
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as error:
            message = worker_message(error)
            if message is None:
                raise
            try:
                plain = type(error)(message)
            except TypeError:  # a type that takes other arguments
                plain = RuntimeError(message)
            raise plain from None
        yield batch


def _started(loader: torch.utils.data.DataLoader) -> Iterator:
    """``iter(loader)``, any workers it forks forked with this process's objects frozen: their garbage
    collector then leaves them alone, so it copies no page of them (memory per worker that grows with the
    folder)."""
    gc.freeze()
    try:
        return iter(loader)
    finally:
        gc.unfreeze()
