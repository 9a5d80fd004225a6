"""The whole model as one ONNX graph: onnxruntime's predictions equal ``dacl predict``'s (in float32) for every
candidate and the ensemble, for classes and numbers, on real tables; a member without an ONNX form is named."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dacl import DACLClassifier, DACLRegressor, load_predictor
from dacl.tables.semisupervised.selection import fit_chosen
from helpers import shared_data

onnxruntime = pytest.importorskip("onnxruntime")
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
from predict_onnx import graph_inputs  # noqa: E402  (the example's own input builder: what a user runs)

SHARED = shared_data()
SMALL = dict(epochs=3, depth=2, width=16, projection_dim=8, batch_size=64, warmup_epochs=0.0, fine_tune_epochs=(3,),
             fine_tune_lrs=(1e-3,), random_state=0, cv=2)  # fmt: skip
CANDIDATES = ("probe", "knn", "fine-tune", "linear-raw", "gbdt-raw", "gbdt-raw+features", "spread", "spread-raw",
              "self-train")
MEMBERS = [(c,) for c in CANDIDATES] + [("fine-tune", "gbdt-raw+features"), ("probe", "linear-raw"),
                                        ("spread", "spread-raw")]


def _table(name):
    """(estimator class, train frame, labels with most rows unlabelled, test frame) of a real table."""
    if name == "digits":  # embedded in scikit-learn: 10 classes, numbers only
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
        return DACLClassifier, frame.iloc[:500], _unlabel(y[:500].astype(object)), frame.iloc[1500:]
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not beside the checkout")
    from dacl.data import load_dataset

    data = load_dataset(name, data_dir=SHARED)  # adult: classes, text columns; california: numbers, one text column
    kind = DACLRegressor if data.is_regression else DACLClassifier
    labels = data.y_train[:500].astype(float if data.is_regression else object)
    return kind, data.X_train.iloc[:500].reset_index(drop=True), _unlabel(labels), data.X_test.iloc[:400]


def _unlabel(y):
    y = y.copy()
    y[np.arange(len(y)) % 2 == 1] = np.nan if y.dtype == float else None  # half the rows unlabelled
    return y


@pytest.fixture(scope="module", params=["digits", "adult", "california-housing"])
def models(request, tmp_path_factory):
    """One fit per table, then a model folder per candidate and per ensemble of two."""
    kind, frame, labels, test = _table(request.param)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = kind(**SMALL, candidates=CANDIDATES).fit(frame, labels)
    labelled = np.flatnonzero(pd.notna(pd.Series(labels, dtype=object)))
    inputs = model._inputs(frame.iloc[labelled])
    inputs.unlabelled = model._inputs(frame.drop(index=frame.index[labelled]))  # for the candidates that use them
    y = labels[labelled].astype(float) if kind is DACLRegressor else model.label_encoder_.transform(
        labels[labelled].astype(str))  # fmt: skip
    folders = {}
    for members in MEMBERS:
        if not set(members) <= set(model.selection_["candidate"]):  # self-training: classes only
            continue
        settings = [(c, model.selection_.query("candidate == @c")["setting"].iloc[0]) for c in members]
        model.chosen_ = {"model": members[0] if len(members) == 1 else "ensemble", "reason": "each kind exported",
                         "members": [{"candidate": c, "setting": s} for c, s in settings]}  # fmt: skip
        model.models_ = fit_chosen(inputs, y, model.task_, settings, model._settings(0))
        folder = tmp_path_factory.mktemp("model") / "m"
        model.save(folder, label="target")
        folders[members] = folder
    return request.param, folders, test


def _onnx_outputs(folder, test, tmp_path):
    predictor = load_predictor(folder, precision="float32")
    path = tmp_path / "model.onnx"
    predictor.to_onnx(path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return predictor, session.run(None, graph_inputs(session, test))


def test_onnxruntime_predicts_as_dacl_for_every_candidate(models, tmp_path):
    name, folders, test = models
    for members, folder in folders.items():
        predictor, outputs = _onnx_outputs(folder, test, tmp_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # categories never seen in the fit: no column, in both
            expected = predictor.predict(test)
            if predictor.classes_ is None:
                scale = float(np.abs(expected).max())
                np.testing.assert_allclose(outputs[0], expected, rtol=0, atol=1e-4 * scale, err_msg=str(members))
                continue
            probabilities = predictor.predict_proba(test)
        difference = np.abs(outputs[1] - probabilities).max(1)
        if "gbdt-raw+features" in members:
            # trees on the encoder's features: a feature that differs by a float32 rounding between torch and
            # onnxruntime can fall on the other side of a split; allow such rows, one in a hundred at most
            assert (difference > 1e-4).mean() <= 0.01, (name, members, difference.max())
            margin = np.sort(probabilities, 1)[:, -1] - np.sort(probabilities, 1)[:, -2]
            agree = outputs[0] == expected
            assert agree[margin > 0.05].all(), (name, members)
        else:
            assert difference.max() <= 1e-4, (name, members, difference.max())
            assert (outputs[0] == expected).all(), (name, members)


def test_the_graph_names_its_inputs_and_outputs_as_documented(models, tmp_path):
    name, folders, test = models
    predictor, _ = _onnx_outputs(folders[("gbdt-raw",)], test.head(3), tmp_path)
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = {i.name: i.type for i in session.get_inputs()}
    assert set(inputs) == set(predictor.preprocessing.columns)
    for column in predictor.preprocessing.numeric:
        assert inputs[column["name"]] == "tensor(double)"
    for column in predictor.preprocessing.categorical:
        assert inputs[column["name"]] == "tensor(string)"
    outputs = [o.name for o in session.get_outputs()]
    assert outputs == (["prediction"] if predictor.classes_ is None else ["label", "probabilities"])


def _user_table(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"age": rng.integers(18, 80, n).astype(float), "hours": rng.normal(40, 10, n),
                          "sector": rng.choice(["private", "public", "self"], n)})  # fmt: skip
    frame.loc[::7, "hours"] = np.nan
    frame.loc[::11, "sector"] = None
    target = np.where(frame["hours"].fillna(40) / 10 + (frame["sector"] == "self") * 2 > 5, "high", "low")
    frame.assign(income=np.where(np.arange(n) % 4 == 0, target, None)).to_csv(tmp_path / "table.csv", index=False)
    frame.to_csv(tmp_path / "new.csv", index=False)


def _dacl(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "dacl", *args], capture_output=True, text=True, cwd=tmp_path)


def _fit(tmp_path, candidates="probe,gbdt-raw"):
    fitted = _dacl(tmp_path, "fit", "--data", "table.csv", "--label", "income", "--out", "model", "--epochs", "3",
                   "--width", "16", "--depth", "2", "--quiet", "--candidates", candidates, "--ensemble", "true",
                   "--overwrite")  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr


def test_dacl_export_to_a_file_and_the_example_give_dacl_predicts_file(tmp_path):
    """The commands as a user runs them: dacl fit, dacl export --out, dacl predict --precision float32 (torch),
    and the example with onnxruntime alone (torch never imported)."""
    _user_table(tmp_path)
    _fit(tmp_path)
    exported = _dacl(tmp_path, "export", "--model", "model", "--out", "model.onnx")
    assert exported.returncode == 0 and "written to model.onnx" in exported.stdout, exported.stderr
    assert "exists" in _dacl(tmp_path, "export", "--model", "model", "--out", "model.onnx").stderr
    assert "must end in .onnx" in _dacl(tmp_path, "export", "--model", "model", "--out", "model.bin").stderr
    predicted = _dacl(tmp_path, "predict", "--model", "model", "--data", "new.csv", "--out", "p.csv", "--proba",
                      "--precision", "float32")  # fmt: skip
    assert predicted.returncode == 0 and "torch" in predicted.stdout, predicted.stderr
    example = Path(__file__).resolve().parents[3] / "examples" / "predict_onnx.py"
    ran = subprocess.run([sys.executable, str(example), "model.onnx", "new.csv", "onnx.csv"], capture_output=True,
                         text=True, cwd=tmp_path)  # fmt: skip
    assert ran.returncode == 0 and "torch imported: False" in ran.stdout, ran.stderr
    ours, theirs = pd.read_csv(tmp_path / "p.csv"), pd.read_csv(tmp_path / "onnx.csv")
    assert (ours["income"] == theirs["label"]).all()
    np.testing.assert_allclose(theirs[["proba_0", "proba_1"]].to_numpy(),
                               ours[["proba_high", "proba_low"]].to_numpy(), rtol=0, atol=1e-4)  # fmt: skip


def test_a_folder_with_its_graph_predicts_through_onnxruntime_without_torch(tmp_path):
    """dacl export --model FOLDER puts the graph in the folder; dacl predict then runs it (no torch imported),
    with the same predictions and the same checks as through torch in float32."""
    _user_table(tmp_path)
    _fit(tmp_path, "probe,knn")
    torch_run = _dacl(tmp_path, "predict", "--model", "model", "--data", "new.csv", "--out", "t.csv", "--proba")
    assert torch_run.returncode == 0 and "torch)" in torch_run.stdout, torch_run.stderr
    assert _dacl(tmp_path, "export", "--model", "model").returncode == 0
    assert "model.onnx" in json.loads((tmp_path / "model" / "model.json").read_text())["files"]
    code = ("import sys; from dacl.cli import main; code = main(sys.argv[1:]); "
            "print('torch' in sys.modules, 'sklearn' in sys.modules); sys.exit(code)")  # fmt: skip
    ran = subprocess.run([sys.executable, "-c", code, "predict", "--model", "model", "--data", "new.csv", "--out",
                          "o.csv", "--proba"], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert ran.returncode == 0 and "onnxruntime" in ran.stdout, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == "False False"
    forced = _dacl(tmp_path, "predict", "--model", "model", "--data", "new.csv", "--out", "f.csv", "--proba",
                   "--precision", "float32")  # fmt: skip
    assert forced.returncode == 0 and "torch)" in forced.stdout
    through_graph, through_torch = pd.read_csv(tmp_path / "o.csv"), pd.read_csv(tmp_path / "f.csv")
    assert (through_graph["income"] == through_torch["income"]).all()
    np.testing.assert_allclose(through_graph[["proba_high", "proba_low"]].to_numpy(),
                               through_torch[["proba_high", "proba_low"]].to_numpy(), rtol=0, atol=1e-4)  # fmt: skip
    # the same checks as through torch: a missing column is named
    pd.read_csv(tmp_path / "new.csv").drop(columns="hours").to_csv(tmp_path / "bad.csv", index=False)
    bad = _dacl(tmp_path, "predict", "--model", "model", "--data", "bad.csv", "--out", "b.csv")
    assert bad.returncode == 2 and "lacks the column(s) 'hours'" in bad.stderr
    # a graph changed after the export is refused
    graph = tmp_path / "model" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-10])
    damaged = _dacl(tmp_path, "predict", "--model", "model", "--data", "new.csv", "--out", "d.csv")
    assert damaged.returncode == 2 and "model.onnx does not match its digest" in damaged.stderr
    # a new fit into the folder drops the earlier model's graph
    _fit(tmp_path, "probe")
    assert not graph.exists()
    again = _dacl(tmp_path, "predict", "--model", "model", "--data", "new.csv", "--out", "a.csv")
    assert again.returncode == 0 and "torch)" in again.stdout


def test_a_graph_that_keeps_tensors_in_external_files_is_refused(models, tmp_path):
    """Issue 45, class 1: onnxruntime resolves an external tensor's file against the working directory, so a
    graph naming one is refused, even with its digest recorded (model.json edited to match)."""
    import hashlib
    import shutil

    import onnx

    from dacl.tables.semisupervised.folder import export_into_folder
    from dacl.tables.semisupervised.onnx_runtime import load_onnx_predictor

    _, folders, _ = models
    folder = tmp_path / "m"
    shutil.copytree(folders[("probe",)], folder)
    export_into_folder(folder)
    assert load_onnx_predictor(folder) is not None
    model = onnx.load(folder / "model.onnx")
    tensor = model.graph.initializer[0]
    (tmp_path / "weights.bin").write_bytes(tensor.raw_data or onnx.numpy_helper.to_array(tensor).tobytes())
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="../weights.bin")
    data = model.SerializeToString()
    (folder / "model.onnx").write_bytes(data)
    state = json.loads((folder / "model.json").read_text())
    state["files"]["model.onnx"] = hashlib.sha256(data).hexdigest()
    (folder / "model.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="external files"):
        load_onnx_predictor(folder)


def test_the_graph_of_another_model_with_the_same_columns_is_refused(models, tmp_path):
    """Issue 45, class 2: a graph swapped in from a model of the same columns (fewer classes; a regressor),
    its digest recorded, passes every file check: it is refused on what it answers, before any prediction."""
    import hashlib
    import shutil

    from dacl.tables.semisupervised.folder import export_into_folder
    from dacl.tables.semisupervised.onnx_runtime import load_onnx_predictor

    name, folders, test = models
    if name != "digits":
        pytest.skip("one table is enough: the check reads only the record and the graph's answer")
    _, frame, labels, _ = _table(name)
    folder = tmp_path / "m"
    shutil.copytree(folders[("probe",)], folder)
    small = dict(SMALL, candidates=("linear-raw",))
    known = pd.notna(pd.Series(labels, dtype=object)).to_numpy()
    three = np.where(known, pd.Series(labels, dtype=object).where(known, 0).astype(int) % 3, None).astype(object)
    numbers = np.where(known, pd.Series(labels, dtype=object).where(known, 0).astype(float), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        others = {"another model's classes": DACLClassifier(**small).fit(frame, three),
                  "a regressor's graph": DACLRegressor(**small).fit(frame, numbers)}  # fmt: skip
    for said, other in others.items():
        other_folder = tmp_path / said.replace(" ", "-").replace("'", "")
        other.save(other_folder)
        export_into_folder(other_folder)
        data = (other_folder / "model.onnx").read_bytes()
        (folder / "model.onnx").write_bytes(data)
        state = json.loads((folder / "model.json").read_text())
        state["files"]["model.onnx"] = hashlib.sha256(data).hexdigest()
        (folder / "model.json").write_text(json.dumps(state))
        with pytest.raises(ValueError, match="graph of another model"):
            load_onnx_predictor(folder)
    export_into_folder(folder)  # its own graph again: accepted
    assert load_onnx_predictor(folder) is not None


def test_a_value_past_the_networks_bound_is_named_through_the_graph_too(models, tmp_path):
    """Issue 45, class 4: the graph scales in float64, then casts to float32; the same check before it
    (``SavedPreprocessing``), so onnxruntime never answers NaN probabilities for it."""
    import shutil

    from dacl.tables.semisupervised.folder import export_into_folder
    from dacl.tables.semisupervised.onnx_runtime import load_onnx_predictor

    name, folders, test = models
    if name != "digits":
        pytest.skip("one table is enough: the check is the preprocessing's, before the graph")
    folder = tmp_path / "m"
    shutil.copytree(folders[("probe",)], folder)
    export_into_folder(folder)
    bad = test.iloc[:5].copy()
    bad.loc[bad.index[3], "pixel10"] = 1e12  # fitted on 0..16: 6e10 once scaled
    with pytest.raises(ValueError, match=r"column 'pixel10' of the data holds 1e\+12 at row 3"):
        load_onnx_predictor(folder).predict_proba(bad)
    assert np.isfinite(load_onnx_predictor(folder).predict_proba(test.iloc[:5])).all()


def test_the_graph_runs_in_chunks_of_rows_with_the_outputs_of_one_run(models, tmp_path):
    """dacl predict (and the example) feed the graph ROWS_PER_RUN rows a run: the same outputs as one run
    over every row, for a k-NN member (the spread model's graph) and a network."""
    import shutil

    import onnxruntime as ort

    from dacl.tables.semisupervised.folder import export_into_folder
    from dacl.tables.semisupervised.onnx_runtime import ROWS_PER_RUN, load_onnx_predictor

    name, folders, test = models
    if name != "digits":
        pytest.skip("one table is enough: the chunks are the runtime's, whatever the model")
    many = pd.concat([test] * (2 * ROWS_PER_RUN // len(test) + 1), ignore_index=True)  # over two chunks
    for members in (("spread",), ("probe",)):
        folder = tmp_path / members[0]
        shutil.copytree(folders[members], folder)
        export_into_folder(folder)
        session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        whole = session.run(None, graph_inputs(session, many))[1]
        chunked = load_onnx_predictor(folder).predict_proba(many)
        np.testing.assert_allclose(chunked, whole.astype(np.float64), rtol=0, atol=1e-6)  # kernels may block rows


def test_a_member_without_an_onnx_form_is_named(models, tmp_path):
    from dacl.tables.semisupervised.onnx_export import ExportError

    _, folders, _ = models
    predictor = load_predictor(folders[("probe",)], precision="float32")
    predictor.members = [*predictor.members, object()]
    with pytest.raises(ExportError, match="member 1 \\(object\\) has no ONNX form"):
        predictor.to_onnx()


def test_without_onnx_installed_the_error_says_what_to_install(models, monkeypatch):
    _, folders, _ = models
    predictor = load_predictor(folders[("probe",)])
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "dacl\[onnx\]"'):
        predictor.to_onnx()
