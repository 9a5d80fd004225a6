"""Small helpers shared by tests (not oracles: those are in oracles.py)."""


class Killed(Exception):
    """Stands for a process killed in the middle of a run."""


def kill_at(stop: int):
    """An engine callback that kills the run at the end of epoch ``stop``, before that epoch's checkpoint
    (callbacks run first): a resumed run continues from the checkpoint before."""

    def callback(epoch, record, method):
        if epoch == stop:
            raise Killed

    return callback


def shared_data():
    """``../shared/data`` beside the checkout (real datasets for tests; CI places it there)."""
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "shared" / "data"


def write_idx(path, array, compress=True):
    """An IDX file (MNIST's format) holding ``array``, gzipped unless ``compress=False``."""
    import gzip
    import struct

    import numpy as np

    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    body = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(body) if compress else body)


def cifar_tarball(path, n_train=4, n_test=3, label_key="labels", names=("data_batch_1", "data_batch_2", "test_batch")):
    """A CIFAR python tarball of random images (labels 0..n-1 per batch)."""
    import io
    import pickle
    import tarfile

    import numpy as np

    rng = np.random.default_rng(1)
    with tarfile.open(path, "w:gz") as archive:
        for name in names:
            n = n_test if "test" in name else n_train
            batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), label_key.encode(): list(range(n))}
            data = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
