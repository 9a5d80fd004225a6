"""A user's table with a label column that is filled on only some rows: classes or numbers, read for
``dacl fit`` (every row, the empty label cells marking the unlabelled ones) and ``dacl compare
--fractions`` (the labelled rows, split into train and test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dacl.tables.files import Dataset, read_table, split

__all__ = ["TASKS", "infer_task", "labelled_dataset", "read_labelled", "read_unlabelled", "without_columns"]

TASKS = ("auto", "classification", "regression")


def infer_task(labels: Any) -> str:
    """``regression`` when the labelled values are numbers that are not all whole (scikit-learn's
    ``continuous`` target), else ``classification`` (text, whole numbers, booleans)."""
    from sklearn.utils.multiclass import type_of_target

    values = pd.Series(labels, dtype=object).dropna()
    if values.empty:
        return "classification"
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any():
        return "classification"
    finite = numeric.to_numpy(dtype=np.float64)
    if not np.isfinite(finite).all():  # scikit-learn's type_of_target raises on them: name the column instead
        raise ValueError(f"the label column holds {finite[~np.isfinite(finite)][0]}; give finite labels (an empty "
                         "cell marks a row without one).")  # fmt: skip
    return "regression" if type_of_target(numeric.to_numpy(dtype=np.float64)) == "continuous" else "classification"


def _as_labels(column: np.ndarray, task: str) -> np.ndarray:
    """Classes as an object array (None where empty; whole floats such as 1.0, which a CSV gives for a
    column of 0/1 with empty cells, back to ints); numbers as floats (NaN where empty)."""
    series = pd.Series(column, dtype=object)
    if task == "regression":
        numbers = pd.to_numeric(series, errors="coerce")
        text = series.notna() & numbers.isna()
        if text.any():
            raise ValueError(f"the label column holds text ({series[text].iloc[0]!r}, ...) but --task regression "
                             "needs numbers; use --task classification, or fix those cells.")  # fmt: skip
        return numbers.to_numpy(dtype=np.float64)
    present = series.notna()
    values = series[present]
    _warn_same_number(values)
    if len(values) and all(isinstance(v, float | np.floating) and float(v).is_integer() for v in values):
        series[present] = [int(v) for v in values]
    return series.where(present, None).to_numpy(dtype=object)


def _warn_same_number(values: pd.Series) -> None:
    """Classes are read as written ("007" and "7", "1" and "1.0" are two classes: ``label_files``): say so
    where two of them are the same number, which may have been meant as one class."""
    texts = [v for v in pd.unique(values) if isinstance(v, str)]
    numbers = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce")
    seen: dict[float, str] = {}
    for text, number in zip(texts, numbers):
        if pd.notna(number) and number in seen:
            import warnings

            warnings.warn(f"the label column holds {seen[number]!r} and {text!r}, the same number written two ways: "
                          "they are two classes, as written; write them alike where they are one.", UserWarning,
                          stacklevel=4)  # fmt: skip
            return
        seen.setdefault(number, text)


def read_labelled(
    path: str | Path, label: str, task: str = "auto", ignore: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """(features, labels, task) of a CSV/Parquet file whose ``label`` column is empty on unlabelled rows;
    the ``ignore`` columns (an ID, a timestamp) left out."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    X, y = read_table(path, label)
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(X, columns=[str(i) for i in range(np.shape(X)[1])])
    if y is None:
        raise ValueError(f"{path} has no label column: name it with --label COLUMN.")
    X = without_columns(X, ignore, path, label)
    if X.shape[1] == 0:
        left = " and the --ignore columns" if ignore else ""
        raise ValueError(f"{path} has no feature column besides the label {label!r}{left}; a model needs at least "
                         "one column to learn from.")  # fmt: skip
    try:
        chosen = infer_task(y) if task == "auto" else task
        return X, _as_labels(y, chosen), chosen
    except ValueError as error:
        raise ValueError(str(error).replace("the label column", f"the label column {label!r} of {path}", 1)) from None


