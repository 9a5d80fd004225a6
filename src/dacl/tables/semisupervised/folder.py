"""A fitted ``DACLClassifier`` / ``DACLRegressor`` as a folder of data, never of code.

- ``model.json``: the format and dacl version, the task, the classes, the columns, the preprocessing
  (``dacl.tables.saved_preprocessing``), the pretraining options, the choice and the cross-validation
  table, each chosen member's kind and settings, and the sha256 of every other file;
- ``encoder.safetensors``: the pretrained encoder's weights; ``members.safetensors``: the chosen
  members' tensors (linear heads, the k-NN's labelled features, fine-tuned networks, projections, and the
  gradient-boosted trees as arrays of nodes: ``dacl.tables.semisupervised.trees``);
- ``trees-N.skops`` in folders written before the trees were kept as arrays: skops' format, loaded with
  an explicit list of trusted types (``TRUSTED_TREE_TYPES``): skops refuses any other type, so loading
  runs no code from the file;
- ``model.md`` and ``selection.png``: what was chosen and why, for people.

:func:`load_predictor` checks the version and every file's digest before reading anything, and
returns a :class:`Predictor` that predicts on new tables by column name.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from dacl.config import PretrainConfig
from dacl.core.linear import LinearHead
from dacl.files import LOCK_FILE, Busy, hold, write_atomic
from dacl.tables.saved_preprocessing import SavedPreprocessing
from dacl.tables.semisupervised.candidates import (
    FineTuned,
    Inputs,
    LinearModel,
    NearestNeighbours,
    Projection,
    Task,
    Trees,
    TunedNetwork,
)
from dacl.tables.semisupervised.leaderboard import leaderboard
from dacl.tables.semisupervised.outputs import RecordedModel, predictions_table, recorded_outputs
from dacl.tables.semisupervised.record import (
    MODEL_FILE,
    ONNX_FILE,
    NotWholeModel,
    check_record,
    digest_of,
    read_member,
    read_record,
)
from dacl.tables.semisupervised.selection import predict_chosen
from dacl.tables.semisupervised.trees import BoostedTrees
from dacl.tables.train import embedded_columns, encode, table_encoder

__all__ = ["FORMAT", "Predictor", "TRUSTED_TREE_TYPES", "export_into_folder", "load_predictor", "predictions_table",
           "recorded_outputs", "save_model"]

FORMAT = 1
TRUSTED_TREE_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}


def _member_state(index: int, model: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor], bytes | None]:
    """(description, tensors, skops bytes) of one fitted member."""
    prefix = f"member{index}."
    if isinstance(model, LinearModel):
        tensors = {prefix + k: v for k, v in model.head.tensors().items()}
        return {"type": "linear", "source": model.source}, tensors, None
    if isinstance(model, NearestNeighbours):
        tensors = {prefix + "features": torch.as_tensor(model.features),
                   prefix + "targets": torch.as_tensor(model.targets)}  # fmt: skip
        return {"type": "knn", "k": model.k, "source": model.source}, tensors, None
    if isinstance(model, FineTuned):
        tensors = {prefix + k: v for k, v in model.network.state_dict().items()}
        return {"type": "fine-tune", "outputs": model.network.head.out_features}, tensors, None
    if isinstance(model, Trees):
        trees = BoostedTrees.of(model.model)
        tensors = {prefix + "trees." + k: torch.as_tensor(v) for k, v in trees.tensors().items()}
        if model.projection is not None:
            tensors |= {prefix + "projection.mean": torch.as_tensor(model.projection.mean),
                        prefix + "projection.components": torch.as_tensor(model.projection.components)}  # fmt: skip
        return {"type": "trees", "link": trees.link, "projection": model.projection is not None}, tensors, None
    raise TypeError(f"cannot save a member of type {type(model).__name__}.")


def save_model(estimator, folder: str | Path, *, label: str | None = None, overwrite: bool = False) -> Path:
    """Write a fitted ``DACLClassifier`` / ``DACLRegressor`` to ``folder`` (module doc); an existing
    model folder is replaced only with ``overwrite=True``."""
    from dacl import __version__

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; give a folder for the model.")
    if (folder / MODEL_FILE).exists() and not overwrite:
        raise ValueError(f"{folder} already holds a model; choose another folder or pass overwrite=True "
                         "(--overwrite).")  # fmt: skip
    task: Task = estimator.task_
    files: dict[str, bytes] = {}
    files["encoder.safetensors"] = save_safetensors(_contiguous(estimator.encoder_.state_dict()))
    members, tensors = [], {}
    for index, ((candidate, setting), model) in enumerate(zip(_members(estimator), estimator.models_)):
        description, member_tensors, trees = _member_state(index, model)
        members.append({"candidate": candidate, "setting": setting, **description})
        tensors.update(member_tensors)
        if trees is not None:
            files[description["file"]] = trees
    files["members.safetensors"] = save_safetensors(_contiguous(tensors))
    preprocessing = estimator.dacl_.saved_preprocessing(estimator.columns_)
    pretraining = estimator.dacl_.pretraining_options()
    classes = None if not task.is_classification else [_plain(c) for c in estimator.classes_]
    state = {
        "format": FORMAT, "dacl_version": __version__, "kind": type(estimator).__name__, "task": task.kind,
        "label": label, "classes": classes, "columns": estimator.columns_,
        "preprocessing": preprocessing.to_dict(),
        "encoder": {"in_features": preprocessing.width, "width": pretraining["width"], "depth": pretraining["depth"],
                    "type": type(estimator.encoder_).__name__, **_embedded_columns(estimator.encoder_)},
        "pretraining": pretraining,
        "encoder_from": getattr(estimator, "encoder_from_", None),
        "rows": {"labelled": estimator.n_labelled_, "unlabelled": estimator.n_unlabelled_},
        "fitted_with": getattr(estimator, "fitted_with_", None),
        "chosen": estimator.chosen_, "members": members,
        "selection": json.loads(estimator.selection_.to_json(orient="records")),
        "files": {name: digest_of(data) for name, data in files.items()},
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with hold(folder, LOCK_FILE):  # dacl fit holds it already (a no-op then); two saves never interleave
            if (folder / MODEL_FILE).exists() and not overwrite:  # again, now that no one else writes here
                raise ValueError(f"{folder} already holds a model (written meanwhile); pass overwrite=True.")
            (folder / ONNX_FILE).unlink(missing_ok=True)  # an earlier model's graph (dacl export): not this model's
            for name, data in files.items():
                write_atomic(folder / name, data)
            write_atomic(folder / "selection.png", _selection_plot(estimator.selection_, task))
            write_atomic(folder / "model.md", model_markdown(state).encode())
            write_atomic(folder / MODEL_FILE, json.dumps(state, indent=2).encode())  # last: whole once there
    except Busy:
        raise ValueError(f"{folder} is being written by another process right now; save elsewhere or wait for "
                         "it to finish.") from None  # fmt: skip
    return folder


def _members(estimator) -> list[tuple[str, str]]:
    return [(m["candidate"], m["setting"]) for m in estimator.chosen_["members"]]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def model_markdown(state: dict[str, Any]) -> str:
    """model.md: the choice, the cross-validation table and how to predict."""
    lines = [f"# {state['kind']} (dacl {state['dacl_version']})", "",
             f"- label: {state['label'] or '(not recorded)'}; task: {state['task']}"
             + (f"; classes: {', '.join(map(str, state['classes']))}" if state["classes"] else ""),
             f"- rows: {state['rows']['labelled']} labelled, {state['rows']['unlabelled']} unlabelled (all pretrained "
             f"the encoder: {state['pretraining']['method']}, {state['encoder']['depth']} x "
             f"{state['encoder']['width']}, {state['pretraining']['epochs']} epochs)",
             f"- chosen: **{state['chosen']['model']}** ("
             + ", ".join(f"{m['candidate']}" + (f" {m['setting']}" if m["setting"] else "")
                         for m in state["chosen"]["members"]) + ")",
             f"- why: {state['chosen']['reason']}"]  # fmt: skip
    fitted = state.get("fitted_with")
    if isinstance(fitted, dict):
        seed, threads = fitted.get("random_state"), fitted.get("threads")
        again = (f"the same fit with `--threads {threads} --seed {seed}` on this kind of machine gives this model bit "
                 "for bit" if isinstance(seed, int) else "no seed was set (random_state=None), so no fit repeats it")
        lines.append(f"- fitted with: {threads} thread(s), {fitted.get('precision')}, seed {seed}, on "
                     f"{fitted.get('device')} (torch {fitted.get('torch')}): {again}")  # fmt: skip
    lines.append("")
    lines.append(leaderboard(state["selection"], state["task"] == "classification", markdown=True))
    lines += ["", "![held-out scores](selection.png)", "", "Predict: `dacl predict --model THIS_FOLDER --data new.csv "
              "--out predictions.csv` (columns by name, in any order), or in Python "
              "`dacl.load_predictor(THIS_FOLDER).predict(frame)`.", ""]  # fmt: skip
    return "\n".join(lines)


def _selection_plot(selection: pd.DataFrame, task: Task) -> bytes:
    """Each candidate setting's held-out score, mean ± std over the splits; the chosen one in orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = "cv_accuracy" if task.is_classification else "cv_r2"
    rows = selection.dropna(subset=[key]) if key in selection else selection.iloc[0:0]
    labels = [f"{c} {s}".strip() for c, s in zip(rows["candidate"], rows["setting"])]
    fig, ax = plt.subplots(figsize=(7, 0.4 * max(len(rows), 2) + 1.2))
    colours = ["tab:orange" if chosen else "tab:blue" for chosen in rows.get("chosen", [])]
    ax.barh(labels, 100 * rows[key] if len(rows) else [], xerr=100 * rows["cv_std"] if len(rows) else None,
            color=colours, capsize=3)  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlabel(("held-out accuracy" if task.is_classification else "held-out R²") + " (%), mean ± std")
    if not len(rows):
        ax.set_title("no cross-validation (too few labelled rows): the rule's choice")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


