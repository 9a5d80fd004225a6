"""Image datasets read as flat arrays (the paper's Table 1): IDX and CIFAR files, the pixel permutation, and
the real files in ../shared/data."""

import gzip
import hashlib
import pickle

import numpy as np
import pytest

from dacl.data import load_dataset
from dacl.data.download import RemoteFile
from dacl.images import arrays as images
from dacl.images.arrays import permute_pixels, read_cifar_batch, read_idx
from helpers import cifar_tarball, shared_data, write_idx

SHARED = shared_data()
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not beside the checkout")


def test_idx_round_trip(tmp_path):
    images_ = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    write_idx(tmp_path / "x.gz", images_)
    write_idx(tmp_path / "y", np.arange(5, dtype=np.int32), compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.gz"), images_)
    np.testing.assert_array_equal(read_idx(tmp_path / "y"), np.arange(5))
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(gzip.decompress((tmp_path / "x.gz").read_bytes())[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


def test_cifar_batches_round_trip(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    path = folder / "cifar-10-python.tar.gz"
    cifar_tarball(path)
    digest = "md5:" + hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(images.CIFAR_FILES, "cifar10", RemoteFile("cifar10", path.name, (), digest))
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.X_train.shape == (8, 3072) and ds.X_test.shape == (3, 3072)
    assert ds.X_train.dtype == np.float32 and 0 <= ds.X_train.min() and ds.X_train.max() <= 1
    assert ds.y_train.tolist() == [0, 1, 2, 3, 0, 1, 2, 3] and ds.info["pixel_permutation_seed"] == 0


def test_cifar_reader_refuses_code_in_pickles():
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_cifar_batch(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    batch = read_cifar_batch(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [3, 4]}))
    assert batch["labels"].tolist() == [3, 4]


def test_pixel_permutation_is_fixed_by_its_seed():
    X = np.arange(20.0).reshape(2, 10)
    a, b, c = permute_pixels(X, 0), permute_pixels(X, 0), permute_pixels(X, 1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and sorted(a[0]) == list(X[0])




@needs_shared
def test_mnist_test_set_from_shared_data():
    ds = load_dataset("mnist-test", data_dir=SHARED)
    assert ds.X_train.shape == (8000, 784) and ds.X_test.shape == (2000, 784)
    assert np.bincount(ds.y_train).min() > 700 and ds.X_train.max() == 1.0
    five = load_dataset("mnist5k", data_dir=SHARED)
    assert five.X_train.shape == (4000, 784) and np.bincount(five.y_test).tolist() == [100] * 10



@needs_shared
def test_fashion_mnist_the_papers_table_1_data_from_the_debian_files():
    ds = load_dataset("fashion-mnist", data_dir=SHARED)
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10 and np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.info["pixel_permutation_seed"] == 0 and ds.X_train.max() <= 255


def test_cifar10_jpeg_as_a_table_is_flattened_and_permuted_as_cifar10(tmp_path, monkeypatch):
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = {}
    for split, per_class in (("train", 3), ("test", 2)):
        for label in ("airplane", "automobile"):
            (tmp_path / "cifar10-jpeg" / split / label).mkdir(parents=True)
            for i in range(per_class):
                image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(image).save(tmp_path / "cifar10-jpeg" / split / label / f"{i}.png")  # lossless
                pixels[(split, label, i)] = image
    monkeypatch.setenv("DACL_DATA_DIR", str(tmp_path))  # the decoded-image cache too
    ds = load_dataset("cifar10-jpeg", data_dir=tmp_path)
    assert ds.X_train.shape == (6, 3072) and ds.X_test.shape == (4, 3072) and ds.X_train.dtype == np.float32
    assert sorted(ds.y_train.tolist()) == [0, 0, 0, 1, 1, 1]
    first = pixels[("train", "airplane", 0)].transpose(2, 0, 1).reshape(1, -1) / 255.0  # CIFAR's channel planes
    np.testing.assert_allclose(ds.X_train[:1], permute_pixels(first.astype(np.float32), 0))
