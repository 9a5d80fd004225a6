"""Runs stored by their settings: a finished run is read back instead of computed again, so a stopped
study or reproduction started again skips what is done."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Options that change where and how fast a run computes, not what it computes: left out of run keys.
PLACEMENT_OPTIONS = ("device", "compile", "sync_batchnorm")


def experiment_options(config: Any) -> dict[str, Any]:
    """A config's options that define the experiment (all but :data:`PLACEMENT_OPTIONS`)."""
    return {k: v for k, v in config.to_dict().items() if k not in PLACEMENT_OPTIONS}


def run_key(spec: Any) -> str:
    """A short, stable name for one run's settings: finished runs are stored under it."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def stored_run(out: Path, name: str, spec: Any, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The record of one finished run, read from ``out/runs/NAME-KEY.json`` if there, else computed
    and written atomically: how every reproduction skips what a stopped run already did."""
    from dacl.engine.checkpoint import write_atomic

    path = Path(out) / "runs" / f"{name}-{run_key(spec)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    record = compute()
    write_atomic(path, json.dumps(record).encode())
    return record
