"""A whole model folder as one ONNX graph: the raw columns in, the prediction (and class probabilities) out.

The graph has four stages, joined into one ``onnx.ModelProto``:

1. **the saved preprocessing** (``dacl.tables.saved_preprocessing``), built with ONNX operators: one input
   per column, named as the column, ``double`` [N, 1] for a numeric column (NaN is a missing value: imputed,
   then ``x * scale + shift`` in double precision, as at predict: the columns the networks and trees see are
   those of ``dacl predict`` bit for bit; float32 inputs would move them by a rounding step, and a tree
   split lying there goes the other way) and ``string`` [N, 1] for a categorical
   one (``""`` is a missing value; each category one-hot, an infrequent one the block's last column, an
   unseen one no column: ``ai.onnx.ml.LabelEncoder`` then ``OneHot``); clipped to [0, 1] where the model
   was;
2. **the networks** (``torch.onnx.export``): the frozen encoder, and each chosen member that is a torch
   computation (the linear heads on the features or the raw columns, the k-NN vote, the fine-tuned
   network), or the input of a member that is trees (the raw columns, and the features' projection);
3. **the trees**: the histogram gradient-boosted trees (kept as arrays, ``dacl.tables.semisupervised.trees``)
   as one ``ai.onnx.ml.TreeEnsembleRegressor``, thresholds rounded down to float32 so that a float32 input
   goes the same way as in scikit-learn, then their link (logistic, softmax), their classes placed among
   the model's. Written here rather than by skl2onnx, whose 1.20 fails on scikit-learn 1.9's trees;
4. **the average** of the members (the ensemble) and, for classes, the label of the most probable class.

Outputs: ``label`` (the class as fitted: int64, double or string) and ``probabilities`` (float [N, C]) for
classes; ``prediction`` (float [N]) for numbers. onnxruntime runs it without torch or scikit-learn
(``examples/predict_onnx.py``). Everything after the preprocessing runs in float32; the equality with
``dacl predict --precision float32`` is tested (``tests/tables/semisupervised/test_onnx_export.py``).
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dacl.tables.saved_preprocessing import category_text
from dacl.tables.semisupervised.candidates import FineTuned, LinearModel, NearestNeighbours, Trees
from dacl.tables.semisupervised.trees import BoostedTrees

__all__ = ["ML_OPSET", "OPSET", "ExportError", "to_onnx"]

OPSET = 18  # the default ONNX domain's version: onnxruntime 1.16+ runs it
ML_OPSET = 3  # ai.onnx.ml: LabelEncoder and TreeEnsembleClassifier / Regressor
IR_VERSION = 9  # what onnxruntime 1.16+ reads
PREFIX = "dacl/"  # every name inside the graph: a column may be called anything but these


class ExportError(ValueError):
    """A model that cannot be written as ONNX: says which member and why."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError('exporting to ONNX needs the onnx package: pip install "dacl[onnx]"') from None
    return onnx


# --- 1. the preprocessing ---------------------------------------------------------------------------