def without_columns(X: pd.DataFrame, ignore: tuple[str, ...], path: Any, label: str | None = None) -> pd.DataFrame:
    """``X`` less the ``ignore`` columns; a name that is not a column, or the label, is refused."""
    if label is not None and label in ignore:
        raise ValueError(f"the label column {label!r} cannot be ignored; leave it out of --ignore.")
    names = {str(c): c for c in X.columns}
    unknown = [name for name in ignore if name not in names]
    if unknown:
        shown = ", ".join(list(names)[:20])
        raise ValueError(f"--ignore names column(s) {', '.join(map(repr, unknown))} that {path} does not have "
                         f"(columns: {shown}).")  # fmt: skip
    return X.drop(columns=[names[name] for name in ignore]) if ignore else X


def read_unlabelled(
    path: str | Path, columns: Any, label: str | None = None, ignore: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A file of further unlabelled rows (``dacl fit --unlabeled``): ``columns`` (a labelled table's, in
    their order), the label and ``ignore`` columns dropped if they are there; other columns are refused,
    naming them."""
    frame = read_table(path)[0]
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{path} must be a CSV or Parquet table with named columns.")
    frame = frame.drop(columns=[label], errors="ignore") if label is not None else frame
    frame = frame.drop(columns=[c for c in frame.columns if str(c) in ignore])
    missing = [c for c in columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in set(columns)]
    if missing or extra:
        raise ValueError(f"{path} must have the columns of the labelled table (less the label); it lacks "
                         f"{sorted(map(str, missing))[:10]} and adds {sorted(map(str, extra))[:10]}.")  # fmt: skip
    return frame[list(columns)]


def warn_minus_one(y, label: str, otherwise: str) -> None:
    """-1 in a file's label column is a class (only an empty cell marks a row without a label), for dacl fit
    and dacl compare alike: say so where it may have been meant as scikit-learn's marker of unlabelled rows;
    ``otherwise``: what the command offers instead."""
    import warnings

    rows = sum(1 for v in y if v is not None and str(v).strip() in ("-1", "-1.0"))
    if rows:
        warnings.warn(f"the label column {label!r} holds -1 on {rows} row(s): in a file it is a class, like any "
                      f"other label; if it marks rows without a label, leave those cells empty or {otherwise}.",
                      UserWarning, stacklevel=3)  # fmt: skip


def labelled_dataset(
    path: str | Path, label: str, task: str = "auto", test: str | Path | None = None, test_size: float = 0.2,
    seed: int = 0, ignore: tuple[str, ...] = (),
) -> Dataset:  # fmt: skip
    """The file's labelled rows as a train/test ``Dataset`` (stratified for classes, random for numbers),
    for the label study; rows with an empty label are left out, and the ``ignore`` columns."""
    X, y, task = read_labelled(path, label, task, ignore)
    if task == "classification":
        warn_minus_one(y, label, "drop those rows from the file")
    keep = pd.notna(pd.Series(y, dtype=object)).to_numpy()
    if keep.sum() < 4:
        raise ValueError(f"{path} has {int(keep.sum())} labelled rows; the label study needs a few dozen at least.")
    X, y = X[keep].reset_index(drop=True), y[keep]
    regression = task == "regression"
    y = y.astype(np.float64) if regression else y.astype(str) if any(isinstance(v, str) for v in y) else y.astype(int)
    info = {"task": task, "label": label, "unlabelled_rows_left_out": int((~keep).sum()), "user_file": True}
    if test is None:
        return split(Path(path).stem, X, y, test_size=test_size, seed=seed, stratify=not regression,
                     source=str(path), **info)  # fmt: skip
    X_test, y_test, _ = read_labelled(test, label, task, ignore)
    kept = pd.notna(pd.Series(y_test, dtype=object)).to_numpy()
    y_test = y_test[kept].astype(y.dtype)
    return Dataset(Path(path).stem, X, y, X_test[kept].reset_index(drop=True), y_test,
                   {"source": str(path), "test": str(test), **info})  # fmt: skip
