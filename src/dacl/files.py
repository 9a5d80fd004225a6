"""Plain files written whole or not at all, and read only from inside their folder.

Every writer of dacl goes through :func:`write_atomic`, so a kill never leaves half a file, and every file
gets the permissions the user's umask gives new files (as ``open`` would), not a temporary file's 0600.
Every file of a folder dacl trusts (a model folder, its lock) is opened through :func:`open_inside`: one
name directly inside the folder, never through a symbolic link, never anything but a plain file, so that a
folder cannot make dacl read, create or truncate a file elsewhere, nor tell whether one exists.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOCK_FILE", "Busy", "NotInside", "digest_of", "file_mode", "hold", "open_inside", "read_inside",
           "write_atomic"]

_lock = threading.Lock()


def digest_of(data: bytes) -> str:
    """The digest a record keeps of a file's bytes (SHA-256, hex): a model folder's and a cache entry's."""
    return hashlib.sha256(data).hexdigest()


def file_mode() -> int:
    """The mode a new file gets under the process's umask (0o666 less the umask)."""
    with _lock:  # the umask can only be read by setting it: set it back at once, one thread at a time
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync, then rename; the
    file's mode follows the umask. A reader sees the old file or the whole new one, never half of one.
    ``replace=False``: the temporary file is hard-linked to ``path``, which fails where anything is there
    (a file, a link), so of two writers racing for a new name one wins and nothing is ever replaced;
    :class:`FileExistsError` for the other."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), file_mode())
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _publish_new(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _publish_new(tmp: Path, path: Path) -> None:
    """``tmp`` under the name ``path`` only where nothing has that name: one atomic link."""
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, f"{path} exists (written meanwhile by another process?); nothing was "
                                            "replaced", str(path)) from None  # fmt: skip
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(path):  # a file system without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, f"{path} exists; nothing was replaced", str(path)) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


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


# --- locks: one writer per output at a time ----------------------------------------------------------------


class Busy(ValueError):
    """Another process holds the lock :func:`hold` asked for."""


LOCK_FILE = ".dacl.lock"  # the lock file of a folder dacl writes (a model folder, a results folder)
_held: dict[tuple[int, int], int] = {}  # (device, inode) of the lock files this process holds -> depth


@contextmanager
def hold(folder: str | Path, name: str, *, remove: bool = False) -> Iterator[None]:
    """Hold the operating system's exclusive lock (flock) on the file ``name`` inside ``folder`` (created
    through :func:`open_inside`: never through a link) for the block, or raise :class:`Busy` at once where
    another process holds it. A killed holder leaves nothing held. Held twice in one process, the inner
    hold is a no-op. ``remove``: delete the lock file at the end (a lock beside an output file, not to be
    left in the user's folder); a lock file replaced or removed while it was being taken is taken again."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; writes stay atomic (write_atomic), unguarded otherwise
        yield
        return
    folder = Path(folder)
    for _ in range(8):
        descriptor = open_inside(folder, name, os.O_RDWR | os.O_CREAT)
        status = os.fstat(descriptor)
        key = (status.st_dev, status.st_ino)
        if key in _held:
            os.close(descriptor)
            _held[key] += 1
            try:
                yield
            finally:
                _held[key] -= 1
            return
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise Busy(f"{folder / name} is held by another process") from None
        try:  # the name must still be this file: a holder that removed it on leaving leaves a stale inode
            current = os.stat(folder / name, follow_symlinks=False)
            same = (current.st_dev, current.st_ino) == key
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(descriptor)
    else:
        raise Busy(f"{folder / name} keeps changing while it is being locked")
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        if remove:
            with _suppress_missing():
                os.unlink(folder / name)
        os.close(descriptor)


@contextmanager
def _suppress_missing() -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        pass