def _preprocessing(preprocessing) -> tuple[list, list, list, list]:
    """(inputs, nodes, initializers, opsets) of stage 1; its output is ``dacl/X`` (float [N, D])."""
    from onnx import TensorProto, helper, numpy_helper

    inputs, nodes, initializers, parts = [], [], [], []

    def constant(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(array, PREFIX + name))
        return PREFIX + name

    if preprocessing.numeric:
        names = [c["name"] for c in preprocessing.numeric]
        inputs += [helper.make_tensor_value_info(n, TensorProto.DOUBLE, ["N", 1]) for n in names]
        fills = np.array([math.nan if c["fill"] is None else c["fill"] for c in preprocessing.numeric])
        scale = np.array([c["scale"] for c in preprocessing.numeric])
        shift = np.array([c["shift"] for c in preprocessing.numeric])
        nodes += [
            helper.make_node("Concat", names, [PREFIX + "numeric"], axis=1),
            helper.make_node("IsNaN", [PREFIX + "numeric"], [PREFIX + "numeric.missing"]),
            helper.make_node("Where", [PREFIX + "numeric.missing", constant("numeric.fill", fills), PREFIX + "numeric"],
                             [PREFIX + "numeric.filled"]),
            helper.make_node("Mul", [PREFIX + "numeric.filled", constant("numeric.scale", scale)],
                             [PREFIX + "numeric.scaled"]),
            helper.make_node("Add", [PREFIX + "numeric.scaled", constant("numeric.shift", shift)],
                             [PREFIX + "numeric.shifted"]),
            helper.make_node("Cast", [PREFIX + "numeric.shifted"], [PREFIX + "numeric.out"], to=TensorProto.FLOAT),
        ]  # fmt: skip
        parts.append(PREFIX + "numeric.out")
    for index, column in enumerate(preprocessing.categorical):
        name, tag = column["name"], f"categorical{index}"
        inputs.append(helper.make_tensor_value_info(name, TensorProto.STRING, ["N", 1]))
        width = len(column["categories"]) + bool(column["infrequent"])
        codes: dict[str, int] = {}
        for code, value in enumerate(column["categories"]):
            codes.setdefault(category_text(value), code)
        for value in column["infrequent"]:
            codes.setdefault(category_text(value), width - 1)
        if column["fill"] is not None and "" not in codes:  # a missing cell: the imputed category
            codes[""] = codes.get(category_text(column["fill"]), width)
        nodes += [
            helper.make_node("LabelEncoder", [name], [PREFIX + tag + ".code"], domain="ai.onnx.ml",
                             keys_strings=list(codes), values_int64s=list(codes.values()), default_int64=width),
            helper.make_node("OneHot", [PREFIX + tag + ".code", constant(tag + ".depth", np.array(width, np.int64)),
                                        constant(tag + ".values", np.array([0.0, 1.0], np.float32))],
                             [PREFIX + tag + ".onehot"], axis=-1),  # an index out of range (unseen): no column
            helper.make_node("Squeeze", [PREFIX + tag + ".onehot", constant(tag + ".axis", np.array([1], np.int64))],
                             [PREFIX + tag + ".out"]),
        ]  # fmt: skip
        parts.append(PREFIX + tag + ".out")
    if not parts:
        raise ExportError("the model has no input columns.")
    out = PREFIX + "X" if not preprocessing.clip else PREFIX + "X.unclipped"
    nodes.append(helper.make_node("Concat", parts, [out], axis=1))
    if preprocessing.clip:
        nodes.append(helper.make_node("Clip", [out, constant("zero", np.array(0.0, np.float32)),
                                               constant("one", np.array(1.0, np.float32))], [PREFIX + "X"]))
    return inputs, nodes, initializers, [helper.make_opsetid("ai.onnx.ml", ML_OPSET)]


# --- 2. the networks --------------------------------------------------------------------------------


class _LinearPart(nn.Module):
    """A linear head (Sec. 5's probe, or the linear model on the raw columns): softmax or the number."""

    def __init__(self, model: LinearModel, classification: bool) -> None:
        super().__init__()
        for key, value in model.head.tensors().items():
            self.register_buffer(key, value.detach().float().cpu().clone())
        self.on_features, self.classification = model.source == "features", classification

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        v = features if self.on_features else x
        out = ((v - self.mean) / self.std) @ self.weight + self.bias
        return torch.softmax(out, dim=1) if self.classification else out.reshape(-1)


class _NeighboursPart(nn.Module):
    """The k-NN vote: the mean over the k nearest reference rows (cosine on the features, Euclidean on the
    raw columns) of their one-hot class, class distribution (a spread graph's) or number."""

    def __init__(self, model: NearestNeighbours, classes: int) -> None:
        super().__init__()
        reference = torch.as_tensor(model.features, dtype=torch.float32)
        self.register_buffer("reference", reference.T.contiguous())
        self.register_buffer("squares", (reference * reference).sum(1))
        values = model.values().float()
        self.register_buffer("values", values if classes else values[:, None])
        self.k, self.classification = int(model.k), bool(classes)
        self.on_features = model.source == "features"

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        if self.on_features:
            query = features / features.norm(dim=1, keepdim=True).clamp_min(1e-12)  # F.normalize's rule
            nearest = (query @ self.reference).topk(self.k, dim=1).indices
        else:
            distances = (x * x).sum(1, keepdim=True) - 2 * x @ self.reference + self.squares
            nearest = (-distances).topk(self.k, dim=1).indices
        votes = self.values[nearest].mean(1)
        return votes if self.classification else votes.reshape(-1)


class _FineTunedPart(nn.Module):
    def __init__(self, model: FineTuned, classification: bool) -> None:
        super().__init__()
        self.network, self.classification = model.network, classification

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        out = self.network(x)
        if self.classification:
            return torch.softmax(out, dim=1)
        return self.network.target_mean + self.network.target_scale * out.reshape(-1)


class _TreeInputPart(nn.Module):
    """What the trees see: the raw columns, and beside them the features' principal components."""

    def __init__(self, model: Trees) -> None:
        super().__init__()
        self.project = model.projection is not None
        if self.project:
            self.register_buffer("mean", torch.as_tensor(model.projection.mean, dtype=torch.float32))
            self.register_buffer("components", torch.as_tensor(model.projection.components, dtype=torch.float32))

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, (features - self.mean) @ self.components], dim=1) if self.project else x


