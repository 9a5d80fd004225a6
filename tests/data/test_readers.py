import numpy as np
import pandas as pd
import pytest

from dacl.data import load_dataset, read_table
from dacl.data.preprocess import make_preprocessor


@pytest.fixture
def frame():
    return pd.DataFrame(
        {"a": [1.0, 2.0, np.nan, 4.0] * 5, "color": ["r", "g", None, "b"] * 5, "target": [0, 1, 0, 1] * 5}
    )


def test_csv_and_parquet_round_trip(tmp_path, frame):
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        X, y = read_table(tmp_path / name, label="target")
        assert list(X.columns) == ["a", "color"] and y.tolist() == frame["target"].tolist()
        assert X["a"].isna().sum() == 5 and X["color"].isna().sum() == 5
    X, y = read_table(tmp_path / "t.csv", label=2)
    assert y.tolist() == frame["target"].tolist()


def test_numpy_files(tmp_path):
    data = np.arange(20.0).reshape(5, 4)
    np.save(tmp_path / "d.npy", data)
    X, y = read_table(tmp_path / "d.npy", label=3)
    assert X.shape == (5, 3) and y.tolist() == data[:, 3].tolist()
    np.savez(tmp_path / "d.npz", X=data, y=np.arange(5))
    X, y = read_table(tmp_path / "d.npz")
    assert X.shape == (5, 4) and y.tolist() == list(range(5))


def test_bad_files_and_names(tmp_path, frame):
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match="label column 'nope'"):
        read_table(tmp_path / "t.csv", label="nope")
    with pytest.raises(ValueError, match="unknown dataset 'mnist-xyz'"):
        load_dataset("mnist-xyz")
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(ValueError, match="cannot read"):
        read_table(tmp_path / "t.xlsx")
    with pytest.raises(ValueError, match="no labels"):
        load_dataset(tmp_path / "t.csv")


def test_preprocessor_scales_to_unit_interval_and_one_hot_encodes(frame):
    X = frame.drop(columns="target")
    out = make_preprocessor(X).fit_transform(X)
    assert out.shape == (20, 1 + 3) and out.min() >= 0 and out.max() <= 1 and np.isfinite(out).all()


def test_preprocessor_on_integer_column_names_from_a_headerless_table():
    # letter's columns are named 1..16 once its label column 0 is taken out: names, not positions
    X = pd.DataFrame(np.arange(24, dtype=float).reshape(4, 6), columns=range(1, 7))
    X[7] = ["a", "b", "a", "b"]
    out = make_preprocessor(X).fit_transform(X)
    assert out.shape == (4, 8) and out.min() == 0 and out.max() == 1
