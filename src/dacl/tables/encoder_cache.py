"""Pretrain once, fit many times: encoders kept on disk under a digest of what made them.

A table's pretraining depends only on the preprocessed rows, their one-hot blocks, the pretraining
options with the seed, and where it ran (threads, precision, CPU kind, torch, MKL's mode, dacl:
:func:`where_it_runs`): :func:`cache_key`
digests exactly these, never a file's name, so that a second ``DACLClassifier.fit`` / ``dacl fit`` of the
same rows (other labels, other candidates, another ``cv``) takes the encoder from the cache instead of
pretraining it again, and gets the same model bit for bit (tested).

An entry is a folder ``ROOT/KEY/`` of two files written whole (``dacl.files.write_atomic``), the record last:
``encoder.safetensors`` (the weights: data, never code) and ``encoder.json`` (the key, the input width, the
embeddings' columns, the history, and the weights' sha256). An entry is read through
``dacl.files.read_inside`` (no link, nothing outside its folder) and used only if its record names this key,
this format and this dacl, and the weights match their digest and the encoder's shapes; any other entry is
refused with the reason and replaced by the fresh run (a cache never makes a fit fail).

The folder: ``encoder_cache=`` (a path; True: the default), else ``$DACL_CACHE`` (``off`` turns the cache
off), else ``$XDG_CACHE_HOME/dacl/encoders``, else ``~/.cache/dacl/encoders``. Clear it by deleting it.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dacl.files import NotInside, digest_of, read_inside, write_atomic

__all__ = ["CACHE_ENV", "CachedEncoder", "cache_folder", "cache_key", "load_cached", "pretrain_cached", "store_cached",
           "where_it_runs"]

FORMAT = 1
CACHE_ENV = "DACL_CACHE"
RECORD, WEIGHTS = "encoder.json", "encoder.safetensors"
LARGEST_RECORD = 64 * 2**20  # bytes of encoder.json read at most (its history grows with the epochs)


def cache_folder(setting: bool | str | os.PathLike | None) -> Path | None:
    """The cache's folder for the parameter ``encoder_cache``: False or None: no cache; a path: that folder;
    True: ``$DACL_CACHE`` (``off``, ``0`` or empty: no cache), else the user's cache folder."""
    if setting is None or setting is False:
        return None
    if setting is not True:
        return Path(setting).expanduser()
    given = os.environ.get(CACHE_ENV)
    if given is not None:
        return None if given.strip().lower() in ("", "0", "off", "false", "no") else Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dacl" / "encoders"


def cache_key(features: np.ndarray, blocks: Any, options: dict[str, Any], where: dict[str, Any]) -> str:
    """sha256 of what a table's pretraining depends on: the preprocessed float32 rows (shape and bytes),
    their one-hot ``blocks`` (JSON values), the pretraining ``options`` (seed included) and ``where`` it runs."""
    from dacl import __version__

    digest = hashlib.sha256()
    rows = np.ascontiguousarray(features, dtype=np.float32)
    described = {"format": FORMAT, "dacl": __version__, "shape": list(rows.shape), "options": options, "where": where,
                 "blocks": blocks}  # fmt: skip
    digest.update(json.dumps(described, sort_keys=True, default=str).encode())
    digest.update(memoryview(rows).cast("B"))
    return digest.hexdigest()


@dataclass
class CachedEncoder:
    """An entry read back: the weights and what the run recorded."""

    weights: dict[str, torch.Tensor]
    history: list[dict[str, Any]]
    steps: int
    seconds: float


def load_cached(root: Path, key: str, encoder: nn.Module) -> CachedEncoder | None:
    """The entry ``key`` of ``root`` loaded into ``encoder`` (built by the caller as the options say), or
    None where there is none; a damaged or foreign entry is refused with a warning naming why (the caller
    then pretrains and replaces it)."""
    from safetensors.torch import load as load_safetensors

    folder = root / key
    if not os.path.lexists(folder):
        return None
    try:
        record = json.loads(read_inside(folder, RECORD, limit=LARGEST_RECORD))
        problem = _record_problem(record, key)
        if problem:
            raise ValueError(problem)
        data = read_inside(folder, WEIGHTS, limit=int(record["bytes"]))
        if digest_of(data) != record["sha256"]:
            raise ValueError(f"{WEIGHTS} does not match the digest its record gives")
        weights = load_safetensors(data)
        expected = {name: tuple(t.shape) for name, t in encoder.state_dict().items()}
        if {name: tuple(t.shape) for name, t in weights.items()} != expected:
            raise ValueError("its weights are not those of the encoder these options build")
        encoder.load_state_dict(weights)
    except (NotInside, ValueError, OSError, RuntimeError, KeyError, TypeError) as error:
        warnings.warn(f"the encoder cache entry {folder} is refused ({str(error)[:300]}): pretraining again and "
                      "replacing it.", stacklevel=3)  # fmt: skip
        return None
    return CachedEncoder(weights, list(record["history"]), int(record["steps"]), float(record["seconds"]))


