"""Model folders: the same predictions after a round trip, columns by name, and nothing loaded from a
folder that is damaged, of another version, or that asks for code."""

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from dacl import DACLClassifier, DACLRegressor, load_predictor

SMALL = dict(epochs=2, depth=1, width=8, projection_dim=4, batch_size=32, warmup_epochs=0.0, fine_tune_epochs=(2,),
             fine_tune_lrs=(1e-3,), random_state=0, cv=2)  # fmt: skip


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame({"size": rng.normal(size=n), "count": rng.integers(0, 9, n),
                          "city": rng.choice(["paris", "lyon", "nice"], n)})  # fmt: skip
    frame.loc[::11, "size"] = np.nan
    labels = np.where(frame["size"].fillna(0) > 0, "big", "small").astype(object)
    labels[120:] = None
    return frame, labels


@pytest.fixture(scope="module")
def saved(table, tmp_path_factory):
    frame, labels = table
    folders = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for members in (("probe", "knn"), ("fine-tune", "gbdt-raw+features"), ("linear-raw", "gbdt-raw")):
            model = DACLClassifier(**SMALL, candidates=members).fit(frame, labels)
            model.chosen_ = {"model": "ensemble", "reason": "both members, to save and load each kind",
                             "members": [{"candidate": c, "setting": model.selection_.query(
                                 "candidate == @c")["setting"].iloc[0]} for c in members]}  # fmt: skip
            from dacl.tables.semisupervised.selection import fit_chosen

            model.models_ = fit_chosen(*_labelled(model, frame, labels), model.task_, [
                (m["candidate"], m["setting"]) for m in model.chosen_["members"]], model._settings(0))  # fmt: skip
            folder = tmp_path_factory.mktemp("model") / "m"
            model.save(folder, label="kind")
            folders[members] = (model, folder)
    return folders


def _labelled(model, frame, labels):
    rows = np.flatnonzero(pd.notna(pd.Series(labels, dtype=object)))
    inputs = model._inputs(frame.iloc[rows])
    return inputs, model.label_encoder_.transform(labels[rows].astype(str))


def test_a_saved_model_predicts_as_the_estimator_with_columns_in_any_order(table, saved):
    frame, _ = table
    shuffled = frame[["city", "count", "size"]].sample(frac=1, random_state=0).assign(extra=1)
    for model, folder in saved.values():
        predictor = load_predictor(folder)
        np.testing.assert_allclose(predictor.predict_proba(shuffled), model.predict_proba(shuffled[frame.columns]),
                                   atol=1e-6)  # fmt: skip
        assert (predictor.predict(shuffled) == model.predict(shuffled[frame.columns])).all()
        assert list(predictor.classes_) == ["big", "small"] and predictor.chosen["model"] == "ensemble"
        assert {"model.json", "model.md", "selection.png", "encoder.safetensors"} <= {p.name for p in folder.iterdir()}


def test_new_categories_and_missing_values_are_handled_as_in_fit_and_bad_columns_are_named(table, saved):
    frame, _ = table
    model, folder = saved[("linear-raw", "gbdt-raw")]
    predictor = load_predictor(folder)
    new = frame.head(5).copy()
    new.loc[0, "city"] = "marseille"  # never seen: all zeros in its one-hot block, as in fit
    new.loc[1, "size"] = np.nan
    with pytest.warns(UserWarning, match="'city' .* 1 value.* never seen .*'marseille'"):
        np.testing.assert_allclose(predictor.predict_proba(new), model.predict_proba(new), atol=1e-6)
    with pytest.raises(ValueError, match="lacks the column.*'city'"):
        predictor.predict(frame.drop(columns=["city"]))
    with pytest.raises(ValueError, match="column 'size' .* holds text"):
        predictor.predict(new.astype({"size": object}).assign(size="large"))


def test_a_regressor_round_trips(table, tmp_path):
    frame, _ = table
    target = frame["count"].to_numpy() * 1.5 + (frame["city"] == "nice")
    marked = np.where(np.arange(len(frame)) % 3 == 0, target, np.nan)
    model = DACLRegressor(**SMALL, candidates=("fine-tune", "probe", "gbdt-raw")).fit(frame, marked)
    model.save(tmp_path / "m")
    predictor = load_predictor(tmp_path / "m")
    np.testing.assert_allclose(predictor.predict(frame), model.predict(frame), atol=1e-5)
    with pytest.raises(ValueError, match="predicts numbers"):
        predictor.predict_proba(frame)