class _Networks(nn.Module):
    def __init__(self, encoder: nn.Module, parts: list[nn.Module], needs_features: bool) -> None:
        super().__init__()
        self.encoder, self.parts, self.needs_features = encoder, nn.ModuleList(parts), needs_features

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.encoder(x) if self.needs_features else x  # no member on the features: no encoder
        return tuple(part(x, features) for part in self.parts)


def _part(index: int, member: Any, classes: int) -> nn.Module:
    if isinstance(member, LinearModel):
        return _LinearPart(member, bool(classes))
    if isinstance(member, NearestNeighbours):
        return _NeighboursPart(member, classes)
    if isinstance(member, FineTuned):
        return _FineTunedPart(member, bool(classes))
    if isinstance(member, Trees):
        return _TreeInputPart(member)
    raise ExportError(f"member {index} ({type(member).__name__}) has no ONNX form.")


def _networks(predictor, width: int) -> Any:
    """Stage 2 as an ONNX model: ``x`` (float [N, D]) -> ``out{i}`` for member i."""
    import copy

    classes = len(predictor.state["classes"]) if predictor.state["classes"] else 0
    parts = [_part(i, m, classes) for i, m in enumerate(predictor.members)]
    networks = _Networks(copy.deepcopy(predictor.encoder), parts, predictor.needs_features).float().eval()
    names = [f"out{i}" for i in range(len(parts))]
    buffer = io.BytesIO()
    example = torch.zeros(2, width)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(networks, (example,), buffer, input_names=["x"], output_names=names, opset_version=OPSET,
                          dynamic_axes={n: {0: "N"} for n in ["x", *names]}, dynamo=False)  # fmt: skip
    import onnx

    return onnx.load_from_string(buffer.getvalue())


# --- 3. the trees -----------------------------------------------------------------------------------


def _below(thresholds: np.ndarray) -> np.ndarray:
    """The largest float32 at or below each float64 threshold: for a float32 input x, ``x <= t`` (how
    scikit-learn compares, in float64) holds exactly when ``x <= _below(t)`` (how the ONNX operator does)."""
    rounded = thresholds.astype(np.float32)
    up = rounded.astype(np.float64) > thresholds
    rounded[up] = np.nextafter(rounded[up], np.float32(-np.inf))
    return rounded


