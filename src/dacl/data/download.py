"""Dataset files: found in a local folder or the cache, else downloaded, always checksum-verified.

The cache folder is ``--data-dir`` / ``data_dir=``, else ``$DACL_DATA_DIR``, else ``~/.cache/dacl``.
Each dataset keeps its files in a sub-folder (``mnist/``, ``tabular/adult/``, ...); a folder laid out
the same way is read offline. A download goes to a temporary file that is renamed into place only
after its checksum matches, so a partial or corrupted download never poisons the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ChecksumError", "RemoteFile", "data_home", "fetch", "file_digest"]

ENV_VAR = "DACL_DATA_DIR"


class ChecksumError(ValueError):
    """A file's checksum differs from the published one."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it lives in the data folder, where it comes from, its digest.

    ``digest`` is ``"md5:<hex>"`` or ``"sha256:<hex>"``; ``aliases`` are other names the same file
    goes by in local folders (e.g. UCI's ``adult.data`` kept as ``adult-train.csv``).
    ``content_digest`` is the digest of a ``.gz`` file's decompressed contents: a local copy that was
    re-compressed (Debian's ``dataset-fashion-mnist``) is accepted when its contents match.
    ``system_folders`` are read-only folders searched after the data folder (a Debian package's).
    """

    folder: str
    name: str
    urls: tuple[str, ...]
    digest: str
    aliases: tuple[str, ...] = ()
    content_digest: str | None = None
    system_folders: tuple[str, ...] = ()


def data_home(data_dir: str | Path | None = None) -> Path:
    """The data folder: the argument, else ``$DACL_DATA_DIR``, else ``~/.cache/dacl``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "dacl"


def files_fingerprint(root: Path, entries, salt: str = "", length: int = 24) -> str:
    """A short key of files under ``root`` (each ``(path, tag)``): their relative names, sizes,
    modification times and tags, and ``salt``. Caches made from a folder are named by it, so that no
    cache made from other or changed files is ever served."""
    h = hashlib.sha256(f"{Path(root).resolve()}|{salt}".encode())
    for path, tag in entries:
        stat = path.stat()
        h.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}|{tag}\n".encode())
    return h.hexdigest()[:length]


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _matches(path: Path, digest: str) -> bool:
    algorithm, expected = digest.split(":", 1)
    return file_digest(path, algorithm) == expected


def _content_matches(path: Path, digest: str | None) -> bool:
    """Whether a gzip file's decompressed contents have ``digest`` (False for anything else)."""
    if digest is None or path.suffix != ".gz":
        return False
    import gzip

    algorithm, expected = digest.split(":", 1)
    h = hashlib.new(algorithm)
    try:
        with gzip.open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (OSError, EOFError):
        return False
    return h.hexdigest() == expected


def _verified(path: Path, remote: RemoteFile) -> bool:
    return _matches(path, remote.digest) or _content_matches(path, remote.content_digest)


def _download(url: str, target: Path, digest: str, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        if not _matches(Path(tmp), digest):
            raise ChecksumError(f"{url} downloaded with a checksum other than the published {digest}; not cached.")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def fetch(remote: RemoteFile, data_dir: str | Path | None = None, download: bool = True, timeout: float = 60) -> Path:
    """Path of a verified copy of ``remote``: from the data folder if there, else downloaded into it.

    A file in the data folder whose checksum does not match raises ``ChecksumError`` (it is not
    overwritten: it may be a user's own file); delete it to download again.
    """
    folder = data_home(data_dir) / remote.folder
    for name in (remote.name, *remote.aliases):
        path = folder / name
        if path.is_file():
            if not _verified(path, remote):
                raise ChecksumError(
                    f"{path} does not match the published checksum {remote.digest}; it is corrupted or another "
                    "version: delete it to download it again."
                )
            return path
    for system in remote.system_folders:  # a distribution's package: read-only, used only when it verifies
        path = Path(system) / remote.name
        if path.is_file() and _verified(path, remote):
            return path
    if not download:
        raise FileNotFoundError(f"{folder / remote.name} is not there and downloading is off.")
    errors = []
    for url in remote.urls:
        try:
            _download(url, folder / remote.name, remote.digest, timeout)
            return folder / remote.name
        except ChecksumError:
            raise
        except OSError as error:
            errors.append(f"{url}: {error}")
    raise FileNotFoundError(
        f"could not download {remote.name} ({'; '.join(errors)}). Offline, put the file at {folder / remote.name} "
        f"or point --data-dir (or ${ENV_VAR}) at a folder with {remote.folder}/{remote.name}."
    )