@dataclass
class Predictor(RecordedModel):
    """A model folder loaded: ``predict``, ``predict_proba`` (classes) and ``transform`` on new tables."""

    state: dict[str, Any]
    preprocessing: SavedPreprocessing
    encoder: torch.nn.Module
    members: list[Any]
    projection: Projection | None = None
    precision: str | None = None  # of the networks' forward passes; None: the fit's (``pretraining.precision``)

    @property
    def needs_features(self) -> bool:
        """Whether a chosen member reads the frozen encoder's features (the probe, k-NN, trees beside the
        features); where none does (fine-tuning, the raw columns' models), predictions skip the encoder."""
        return any(_reads_features(m) for m in self.members)

    @property
    def task(self) -> Task:
        classes = self.state["classes"]
        return Task(self.state["task"], len(classes) if classes else 0)

    @property
    def selection(self) -> pd.DataFrame:
        return pd.DataFrame(self.state["selection"])

    def _frame(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        array = np.asarray(X)
        if array.ndim != 2 or array.shape[1] != len(self.state["columns"]):
            columns = self.state["columns"]
            raise ValueError(f"X must be a DataFrame with the columns {columns[:10]}... or a 2-D array of "
                             f"{len(columns)} columns in their order; got shape {array.shape}.")  # fmt: skip
        return pd.DataFrame(array, columns=self.state["columns"])

    def _inputs(self, X: Any, what: str, features: bool | None = None) -> Inputs:
        raw = self.preprocessing.transform(self._frame(X), what)
        precision = self.precision or self.state["pretraining"].get("precision", "float32")  # resolved as in fit
        if not (self.needs_features if features is None else features):
            return Inputs(raw, np.zeros((len(raw), 0), np.float32), self.encoder, precision=precision)
        return Inputs(raw, encode(self.encoder, raw, precision=precision), self.encoder, precision=precision)

    def predict_proba(self, X: Any, what: str = "the data") -> np.ndarray:
        if not self.task.is_classification:
            raise ValueError("this model predicts numbers: use predict, not predict_proba.")
        return predict_chosen(self.members, self._inputs(X, what))

    def predict(self, X: Any, what: str = "the data") -> np.ndarray:
        output = predict_chosen(self.members, self._inputs(X, what))
        return self.classes_[output.argmax(1)] if self.task.is_classification else output

    def transform(self, X: Any, what: str = "the data") -> np.ndarray:
        return self._inputs(X, what, features=True).features

    def to_onnx(self, path: str | Path | None = None):
        """The whole model as one ONNX graph, written to ``path`` where given
        (``dacl.tables.semisupervised.onnx_export``; needs ``pip install "dacl[onnx]"``)."""
        from dacl.tables.semisupervised.onnx_export import to_onnx

        return to_onnx(self, path)


def _reads_features(member: Any) -> bool:
    if isinstance(member, LinearModel):
        return member.source == "features"
    if isinstance(member, Trees):
        return member.projection is not None
    return isinstance(member, NearestNeighbours) and member.source == "features"


def load_predictor(folder: str | Path, precision: str | None = None) -> Predictor:
    """A model folder written by ``save_model`` / ``dacl fit``, checked before anything is read: its
    format and dacl version must be this one's, and every file must match its recorded digest.
    ``precision`` ("float32", "bfloat16", "auto") overrides the fit's for the networks' forward passes:
    "float32" gives the same predictions on every machine (and as the model's ONNX graph)."""
    from dacl import __version__
    from dacl.core.runtime import PRECISIONS

    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (or None: the fit's), got {precision!r}.")
    folder = Path(folder)
    path = folder / MODEL_FILE
    state = read_record(folder)
    if type(state.get("format")) is not int or state.get("format") != FORMAT:
        found = state.get("format")
        raise ValueError(f"{path} is not a dacl model of format {FORMAT} (found {str(found)[:40]!r}); it was made "
                         "by another program or another dacl, or it was edited.")  # fmt: skip
    if state.get("dacl_version") != __version__:
        made_by = str(state.get("dacl_version"))[:40]
        raise ValueError(f"{folder} was made by dacl {made_by}, and this is dacl {__version__}; fit the model "
                         f"again with this version, or install dacl {made_by}.")  # fmt: skip
    check_record(folder, state)  # the whole record, before any other file is opened
    try:
        files = {name: read_member(folder, name, digest) for name, digest in state["files"].items()}
        preprocessing = SavedPreprocessing.from_dict(state["preprocessing"])
        shape = state["encoder"]
        if preprocessing.width != shape["in_features"]:
            raise NotWholeModel(folder, f"its preprocessing gives {preprocessing.width} columns, but the encoder "
                                        f"takes {shape['in_features']}")  # fmt: skip
        config = PretrainConfig.from_dict(state["pretraining"])
        weights = load_safetensors(files["encoder.safetensors"])  # as large as the file: no more
        _check_encoder_shapes(config, shape, weights)  # before the encoder the record describes is allocated
        encoder = table_encoder(config, shape["in_features"], numeric=shape.get("numeric"),
                                categories=shape.get("categories"))  # fmt: skip
        try:
            encoder.load_state_dict(weights)
        except RuntimeError as error:  # the shapes or names differ from what the record describes
            raise ValueError("the record describes an encoder that encoder.safetensors does not hold "
                             f"({str(error).splitlines()[0][:200]})") from None  # fmt: skip
        encoder.eval()
        tensors = load_safetensors(files["members.safetensors"])
        task = Task(state["task"], len(state["classes"]) if state["classes"] else 0)
        members = [_member(i, m, tensors, files, encoder, task) for i, m in enumerate(state["members"])]
        predictor = Predictor(state, preprocessing, encoder, members, precision=precision)
        _check_outputs(folder, predictor)
    except NotWholeModel:
        raise
    except Exception as error:  # a file missing or changed, or one that passed its digest yet is not what the
        # record says: one kind of error, whatever layer found it
        said = str(error).rstrip(".") if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        raise NotWholeModel(folder, said[:400]) from None
    return predictor


def _check_encoder_shapes(config: PretrainConfig, shape: dict[str, Any], weights: dict[str, torch.Tensor]) -> None:
    """The encoder the record describes, built on the meta device (no memory), has exactly the tensors of
    encoder.safetensors: a record whose sizes are absurd (or another model's) is refused before any
    allocation it would cause."""
    try:
        with torch.device("meta"):
            skeleton = table_encoder(config, shape["in_features"], numeric=shape.get("numeric"),
                                     categories=shape.get("categories"))  # fmt: skip
    except (RuntimeError, NotImplementedError):  # the embeddings read their own tensors while built: no meta
        held = sum(tensor.numel() for tensor in weights.values())
        implied = config.depth * config.width**2 + shape["in_features"] * config.width  # the hidden layers alone
        if implied > 4 * held + 2**20:  # then load_state_dict, strict, compares every shape
            raise ValueError(f"the record describes an encoder that encoder.safetensors does not hold (about "
                             f"{implied:,} weights, the file {held:,})") from None  # fmt: skip
        return
    expected = {name: tuple(tensor.shape) for name, tensor in skeleton.state_dict().items()}
    found = {name: tuple(tensor.shape) for name, tensor in weights.items()}
    if expected != found:
        differing = sorted(set(expected) ^ set(found)) or [n for n in expected if expected[n] != found[n]]
        name = differing[0]
        raise ValueError(f"the record describes an encoder that encoder.safetensors does not hold ({name}: the "
                         f"record gives {expected.get(name)}, the file {found.get(name)})")  # fmt: skip


def _check_outputs(folder: Path, predictor: Predictor) -> None:
    """The preprocessing and the members answer as the record says, on one row of missing values: one finite
    output per class (or one number)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = predictor._inputs(predictor.preprocessing.missing_row(), "a row of missing values")  # as at predict
    classes = predictor.state["classes"]
    expected = (1, len(classes)) if classes else (1,)
    for index, member in enumerate(predictor.members):
        output = np.asarray(member.predict(inputs))
        if output.shape != expected or not np.isfinite(output).all():
            raise NotWholeModel(folder, f"member {index} gives outputs of shape {output.shape[1:]}, but the model "
                                        + (f"names {len(classes)} classes" if classes else "predicts one number a row"))


def _embedded_columns(encoder: torch.nn.Module) -> dict[str, Any]:
    """What rebuilds the encoder's embeddings (``dacl.tables.embedded_columns``); ``numeric`` None without."""
    return {"numeric": None, **embedded_columns(encoder)}


def _member(index: int, description: dict[str, Any], tensors, files, encoder, task: Task) -> Any:
    prefix = f"member{index}."
    kind = description["type"]
    if kind == "linear":
        head = LinearHead.from_tensors({k: tensors[prefix + k] for k in ("mean", "std", "weight", "bias")})
        return LinearModel(task, head, description["source"])
    if kind == "knn":
        return NearestNeighbours(task, tensors[prefix + "features"].numpy(), tensors[prefix + "targets"].numpy(),
                                 int(description["k"]), description.get("source", "features"))  # fmt: skip
    if kind == "fine-tune":
        import copy

        network = TunedNetwork(copy.deepcopy(encoder), encoder.out_features, int(description["outputs"]))
        network.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
        return FineTuned(task, network.eval())
    if kind == "trees" and "file" not in description:
        arrays = {k[len(prefix + "trees.") :]: v.numpy() for k, v in tensors.items() if k.startswith(prefix + "trees.")}
        model = BoostedTrees.from_tensors(arrays, description["link"])
    elif kind == "trees":  # written before the trees were kept as arrays: skops, with the trusted types only
        import skops.io

        try:
            model = skops.io.loads(files[description["file"]], trusted=TRUSTED_TREE_TYPES)
        except Exception as error:  # skops refuses untrusted types before building anything
            raise ValueError(f"the trees of this model cannot be loaded safely: {error}") from None
    if kind == "trees":
        projection = None
        if description["projection"]:
            projection = Projection(tensors[prefix + "projection.mean"].numpy(),
                                    tensors[prefix + "projection.components"].numpy())  # fmt: skip
        return Trees(task, model, projection)
    raise ValueError(f"unknown member type {kind!r} in the model folder.")


def export_into_folder(folder: str | Path) -> Path:
    """The model of ``folder`` written as ``folder/model.onnx``, its digest recorded in model.json: ``dacl
    predict`` then runs it through onnxruntime, without torch (``dacl.tables.semisupervised.onnx_runtime``).
    Here, not in ``onnx_export``: the export reads a predictor and knows nothing of folders."""
    from dacl.tables.semisupervised.onnx_export import to_onnx  # needs onnx: imported when asked for

    folder = Path(folder)
    with hold(folder, LOCK_FILE):  # dacl export holds it already; never beside another writer of the folder
        data = to_onnx(load_predictor(folder, precision="float32")).SerializeToString()
        state = read_record(folder)
        write_atomic(folder / ONNX_FILE, data)
        state["files"][ONNX_FILE] = digest_of(data)
        write_atomic(folder / MODEL_FILE, json.dumps(state, indent=2).encode())  # last: the graph is whole by then
    return folder / ONNX_FILE
