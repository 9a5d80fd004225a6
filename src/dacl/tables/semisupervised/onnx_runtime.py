"""A model folder's ONNX graph run by onnxruntime: ``dacl predict`` without torch.

``dacl export --model FOLDER`` writes the whole model as ``FOLDER/model.onnx`` and records its digest in
``model.json``; from then on ``dacl predict`` (unless ``--precision`` asks for torch) runs that graph where
onnxruntime is installed, and imports neither torch nor scikit-learn. The checks stay those
of ``load_predictor``: the record checked whole, the graph's digest, the columns by name, text in a numeric
column, values beyond 1e150, categories never seen (``SavedPreprocessing.graph_inputs`` checks as
``transform`` does at predict). The graph computes in float32, as ``dacl predict --precision float32`` does
through torch, and gives the same predictions (``dacl.tables.semisupervised.onnx_export``; tested).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dacl.tables.saved_preprocessing import SavedPreprocessing
from dacl.tables.semisupervised.outputs import RecordedModel
from dacl.tables.semisupervised.record import ONNX_FILE, NotWholeModel, check_record, read_member, read_record

__all__ = ["ONNX_FILE", "OnnxPredictor", "load_onnx_predictor", "refuse_external_data"]


def _node_tensors(nodes) -> Any:
    """The tensors of nodes' attributes, those of their subgraphs included."""
    for node in nodes:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def _tensors(graph) -> Any:
    """Every tensor a graph holds: initializers, sparse ones, node attributes, and those of subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    yield from _node_tensors(graph.node)


def refuse_external_data(folder: Path, data: bytes) -> None:
    """Refuse a graph whose tensors live in external files: onnxruntime would open them by a name resolved
    against the working directory, outside the model folder. An external tensor's record must say its
    ``location``; a graph without that word in its bytes has none and is not parsed."""
    if b"location" not in data:
        return
    try:
        import onnx
    except ImportError:
        raise NotWholeModel(folder, f"{ONNX_FILE} may name external data files, and the onnx package that would "
                                    "check it is not installed (pip install onnx)") from None  # fmt: skip
    try:
        model = onnx.load_from_string(data)
    except Exception as error:  # noqa: BLE001 (any parse failure: not a graph we run)
        raise NotWholeModel(folder, f"{ONNX_FILE} cannot be read ({str(error)[:200]})") from None
    tensors = [*_tensors(model.graph), *(t for function in model.functions for t in _node_tensors(function.node))]
    if any(t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data) for t in tensors):
        raise NotWholeModel(folder, f"{ONNX_FILE} keeps tensors in external files, which would be read from "
                                    "outside the model folder; dacl export writes every tensor inside the graph")



# rows per onnxruntime run: a k-NN member compares each row with every stored row (up to 12,288), so the
# whole table at once is a matrix of gigabytes; 1,024 rows a run is 1.8-5.5x faster for those and no slower
# for the others (docs/results/speed.md, "Predictions with the graph of a spread model")
ROWS_PER_RUN = 1024


@dataclass
class OnnxPredictor(RecordedModel):
    """A model folder's ``model.onnx`` in an onnxruntime session: ``predict`` and ``predict_proba`` as
    :class:`dacl.tables.semisupervised.folder.Predictor`'s, on tables."""

    state: dict[str, Any]
    preprocessing: SavedPreprocessing
    session: Any
    runtime = "onnxruntime"  # not a field: what predicts, as RecordedModel says it

    def _run(self, X: Any, what: str) -> list[np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"{what} must be a table with named columns.")
        # the checks and warnings of dacl predict, then the graph, ROWS_PER_RUN rows a run
        feeds = self.preprocessing.graph_inputs(X, what)
        rows = len(X)
        if rows <= ROWS_PER_RUN:
            return self.session.run(None, feeds)
        parts = [self.session.run(None, {name: value[start : start + ROWS_PER_RUN] for name, value in feeds.items()})
                 for start in range(0, rows, ROWS_PER_RUN)]  # fmt: skip
        return [np.concatenate([part[i] for part in parts]) for i in range(len(parts[0]))]

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
    ``load_predictor`` predicts through torch. A folder any of whose files does not match its digest is
    refused, as by ``load_predictor``, though the graph alone is run."""
    folder = Path(folder)
    try:
        state = read_record(folder)
    except ValueError:
        return None  # load_predictor says what is wrong
    if ONNX_FILE not in (state.get("files") or {}):
        return None
    try:
        import onnxruntime
    except ImportError:
        return None
    from dacl import __version__

    if state.get("format") != 1 or state.get("dacl_version") != __version__:
        return None  # load_predictor gives the message
    check_record(folder, state)
    for name, digest in state["files"].items():  # a folder is whole or refused, whichever reader loads it
        if name != ONNX_FILE:
            read_member(folder, name, digest)
    data = read_member(folder, ONNX_FILE, state["files"][ONNX_FILE])
    refuse_external_data(folder, data)
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
    predictor = OnnxPredictor(state, preprocessing, session)
    _check_graph_outputs(folder, predictor)
    return predictor


def _check_graph_outputs(folder: Path, predictor: OnnxPredictor) -> None:
    """The graph answers as the record says, on one row of missing values (as ``load_predictor`` checks its
    members): a label among the record's classes and one probability per class, or one finite number; a
    graph of another model (other classes, a regressor's) is refused."""
    classes = predictor.state["classes"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = predictor._run(predictor.preprocessing.missing_row(), "a row of missing values")
    except Exception as error:  # noqa: BLE001 (a graph that cannot answer: another model's)
        raise NotWholeModel(folder, f"{ONNX_FILE} cannot predict the model's columns ({str(error)[:200]})") from None
    names = [o.name for o in predictor.session.get_outputs()]
    if classes:
        labels = [v.item() if isinstance(v, np.generic) else v for v in np.asarray(outputs[0]).ravel()]
        shape = np.shape(outputs[1]) if len(outputs) > 1 else None
        known = {str(c) for c in classes}
        answers_classes = {str(v) for v in labels} <= known
        if names[:2] != ["label", "probabilities"] or shape != (1, len(classes)) or not answers_classes:
            raise NotWholeModel(folder, f"{ONNX_FILE} is the graph of another model: it answers {names} of shape "
                                        f"{shape} and labels {labels[:3]}, where the record names {len(classes)} "
                                        "classes")  # fmt: skip
    elif names[:1] != ["prediction"] or np.shape(outputs[0]) != (1,) or not np.isfinite(outputs[0]).all():
        raise NotWholeModel(folder, f"{ONNX_FILE} is the graph of another model: it answers {names}, where the record "
                                    "predicts one number a row")  # fmt: skip