def test_damaged_other_version_or_code_asking_folders_are_refused_before_anything_runs(saved, tmp_path):
    _, original = saved[("linear-raw", "gbdt-raw")]
    folder = tmp_path / "m"
    shutil.copytree(original, folder)
    with pytest.raises(ValueError, match="already holds a model"):
        saved[("linear-raw", "gbdt-raw")][0].save(folder)
    members = folder / "members.safetensors"
    data = bytearray(members.read_bytes())
    data[-1] ^= 0xFF
    members.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged or was changed"):
        load_predictor(folder)
    shutil.copy(original / "members.safetensors", members)
    state = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**state, "dacl_version": "0.0.1"}))
    with pytest.raises(ValueError, match="made by dacl 0.0.1"):
        load_predictor(folder)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="damaged"):
        load_predictor(folder)
    with pytest.raises(ValueError, match="not a dacl model folder"):
        load_predictor(tmp_path)


def test_trees_that_would_run_code_are_refused_even_with_a_matching_digest(saved, tmp_path):
    """Folders written before the trees were kept as arrays name a skops file: one that would call code is
    refused (skops' trusted types), however its digest was made to match."""
    import hashlib
    import os

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    _, original = saved[("linear-raw", "gbdt-raw")]
    folder = tmp_path / "m"
    shutil.copytree(original, folder)
    trees = folder / "trees-1.skops"
    trees.write_bytes(skops.io.dumps(FunctionTransformer(os.system)))  # a file that would call os.system
    state = json.loads((folder / "model.json").read_text())
    state["members"][1] = {**state["members"][1], "file": trees.name}
    state["files"][trees.name] = hashlib.sha256(trees.read_bytes()).hexdigest()
    (folder / "model.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="cannot be loaded safely"):
        load_predictor(folder)


def _copy(saved, tmp_path, members=("linear-raw", "gbdt-raw")):
    _, original = saved[members]
    folder = tmp_path / "m"
    shutil.copytree(original, folder)
    return folder, json.loads((folder / "model.json").read_text())


def _rewrite(folder, state):
    (folder / "model.json").write_text(json.dumps(state))


def test_a_model_names_only_plain_files_of_its_own_folder_and_tells_nothing_of_others(saved, tmp_path):
    import hashlib

    folder, state = _copy(saved, tmp_path)
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"not yours")
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    messages = []
    for name in ("../secret.bin", "../absent.bin", str(outside), "/etc/passwd", "sub/x.bin", "..", "a\\b"):
        files = {**state["files"], name: digest}
        _rewrite(folder, {**state, "files": files})
        with pytest.raises(ValueError, match="not a plain file name inside the model folder") as caught:
            load_predictor(folder)
        messages.append(str(caught.value).replace(repr(name[:80]), "NAME"))
    assert len(set(messages)) == 1  # an existing outside file and a missing one read the same
    (folder / "link.bin").symlink_to(outside)  # a link inside the folder to a file outside, digest matching
    _rewrite(folder, {**state, "files": {**state["files"], "link.bin": digest}})
    with pytest.raises(ValueError, match="symbolic link"):
        load_predictor(folder)


def test_model_json_itself_is_never_read_through_a_link_nor_from_a_fifo(saved, tmp_path):
    """Issue 45, class 1: the record is opened as every other file of the folder (dacl.files.open_inside)."""
    import os

    from dacl.tables.semisupervised.outputs import recorded_outputs

    folder, state = _copy(saved, tmp_path)
    real = tmp_path / "elsewhere.json"
    real.write_text(json.dumps(state))
    (folder / "model.json").unlink()
    (folder / "model.json").symlink_to(real)  # a whole, valid record, but outside the folder
    with pytest.raises(ValueError, match="model.json is a symbolic link"):
        load_predictor(folder)
    assert recorded_outputs(folder) == []
    (folder / "model.json").unlink()
    os.mkfifo(folder / "model.json")  # would block a plain open
    with pytest.raises(ValueError, match="model.json is not a plain file"):
        load_predictor(folder)


