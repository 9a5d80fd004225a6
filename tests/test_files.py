"""Plain files are written whole, with the mode the umask gives new files (not a temporary file's 0600)."""

import os
import stat

import numpy as np
import pytest

from dacl import PretrainConfig, pretrain
from dacl.files import write_atomic


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    write_atomic(tmp_path / "results.json", b"{}")
    assert mode(tmp_path / "results.json") == expected
    assert (tmp_path / "results.json").read_bytes() == b"{}"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left


def test_checkpoints_follow_the_umask_like_plots(tmp_path, umask):
    umask(0o022)
    X = np.random.default_rng(0).random((32, 4), dtype=np.float32)
    pretrain(X, PretrainConfig(depth=1, width=8, epochs=1, batch_size=16, warmup_epochs=0), checkpoint_dir=tmp_path,
             progress=False)  # fmt: skip
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert files and all(mode(p) == 0o644 for p in files), {p.name: oct(mode(p)) for p in files}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.md"
    write_atomic(target, b"old")

    with pytest.raises(TypeError):
        write_atomic(target, object())  # type: ignore[arg-type]
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["table.md"]
