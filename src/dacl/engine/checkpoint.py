"""Atomic, code-free checkpoints: safetensors for every tensor, JSON for everything else.

One ``checkpoint.safetensors`` holds the model weights, the optimiser's tensors and the random
generator's state, with the run's JSON state (config, epoch, step, history, optimiser settings) in
its metadata, so a single atomic rename makes a checkpoint whole; ``checkpoint.json`` mirrors that
JSON state for people and tools. Loading parses JSON and raw tensors only: no pickle, no code runs.

Each new checkpoint first moves the one before it to ``checkpoint.previous.safetensors``, so a
damaged newest file (a disk filled up, a copy cut short) leaves a good one to continue from:
loading checks a file's integrity (its header and its length) before trusting it, falls back to the
previous one with a warning, and says "damaged" when neither is usable. Temporary files left by a
kill during a write are removed by the next write or resume.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn

from dacl.files import write_atomic

__all__ = [
    "CHECKPOINT_FILE",
    "DamagedCheckpoint",
    "RandomStateMismatch",
    "check_weights_fit",
    "find_checkpoint",
    "load_checkpoint",
    "read_state",
    "remove_leftovers",
    "save_checkpoint",
]

CHECKPOINT_FILE = "checkpoint.safetensors"
PREVIOUS_FILE = "checkpoint.previous.safetensors"
STATE_FILE = "checkpoint.json"


class RandomStateMismatch(ValueError):
    """The saved random state comes from a generator of another device type (e.g. CUDA, then CPU)."""


class DamagedCheckpoint(ValueError):
    """A checkpoint file that cannot be read whole (cut short, overwritten, not a dacl checkpoint)."""


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def save_checkpoint(
    directory: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    generator: torch.Generator | None,
    state: dict[str, Any],
) -> Path:
    """Write the checkpoint into ``directory`` atomically and return the tensor file's path."""
    directory = Path(directory)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state = dict(state)
    if optimizer is not None:
        optimizer_tensors, state["optimizer"] = _optimizer_tensors(optimizer)
        tensors.update(optimizer_tensors)
    if generator is not None:
        tensors["generator.state"] = generator.get_state()
    text = json.dumps(state)
    data = save_safetensors(tensors, metadata={"dacl_state": text})
    remove_leftovers(directory)
    newest = directory / CHECKPOINT_FILE
    if newest.is_file() and _damage(newest) is None:
        os.replace(newest, directory / PREVIOUS_FILE)  # atomic: a crash here leaves the previous one whole
    write_atomic(newest, data)
    write_atomic(directory / STATE_FILE, json.dumps(state, indent=2).encode())
    return newest


def remove_leftovers(directory: str | Path) -> list[Path]:
    """Delete the temporary files a kill during a write left in ``directory``; return them."""
    leftovers = [p for p in Path(directory).glob(".checkpoint.*.tmp") if p.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def _damage(path: Path) -> str | None:
    """Why ``path`` is not a whole dacl checkpoint, or None: the safetensors header must parse, hold
    the dacl state, and the file must be exactly as long as the header says. No tensor is read."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            (header_size,) = struct.unpack("<Q", f.read(8))
            if header_size > size - 8:
                return f"its header claims {header_size} bytes but the file has {size}"
            header = json.loads(f.read(header_size))
        if "dacl_state" not in (header.get("__metadata__") or {}):
            return "it is not a dacl checkpoint (no dacl_state metadata)"
        json.loads(header["__metadata__"]["dacl_state"])
        end = max((entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"), default=0)
        if 8 + header_size + end != size:
            return f"it holds {size} bytes where its header needs {8 + header_size + end} (cut short?)"
    except (OSError, ValueError, KeyError, TypeError, struct.error) as error:
        return f"it cannot be parsed ({type(error).__name__}: {error})"
    return None


def find_checkpoint(directory: str | Path) -> Path:
    """The newest whole checkpoint in ``directory``: ``checkpoint.safetensors``, or, when that is
    damaged or missing after a crash, the previous one (with a warning)."""
    directory = Path(directory)
    if directory.is_file():  # a checkpoint file named directly
        problem = _damage(directory)
        if problem is not None:
            raise DamagedCheckpoint(f"the checkpoint {directory} is damaged: {problem}.")
        return directory
    newest, previous = directory / CHECKPOINT_FILE, directory / PREVIOUS_FILE
    if not newest.is_file() and not previous.is_file():
        raise FileNotFoundError(f"no checkpoint at {newest}; train with a checkpoint folder set first.")
    problem = _damage(newest) if newest.is_file() else "it is missing"
    if problem is None:
        return newest
    if previous.is_file() and _damage(previous) is None:
        warnings.warn(f"the newest checkpoint {newest} is unusable ({problem}); using the previous one, "
                      f"{previous}.", stacklevel=3)  # fmt: skip
        return previous
    raise DamagedCheckpoint(
        f"the checkpoint {newest} is damaged: {problem}; no usable previous checkpoint beside it. "
        "Start the run again without --resume, or use another copy of the checkpoint."
    )


def _state_of(handle, path: Path) -> dict[str, Any]:
    metadata = handle.metadata() or {}
    if "dacl_state" not in metadata:
        raise DamagedCheckpoint(f"{path} is a safetensors file but not a dacl checkpoint (no dacl_state metadata).")
    return json.loads(metadata["dacl_state"])


def check_weights_fit(model: nn.Module, weights: dict[str, Tensor], path: Path) -> None:
    """Raise ``ValueError`` naming the first differences when ``weights`` do not fit ``model``."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in weights.items()}
    if expected == found:
        return
    problems = [f"{k} missing" for k in expected if k not in found]
    problems += [f"{k} unexpected" for k in found if k not in expected]
    problems += [f"{k} has shape {found[k]}, the model {expected[k]}" for k in expected
                 if k in found and found[k] != expected[k]]  # fmt: skip
    raise ValueError(
        f"the weights in {path} do not fit this model ({'; '.join(problems[:3])}"
        f"{f'; {len(problems) - 3} more' if len(problems) > 3 else ''}): build the model with the settings "
        "the checkpoint was made with, or use another checkpoint."
    )


def read_state(directory: str | Path) -> dict[str, Any]:
    """The JSON state of the checkpoint in ``directory`` (see ``find_checkpoint``), no tensor loaded."""
    path = find_checkpoint(directory)
    with safe_open(str(path), framework="pt") as f:
        return _state_of(f, path)


def load_checkpoint(
    directory: str | Path,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    """Restore what is passed in from ``directory`` (see ``find_checkpoint``) and return the JSON state."""
    path = find_checkpoint(directory)
    with safe_open(str(path), framework="pt") as f:
        state = _state_of(f, path)
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    if model is not None:
        weights = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        check_weights_fit(model, weights, path)
        model.load_state_dict(weights)
    if optimizer is not None:
        saved = state["optimizer"]
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                per_param.setdefault(int(index), {})[name] = value
        for index, scalars in saved["scalars"].items():
            per_param.setdefault(int(index), {}).update(scalars)
        optimizer.load_state_dict({"state": per_param, "param_groups": saved["param_groups"]})
    if generator is not None:
        try:
            generator.set_state(tensors["generator.state"])
        except RuntimeError as error:  # a state saved by a generator of another device type
            raise RandomStateMismatch(f"the checkpoint's random state does not fit a {generator.device} "
                                      f"generator ({error}).") from None  # fmt: skip
    return state
