"""Image datasets as uint8 tensors: CIFAR's pickle batches, IDX files, image folders, the real files in ../shared."""

import hashlib

import numpy as np
import pytest
from PIL import Image

from dacl.data.download import RemoteFile
from dacl.images import arrays as images
from dacl.images.sets import load_image_dataset
from helpers import cifar_tarball, shared_data, write_idx

SHARED = shared_data()
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not beside the checkout")


def test_cifar_pickle_batches_become_nchw_images(tmp_path, monkeypatch):
    (tmp_path / "cifar10").mkdir()
    path = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    cifar_tarball(path)
    digest = "md5:" + hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(images.CIFAR_FILES, "cifar10", RemoteFile("cifar10", path.name, (), digest))
    data = load_image_dataset("cifar10", data_dir=tmp_path)
    assert data.train_images.shape == (8, 3, 32, 32) and data.test_images.shape == (3, 3, 32, 32)
    assert data.train_labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3] and data.classes[0] == "airplane"
    # CIFAR rows are 1024 red, then 1024 green, then 1024 blue values, row-major
    import pickle
    import tarfile

    with tarfile.open(path) as archive:
        batch = pickle.loads(archive.extractfile("cifar-10-batches-py/data_batch_1").read())
    np.testing.assert_array_equal(data.train_images[0, 1].numpy(), batch[b"data"][0, 1024:2048].reshape(32, 32))


def test_idx_files_in_the_debian_layout_become_one_channel_images(tmp_path, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": np.arange(6, dtype=np.uint8) % 10,
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": np.arange(3, dtype=np.uint8)}  # fmt: skip
    digests = {}
    for name, array in arrays.items():
        write_idx(folder / name, array)
        digests[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    monkeypatch.setitem(images.IDX_FILES, "fashion-mnist", ((), digests))
    monkeypatch.setitem(images.IDX_CONTENTS, "fashion-mnist", {})
    data = load_image_dataset("fashion-mnist", data_dir=tmp_path)
    assert data.train_images.shape == (6, 1, 28, 28) and data.test_labels.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(data.train_images[2, 0].numpy(), arrays["train-images-idx3-ubyte.gz"][2])


def write_classes(root, count=5, side=6):
    rng = np.random.default_rng(0)
    for name in ("ant", "bee"):
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(root / name / f"{i}.png")


def test_a_folder_with_train_and_test_or_split_here(tmp_path):
    write_classes(tmp_path / "pair" / "train")
    write_classes(tmp_path / "pair" / "test", count=2)
    pair = load_image_dataset(tmp_path / "pair", cache_dir=tmp_path / "cache")
    assert pair.train_images.shape == (10, 3, 6, 6) and pair.test_images.shape == (4, 3, 6, 6)
    assert pair.classes == ["ant", "bee"]
    write_classes(tmp_path / "one")
    one = load_image_dataset(tmp_path / "one", cache_dir=tmp_path / "cache")
    assert len(one.train_images) == 8 and one.test_labels.tolist() == [0, 1]  # stratified 80/20
    with pytest.raises(ValueError, match="unknown image dataset"):
        load_image_dataset(tmp_path / "missing")


@needs_shared
def test_cifar10_jpeg_from_shared_data(tmp_path):
    data = load_image_dataset("cifar10-jpeg", data_dir=SHARED, cache_dir=tmp_path)
    assert data.train_images.shape == (50000, 3, 32, 32) and data.test_images.shape == (10000, 3, 32, 32)
    assert np.bincount(data.test_labels.numpy()).tolist() == [1000] * 10 and "JPEG" in data.info["note"]
    means = data.test_images.float().mean((0, 2, 3)).tolist()
    assert means == pytest.approx([125.99, 123.69, 114.85], abs=0.02)  # as its README states
