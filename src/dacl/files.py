"""Plain files written whole or not at all, and read only from inside their folder.

Every writer of dacl goes through :func:`write_atomic`, so a kill never leaves half a file, and every file
gets the permissions the user's umask gives new files (as ``open`` would), not a temporary file's 0600.
Every file of a folder dacl trusts (a model folder, its lock) is opened through :func:`open_inside`: one
name directly inside the folder, never through a symbolic link, never anything but a plain file, so that a
folder cannot make dacl read, create or truncate a file elsewhere, nor tell whether one exists.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import threading
from pathlib import Path

__all__ = ["NotInside", "file_mode", "open_inside", "read_inside", "write_atomic"]

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


class NotInside(ValueError):
    """A file that :func:`open_inside` will not open: a link, not a plain file, a name that leaves the folder,
    missing, or larger than allowed. ``reason`` is one of "name", "link", "kind", "missing", "size"."""

    def __init__(self, path: Path, reason: str, message: str) -> None:
        super().__init__(message)
        self.path, self.reason = path, reason


_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOSE_ON_EXEC = getattr(os, "O_CLOEXEC", 0)
_NON_BLOCKING = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer


def _single_name(folder: Path, name: str) -> None:
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise NotInside(folder / str(name)[:80], "name", f"{str(name)[:80]!r} is not the name of a file directly "
                                                         f"inside {folder}")  # fmt: skip


def open_inside(folder: str | Path, name: str, flags: int = os.O_RDONLY, *, limit: int | None = None) -> int:
    """A descriptor of the plain file ``name`` directly inside ``folder``: opened relative to the folder's
    own descriptor with ``O_NOFOLLOW`` (a link, dangling or not, is refused without being followed, so
    ``O_CREAT`` never creates nor truncates the file a link points to), then checked to be a regular file
    of at most ``limit`` bytes. ``folder`` itself may be a link the user named. Raises :class:`NotInside`."""
    folder = Path(folder)
    _single_name(folder, name)
    path = folder / name
    try:
        directory = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOSE_ON_EXEC)
    except FileNotFoundError:
        raise NotInside(path, "missing", f"{folder} does not exist.") from None
    except NotADirectoryError:
        raise NotInside(path, "kind", f"{folder} is a file, not a folder.") from None
    try:
        descriptor = _open_relative(directory, path, name, flags | _NO_FOLLOW | _NON_BLOCKING | _CLOSE_ON_EXEC)
    finally:
        os.close(directory)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotInside(path, "kind", f"{path} is not a plain file.")
        if limit is not None and status.st_size > limit:
            raise NotInside(path, "size", f"{path} holds {status.st_size:,} bytes, more than the {limit:,} allowed.")
        if _NON_BLOCKING and not flags & _NON_BLOCKING:
            os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _open_relative(directory: int, path: Path, name: str, flags: int) -> int:
    try:
        if os.open in os.supports_dir_fd and _NO_FOLLOW:
            return os.open(name, flags, file_mode(), dir_fd=directory)
        if path.is_symlink():  # no O_NOFOLLOW here (Windows): check, then open
            raise OSError(errno.ELOOP, "symbolic link")
        return os.open(path, flags & ~_NON_BLOCKING, file_mode())
    except FileNotFoundError:
        raise NotInside(path, "missing", f"{path} is missing.") from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):  # EMLINK: some BSDs' answer to O_NOFOLLOW on a link
            raise NotInside(path, "link", f"{path} is a symbolic link; dacl does not follow links out of a "
                                          "folder it reads, so it must be a plain file.") from None  # fmt: skip
        if error.errno in (errno.EISDIR, errno.ENXIO, errno.ENODEV):
            raise NotInside(path, "kind", f"{path} is not a plain file.") from None
        raise


def read_inside(folder: str | Path, name: str, *, limit: int | None = None) -> bytes:
    """The bytes of the plain file ``name`` directly inside ``folder`` (:func:`open_inside`), at most ``limit``."""
    descriptor = open_inside(folder, name, limit=limit)
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read() if limit is None else handle.read(limit + 1)
    if limit is not None and len(data) > limit:  # grew while read
        raise NotInside(Path(folder) / name, "size", f"{Path(folder) / name} holds more than the {limit:,} bytes "
                                                     "allowed.")  # fmt: skip
    return data
