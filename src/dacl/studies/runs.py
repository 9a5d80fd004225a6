"""Runs stored by their settings: a finished run is read back instead of computed again, so a stopped
study or reproduction started again skips what is done."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Options that change where and how fast a run computes, not what it computes: left out of run keys.
PLACEMENT_OPTIONS = ("device", "compile", "sync_batchnorm")


# Options added after runs were stored, and the value at which each computes exactly what runs did
# before it existed: left out of run keys at that value, so that stored runs keep their keys.
ADDED_OPTIONS = {
    "mixup_partners": 1,
    "table_encoder": "mlp",
    "numeric_embedding": "none",
    "mix_embeddings": False,
    "categorical_embedding": 0,
    "image_size": None,
    "augment_ratio": 0.2,
}
# Options that only matter with a numeric embedding: left out of run keys without one.
EMBEDDING_OPTIONS = ("embedding_size", "embedding_scale")


def stored_options(config: Any) -> dict[str, Any]:
    """A config's options as runs stored before :data:`ADDED_OPTIONS` named them: the added options
    left out at the values that change nothing."""
    options = config.to_dict()
    left_out = {k for k, v in ADDED_OPTIONS.items() if options.get(k, v) == v}
    if options.get("numeric_embedding", "none") == "none":
        left_out |= set(EMBEDDING_OPTIONS)
    return {k: v for k, v in options.items() if k not in left_out}


def experiment_options(config: Any) -> dict[str, Any]:
    """A config's options that define the experiment: :func:`stored_options` but the
    :data:`PLACEMENT_OPTIONS`."""
    return {k: v for k, v in stored_options(config).items() if k not in PLACEMENT_OPTIONS}


def run_key(spec: Any) -> str:
    """A short, stable name for one run's settings: finished runs are stored under it."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def stored_run(out: Path, name: str, spec: Any, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The record of one finished run, read from ``out/runs/NAME-KEY.json`` if there, else computed
    and written atomically: how every reproduction skips what a stopped run already did."""
    from dacl.files import write_atomic

    path = Path(out) / "runs" / f"{name}-{run_key(spec)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    record = compute()
    write_atomic(path, json.dumps(record).encode())
    return record
