"""What a model folder's ``model.json`` must hold, checked whole when the folder is loaded, before any other
file is opened: a folder that is damaged, hand-edited or hostile fails at load with one message that says
what is wrong, never at predict and never as a traceback.

Files: a model names only plain files inside its own folder (no path separator, no ``..``); a name that
breaks the rule is refused before anything is opened. Every file of a model folder, model.json included, is
read through :func:`read_record` or :func:`read_member`, which open it with ``dacl.files.open_inside`` (never
through a symbolic link, only a plain file): a folder cannot make dacl read a file elsewhere nor tell whether
one exists.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from dacl.files import digest_of  # the record's digest of each file, kept by the files' layer

__all__ = ["MEMBER_TYPES", "MODEL_FILE", "NotWholeModel", "ONNX_FILE", "check_record", "digest_of", "member_file",
           "read_member", "read_record"]

MODEL_FILE = "model.json"  # the record; every other file of a model folder is named in it, with its digest
ONNX_FILE = "model.onnx"  # the whole model as one ONNX graph, where dacl export put it in the folder
MEMBER_TYPES = ("linear", "knn", "fine-tune", "trees")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
RECORD_BYTES = 64 * 2**20  # model.json's largest size: a record of this size names ~10^6 classes
_SCALAR = (str, int, float, bool)


class NotWholeModel(ValueError):
    """The folder is not a whole dacl model: its record or one of its files is wrong."""

    def __init__(self, folder: Path, problem: str) -> None:
        super().__init__(f"{folder} is not a whole dacl model: {problem}. Fit the model again, or restore the "
                         "folder from a copy.")  # fmt: skip


def _plain_name(name: Any) -> bool:
    """Whether ``name`` is a plain file name: no separator, no ``..``, nothing but letters, digits, ``_.-``."""
    return isinstance(name, str) and bool(_FILE_NAME.fullmatch(name)) and ".." not in name


def member_file(folder: Path, name: Any) -> Path:
    """The path of the file ``name`` inside ``folder`` (to write it), after checking that it names a plain
    file there."""
    if not _plain_name(name):
        raise NotWholeModel(folder, f"model.json names the file {str(name)[:80]!r}, which is not a plain file "
                                    "name inside the model folder")  # fmt: skip
    return folder / name


def read_record(folder: str | Path) -> dict[str, Any]:
    """The model folder's model.json, parsed: read through ``open_inside`` (a link, a FIFO, a folder or a
    record over ``RECORD_BYTES`` is refused unopened or unread); ValueError saying what is wrong."""
    from dacl.files import NotInside, read_inside

    folder = Path(folder)
    try:
        data = read_inside(folder, MODEL_FILE, limit=RECORD_BYTES)
    except NotInside as error:
        if error.reason == "missing":
            raise ValueError(f"{folder} is not a dacl model folder (no {MODEL_FILE}); make one with dacl "
                             "fit.") from None
        raise NotWholeModel(folder, str(error).rstrip(".")) from None
    except OSError as error:
        raise ValueError(f"cannot read {folder / MODEL_FILE}: {error.strerror or error}.") from None
    try:
        state = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{folder / MODEL_FILE} is damaged ({str(error)[:200]}); fit the model again.") from None
    if not isinstance(state, dict):
        raise NotWholeModel(folder, f"model.json holds {type(state).__name__}, not an object")
    return state


def read_member(folder: str | Path, name: Any, digest: str) -> bytes:
    """The bytes of the file ``name`` the record names, read through ``open_inside`` and checked against
    its recorded ``digest``."""
    from dacl.files import NotInside, read_inside

    folder = Path(folder)
    path = member_file(folder, name)
    try:
        data = read_inside(folder, name)
    except NotInside as error:
        if error.reason == "missing":
            raise NotWholeModel(folder, f"{name} is missing") from None
        raise NotWholeModel(folder, str(error).rstrip(".")) from None
    if digest_of(data) != digest:
        raise NotWholeModel(folder, f"{path.name} does not match its digest in {MODEL_FILE}: the file is damaged "
                                    "or was changed; nothing was loaded")  # fmt: skip
    return data


def _is_int(value: Any, low: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problems(state: dict[str, Any]) -> list[str]:
    """Every way ``state`` departs from what ``save_model`` writes (empty: a whole record)."""
    out: list[str] = []

    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        value = state.get(key)
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            out.append(f"model.json's {key!r} must be {names}, not {type(value).__name__}")
            return None
        return value

    task = state.get("task")
    if task not in ("classification", "regression"):
        out.append(f"model.json's 'task' must be 'classification' or 'regression', not {task!r}")
    classes = state.get("classes")
    if task == "classification":
        if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, _SCALAR) for c in classes):
            out.append("model.json's 'classes' must list at least two class names")
        elif len({type(c) for c in classes}) > 1:
            out.append("model.json's 'classes' mixes types (text, numbers, true/false): a model's classes are of one")
        elif len(set(classes)) != len(classes):
            out.append("model.json's 'classes' repeats a class")
    elif task == "regression" and classes is not None:
        out.append("model.json's 'classes' must be null for a regression model")
    columns = need("columns", list)
    if columns is not None and (not columns or not all(isinstance(c, (str, int)) for c in columns)
                                or len(set(map(str, columns))) != len(columns)):  # fmt: skip
        out.append("model.json's 'columns' must list the fitted columns once each")
    for key in ("pretraining", "rows"):
        need(key, dict)
    # what the commands print and export read too (the graph's doc string, the predictions' column name)
    kinds = {"classification": "DACLClassifier", "regression": "DACLRegressor"}
    kind = kinds.get(task) if isinstance(task, str) else None
    if kind is not None and state.get("kind") != kind:
        out.append(f"model.json's 'kind' must be {kind!r} for its task, not {str(state.get('kind'))[:40]!r}")
    label = state.get("label")
    if label is not None and (not isinstance(label, (str, int)) or isinstance(label, bool)):
        out.append(f"model.json's 'label' must be the label column's name or null, not {type(label).__name__}")
    chosen = need("chosen", dict)
    if chosen is not None and not (isinstance(chosen.get("model"), str) and isinstance(chosen.get("members"), list)):
        out.append("model.json's 'chosen' must name its 'model' and list its 'members'")
    need("selection", list)
    files = need("files", dict)
    if files is not None:
        for name, digest in files.items():
            if not _plain_name(name):
                out.append(f"model.json names the file {name[:80]!r}, which is not a plain file name inside the "
                           "model folder")  # fmt: skip
            if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
                out.append(f"model.json's digest of {name[:80]!r} is not a SHA-256 digest")
        for name in ("encoder.safetensors", "members.safetensors"):
            if name not in files:
                out.append(f"model.json does not list {name}")
    out += _preprocessing_problems(state.get("preprocessing"), columns)
    encoder = need("encoder", dict)
    if encoder is not None:
        for key in ("in_features", "width", "depth"):
            if not _is_int(encoder.get(key)):
                out.append(f"model.json's encoder {key!r} must be a positive whole number")
    members = need("members", list)
    if members is not None and not members:
        out.append("model.json's 'members' is empty: a model has at least one")
    for index, member in enumerate(members or []):
        out += _member_problems(index, member, files or {})
    return out


def _preprocessing_problems(record: Any, columns: list | None) -> list[str]:
    if not isinstance(record, dict):
        return ["model.json's 'preprocessing' must be an object"]
    out = []
    numeric, categorical = record.get("numeric"), record.get("categorical")
    if not isinstance(numeric, list) or not isinstance(categorical, list):
        return ["model.json's preprocessing must list its 'numeric' and 'categorical' columns"]
    for column in numeric:
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            out.append("a numeric column of the preprocessing has no name")
        elif not ({"fill", "scale", "shift"} <= column.keys() and _is_number(column["scale"])
                  and _is_number(column["shift"]) and (column["fill"] is None or _is_number(column["fill"]))):
            out.append(f"the preprocessing of column {column['name']!r} needs finite 'fill', 'scale' and 'shift'")
    for column in categorical:
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            out.append("a categorical column of the preprocessing has no name")
        elif not ({"fill", "categories", "infrequent"} <= column.keys()
                  and isinstance(column["categories"], list) and isinstance(column["infrequent"], list)
                  and all(isinstance(v, _SCALAR) for v in column["categories"] + column["infrequent"])
                  and (column["fill"] is None or isinstance(column["fill"], _SCALAR))):
            out.append(f"the preprocessing of column {column['name']!r} needs its 'fill', 'categories' and "
                       "'infrequent'")
    if not isinstance(record.get("clip", False), bool):
        out.append("the preprocessing's 'clip' must be true or false")
    if not out and columns is not None:
        names = [c["name"] for c in numeric + categorical]
        unknown = [n for n in names if n not in set(map(str, columns))]
        if unknown or len(set(names)) != len(names):
            out.append("the preprocessing's columns are not the model's columns, once each")
    return out


def _member_problems(index: int, member: Any, files: dict) -> list[str]:
    where = f"member {index}"
    if not isinstance(member, dict) or member.get("type") not in MEMBER_TYPES:
        kind = member.get("type") if isinstance(member, dict) else member
        return [f"{where} has the type {str(kind)[:40]!r}; known: {', '.join(MEMBER_TYPES)}"]
    kind = member["type"]
    if kind == "linear" and member.get("source") not in ("features", "X"):
        return [f"{where} (linear) must read 'features' or 'X'"]
    if kind == "knn" and not _is_int(member.get("k")):
        return [f"{where} (knn) needs a positive whole 'k'"]
    if kind == "knn" and member.get("source", "features") not in ("features", "X"):
        return [f"{where} (knn) must read 'features' or 'X'"]
    if kind == "fine-tune" and not _is_int(member.get("outputs")):
        return [f"{where} (fine-tune) needs a positive whole number of 'outputs'"]
    if kind == "trees":
        if not isinstance(member.get("projection"), bool):
            return [f"{where} (trees) needs 'projection' true or false"]
        if "file" in member:  # written before the trees were kept as arrays (skops)
            if not isinstance(member["file"], str) or member["file"] not in files:
                return [f"{where} (trees) names a file that model.json's 'files' does not list"]
        elif member.get("link") not in ("logistic", "softmax", "identity"):
            return [f"{where} (trees) needs its 'link': 'logistic', 'softmax' or 'identity'"]
    return []


def check_record(folder: Path, state: Any) -> None:
    """Raise :class:`NotWholeModel` naming what is wrong unless ``state`` is a whole model record."""
    if not isinstance(state, dict):
        raise NotWholeModel(folder, f"model.json holds {type(state).__name__}, not an object")
    problems = _problems(state)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise NotWholeModel(folder, "; ".join(problems[:3]) + more)
