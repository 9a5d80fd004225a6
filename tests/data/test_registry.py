"""Datasets by name or from a file: every registered name, the errors that name what is known."""

import inspect

import numpy as np
import pandas as pd
import pytest

from dacl.data import load_dataset
from dacl.data.registry import DATASETS


@pytest.fixture
def frame():
    return pd.DataFrame({"a": np.arange(20.0), "color": ["r", "g", "b", "r"] * 5, "target": [0, 1] * 10})


def test_every_registered_loader_takes_a_seed_and_a_data_folder():
    for name, loader in DATASETS.items():
        parameters = inspect.signature(loader).parameters
        assert {"seed", "data_dir"} <= set(parameters), name


def test_an_unknown_name_lists_the_registered_ones():
    with pytest.raises(ValueError, match="unknown dataset 'mnist-xyz'") as error:
        load_dataset("mnist-xyz")
    assert all(name in str(error.value) for name in ("digits", "adult", "california-housing"))


def test_digits_split_is_fixed_and_stratified():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert a.X_train.shape == (1347, 64) and a.X_test.shape == (450, 64)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert abs(np.bincount(a.y_test) / len(a.y_test) - np.bincount(a.y_train) / len(a.y_train)).max() < 0.01


def test_file_dataset_split_and_separate_test_file(tmp_path, frame):
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[:8].to_csv(tmp_path / "test.csv", index=False)
    ds = load_dataset(tmp_path / "train.csv", label="target", test_size=0.25)
    assert len(ds.y_train) == 15 and len(ds.y_test) == 5 and ds.name == "train"
    ds = load_dataset(tmp_path / "train.csv", label="target", test=tmp_path / "test.csv")
    assert len(ds.y_train) == 20 and len(ds.y_test) == 8
    assert ds.info == {"source": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv"), "user_file": True}
    first, again = (load_dataset(tmp_path / "train.csv", label="target", seed=s) for s in (0, 0))
    other = load_dataset(tmp_path / "train.csv", label="target", seed=1)
    assert first.X_test.equals(again.X_test) and not first.X_test.equals(other.X_test)


def test_a_file_without_a_label_column_is_refused_with_what_to_do(tmp_path, frame):
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match="--label COLUMN"):
        load_dataset(tmp_path / "t.csv")
