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


def test_class_labels_are_read_as_written_in_memory_streamed_and_through_dacl_predict(tmp_path):
    """Issue 45, class 5: labels are text unless every one is a number written as one: "007" and "7", "1" and
    "1.0" are distinct classes (the second pair said), and dacl predict writes "007" back as written."""
    from dacl.cli import main
    from dacl.tables.stream import TableStream

    path = tmp_path / "t.csv"
    path.write_text("x,kind\n1,007\n2,7\n3,1\n4,\n5,007\n")
    with pytest.warns(UserWarning, match="'007' and '7', the same number written two ways"):
        assert read_labelled(path, "kind")[1].tolist() == ["007", "7", "1", None, "007"]
    path.write_text("x,kind\n1,007\n2,012\n3,\n")
    assert read_labelled(path, "kind")[1].tolist() == ["007", "012", None]
    path.write_text("x,kind\n1,1\n2,1.0\n3,2\n")
    with pytest.warns(UserWarning, match="'1' and '1.0', the same number written two ways: they are two classes"):
        assert read_labelled(path, "kind")[1].tolist() == ["1", "1.0", "2"]
    path.write_text("x,kind\n1,0.0\n2,1.0\n3,\n")  # pandas' writing of a 0/1 column with empty cells: numbers
    assert read_labelled(path, "kind")[1].tolist() == [0, 1, None]
    path.write_text("x,price\n1,3.50\n2,4.25\n3,\n4,10\n")  # "3.50" is a number all the same for a regression
    labels, task = read_labelled(path, "price")[1:]
    assert task == "regression" and labels[0] == 3.5 and np.isnan(labels[2])
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80)})
    frame["code"] = np.where(frame["a"] > 0, "007", "7")
    frame.loc[40:, "code"] = None
    frame.to_csv(tmp_path / "codes.csv", index=False)
    frame.to_parquet(tmp_path / "codes.parquet")
    for streamed in ("codes.parquet", "codes.csv"):
        stream = TableStream([tmp_path / streamed], 16, label="code")
        assert set(stream.labelled_rows("code")[1]) == {"007", "7"}, streamed
    tiny = ["--epochs", "1", "--depth", "1", "--width", "8", "--batch-size", "32", "--candidates", "linear-raw",
            "--quiet", "--threads", "1"]  # fmt: skip
    with pytest.warns(UserWarning, match="same number written two ways"):
        assert main(["fit", "--data", str(tmp_path / "codes.csv"), "--label", "code", "--out", str(tmp_path / "m"),
                     *tiny]) == 0  # fmt: skip
    assert main(["predict", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "codes.csv"), "--out",
                 str(tmp_path / "p.csv")]) == 0  # fmt: skip
    written = pd.read_csv(tmp_path / "p.csv", dtype=str)["code"]
    assert set(written) == {"007", "7"}
