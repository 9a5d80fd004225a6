"""Reproductions of the paper's tables, one module each."""

import hashlib
import json
from typing import Any


def run_key(spec: Any) -> str:
    """A short, stable name for one run's settings: finished runs are stored under it."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