@pytest.mark.parametrize("change, expected", [
    (lambda s: [s], "holds list"),
    (lambda s: {k: v for k, v in s.items() if k != "members"}, "'members' must be list"),
    (lambda s: {**s, "members": []}, "'members' is empty"),
    (lambda s: {**s, "members": [{"type": "shell"}]}, "type 'shell'"),
    (lambda s: {**s, "classes": [s["classes"][0], s["classes"][0]]}, "repeats a class"),
    (lambda s: {**s, "classes": s["classes"] + ["third"]}, "names 3 classes"),
    (lambda s: {**s, "task": "numbers"}, "'task' must be"),
    (lambda s: {**s, "columns": "size"}, "'columns' must be list"),
    (lambda s: {**s, "encoder": {**s["encoder"], "in_features": 999}}, "encoder takes 999"),
    (lambda s: {**s, "preprocessing": {**s["preprocessing"], "numeric": s["preprocessing"]["numeric"][:1]}},
     "preprocessing gives"),
    (lambda s: {**s, "preprocessing": {**s["preprocessing"], "numeric": [{"name": "size", "fill": "x"}]}},
     "finite 'fill'"),
    (lambda s: {**s, "files": {**s["files"], "encoder.safetensors": "0" * 10}}, "not a SHA-256 digest"),
])  # fmt: skip
def test_a_damaged_or_edited_record_fails_at_load_naming_what_is_wrong(saved, tmp_path, change, expected):
    folder, state = _copy(saved, tmp_path)
    _rewrite(folder, change(state))
    with pytest.raises(ValueError, match=expected):
        load_predictor(folder)


@pytest.mark.parametrize("cut", [0, 8, 100])
def test_truncated_or_empty_weights_with_a_matching_digest_fail_at_load(saved, tmp_path, cut):
    import hashlib

    folder, state = _copy(saved, tmp_path, ("probe", "knn"))
    weights = folder / "members.safetensors"
    weights.write_bytes(weights.read_bytes()[:cut])
    _rewrite(folder, {**state, "files": {**state["files"],
                                         weights.name: hashlib.sha256(weights.read_bytes()).hexdigest()}})  # fmt: skip
    with pytest.raises(ValueError, match="not a whole dacl model"):
        load_predictor(folder)


