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


# --- reading inside a folder: one mechanism for every file of a folder dacl trusts (issue 45, class 1) -----


@pytest.fixture
def folder_with_traps(tmp_path):
    """A folder with a plain file, links out (to a file, and dangling), a FIFO and a sub-folder."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "plain.bin").write_bytes(b"ours")
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    (folder / "link.bin").symlink_to(secret)
    (folder / "dangling.bin").symlink_to(tmp_path / "created-by-dacl.txt")
    os.mkfifo(folder / "fifo.bin")
    (folder / "sub").mkdir()
    return folder, secret


def test_read_inside_reads_plain_files_and_refuses_every_other_kind(folder_with_traps):
    from dacl.files import NotInside, read_inside

    folder, _ = folder_with_traps
    assert read_inside(folder, "plain.bin") == b"ours"
    expected = {"link.bin": "link", "dangling.bin": "link", "fifo.bin": "kind", "sub": "kind", "absent.bin": "missing",
                "../secret.txt": "name", "sub/x": "name", "..": "name", "": "name"}  # fmt: skip
    for name, reason in expected.items():
        with pytest.raises(NotInside) as caught:
            read_inside(folder, name)  # a FIFO would block a plain open: it must not
        assert caught.value.reason == reason, (name, caught.value)
        assert "not yours" not in str(caught.value)
    with pytest.raises(NotInside, match="more than the 3 allowed"):
        read_inside(folder, "plain.bin", limit=3)


def test_creating_through_open_inside_never_touches_what_a_link_names(folder_with_traps):
    from dacl.files import NotInside, open_inside

    folder, secret = folder_with_traps
    for name in ("link.bin", "dangling.bin"):
        with pytest.raises(NotInside, match="symbolic link"):
            os.close(open_inside(folder, name, os.O_RDWR | os.O_CREAT))
    assert secret.read_text() == "not yours"  # neither truncated nor written
    assert not (folder.parent / "created-by-dacl.txt").exists()  # a dangling link's target is not created
    descriptor = open_inside(folder, "new.lock", os.O_RDWR | os.O_CREAT)
    os.close(descriptor)
    assert (folder / "new.lock").is_file() and not (folder / "new.lock").is_symlink()


# --- an output written once (issue 45, class 3) -------------------------------------------------------------


def test_without_replace_an_existing_file_is_kept_and_racing_writers_leave_one_whole_file(tmp_path):
    import threading

    path = tmp_path / "out.csv"
    path.write_bytes(b"theirs")
    with pytest.raises(FileExistsError, match="nothing was replaced"):
        write_atomic(path, b"ours", replace=False)
    assert path.read_bytes() == b"theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    target, won, lost = tmp_path / "new.csv", [], []
    start = threading.Barrier(8)

    def writer(i):
        start.wait()
        try:
            write_atomic(target, str(i).encode() * 100_000, replace=False)
            won.append(i)
        except FileExistsError:
            lost.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7
    assert target.read_bytes() == str(won[0]).encode() * 100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "out.csv"]  # no temporary file left


HOLDER = """
import sys, time
from dacl.files import hold
with hold(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def held_elsewhere(tmp_path):
    """A lock taken by another process through dacl.files.hold, released when the test ends."""
    import subprocess
    import sys

    processes = []

    def take(folder, name):
        process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), name], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "held"
        processes.append(process)

    yield take
    for process in processes:
        process.kill()
        process.wait()


def test_hold_refuses_a_second_process_and_is_reentrant_in_one(tmp_path, held_elsewhere):
    from dacl.files import Busy, hold

    with hold(tmp_path, "a.lock"), hold(tmp_path, "a.lock"):  # nested in one process: a no-op
        pass
    held_elsewhere(tmp_path, "b.lock")
    with pytest.raises(Busy, match="held by another process"):
        with hold(tmp_path, "b.lock"):
            pass
    with hold(tmp_path, "c.lock", remove=True):
        assert (tmp_path / "c.lock").exists()
    assert not (tmp_path / "c.lock").exists()
