"""Issue 45: every command that reads a model folder (``dacl predict``, ``dacl export``, ``load_predictor``,
``load_onnx_predictor``) driven with folders mutated at random: files replaced by links (outside, inside,
dangling), by folders or FIFOs, removed, truncated or bit-flipped, swapped with another model's (a
regressor's, one of three classes) with or without their digests recorded, and records edited. Each must
end in a clean error (``ValueError``; status 2 for a command) or in whole predictions of the model's
classes; never another exception, never a file opened outside the folder, never an output half-written."""

import copy
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dacl import DACLClassifier, DACLRegressor, load_predictor
from dacl.cli import main

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SMALL = dict(epochs=2, depth=2, width=16, projection_dim=8, batch_size=64, warmup_epochs=0.0, fine_tune_epochs=(2,),
             fine_tune_lrs=(1e-3,), random_state=0, cv=2)  # fmt: skip
FILES = ("model.json", "encoder.safetensors", "members.safetensors", "model.onnx", "model.md")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The model to mutate (probe + trees, with its ONNX graph) and two donors of the same columns."""
    from dacl.tables.semisupervised.folder import export_into_folder

    pytest.importorskip("onnxruntime")
    root = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(2)
    n = 160
    frame = pd.DataFrame({"size": rng.normal(size=n), "count": rng.integers(0, 9, n).astype(float),
                          "city": rng.choice(["paris", "lyon", "nice"], n)})  # fmt: skip
    known = np.arange(n) < 60
    two = np.where(frame["size"] > 0, "big", "small").astype(object)
    three = np.where(frame["count"] > 5, "many", np.where(frame["count"] > 2, "some", "few")).astype(object)
    fits = {"model": (DACLClassifier, two, ("probe", "gbdt-raw")), "three": (DACLClassifier, three, ("linear-raw",)),
            "numbers": (DACLRegressor, frame["size"].to_numpy() * 3, ("linear-raw",))}  # fmt: skip
    made = {}
    for name, (kind, labels, candidates) in fits.items():
        labels = labels.copy()
        labels[~known] = np.nan if kind is DACLRegressor else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = kind(**SMALL, candidates=candidates, ensemble=True).fit(frame, labels)
        model.save(root / name)
        export_into_folder(root / name)
        made[name] = root / name
    frame.to_csv(root / "new.csv", index=False)
    (root / "outside.bin").write_bytes(b"outside the folder: never to be read\n" * 10)
    return made, frame, root


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(folder: Path) -> dict | None:
    """model.json as a dict where it is still a plain, parsable file (a mutation may have made it a link,
    a FIFO that would block the test's own read, or text)."""
    record = folder / "model.json"
    if record.is_symlink() or not record.is_file():
        return None
    try:
        state = json.loads(record.read_text())
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def _set_digest(folder: Path, name: str, target: Path | None = None) -> None:
    """Record the digest of ``target`` (by default the file ``name``) for ``name``: past the digest check."""
    state, target = _record(folder), target or folder / name
    if state is not None and isinstance(state.get("files"), dict) and target.is_file() and not target.is_fifo():
        state["files"][name] = _digest(target)
        (folder / "model.json").write_text(json.dumps(state))


def _clear(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _mutate(folder: Path, donors: dict[str, Path], outside: Path, step: tuple, json_value) -> None:
    kind, name, option, recorded = step
    path = folder / name
    if kind == "link":
        target = {"outside": outside, "inside": folder / "model.md", "dangling": folder / "nothing"}[option]
        _clear(path)
        path.symlink_to(target)
        if recorded:  # the digest of what the link points at: only the link is wrong
            _set_digest(folder, name, target)
    elif kind == "other":  # a folder or a FIFO where a file belongs, or nothing
        _clear(path)
        if option == "folder":
            path.mkdir()
        elif option == "fifo":
            os.mkfifo(path)
    elif kind == "damage" and path.is_file() and not path.is_symlink():
        data = bytearray(path.read_bytes())
        if option == "truncate":
            data = data[: len(data) // 3]
        elif data:
            data[len(data) // 2] ^= 0x5A
        path.write_bytes(bytes(data))
        if recorded and name != "model.json":
            _set_digest(folder, name)
    elif kind == "swap":  # the same-named file of another model of the same columns
        _clear(path)
        shutil.copyfile(donors[option] / name, path)
        if recorded and name != "model.json":
            _set_digest(folder, name)
    elif kind == "edit":
        state = _record(folder)
        paths = [] if state is None else list(_paths(state))
        if not paths:
            return
        where = paths[option % len(paths)]
        parent = state
        for key in where[:-1]:
            parent = parent[key]
        if recorded and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = copy.deepcopy(json_value)
        (folder / "model.json").write_text(json.dumps(state))


def _paths(value, prefix=()):
    """Every path into a JSON value below its top (keys and the first indices), the record's table of
    candidates left out (long, and read by no prediction)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if prefix or key != "selection":
                yield (*prefix, key)
                yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


SCALARS = st.none() | st.booleans() | st.integers(-2, 10**12) | st.floats(allow_nan=True) | st.text(max_size=8)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                          max_size=3), max_leaves=5)
STEPS = st.one_of(
    st.tuples(st.just("link"), st.sampled_from(FILES), st.sampled_from(["outside", "inside", "dangling"]),
              st.booleans()),
    st.tuples(st.just("other"), st.sampled_from(FILES), st.sampled_from(["folder", "fifo", "removed"]), st.booleans()),
    st.tuples(st.just("damage"), st.sampled_from(FILES), st.sampled_from(["truncate", "flip"]), st.booleans()),
    st.tuples(st.just("swap"), st.sampled_from(FILES), st.sampled_from(["three", "numbers"]), st.booleans()),
    st.tuples(st.just("edit"), st.just("model.json"), st.integers(0, 10**6), st.booleans()),
)  # fmt: skip


def test_every_reader_of_a_mutated_folder_ends_cleanly(folders, tmp_path, capsys):
    import dacl.files

    made, frame, root = folders
    classes = set(map(str, load_predictor(made["model"]).classes_))
    donors = {"three": made["three"], "numbers": made["numbers"]}
    donor_classes = {"three": set(load_predictor(made["three"]).classes_), "numbers": set()}
    before = {name: _digest(made["model"] / name) for name in FILES}
    opened: list[Path] = []
    real_open_inside = dacl.files.open_inside

    def open_inside(where, name, *args, **kwargs):  # every file of a model folder is opened through it
        opened.append(Path(where, name).absolute())
        return real_open_inside(where, name, *args, **kwargs)

    counter = iter(range(10**6))
    outcomes: dict[str, set] = {"load": set(), "predict": set(), "export": set()}

    @settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(steps=st.lists(STEPS, min_size=1, max_size=3), value=VALUES)
    def mutated(steps, value):
        work = tmp_path / f"case{next(counter)}"
        folder = work / "m"
        shutil.copytree(made["model"], folder)
        for step in steps:
            _mutate(folder, donors, root / "outside.bin", step, value)
        dacl.files.open_inside = open_inside
        opened.clear()
        # a record swapped in with its own digests makes the folder another model, whole or refused
        allowed = classes | {c for kind, name, donor, _ in steps if (kind, name) == ("swap", "model.json")
                             for c in donor_classes[donor]}  # fmt: skip
        try:
            try:  # the library
                predicted = load_predictor(folder).predict(frame)
                assert len(predicted) == len(frame) and set(map(str, predicted)) <= allowed
                outcomes["load"].add("predicted")
            except ValueError:
                outcomes["load"].add("refused")
            # the commands, in this process: status 0 with a whole file, or 2 with one line and no file
            out = work / "p.csv"
            code = main(["predict", "--model", str(folder), "--data", str(root / "new.csv"), "--out", str(out),
                         "--threads", "1"])  # fmt: skip
            assert code in (0, 2)
            if code == 0:
                written = pd.read_csv(out)
                assert len(written) == len(frame) and set(written.iloc[:, -1].astype(str)) <= allowed
            else:
                assert not out.exists()
            outcomes["predict"].add(code)
            graph = work / "g.onnx"
            code = main(["export", "--model", str(folder), "--out", str(graph), "--threads", "1"])
            assert code in (0, 2) and graph.exists() == (code == 0)
            outcomes["export"].add(code)
        finally:
            dacl.files.open_inside = real_open_inside
        errors = capsys.readouterr().err
        assert "Traceback" not in errors and all(len(line) <= 2100 for line in errors.splitlines())
        outside = [p for p in opened if p.parent != folder and p not in (work / ".p.csv.lock", work / ".g.onnx.lock")]
        assert not outside, outside  # the model's files, and the locks beside the outputs
        shutil.rmtree(work, ignore_errors=True)

    mutated()
    assert {name: _digest(made["model"] / name) for name in FILES} == before  # the original, untouched
    assert outcomes["load"] == {"predicted", "refused"} and outcomes["predict"] == {0, 2}, outcomes