def _record_problem(record: Any, key: str) -> str | None:
    from dacl import __version__

    if not isinstance(record, dict):
        return f"{RECORD} is not a record"
    if record.get("format") != FORMAT or record.get("dacl") != __version__ or record.get("key") != key:
        return f"{RECORD} was written for another key, format or dacl version"
    kinds = {"sha256": str, "bytes": int, "history": list, "steps": int, "seconds": (int, float)}
    wrong = [name for name, kind in kinds.items() if not isinstance(record.get(name), kind)]
    if wrong or isinstance(record.get("bytes"), bool) or not 0 < record["bytes"] <= 2**40:
        return f"{RECORD} lacks or mangles {', '.join(wrong) or 'bytes'}"
    return None


def store_cached(root: Path, key: str, encoder: nn.Module, history: list, steps: int, seconds: float) -> None:
    """Write the entry ``key`` (weights first, the record last: an entry is whole once its record is there);
    a folder that cannot be written costs a warning, not the fit."""
    from safetensors.torch import save as save_safetensors

    from dacl import __version__

    state = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in encoder.state_dict().items()}
    data = save_safetensors(state)
    record = {"format": FORMAT, "dacl": __version__, "key": key, "sha256": digest_of(data), "bytes": len(data),
              "steps": int(steps), "seconds": float(seconds), "history": history}  # fmt: skip
    folder = root / key
    try:
        if folder.is_symlink():
            raise OSError(f"{folder} is a link")
        write_atomic(folder / WEIGHTS, data)
        write_atomic(folder / RECORD, json.dumps(record, default=float).encode())
    except OSError as error:
        warnings.warn(f"the encoder could not be kept in the cache {root} ({error}); the fit goes on without it "
                      "(encoder_cache=False / dacl fit --no-cache turns the cache off).", stacklevel=3)  # fmt: skip


def where_it_runs(config) -> dict[str, Any]:
    """Where a pretraining runs, as far as its numbers depend on it: threads, precision, the CPU kind (or
    the GPU), torch, the processes, and whether MKL's strict reproducible mode is on in this process
    (``dacl.core.runtime.reproducible_products``: off where torch multiplied before dacl was imported,
    and the products then sum in another order): part of :func:`cache_key`. The thread count stays in
    the key although dacl's encoders pretrain to the same float32 weights on 1 and 2 threads in the cases
    measured: in bf16 oneDNN's products split some sums by thread, by shape (docs/results/labels.md)."""
    from dacl.core.distributed import world_size
    from dacl.core.runtime import numbers_depend_on, reproducible_products

    return {"threads": torch.get_num_threads(), **numbers_depend_on(config.device, config.precision),
            "processes": world_size(), "mkl_strict": reproducible_products()}


def pretrain_cached(root: Path | None, features: np.ndarray, config, *, blocks: Any = None, categories: Any = None,
                    steps_per_epoch: int | None = None, progress: bool = False, time_limit: float | None = None):
    """``dacl.tables.pretrain`` on preprocessed rows through the cache in ``root`` (None: no cache):
    (result, whether it came from the cache). A hit builds the method as ``pretrain`` does (no epochs)
    and loads the cached weights into it; a miss pretrains and keeps the run unless its time limit
    shortened it (then it is not the run asked for), on rank 0 of a process group."""
    import dataclasses
    import time

    from dacl.core.distributed import rank
    from dacl.tables.train import pretrain

    run = {"progress": progress, "blocks": blocks, "categories": categories, "steps_per_epoch": steps_per_epoch}
    if root is None:
        return pretrain(features, config, time_limit=time_limit, **run), False
    listed = [None if b is None else np.asarray(b).tolist() for b in (blocks, categories)]
    key = cache_key(features, listed, {**config.to_dict(), "steps_per_epoch": steps_per_epoch}, where_it_runs(config))
    if os.path.lexists(root / key):  # an entry: the method built as pretrain builds it, its weights loaded
        shell = pretrain(features, dataclasses.replace(config, epochs=0), **{**run, "progress": False})
        cached = load_cached(root, key, shell.model)
        if cached is not None:
            return dataclasses.replace(shell, config=config, history=cached.history, steps=cached.steps), True
    started = time.perf_counter()
    result = pretrain(features, config, time_limit=time_limit, **run)
    if result.shortened_to is None and rank() == 0:
        store_cached(root, key, result.model, result.history, result.steps, time.perf_counter() - started)
    return result, False
