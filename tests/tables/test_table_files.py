import numpy as np
import pandas as pd
import pytest

from dacl.data import load_dataset
from dacl.tables.files import read_table
from dacl.tables.preprocess import make_preprocessor


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


def test_booleans_dates_and_durations_are_numbers_and_a_mixed_column_is_named():
    from dacl.tables.preprocess import normalized_table

    frame = pd.DataFrame({"flag": [True, False, True], "when": pd.to_datetime(["1970-01-02", "1970-01-03", None]),
                          "took": pd.to_timedelta(["12h", "1D", "0s"]), "maybe": [True, None, False],
                          "text": ["a", "b", None]})  # fmt: skip
    out = normalized_table(frame)
    assert out["flag"].tolist() == [1.0, 0.0, 1.0] and out["took"].tolist() == [0.5, 1.0, 0.0]
    assert out["when"].iloc[:2].tolist() == [1.0, 2.0] and np.isnan(out["when"].iloc[2])
    assert out["maybe"].iloc[0] == 1.0 and np.isnan(out["maybe"].iloc[1]) and out["text"].equals(frame["text"])
    assert frame["flag"].dtype == bool  # the caller's frame is left as it was
    with pytest.raises(ValueError, match="column 'mixed' of X mixes numbers and text"):
        normalized_table(pd.DataFrame({"mixed": [1, "x", 2.5]}))


def test_the_estimators_take_boolean_and_date_columns_in_fit_and_transform(frame):
    import warnings

    from dacl import DACL

    table = frame.drop(columns="target").assign(flag=[True, False] * 10,
                                                when=pd.date_range("2021-01-01", periods=20, tz="UTC"))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = DACL(epochs=1, depth=1, width=8, batch_size=8, warmup_epochs=0.0, random_state=0).fit(table)
    assert model.transform(table).shape == (20, 8)  # was: SimpleImputer does not support data with dtype bool
