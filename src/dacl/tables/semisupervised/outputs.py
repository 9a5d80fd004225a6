"""What ``dacl predict`` writes: the predictions' table and its column names, the same whichever runtime
predicts (torch through ``load_predictor``, or onnxruntime through ``load_onnx_predictor``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dacl.tables.semisupervised.record import read_record

__all__ = ["RecordedModel", "predictions_table", "recorded_outputs"]


class RecordedModel:
    """What a loaded model says of itself from its record (``state``, model.json): its classes and choice,
    and the ``runtime`` that predicts (torch; onnxruntime for the folder's graph)."""

    state: dict[str, Any]
    runtime = "torch"

    @property
    def classes_(self) -> np.ndarray | None:
        return None if self.state["classes"] is None else np.asarray(self.state["classes"])

    @property
    def chosen(self) -> dict[str, Any]:
        return self.state["chosen"]


def recorded_outputs(folder: str | Path) -> list[str]:
    """The columns ``dacl predict`` writes for the model in ``folder`` (the label's name and the
    probability columns), read from model.json alone; empty where the record cannot tell."""
    try:
        state = read_record(folder)
        return [str(_prediction_column(state))] + [_proba_column(c) for c in state.get("classes") or []]
    except (OSError, ValueError, AttributeError, TypeError):
        return []  # load_predictor says what is wrong


def _prediction_column(state: dict[str, Any]) -> Any:
    """The predictions' column: the label's name, or ``prediction`` where none was recorded."""
    return state.get("label") or "prediction"


def _proba_column(label: Any) -> str:
    return f"proba_{label}"


def predictions_table(predictor, X: Any, what: str, *, id_column: Any = None, proba: bool = False):
    """``dacl predict``'s table: the ``id_column`` of ``X`` if named, the prediction under the label's name,
    and with ``proba`` one probability column per class."""
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"{what} must be a CSV or Parquet table with named columns.")
    frame = pd.DataFrame(index=range(len(X)))
    if id_column is not None:
        if id_column not in X.columns:
            raise ValueError(f"--id {id_column!r} is not a column of {what}; its columns: "
                             f"{', '.join(map(str, list(X.columns)[:20]))}.")  # fmt: skip
        frame[id_column] = X[id_column].to_numpy()
    name = _prediction_column(predictor.state)
    if proba:
        probabilities = predictor.predict_proba(X, what=what)
        frame[name] = predictor.classes_[probabilities.argmax(1)]
        for index, label in enumerate(predictor.classes_):
            frame[_proba_column(label)] = probabilities[:, index]
    else:
        frame[name] = predictor.predict(X, what=what)
    return frame