def _trees(index: int, member: Trees, width: int, classes: int) -> Any:
    """Stage 3 for one member, its trees (``dacl.tables.semisupervised.trees.BoostedTrees``) as one
    ``ai.onnx.ml.TreeEnsembleRegressor`` (the baseline plus every tree's leaf), then their link (logistic:
    two classes; softmax: more; none: numbers). ``input`` (float [N, width]) -> ``out`` (probabilities over
    the model's classes, or the number)."""
    from onnx import TensorProto, helper, numpy_helper

    try:
        trees = BoostedTrees.of(member.model)
    except ValueError as error:
        raise ExportError(f"member {index} has no ONNX form: {error}") from None
    leaf = trees.leaf
    tree_of = np.repeat(np.arange(len(trees.roots)), trees.sizes)  # each node's tree
    start = trees.roots[tree_of]
    local = np.arange(len(trees.feature)) - start  # each node's index inside its tree
    attributes = {
        "nodes_treeids": tree_of.tolist(), "nodes_nodeids": local.tolist(),
        "nodes_featureids": np.where(leaf, 0, trees.feature).tolist(),
        "nodes_modes": ["LEAF" if is_leaf else "BRANCH_LEQ" for is_leaf in leaf],
        "nodes_values": np.where(leaf, 0.0, _below(trees.threshold)).astype(float).tolist(),
        "nodes_truenodeids": np.where(leaf, 0, trees.left - start).tolist(),
        "nodes_falsenodeids": np.where(leaf, 0, trees.right - start).tolist(),
        "nodes_missing_value_tracks_true": trees.missing_left.astype(int).tolist(),
        "target_treeids": tree_of[leaf].tolist(), "target_nodeids": local[leaf].tolist(),
        "target_ids": trees.output[tree_of[leaf]].tolist(), "target_weights": trees.value[leaf].astype(float).tolist(),
    }  # fmt: skip
    nodes = [helper.make_node("TreeEnsembleRegressor", ["input"], ["raw"], domain="ai.onnx.ml",
                              n_targets=len(trees.baseline), aggregate_function="SUM",
                              base_values=trees.baseline.astype(float).tolist(), **attributes)]  # fmt: skip
    initializers = []
    if not classes:
        initializers.append(numpy_helper.from_array(np.array([-1], np.int64), "flat"))
        nodes.append(helper.make_node("Reshape", ["raw", "flat"], ["out"]))
    else:
        if trees.link == "logistic":  # one logit, of the second class: [1 - p, p]
            nodes += [helper.make_node("Sigmoid", ["raw"], ["positive"]),
                      helper.make_node("Sub", ["one", "positive"], ["negative"]),
                      helper.make_node("Concat", ["negative", "positive"], ["proba"], axis=1)]  # fmt: skip
            initializers.append(numpy_helper.from_array(np.array(1.0, np.float32), "one"))
        else:
            nodes.append(helper.make_node("Softmax", ["raw"], ["proba"], axis=1))
        place = np.zeros((len(trees.classes), classes), np.float32)  # the trees' classes among the model's
        place[np.arange(len(trees.classes)), trees.classes] = 1.0
        initializers.append(numpy_helper.from_array(place, "place"))
        nodes.append(helper.make_node("MatMul", ["proba", "place"], ["out"]))
    graph = helper.make_graph(nodes, "trees", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", width])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                   helper.make_opsetid("ai.onnx.ml", ML_OPSET)])


# --- 4. joined, averaged, labelled ------------------------------------------------------------------


def _label_constant(classes: list[Any]) -> tuple[np.ndarray, int]:
    from onnx import TensorProto

    if all(isinstance(c, bool) for c in classes) or not all(isinstance(c, (int, float)) for c in classes):
        return np.array([str(c) if not isinstance(c, str) else c for c in classes], dtype=object), TensorProto.STRING
    if all(isinstance(c, int) for c in classes):
        return np.array(classes, dtype=np.int64), TensorProto.INT64
    return np.array(classes, dtype=np.float64), TensorProto.DOUBLE


def to_onnx(predictor, path: str | Path | None = None) -> Any:
    """The whole model of ``predictor`` (``dacl.load_predictor``) as one ONNX graph (module doc); written
    to ``path`` where given. Needs ``onnx`` (``pip install "dacl[onnx]"``)."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper
    from onnx.compose import add_prefix  # every node, edge and initializer of a stage named under its prefix

    state = predictor.state
    classes = state["classes"] or []
    width = predictor.preprocessing.width
    inputs, nodes, initializers, opsets = _preprocessing(predictor.preprocessing)
    networks = add_prefix(_networks(predictor, width), PREFIX + "net/")
    nodes.append(helper.make_node("Identity", [PREFIX + "X"], [PREFIX + "net/x"]))
    nodes += networks.graph.node
    initializers += networks.graph.initializer
    opsets += networks.opset_import
    outputs = []
    for index, member in enumerate(predictor.members):
        out = f"{PREFIX}net/out{index}"
        if isinstance(member, Trees):
            tree_width = width + (0 if member.projection is None else member.projection.components.shape[1])
            trees = add_prefix(_trees(index, member, tree_width, len(classes)), f"{PREFIX}trees{index}/")
            nodes.append(helper.make_node("Identity", [out], [f"{PREFIX}trees{index}/input"]))
            nodes += trees.graph.node
            initializers += trees.graph.initializer
            opsets += trees.opset_import
            out = f"{PREFIX}trees{index}/out"
        outputs.append(out)
    average = PREFIX + "average"
    nodes.append(helper.make_node("Mean", outputs, [average]))
    if classes:
        labels, label_type = _label_constant(classes)
        initializers.append(numpy_helper.from_array(labels, PREFIX + "classes"))
        nodes += [
            helper.make_node("ArgMax", [average], [PREFIX + "best"], axis=1, keepdims=0),
            helper.make_node("Gather", [PREFIX + "classes", PREFIX + "best"], ["label"], axis=0),
            helper.make_node("Identity", [average], ["probabilities"]),
        ]
        graph_outputs = [helper.make_tensor_value_info("label", label_type, ["N"]),
                         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(classes)])]
    else:
        nodes.append(helper.make_node("Identity", [average], ["prediction"]))
        graph_outputs = [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, ["N"])]
    versions: dict[str, int] = {}
    for opset in opsets:
        versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    versions[""] = max(versions.get("", 0), OPSET)
    graph = helper.make_graph(nodes, "dacl", inputs, graph_outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(versions.items())],
                              producer_name="dacl", doc_string=f"{state['kind']}: {state['chosen']['model']}")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    if path is not None:
        from dacl.files import write_atomic

        write_atomic(Path(path), model.SerializeToString())
    return model
