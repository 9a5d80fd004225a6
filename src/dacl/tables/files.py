"""Table files: CSV, Parquet and NumPy files read as features and labels (one label rule for every reader),
and the embedded default (scikit-learn's digits)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dacl.data.dataset import Dataset, split

__all__ = [
    "check_unique_columns", "label_values", "load_digits_dataset", "load_table_dataset", "read_table", "table_files"
]


def _label_from_frame(
    frame: pd.DataFrame, label: str | int | None, path: Path
) -> tuple[pd.DataFrame, np.ndarray | None]:
    if label is None:
        return frame, None
    if isinstance(label, str) and label in frame.columns:
        column = label
    elif isinstance(label, int) or (isinstance(label, str) and label.lstrip("-").isdigit()):
        column = frame.columns[_column_index(int(label), len(frame.columns), path)]
    else:
        raise ValueError(
            f"label column {label!r} is not in {path}; its columns are: {', '.join(map(str, frame.columns))}."
        )
    return frame.drop(columns=[column]), frame[column].to_numpy()


def _parsed(path: Path, kind: str, read) -> pd.DataFrame:
    """``read()``'s table, or one clear error when the file is not a readable table of that kind."""
    try:
        frame = read()
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:  # EmptyDataError included
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"cannot read {path} as {kind}: {reason}; check the file and its delimiter.") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{path} holds no data ({frame.shape[0]} rows, {frame.shape[1]} columns).")
    return frame


def _cell(value: Any) -> Any:
    """One label cell: None where empty (no value, NaN, empty or blank text), else the value (text stripped)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def label_values(raw: Any) -> np.ndarray:
    """A file's label cells as every reader of dacl takes them (in memory and streamed; issue 36): an empty
    cell marks an unlabelled row (None); where every other cell is a number the labels are numbers, and
    NaN marks an unlabelled row too; otherwise each text is a class as written, ``NA``, ``null`` and
    ``None`` included (pandas and Arrow would read those as missing)."""
    cells = np.array([_cell(v) for v in raw], dtype=object)
    texts = {v for v in cells if isinstance(v, str)}
    if texts:
        parsed = {t: _number(t) for t in texts}
        numbers = all(p is not None and _written_as(t, p) for t, p in parsed.items())
        if numbers and len(set(parsed.values())) == len(parsed):  # each a number, written as one: numbers
            cells = np.array([parsed[v] if isinstance(v, str) else v for v in cells], dtype=object)
            cells[[isinstance(v, float) and math.isnan(v) for v in cells]] = None
    return cells


def _written_as(text: str, number: float) -> bool:
    """Whether ``text`` is how ``number`` is written back ("7", "7.0", "0.25", "nan"), so that reading it as a
    number loses nothing: "007", "+7", "1.50" and "1e3" are not, and a column holding one is read as text
    (classes as written; a regression reads the text as numbers all the same)."""
    return text == repr(number) or (number.is_integer() and text == str(int(number)))


def _csv_header(path: Path, options: dict) -> list[str]:
    """The names of a CSV file's first line, as written (without pandas' renaming of repeated ones)."""
    import csv
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding=options.get("encoding", "utf-8-sig"), newline="") as handle:
            first = next(csv.reader(handle, delimiter=options.get("sep", ",")), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []  # the parser says what is wrong with the file
    return [name.strip() if options.get("skipinitialspace") else name for name in first]


def check_unique_columns(names: list, what: Any) -> None:
    """A table's column names once each: a repeated name is refused, naming it and its positions."""
    seen: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        seen.setdefault(str(name), []).append(position)
    repeated = {name: where for name, where in seen.items() if len(where) > 1}
    if repeated:
        name, where = next(iter(repeated.items()))
        raise ValueError(f"{what} has the column name {name!r} more than once (columns "
                         f"{', '.join(map(str, where))}, counting from 0); give each column its own name.")  # fmt: skip



def _label_name(label: str | int | None, header: list[str]) -> str | None:
    """The label column's name in a CSV header (``label`` a name or a position), None where it has none."""
    if isinstance(label, str):
        return label if label in header else None
    if isinstance(label, int) and not isinstance(label, bool) and -len(header) <= label < len(header):
        return header[label]
    return None


def _column_index(index: int, columns: int, path: Path) -> int:
    if not -columns <= index < columns:
        raise ValueError(f"label column {index} is out of range: {path} has {columns} columns (0 to {columns - 1}).")
    return index


def table_files(path: str | Path) -> list[Path]:
    """``path`` itself, or the .parquet / .csv files of a folder or a glob (as ``dacl pretrain`` streams them),
    sorted; an empty folder or glob is an error."""
    text = str(path)
    if Path(path).is_dir():
        files = sorted(p for p in Path(path).iterdir() if p.suffix.lower() in (".parquet", ".csv"))
    elif any(c in text for c in "*?["):
        import glob

        files = sorted(Path(p) for p in glob.glob(text) if Path(p).suffix.lower() in (".parquet", ".csv"))
    else:
        return [Path(path)]
    if not files:
        raise FileNotFoundError(f"{path} holds no .parquet or .csv files.")
    return files


