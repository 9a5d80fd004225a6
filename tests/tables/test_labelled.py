"""A user's table with labels on some rows, label subsets for numbers, the regression datasets."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dacl.data.subsets import label_subset
from dacl.tables.labelled import infer_task, labelled_dataset, read_labelled
from helpers import shared_data

SHARED = shared_data()


def test_empty_label_cells_are_unlabelled_and_whole_floats_become_ints(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, None, 1, None]}).to_csv(path, index=False)
    X, y, task = read_labelled(path, "y")
    assert task == "classification" and list(X.columns) == ["x"]
    assert y.tolist() == [0, None, 1, None] and all(type(v) is int for v in y if v is not None)
    pd.DataFrame({"x": range(4), "y": [0.5, None, 2.25, 7.0]}).to_csv(path, index=False)
    X, y, task = read_labelled(path, "y")
    assert task == "regression" and np.isnan(y[1]) and y[2] == 2.25
    with pytest.raises(ValueError, match="needs numbers"):
        read_labelled(tmp_path / "t.csv", "x", "regression") if False else read_labelled(
            _write(tmp_path, {"x": [1, 2], "y": ["a", "b"]}), "y", "regression")  # fmt: skip


def _write(folder: Path, columns: dict) -> Path:
    path = folder / "w.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


def test_the_task_is_inferred_from_the_labelled_values():
    assert infer_task(["a", None, "b"]) == "classification"
    assert infer_task([1, 2, 3, None]) == "classification"
    assert infer_task([0.5, 1.25, np.nan]) == "regression"


def test_a_file_for_the_label_study_keeps_its_labelled_rows_split_by_task(tmp_path):
    rng = np.random.default_rng(0)
    path = _write(tmp_path, {"x": rng.random(100), "y": np.where(np.arange(100) % 5 == 0, np.nan, rng.random(100))})
    dataset = labelled_dataset(path, "y")
    assert dataset.is_regression and len(dataset.y_train) + len(dataset.y_test) == 80
    assert dataset.info["unlabelled_rows_left_out"] == 20


def test_label_subsets_of_numbers_span_the_targets_range():
    y = np.arange(1000.0)
    rows = label_subset(y, 0.02, draw=0, regression=True)
    assert len(rows) == 20 and np.histogram(y[rows], bins=10, range=(0, 1000))[0].min() == 2
    assert not np.array_equal(rows, label_subset(y, 0.02, draw=1, regression=True))
    assert len(label_subset(y, 0.005, draw=0, regression=True)) == 5  # fewer rows than deciles: a plain draw
    with pytest.raises(ValueError, match="label fraction"):
        label_subset(y, 1.5, draw=0)


@pytest.mark.skipif(not (SHARED / "tabular" / "wine-quality").is_dir(), reason="needs ../shared/data")
def test_the_regression_datasets_are_registered_with_numbers_as_targets():
    from dacl.data import load_dataset

    wine = load_dataset("wine-quality", data_dir=SHARED)
    assert wine.is_regression and len(wine.y_train) + len(wine.y_test) == 6497 and "colour" in wine.X_train.columns
    housing = load_dataset("california-housing", data_dir=SHARED)
    assert housing.is_regression and len(housing.y_train) == 16512 and housing.X_train["total_bedrooms"].isna().any()
    assert "regression" in repr(housing)
