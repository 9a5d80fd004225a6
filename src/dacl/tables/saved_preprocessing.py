"""A fitted ``make_preprocessor`` transformer as plain JSON, and its transform rebuilt from it.

A model folder (``dacl fit``) keeps its preprocessing as data, not code: each numeric column's
imputed value and scaling, each categorical column's imputed value, categories and infrequent
categories. :class:`SavedPreprocessing` applies it to a DataFrame by column name, in any order, with
the same output as the fitted scikit-learn transformer (tested), and says clearly when a column is
missing or holds text where numbers were fitted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dacl.tables.preprocess import LARGEST, check_scaled, normalized_table

__all__ = ["UNSEEN", "SavedPreprocessing", "category_text"]


def _plain(value: Any) -> Any:
    """A category as a JSON value (NumPy scalars to Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class SavedPreprocessing:
    """``numeric``: [{name, fill, scale, shift}] (x -> (fill if missing) * scale + shift);
    ``categorical``: [{name, fill, categories, infrequent}] (one-hot; an unseen value gives zeros, an
    infrequent one the block's last column). Output columns: numeric ones, then each categorical block;
    ``clip``: every output clipped to [0, 1], as for an encoder pretrained on a stream (``DACL.clip_``)."""

    numeric: list[dict[str, Any]]
    categorical: list[dict[str, Any]]
    clip: bool = False

    @classmethod
    def from_fitted(cls, preprocessor, names: list[str], clip: bool = False) -> SavedPreprocessing:
        """From a fitted ``dacl.tables.preprocess.make_preprocessor`` transformer and the column names it
        was fitted on (in order); ``clip`` as the model's ``DACL.clip_``."""
        numeric, categorical = [], []
        for kind, pipeline, columns in preprocessor.transformers_:
            if kind == "numeric":
                steps = pipeline.named_steps
                impute = steps.get("impute")
                scaler = steps["scale"]
                if hasattr(scaler, "min_"):  # MinMaxScaler: x * scale_ + min_
                    scale, shift = scaler.scale_, scaler.min_
                else:  # StandardScaler: (x - mean_) / scale_
                    scale, shift = 1 / scaler.scale_, -scaler.mean_ / scaler.scale_
                for i, column in enumerate(columns):
                    fill = None if impute is None else float(impute.statistics_[i])
                    numeric.append({"name": str(names[column]), "fill": fill, "scale": float(scale[i]),
                                    "shift": float(shift[i])})  # fmt: skip
            elif kind == "categorical":
                steps = pipeline.named_steps
                impute, onehot = steps.get("impute"), steps["onehot"]
                infrequent = getattr(onehot, "infrequent_categories_", [None] * len(columns))
                for i, column in enumerate(columns):
                    rare = [] if infrequent[i] is None else [_plain(v) for v in infrequent[i]]
                    categorical.append({
                        "name": str(names[column]),
                        "fill": None if impute is None else _plain(impute.statistics_[i]),
                        "categories": [_plain(v) for v in onehot.categories_[i] if _plain(v) not in rare],
                        "infrequent": rare,
                    })  # fmt: skip
        return cls(numeric, categorical, bool(clip))

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": self.numeric, "categorical": self.categorical, "clip": self.clip}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SavedPreprocessing:
        try:
            return cls(list(values["numeric"]), list(values["categorical"]), bool(values.get("clip", False)))
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"the model's preprocessing is not readable ({error}); the model folder is damaged."
            ) from None

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.numeric] + [c["name"] for c in self.categorical]

    def missing_row(self) -> pd.DataFrame:
        """One row of the model's columns with every cell missing: what a folder's loaders run its members
        or its graph on, to check that they answer as the record says."""
        return pd.DataFrame({name: [np.nan] for name in self.columns})

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(c["categories"]) + bool(c["infrequent"]) for c in self.categorical)

    def _columns(self, frame: pd.DataFrame, what: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Every check of the model's columns in ``frame``, found by name, once: each numeric column's numbers
        (float64, NaN where missing) and each categorical column's codes among its known categories (a missing
        cell as its imputed category; -1: never seen, warned)."""
        frame = normalized_table(frame, what)  # booleans, dates and durations as numbers, as in fit
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise ValueError(f"{what} lacks the column(s) {', '.join(map(repr, missing[:10]))} that the model was "
                             f"fitted on; it has {', '.join(map(repr, list(frame.columns)[:20]))}.")  # fmt: skip
        numbers, codes = [], []
        for column in self.numeric:
            values = frame[column["name"]]
            parsed = pd.to_numeric(values, errors="coerce")
            text = values.notna() & parsed.isna()
            if text.any():
                raise ValueError(f"column {column['name']!r} of {what} holds text ({values[text].iloc[0]!r}, ...) "
                                 "where the model was fitted on numbers; fix or drop those cells.")  # fmt: skip
            array = parsed.to_numpy(dtype=np.float64)
            with np.errstate(invalid="ignore"):
                huge = np.abs(array) > LARGEST  # inf, or so large that scaling overflows
            if huge.any():
                row = int(np.flatnonzero(huge)[0])
                kind = "an infinite value" if np.isinf(array[row]) else f"{array[row]:.3g}, too large to scale"
                raise ValueError(f"column {column['name']!r} of {what} holds {kind} at row {row} (counting from 0); "
                                 f"replace it (an empty cell is imputed as in fit) or bring the column below "
                                 f"{LARGEST:.0e}.")  # fmt: skip
            if not self.clip:  # issue 45, class 4: the one check of what the network's dtype can carry
                check_scaled((array * column["scale"] + column["shift"])[:, None], [column["name"]], what,
                             array[:, None])  # fmt: skip
            if column["fill"] is None and np.isnan(array).any():
                raise ValueError(f"column {column['name']!r} of {what} has missing values and the model was "
                                 "fitted without imputation; fill them first.")  # fmt: skip
            numbers.append(array)
        for column in self.categorical:
            values = frame[column["name"]].astype(object)
            if values.isna().any():
                if column["fill"] is None:
                    raise ValueError(f"column {column['name']!r} of {what} has missing values and the model was "
                                     "fitted without imputation; fill them first.")  # fmt: skip
                values = values.where(values.notna(), column["fill"])
            known = column["categories"] + column["infrequent"]
            found = pd.Index(_matching(known, values), dtype=object).get_indexer(values)  # -1: never seen
            if (found < 0).any():
                unseen = list(dict.fromkeys(values[found < 0]))
                warnings.warn(f"column {column['name']!r} of {what} has {int((found < 0).sum())} value(s) never seen "
                              f"when the model was fitted ({', '.join(map(repr, unseen[:5]))}): they are encoded as "
                              "no category, as in fit; refit on data that holds them if they matter.",
                              stacklevel=4)  # fmt: skip
            codes.append(found)
        return numbers, codes

    def transform(self, frame: pd.DataFrame, what: str = "the data") -> np.ndarray:
        """The preprocessed float32 matrix of ``frame``'s columns, found by name (extra columns ignored)."""
        numbers, codes = self._columns(frame, what)
        parts = []
        for column, array in zip(self.numeric, numbers):
            if column["fill"] is not None:
                array = np.where(np.isnan(array), column["fill"], array)
            parts.append((array * column["scale"] + column["shift"])[:, None])
        for column, found in zip(self.categorical, codes):
            width = len(column["categories"]) + bool(column["infrequent"])
            block = np.zeros((len(found), width))
            seen = found >= 0
            block[np.flatnonzero(seen), np.minimum(found[seen], width - 1)] = 1.0  # infrequent: the last column
            parts.append(block)
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        out = np.hstack(parts).astype(np.float32)
        return np.clip(out, 0.0, 1.0, out=out) if self.clip else out

    def graph_inputs(self, frame: pd.DataFrame, what: str = "the data") -> dict[str, np.ndarray]:
        """The inputs of the model's ONNX graph (``dacl.tables.semisupervised.onnx_export``, whose first stage
        is this preprocessing) for ``frame``, after the same checks and warnings as :meth:`transform`: each
        numeric column as float64 (N, 1), NaN where missing; each categorical one as strings (N, 1), the text
        of the category ``transform`` matched (``category_text``), :data:`UNSEEN` for a value never seen."""
        numbers, codes = self._columns(frame, what)
        feeds = {column["name"]: array.reshape(-1, 1) for column, array in zip(self.numeric, numbers)}
        for column, found in zip(self.categorical, codes):
            texts = [category_text(value) for value in column["categories"] + column["infrequent"]]
            feeds[column["name"]] = np.array([*texts, UNSEEN], dtype=object)[found].reshape(-1, 1)  # -1: UNSEEN
        return feeds


def category_text(value: Any) -> str:
    """A fitted category as the model's ONNX graph names it: itself if text, else ``str`` (1 -> "1")."""
    return value if isinstance(value, str) else str(value)


# what the ONNX graph receives for a value never seen in the fit: no category's text, so no one-hot column
UNSEEN = "\x00unseen"


def _matching(known: list[Any], values: pd.Series) -> list[Any]:
    """The known categories in the type of the new values where they differ only in type (a CSV read
    back gives 1.0 or "1" for a category fitted as 1): JSON keeps ints, floats and strings apart."""
    sample = values.dropna()
    if sample.empty or not known:
        return known
    first = sample.iloc[0]
    if isinstance(first, str) and not all(isinstance(k, str) for k in known):
        return [str(k) for k in known]
    if isinstance(first, float | np.floating) and all(isinstance(k, int) and not isinstance(k, bool) for k in known):
        return [float(k) for k in known]
    return known