def read_table(
    path: str | Path, label: str | int | None = None, **read_options
) -> tuple[pd.DataFrame | np.ndarray, np.ndarray | None]:
    """Read features and labels from a file.

    - ``.csv`` (also ``.csv.gz``, ``.tsv``) and ``.parquet``: the label column by name (or position);
      other columns are features, numeric or categorical; ``read_options`` go to pandas.
    - ``.npz``: arrays ``X`` and ``y`` (``y`` optional).
    - ``.npy``: a 2-D array; ``label`` is the index of the label column, if any.
    """
    files = table_files(path)
    if len(files) > 1 or files[0] != Path(path):  # a folder or a glob of Parquet or CSV files: one table
        parts = [read_table(file, label, **read_options) for file in files]
        if any(not isinstance(X, pd.DataFrame) for X, _ in parts):
            raise ValueError(f"{path}: a folder or glob is read as one table of .parquet or .csv files.")
        X = pd.concat([X for X, _ in parts], ignore_index=True)
        return X, None if parts[0][1] is None else np.concatenate([y for _, y in parts])
    path = files[0]
    if not path.is_file():
        raise FileNotFoundError(f"no such data file: {path}")
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".data", ".test")):
        sep = "\t" if ".tsv" in suffixes else ","
        options = {"sep": sep, "skipinitialspace": True, "encoding": "utf-8-sig", **read_options}
        header = _csv_header(path, options) if options.get("header", "infer") is not None else []
        check_unique_columns(header, path)  # pandas would rename a repeated name a.1, silently
        name = _label_name(label, header)
        if name is not None and "dtype" not in options:  # the label cells as text, then label_values' rule
            options = {**options, "dtype": {name: str}}
        frame = _parsed(path, "CSV", lambda: pd.read_csv(path, **options))
        X, y = _label_from_frame(frame, label, path)
        if y is None or (name is None and not pd.isna(pd.Series(y, dtype=object)).any()):
            return X, y
        if pd.isna(pd.Series(y, dtype=object)).any():  # pandas reads NA, null, None, ... as missing: read again
            position = next(i for i, c in enumerate(frame.columns) if c not in X.columns)  # the label's
            y = _parsed(path, "CSV", lambda: pd.read_csv(path, **{**options, "usecols": [position], "dtype": str,
                                                                  "keep_default_na": False, "na_values": []}))
            y = y.iloc[:, 0].to_numpy(dtype=object)
        y = label_values(y)  # "007" and "7", "1" and "1.0" stay apart; numbers written as numbers are numbers
        if not any(isinstance(v, str) for v in y):  # numbers: NaN where no label, as pandas gives them
            y = np.array([np.nan if v is None else v for v in y], dtype=np.float64)
        return X, y
    if suffixes.endswith(".parquet"):
        frame = _parsed(path, "Parquet", lambda: pd.read_parquet(path, **read_options))
        check_unique_columns(list(frame.columns), path)
        return _label_from_frame(frame, label, path)
    if suffixes.endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            if "X" not in archive:
                raise ValueError(f"{path} must hold an array named 'X' (and optionally 'y'); it has {list(archive)}.")
            return archive["X"], (archive["y"] if "y" in archive else None)
    if suffixes.endswith(".npy"):
        array = np.load(path, allow_pickle=False)
        if array.ndim != 2:
            raise ValueError(f"{path} holds an array of shape {array.shape}; a 2-D (samples, columns) array is needed.")
        if label is None:
            return array, None
        column = _column_index(int(label), array.shape[1], path)
        return np.delete(array, column, axis=1), array[:, column]
    raise ValueError(f"cannot read {path}: use .csv, .tsv, .parquet, .npy or .npz.")


def load_digits_dataset(seed: int = 0, data_dir=None) -> Dataset:
    """The embedded default: scikit-learn's digits (1,797 8x8 images as 64 features, 10 classes),
    shipped inside scikit-learn, with a fixed stratified 75/25 split (seed 0 unless given); ``data_dir`` is
    not used (the registry's loaders all take it)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return split("digits", X.astype(np.float32), y, test_size=0.25, seed=seed, source="sklearn.datasets.load_digits")


def load_table_dataset(
    path: str | Path, label: str | int | None, test: str | Path | None = None, test_size: float = 0.2, seed: int = 0
) -> Dataset:
    """A user's table file with its label column as a labelled dataset: split into train and test (stratified,
    ``test_size``, ``seed``) unless ``test`` names a second file with the same columns. Every row needs a label."""
    path = Path(path)
    X, y = read_table(path, label)
    if y is None:
        raise ValueError(f"{path} has no labels: name the label column (label=... / --label COLUMN).")
    _check_labels_present(y, path, label)
    if test is None:
        return split(path.stem or path.name, X, y, test_size=test_size, seed=seed, source=str(path), user_file=True)
    X_test, y_test = read_table(test, label)
    _check_labels_present(y_test, Path(test), label)
    return Dataset(path.stem, X, y, X_test, y_test, {"source": str(path), "test": str(test), "user_file": True})


def _check_labels_present(y, path: Path, label) -> None:
    """A labelled dataset has a label on every row: name the file, the column and the count where not."""
    missing = int(pd.isna(pd.Series(y, dtype=object)).sum())
    if missing:
        raise ValueError(
            f"{path} has {missing} row(s) with no value in the label column {label!r}; drop them, or fit a model "
            "on a partly labelled table with dacl fit / DACLClassifier (empty cells are the unlabelled rows)."
        )
