"""Plain files written whole or not at all: results, tables, plots, checkpoints, caches, model folders.

Every writer of dacl goes through :func:`write_atomic`, so a kill never leaves half a file, and every file
gets the permissions the user's umask gives new files (as ``open`` would), not a temporary file's 0600.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

__all__ = ["file_mode", "write_atomic"]

_lock = threading.Lock()


def file_mode() -> int:
    """The mode a new file gets under the process's umask (0o666 less the umask)."""
    with _lock:  # the umask can only be read by setting it: set it back at once, one thread at a time
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync, then rename; the
    file's mode follows the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), file_mode())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
