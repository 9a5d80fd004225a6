"""Turning a table into the numeric matrix DACL trains on: scaling, one-hot encoding, imputation."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # scikit-learn is imported by the fit only: a model folder's predictions need none of it
    from sklearn.compose import ColumnTransformer

__all__ = ["LARGEST", "LARGEST_OF_DTYPE", "categorical_columns", "check_no_infinite", "check_scaled", "column_names",
           "make_preprocessor", "network_bound", "normalized_table", "one_hot_blocks", "warn_scaled_to_nothing"]

SCALERS = ("minmax", "standard")  # scikit-learn's MinMaxScaler, StandardScaler
# A categorical column with more distinct values than this is likely an ID: its rarest values share a column.
MAX_CATEGORIES = 50


def column_names(X) -> list[str]:
    """A table's column names as text: a DataFrame's, or "0", "1", ... for an array's columns (as the
    estimators, a model folder and a pretraining run record them)."""
    return [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else [str(i) for i in range(np.shape(X)[1])]


def categorical_columns(X) -> list:
    """Columns of a DataFrame that are not numeric (object, string, category, bool)."""
    if not isinstance(X, pd.DataFrame):
        return []
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]


def normalized_table(frame, what: str = "X"):
    """``frame`` with the column types the preprocessing takes: booleans as 0/1, dates and times as days
    since 1970-01-01, durations as days (missing values stay missing); a column that mixes numbers and
    text is refused, naming it. Anything but a DataFrame is returned as it is."""
    if not isinstance(frame, pd.DataFrame):
        return frame
    converted = {}
    for name in frame.columns:
        column = frame[name]
        nullable = _without_pandas_na(column)
        if nullable is not None:  # pandas' nullable and Arrow dtypes: their pd.NA would break numpy's tests
            converted[name] = column = nullable
        if pd.api.types.is_bool_dtype(column):
            converted[name] = column.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(column):
            epoch = pd.Timestamp(0, tz=column.dt.tz)
            converted[name] = ((column - epoch) / pd.Timedelta(days=1)).astype("float64")
        elif pd.api.types.is_timedelta64_dtype(column):
            converted[name] = (column / pd.Timedelta(days=1)).astype("float64")
        elif column.dtype == object:
            present = column.dropna().iloc[:10_000]
            if len(present) and all(isinstance(v, bool | np.bool_) for v in present):
                converted[name] = column.map(lambda v: np.nan if v is None or v != v else float(v)).astype("float64")
                continue
            text = next((v for v in present if isinstance(v, str)), None)
            number = next((v for v in present if isinstance(v, int | float | np.number)
                           and not isinstance(v, bool | np.bool_)), None)  # fmt: skip
            if text is not None and number is not None:
                raise ValueError(
                    f"column {name!r} of {what} mixes numbers and text (e.g. {number!r} and {text!r}); make it all "
                    "text (a categorical column: df[col].astype(str)) or all numbers (pd.to_numeric) first."
                )
    if not converted:
        return frame
    frame = frame.copy()
    for name, column in converted.items():
        frame[name] = column
    return frame


def _without_pandas_na(column: pd.Series) -> pd.Series | None:
    """A column of a pandas extension dtype whose missing value is ``pd.NA`` (Int64, Float64, boolean, string,
    Arrow types) as numpy-backed values with NaN for missing: numbers as float64, booleans as 0/1, anything
    else as objects (text stays text). None for any other column (categoricals and dates keep their dtype)."""
    dtype = column.dtype
    if getattr(dtype, "na_value", None) is not pd.NA or isinstance(dtype, pd.CategoricalDtype | pd.DatetimeTZDtype):
        return None  # numpy dtypes, pandas' default str (NaN for missing), categories and dates: as they are
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return pd.Series(column.to_numpy(dtype=np.float64, na_value=np.nan), index=column.index, name=column.name)
    values = column.astype(object)
    return values.where(column.notna(), np.nan)


LARGEST = 1e150  # past this magnitude scaling overflows (a standard deviation squares the values: 1e154)


def check_no_infinite(X, what: str = "X") -> None:
    """Raise ``ValueError`` if any numeric value of ``X`` is infinite, or finite but so large (above
    ``LARGEST`` in magnitude) that scaling it overflows; NaN is left to the imputer."""
    if isinstance(X, pd.DataFrame):
        frame = X.select_dtypes(include="number")
        numeric, names = frame.to_numpy(dtype=float), list(frame.columns)
    else:
        numeric = np.asarray(X, dtype=float)
        names = list(range(numeric.shape[1])) if numeric.ndim == 2 else []
    with np.errstate(invalid="ignore"):
        huge = np.abs(numeric) > LARGEST  # inf included
    if huge.any():
        columns = [repr(names[j]) for j in np.flatnonzero(huge.any(axis=0))] if numeric.ndim == 2 else []
        where = f" in column(s) {', '.join(columns[:10])}" if columns else ""
        if np.isinf(numeric).any():
            raise ValueError(
                f"{what} contains infinite values{where}; replace them (e.g. with NaN to be imputed, or clip) before "
                "fitting."
            )
        raise ValueError(
            f"{what} holds values too large to scale{where} (up to {np.nanmax(np.abs(numeric)):.3g}; scaling "
            f"overflows above {LARGEST:.0e}); divide those columns by a power of ten or take their logarithm first."
        )


#: The largest finite number of each dtype the networks compute in (torch.finfo's ``max``; the tests check
#: these against torch): predictions through ONNX or numpy need no torch to know them.
LARGEST_OF_DTYPE = {"float32": 3.4028234663852886e38, "bfloat16": 3.3895313892515355e38}
#: The smallest step above 1 of each dtype (torch.finfo's ``eps``): a column whose scaled values span less
#: is one number to the network.
STEP_OF_DTYPE = {"float32": 2.0**-23, "bfloat16": 2.0**-7}


def network_bound(precision: str | None = None) -> float:
    """The largest magnitude of a scaled input that the networks take in ``precision`` ("float32",
    "bfloat16"; None or "auto": the smaller over both, as the dtype is resolved later): the fourth root of
    the dtype's largest number (4.3e9 for both, which share float32's 8 exponent bits), so that the sums
    of products with the weights through the encoder and their squares (norms, distances, variances) stay
    finite. A value past it lies billions of times outside the range the model was fitted on (min-max
    scaling maps that range to [0, 1])."""
    largest = LARGEST_OF_DTYPE.get(precision or "", min(LARGEST_OF_DTYPE.values()))
    return float(largest**0.25)


def check_scaled(scaled: np.ndarray, names: list, what: str,
                 raw: np.ndarray | Callable[[int, int], float] | None = None,
                 precision: str | None = None) -> None:  # fmt: skip
    """Issue 45, class 4: the one check between the scaled float64 values and the network's dtype. Raise
    ``ValueError`` naming the first column and row of ``scaled`` (N, K; ``names`` its K columns; ``raw``
    their values as given, or a function of (row, column) giving one, read only for the message) whose
    magnitude is past ``network_bound(precision)``: cast, it would be infinite or make the network's sums so
    (NaN probabilities, NaN distances). NaN is left to the imputer."""
    bound = network_bound(precision)
    with np.errstate(invalid="ignore"):
        past = np.abs(scaled) > bound
    if not past.any():
        return
    row, column = (int(i[0]) for i in np.nonzero(past))  # the first row, then its first column
    given = "" if raw is None else f"{raw(row, column) if callable(raw) else raw[row, column]:.3g} at "
    dtype = precision if precision in LARGEST_OF_DTYPE else "float32 or bfloat16"
    raise ValueError(f"column {names[column]!r} of {what} holds {given}row {row} (counting from 0), "
                     f"{scaled[row, column]:.3g} once scaled as in fit: past {bound:.3g}, the most the network "
                     f"takes in {dtype}; replace it (an empty cell is imputed as in fit), clip the column to the "
                     "range it was fitted on, or fit again with such rows in the data.")  # fmt: skip


def warn_scaled_to_nothing(raw_span: np.ndarray, scaled_span: np.ndarray, names: list,
                           precision: str | None = None) -> None:  # fmt: skip
    """Issue 45, class 4: warn, naming them, of the numeric columns that vary (``raw_span`` > 0, their
    training values' max - min) but whose scaled values span less than one step of the network's dtype
    near 1 (``scaled_span``): scikit-learn's scalers take a span below about 1e-15 for a constant, so a
    column measured in tiny units reaches the network as one number."""
    step = STEP_OF_DTYPE.get(precision or "", max(STEP_OF_DTYPE.values()))
    flat = np.flatnonzero((raw_span > 0) & (scaled_span < step))
    if flat.size:
        listed = ", ".join(f"{names[j]!r} (spans {raw_span[j]:.3g})" for j in flat[:10])
        warnings.warn(f"column(s) {listed} vary too little to be scaled: each reaches the network as one "
                      "number; multiply such a column by a power of ten (to span about 1) before fitting.",
                      UserWarning, stacklevel=3)  # fmt: skip


def make_preprocessor(X, scale: str = "minmax", impute: bool = True) -> ColumnTransformer:
    """An unfitted transformer for ``X``: numeric columns imputed (median) and scaled, categorical
    columns imputed (most frequent) and one-hot encoded; unseen categories at transform time are
    encoded as all zeros. ``scale="minmax"`` maps training values to [0, 1], which keeps every input
    non-negative so that geometric mixup (Eq. 5) and DACL+ apply."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

    if scale not in SCALERS:
        raise ValueError(f"scale must be one of {sorted(SCALERS)}, got {scale!r}.")
    # Columns by position, not by name: a table read without a header has integer names (1, 2, ...)
    # that ColumnTransformer would take for positions.
    names = list(X.columns) if isinstance(X, pd.DataFrame) else list(range(np.asarray(X).shape[1]))
    categorical_names = set(categorical_columns(X))
    categorical = [i for i, name in enumerate(names) if name in categorical_names]
    numeric = [i for i, name in enumerate(names) if name not in categorical_names]
    numeric_steps = [("impute", SimpleImputer(strategy="median"))] if impute else []
    numeric_steps.append(("scale", MinMaxScaler() if scale == "minmax" else StandardScaler()))
    categorical_steps = [("impute", SimpleImputer(strategy="most_frequent"))] if impute else []
    wide = [f"{names[i]!r} ({X.iloc[:, i].nunique()})" for i in categorical if X.iloc[:, i].nunique() > MAX_CATEGORIES]
    if wide:
        warnings.warn(
            f"categorical column(s) {', '.join(wide)} have more than {MAX_CATEGORIES} distinct values (an ID?): "
            f"the {MAX_CATEGORIES - 1} most frequent are one-hot encoded and the rest share one column; "
            "drop ID-like columns before fitting (dacl fit --ignore COLUMN).",
            stacklevel=2,
        )
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False, max_categories=MAX_CATEGORIES)
    categorical_steps.append(("onehot", onehot))
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(categorical_steps), categorical))
    return ColumnTransformer(transformers, sparse_threshold=0.0)


def one_hot_blocks(preprocessor: ColumnTransformer) -> np.ndarray:
    """For a fitted ``make_preprocessor`` transformer, each output column's one-hot block: 0, 1, ... for the
    columns that encode one categorical column (two or more), -1 for every other column. With it the mixup
    views mix a categorical value as one unit (``dacl.core.views._PartnerMixup``)."""
    blocks: list[int] = []
    count = 0
    for name, transformer, columns in preprocessor.transformers_:
        if name == "numeric":
            blocks += [-1] * len(columns)
        elif name == "categorical":
            onehot = transformer.named_steps["onehot"]
            infrequent = getattr(onehot, "infrequent_categories_", [None] * len(onehot.categories_))
            for categories, rare in zip(onehot.categories_, infrequent, strict=True):
                width = len(categories) if rare is None else len(categories) - len(rare) + 1
                if width >= 2:
                    blocks += [count] * width
                    count += 1
                else:
                    blocks += [-1] * width
    return np.asarray(blocks, dtype=np.int64)