@pytest.mark.parametrize("change", [
    lambda s: {**s, "pretraining": {**s["pretraining"], "width": 10**7}},  # 10**14 weights: refused, not allocated
    lambda s: {**s, "pretraining": {**s["pretraining"], "depth": s["pretraining"]["depth"] + 1}},
    lambda s: {**s, "encoder": {**s["encoder"], "in_features": 10**9}, "preprocessing": s["preprocessing"]},
])  # fmt: skip
def test_a_record_describing_another_encoder_than_its_weights_is_refused_before_allocation(saved, tmp_path,
                                                                                            change):
    """Issue 45, class 2: the encoder the record describes is compared, shape by shape, with
    encoder.safetensors before it is built; an absurd width would otherwise ask for terabytes."""
    import resource

    folder, state = _copy(saved, tmp_path, ("probe", "knn"))
    _rewrite(folder, change(state))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="does not hold|encoder takes"):
        load_predictor(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: under 200 MiB more


def _paths(value, prefix=()):
    """Every path into a JSON value (keys and indices)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:4]):
            yield from _paths(item, (*prefix, index))


def test_any_edit_of_model_json_is_a_clean_error_or_the_same_predictions(saved, table, tmp_path):
    """Property (hypothesis): one value of model.json replaced by any JSON value, or removed: loading and
    predicting raise ValueError, or give one of the model's classes for every row (as before where the edit
    is of a value predictions do not read); never another exception, never a file outside the folder."""
    import copy
    import pathlib

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    frame, _ = table
    folder, state = _copy(saved, tmp_path, ("fine-tune", "gbdt-raw+features"))
    expected = load_predictor(folder).predict(frame)
    paths = [p for p in _paths(state) if p and p[0] not in ("selection",)]
    scalars = st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6),
                                                                                               inner, max_size=3),
                          max_leaves=6)  # fmt: skip
    import dacl.files

    opened = []
    real_open_inside = dacl.files.open_inside

    def open_inside(where, name, *args, **kwargs):  # every file of a model folder is opened through it
        opened.append(pathlib.Path(where, name).resolve())
        return real_open_inside(where, name, *args, **kwargs)

    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(paths), value=values, remove=st.booleans())
    def edit(path, value, remove):
        changed = copy.deepcopy(state)
        parent = changed
        for key in path[:-1]:
            parent = parent[key]
        if remove and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
        _rewrite(folder, changed)
        dacl.files.open_inside = open_inside  # only while the model loads and predicts
        try:
            predicted = load_predictor(folder).predict(frame)
        except ValueError:
            return
        finally:
            dacl.files.open_inside = real_open_inside
        assert len(predicted) == len(expected) and set(predicted) <= set(expected) | set(changed.get("classes", []))
        if path[0] in ("label", "kind", "rows", "chosen", "files"):  # read by no prediction
            assert (predicted == expected).all()

    edit()
    assert opened and all(p.parent == folder.resolve() for p in opened), [p for p in opened if p.parent != folder]


def test_values_too_large_to_scale_at_predict_name_the_column_and_the_row(saved, table):
    frame, _ = table
    predictor = load_predictor(saved[("probe", "knn")][1])
    for value, said in ((1e308, "1e.308, too large to scale"), (np.inf, "an infinite value")):
        bad = frame.copy()
        bad.loc[bad.index[7], "size"] = value
        with pytest.raises(ValueError, match=f"column 'size' of the data holds {said} at row 7"):
            predictor.predict(bad)
    # issue 45, class 4: finite, but past what the network's dtype carries once scaled (NaN before)
    bad = frame.copy()
    bad.loc[bad.index[7], "size"] = 1e38
    for precision in ("float32", "bfloat16"):
        with pytest.raises(ValueError, match=r"column 'size' of the data holds 1e\+38 at row 7 .* once scaled"):
            load_predictor(saved[("probe", "knn")][1], precision=precision).predict_proba(bad)


def test_dacl_predict_imports_only_what_the_chosen_model_needs(table, saved, tmp_path):
    """No scikit-learn (nor SciPy) for a model without trees, and never skops: the trees are kept as arrays."""
    import subprocess
    import sys

    frame, _ = table
    frame.to_csv(tmp_path / "new.csv", index=False)
    for members, needs_sklearn in ((("probe", "knn"), False), (("linear-raw", "gbdt-raw"), True)):
        _, folder = saved[members]
        code = ("import sys; from dacl.cli import main; main(['predict', '--model', sys.argv[1], '--data', "
                "sys.argv[2], '--out', sys.argv[3]]); "
                "print(sorted(m for m in ('sklearn', 'scipy', 'skops') if m in sys.modules))")
        done = subprocess.run([sys.executable, "-c", code, str(folder), str(tmp_path / "new.csv"),
                               str(tmp_path / f"{members[0]}.csv")], capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        imported = done.stdout.strip().splitlines()[-1]
        assert imported == ("['scipy', 'sklearn']" if needs_sklearn else "[]"), (members, imported)


def test_the_same_seed_and_threads_give_the_same_folder_and_the_record_says_how(table, tmp_path):
    """Issue 45, class 8: model.json and model.md record the thread count, precision, seed and CPU kind a
    model was fitted with; two fits under them write the same files (timings aside)."""
    frame, labels = table

    def fit(folder):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            DACLClassifier(**SMALL, candidates=("probe", "spread", "gbdt-raw"), n_jobs=1).fit(frame, labels).save(
                folder)  # fmt: skip
        return folder

    def untimed(value):
        if isinstance(value, dict):
            return {k: untimed(v) for k, v in value.items() if k != "seconds"}
        return [untimed(v) for v in value] if isinstance(value, list) else value

    first, second = fit(tmp_path / "a"), fit(tmp_path / "b")
    for name in ("encoder.safetensors", "members.safetensors"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    records = [json.loads((folder / "model.json").read_text()) for folder in (first, second)]
    assert untimed(records[0]) == untimed(records[1])
    fitted = records[0]["fitted_with"]
    assert fitted["threads"] == 1 and fitted["random_state"] == 0 and fitted["precision"] in ("float32", "bfloat16")
    assert "kernels" in fitted["device"] and fitted["torch"]
    assert "`--threads 1 --seed 0`" in (first / "model.md").read_text()
