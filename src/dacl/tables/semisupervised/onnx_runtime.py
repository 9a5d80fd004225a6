"""A model folder's ONNX graph run by onnxruntime: ``dacl predict`` without torch.

``dacl export --model FOLDER`` writes the whole model as ``FOLDER/model.onnx`` and records its digest in
``model.json``; from then on ``dacl predict`` (unless ``--precision`` asks for torch) runs that graph where
onnxruntime is installed, and imports neither torch nor scikit-learn. The checks stay those
of ``load_predictor``: the record checked whole, the graph's digest, the columns by name, text in a numeric
column, values beyond 1e150, categories never seen (``SavedPreprocessing.transform`` runs first, as at
predict). The graph computes in float32, as ``dacl predict --precision float32`` does through torch, and
gives the same predictions (``dacl.tables.semisupervised.onnx_export``; tested).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dacl.tables.preprocess import normalized_table
from dacl.tables.saved_preprocessing import SavedPreprocessing, _matching
from dacl.tables.semisupervised.outputs import RecordedModel
from dacl.tables.semisupervised.record import NotWholeModel, check_record, member_file

__all__ = ["ONNX_FILE", "OnnxPredictor", "load_onnx_predictor"]

ONNX_FILE = "model.onnx"
MODEL_FILE = "model.json"


def _category_text(value: Any) -> str:
    """A category as the graph's string input names it (``dacl.tables.semisupervised.onnx_export``)."""
    return value if isinstance(value, str) else str(value)


def graph_inputs(preprocessing: SavedPreprocessing, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The graph's inputs from a table checked by ``preprocessing.transform``: each numeric column as float64
    (N, 1), NaN where missing; each categorical one as strings (N, 1), a value matched to its fitted category
    as ``transform`` matches it (1.0 or "1" for a category fitted as 1), "" where missing."""
    frame = normalized_table(frame)
    feeds: dict[str, np.ndarray] = {}
    for column in preprocessing.numeric:
        feeds[column["name"]] = pd.to_numeric(frame[column["name"]]).to_numpy(np.float64).reshape(-1, 1)
    for column in preprocessing.categorical:
        values = frame[column["name"]].astype(object)
        known = column["categories"] + column["infrequent"]
        codes = pd.Index(_matching(known, values), dtype=object).get_indexer(values)
        texts = np.array([_category_text(known[c]) if c >= 0 else "\x00unseen" for c in codes], dtype=object)
        texts[values.isna().to_numpy()] = ""  # missing: the graph imputes the fitted category
        feeds[column["name"]] = texts.reshape(-1, 1)
    return feeds


@dataclass
class OnnxPredictor(RecordedModel):
    """A model folder's ``model.onnx`` in an onnxruntime session: ``predict`` and ``predict_proba`` as
    :class:`dacl.tables.semisupervised.folder.Predictor`'s, on tables."""

    state: dict[str, Any]
    preprocessing: SavedPreprocessing
    session: Any
    runtime: str = "onnxruntime"

    def _run(self, X: Any, what: str) -> list[np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"{what} must be a table with named columns.")
        self.preprocessing.transform(X, what)  # every check and warning of dacl predict, before the graph runs
        return self.session.run(None, graph_inputs(self.preprocessing, X))

    def predict_proba(self, X: Any, what: str = "the data") -> np.ndarray:
        if self.state["classes"] is None:
            raise ValueError("this model predicts numbers: use predict, not predict_proba.")
        return self._run(X, what)[1].astype(np.float64)

    def predict(self, X: Any, what: str = "the data") -> np.ndarray:
        outputs = self._run(X, what)
        if self.state["classes"] is None:
            return outputs[0].astype(np.float64)
        return self.classes_[outputs[1].argmax(1)]


def load_onnx_predictor(folder: str | Path, threads: int | None = None) -> OnnxPredictor | None:
    """The folder's ONNX graph in an onnxruntime session (``threads`` for its kernels), or None where the
    folder holds no graph (``dacl export --model FOLDER`` writes one) or onnxruntime is not installed: then
    ``load_predictor`` predicts through torch. A graph that does not match its digest is refused."""
    folder = Path(folder)
    try:
        state = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # load_predictor says what is wrong
    if not isinstance(state, dict) or ONNX_FILE not in (state.get("files") or {}):
        return None
    try:
        import onnxruntime
    except ImportError:
        return None
    from dacl import __version__

    if state.get("format") != 1 or state.get("dacl_version") != __version__:
        return None  # load_predictor gives the message
    check_record(folder, state)
    path = member_file(folder, ONNX_FILE)
    data = path.read_bytes() if path.is_file() else b""
    if hashlib.sha256(data).hexdigest() != state["files"][ONNX_FILE]:
        raise NotWholeModel(folder, f"{ONNX_FILE} is missing or does not match its digest in {MODEL_FILE}")
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    try:
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        preprocessing = SavedPreprocessing.from_dict(state["preprocessing"])
    except Exception as error:  # a graph onnxruntime cannot run: the same kind of error as any damaged file
        raise NotWholeModel(folder, f"{ONNX_FILE} cannot be run ({str(error)[:300]})") from None
    names = {i.name for i in session.get_inputs()}
    if names != set(preprocessing.columns):
        raise NotWholeModel(folder, f"{ONNX_FILE}'s inputs are not the model's columns")
    return OnnxPredictor(state, preprocessing, session)
