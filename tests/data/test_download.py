"""Downloads with checksums: verified, cached, offline, and a system folder's recompressed copy."""

import gzip
import hashlib
import struct

import pytest

from dacl.data.download import ChecksumError, RemoteFile, fetch
from dacl.images.arrays import read_idx


def test_download_verifies_checksums_and_never_poisons_the_cache(tmp_path):
    source = tmp_path / "server" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(b"real data")
    good = "sha256:" + hashlib.sha256(b"real data").hexdigest()
    cache = tmp_path / "cache"
    url = source.as_uri()
    # a checksum mismatch leaves nothing behind
    with pytest.raises(ChecksumError):
        fetch(RemoteFile("set", "file.bin", (url,), "sha256:" + "0" * 64), cache)
    assert not any((cache / "set").iterdir())
    # an unreachable source (offline) says where to put the file
    with pytest.raises(FileNotFoundError, match="Offline, put the file"):
        fetch(RemoteFile("set", "file.bin", ((tmp_path / "nowhere").as_uri(),), good), cache)
    # a good download is cached and then read without the source
    path = fetch(RemoteFile("set", "file.bin", (url,), good), cache)
    assert path.read_bytes() == b"real data"
    source.unlink()
    assert fetch(RemoteFile("set", "file.bin", (url,), good), cache) == path
    # a corrupted cached file is reported, not trusted
    path.write_bytes(b"real dat")
    with pytest.raises(ChecksumError, match="delete it"):
        fetch(RemoteFile("set", "file.bin", (url,), good), cache)


def test_data_dir_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "f").write_bytes(b"x")
    monkeypatch.setenv("DACL_DATA_DIR", str(tmp_path))
    digest = "sha256:" + hashlib.sha256(b"x").hexdigest()
    assert fetch(RemoteFile("set", "f", (), digest), download=False) == tmp_path / "set" / "f"


def test_a_recompressed_copy_in_a_system_folder_is_verified_on_its_contents(tmp_path):
    # Debian's dataset-fashion-mnist re-gzips the official files: other .gz bytes, the same contents
    contents = struct.pack(">HBB", 0, 0x08, 1) + struct.pack(">I", 5) + bytes([3, 1, 4, 1, 5])
    official = gzip.compress(contents, mtime=0, compresslevel=9)
    debian = tmp_path / "usr-share" / "labels.gz"
    debian.parent.mkdir()
    debian.write_bytes(gzip.compress(contents, mtime=123456, compresslevel=1))
    assert debian.read_bytes() != official
    remote = RemoteFile("toy", "labels.gz", (), "md5:" + hashlib.md5(official).hexdigest(),
                        content_digest="sha256:" + hashlib.sha256(contents).hexdigest(),
                        system_folders=(str(debian.parent),))  # fmt: skip
    path = fetch(remote, tmp_path / "cache", download=False)
    assert path == debian and read_idx(path).tolist() == [3, 1, 4, 1, 5]
    other = RemoteFile("toy", "labels.gz", (), remote.digest, content_digest="sha256:" + "0" * 64,
                       system_folders=remote.system_folders)  # fmt: skip
    with pytest.raises(FileNotFoundError, match="downloading is off"):  # contents differ: not used
        fetch(other, tmp_path / "cache", download=False)
