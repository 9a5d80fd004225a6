"""dacl fit / dacl predict / dacl compare --fractions on a user's file, and their mistakes in one line."""

import json

import numpy as np
import pandas as pd
import pytest

from dacl.cli import main

TINY = ["--depth", "1", "--width", "8", "--projection-dim", "4", "--epochs", "2", "--batch-size", "64",
        "--warmup-epochs", "0", "--fine-tune-epochs", "2", "--fine-tune-lrs", "0.001", "--cv", "2",
        "--candidates", "probe,knn,linear-raw,gbdt-raw", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    rng = np.random.default_rng(0)
    n = 300
    table = pd.DataFrame({"id": np.arange(n) + 1000, "size": rng.normal(size=n), "count": rng.integers(0, 7, n),
                          "city": rng.choice(["paris", "lyon", "nice"], n)})  # fmt: skip
    label = np.where(table["size"] + (table["city"] == "nice") > 0.3, 1, 0).astype(float)
    label[rng.random(n) > 0.3] = np.nan  # most rows unlabelled: empty cells in the CSV
    table.assign(churn=label).to_csv(folder / "train.csv", index=False)
    new = table.sample(frac=1, random_state=1)[["city", "id", "count", "size"]]
    new.to_csv(folder / "new.csv", index=False)
    price = table["size"] * 2.5 + table["count"] + 0.1 * rng.normal(size=n)
    table.assign(price=np.where(rng.random(n) > 0.5, price, np.nan)).to_csv(folder / "prices.csv", index=False)
    m = 600  # every row labelled: what compare --fractions measures on (it hides labels it knows)
    full = pd.DataFrame({"size": rng.normal(size=m), "count": rng.integers(0, 7, m),
                         "city": rng.choice(["paris", "lyon", "nice"], m)})  # fmt: skip
    full.assign(churn=(full["size"] + (full["city"] == "nice") > 0.3).astype(int)).to_csv(folder / "labelled.csv",
                                                                                          index=False)  # fmt: skip
    return folder


def parquet_parts(table: pd.DataFrame, folder, rows: int = 100):
    """``table`` written as Parquet files of ``rows`` rows each in ``folder``."""
    folder.mkdir()
    for index, start in enumerate(range(0, len(table), rows)):
        table.iloc[start : start + rows].to_parquet(folder / f"part-{index}.parquet", index=False)
    return folder


def test_fit_then_predict_with_ids_and_probabilities(files, tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(model), *TINY]) == 0
    out = capsys.readouterr().out
    assert "classification of 'churn'" in out and "chosen:" in out
    state = json.loads((model / "model.json").read_text())
    assert state["classes"] == [0, 1] and state["label"] == "churn" and "id" in state["columns"]
    assert (model / "model.md").read_text().startswith("# DACLClassifier")
    predictions = tmp_path / "predictions.csv"
    args = ["predict", "--model", str(model), "--data", str(files / "new.csv"), "--out", str(predictions)]
    assert main([*args, "--id", "id", "--proba"]) == 0
    frame = pd.read_csv(predictions)
    assert list(frame.columns) == ["id", "churn", "proba_0", "proba_1"] and len(frame) == 300
    assert set(frame["churn"]) <= {0, 1} and np.allclose(frame[["proba_0", "proba_1"]].sum(axis=1), 1)
    assert frame["id"].tolist() == pd.read_csv(files / "new.csv")["id"].tolist()  # the rows in their order
    assert main(args) == 2 and "exists" in capsys.readouterr().err  # no silent overwrite
    assert main([*args, "--overwrite"]) == 0


def test_a_numeric_label_with_fractions_is_a_regression(files, tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["fit", "--data", str(files / "prices.csv"), "--label", "price", "--out", str(model), *TINY]) == 0
    assert "regression of 'price'" in capsys.readouterr().out
    assert main(["predict", "--model", str(model), "--data", str(files / "new.csv"), "--out",
                 str(tmp_path / "p.parquet")]) == 0  # fmt: skip
    assert pd.read_parquet(tmp_path / "p.parquet")["price"].dtype == np.float64


def test_mistakes_are_one_line_and_come_before_the_compute(files, tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text("{}")
    fit = ["fit", "--data", str(files / "train.csv"), "--label", "churn", *TINY]
    assert main([*fit, "--out", str(model)]) == 2
    assert "already holds a model" in capsys.readouterr().err
    assert main([*fit, "--out", str(files / "train.csv")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "nope", "--out", str(tmp_path / "m")]) == 2
    assert "label column 'nope'" in capsys.readouterr().err
    assert main(["predict", "--model", str(model), "--data", str(files / "new.csv"), "--out",
                 str(tmp_path / "p.csv")]) == 2  # fmt: skip
    assert "not a dacl model of format" in capsys.readouterr().err


def test_predict_names_a_missing_column(files, tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(model), *TINY]) == 0
    pd.read_csv(files / "new.csv").drop(columns=["city"]).to_csv(tmp_path / "less.csv", index=False)
    assert main(["predict", "--model", str(model), "--data", str(tmp_path / "less.csv"), "--out",
                 str(tmp_path / "p.csv")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "lacks the column(s) 'city'" in err and err.count("\n") == 1


def test_compare_with_fractions_runs_the_label_study_on_a_file_and_recommends(files, tmp_path, capsys):
    out = tmp_path / "study"
    args = ["compare", "--data", str(files / "labelled.csv"), "--label", "churn", "--fractions", "0.2,1",
            "--budget", "smoke", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    last = text.strip().splitlines()[-1]
    assert "| **DACLClassifier** |" in text and last.startswith("labelled: with 100% of the labels")
    assert "on 120 test rows" in last
    assert (out / "labels.png").is_file() and json.loads((out / "results.json").read_text())["rows"]


def test_compare_and_reproduce_labels_take_the_encoder_options_and_check_them_first(files, tmp_path, capsys):
    out = tmp_path / "variant"
    args = ["compare", "--data", str(files / "labelled.csv"), "--label", "churn", "--fractions", "1",
            "--budget", "smoke", "--out", str(out), "--quiet", "--numeric-embedding", "periodic",
            "--mixup-partners", "2", "--categorical-embedding", "2"]  # fmt: skip
    assert main(args) == 0
    assert json.loads((out / "results.json").read_text())["pretraining"] == {
        "numeric_embedding": "periodic", "mixup_partners": 2, "categorical_embedding": 2}  # fmt: skip
    (encoder,) = (out / "encoders").iterdir()  # the city's three categories, embedded
    assert json.loads((encoder / "checkpoint.json").read_text())["categories"].count(0) == 3
    bad = ["reproduce", "labels", "--datasets", "digits", "--budget", "smoke", "--out", str(tmp_path / "bad"),
           "--table-encoder", "transformer"]  # fmt: skip
    assert main(bad) == 2
    assert "table_encoder" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_fit_streams_a_folder_of_parquet_files_and_reads_only_the_labelled_rows(files, tmp_path, capsys):
    table = pd.read_csv(files / "train.csv")
    parts = parquet_parts(table, tmp_path / "parts")
    model = tmp_path / "model"
    assert main(["fit", "--data", str(parts), "--label", "churn", "--out", str(model), *TINY]) == 0
    labelled = int(table["churn"].notna().sum())
    assert f"streamed: {labelled} labelled rows, {len(table) - labelled} unlabelled" in capsys.readouterr().out
    state = json.loads((model / "model.json").read_text())
    assert state["classes"] == [0, 1] and state["columns"] == ["id", "size", "count", "city"]
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(model), "--data", str(files / "new.csv"), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == len(table)
    prices = pd.read_csv(files / "prices.csv")
    (tmp_path / "prices").mkdir()
    for index, start in enumerate(range(0, len(prices), 150)):
        prices.iloc[start : start + 150].to_csv(tmp_path / "prices" / f"part-{index}.csv", index=False)
    assert main(["fit", "--data", str(tmp_path / "prices"), "--label", "price", "--out", str(tmp_path / "r"),
                 *TINY]) == 0  # fmt: skip
    assert "regression of 'price'" in capsys.readouterr().out
    assert main(["fit", "--data", str(parts), "--label", "churn", "--unlabeled", str(files / "new.csv"), "--out",
                 str(tmp_path / "u"), *TINY]) == 2  # fmt: skip
    assert "put the unlabelled rows' files among the others" in capsys.readouterr().err


def test_the_estimators_fit_files_as_fit_on_the_same_rows(files, tmp_path):
    from dacl.tables.semisupervised import DACLClassifier

    table = pd.read_csv(files / "train.csv")
    table.to_parquet(tmp_path / "train.parquet", index=False, row_group_size=100)
    options = {"depth": 1, "width": 8, "projection_dim": 4, "epochs": 2, "batch_size": 64, "warmup_epochs": 0.0,
               "candidates": ("probe", "linear-raw"), "cv": 2, "random_state": 0}  # fmt: skip
    streamed = DACLClassifier(**options).fit_files([tmp_path / "train.parquet"], "churn")
    labelled = table["churn"].notna()
    assert streamed.n_labelled_ == int(labelled.sum()) and streamed.n_unlabelled_ == int((~labelled).sum())
    X = table.drop(columns="churn")
    assert streamed.predict(X).shape == (len(table),) and set(streamed.predict(X)) <= {0.0, 1.0}
    assert streamed.score(X[labelled], table["churn"][labelled]) > 0.6
    with pytest.raises(ValueError, match="not in"):
        DACLClassifier(**options).fit_files([tmp_path / "train.parquet"], "nothing")


def test_a_streamed_model_clips_later_rows_as_the_stream_clipped_its_training_rows(files, tmp_path):
    """The stream fits min-max scaling on a sample and clips beyond it; the model must see later rows (its
    own predict, and the saved folder's) the same way, not unclipped values its encoder never saw."""
    from dacl import load_predictor
    from dacl.tables.semisupervised import DACLClassifier

    table = pd.read_csv(files / "train.csv")
    table.to_parquet(tmp_path / "train.parquet", index=False, row_group_size=100)
    options = {"depth": 1, "width": 8, "projection_dim": 4, "epochs": 1, "batch_size": 64, "warmup_epochs": 0.0,
               "candidates": ("probe",), "cv": 2, "random_state": 0}  # fmt: skip
    model = DACLClassifier(**options).fit_files([tmp_path / "train.parquet"], "churn", sample_rows=50)
    assert model.dacl_.clip_
    X = table.drop(columns="churn")
    far = X.assign(size=X["size"] + 1000, count=X["count"] - 50)  # every row outside the sampled range
    raw = model._inputs(far).X
    assert (raw[:, 1] == 1.0).all() and (raw[:, 2] == 0.0).all()  # size above, count below: the bounds
    assert (raw == model._inputs(far.assign(size=far["size"] * 1e3)).X).all()  # beyond: the bound
    model.save(tmp_path / "model")
    loaded = load_predictor(tmp_path / "model")
    assert loaded.state["preprocessing"]["clip"] is True
    assert np.array_equal(loaded.preprocessing.transform(far), raw)
    assert np.allclose(loaded.transform(far), model.transform(far), atol=1e-6)
    in_memory = DACLClassifier(**options).fit(X, table["churn"].fillna(-1).astype(int))
    assert not in_memory.dacl_.clip_ and in_memory._inputs(far).X.max() > 1  # unchanged in memory


def test_fit_on_csv_files_counts_empty_text_labels_as_unlabelled_as_the_model_does(files, tmp_path, capsys):
    table = pd.read_csv(files / "train.csv")
    table["churn"] = table["churn"].map({1.0: "yes", 0.0: "no"})  # text labels, the rest empty cells
    (tmp_path / "parts").mkdir()
    for index, start in enumerate(range(0, len(table), 150)):
        table.iloc[start : start + 150].to_csv(tmp_path / "parts" / f"part-{index}.csv", index=False)
    model = tmp_path / "model"
    assert main(["fit", "--data", str(tmp_path / "parts"), "--label", "churn", "--out", str(model), *TINY]) == 0
    labelled = int(table["churn"].notna().sum())
    assert f"streamed: {labelled} labelled rows, {len(table) - labelled} unlabelled" in capsys.readouterr().out
    state = json.loads((model / "model.json").read_text())
    assert state["classes"] == ["no", "yes"] and state["rows"]["labelled"] == labelled


def test_ignored_columns_are_left_out_of_the_model_and_predict_still_takes_the_id(files, tmp_path, capsys):
    table = pd.read_csv(files / "train.csv")
    parts = parquet_parts(table, tmp_path / "parts")
    for data, name in ((files / "train.csv", "memory"), (parts, "streamed")):
        model = tmp_path / name
        fit = ["fit", "--data", str(data), "--label", "churn", "--out", str(model), "--ignore", "id", *TINY]
        assert main([*fit, "--threads", "1", "--time-limit", "60"]) == 0, capsys.readouterr().err
        state = json.loads((model / "model.json").read_text())
        assert state["columns"] == ["size", "count", "city"], name
        out = tmp_path / f"{name}.csv"
        assert main(["predict", "--model", str(model), "--data", str(files / "new.csv"), "--out", str(out),
                     "--id", "id"]) == 0  # fmt: skip
        assert pd.read_csv(out)["id"].tolist() == pd.read_csv(files / "new.csv")["id"].tolist()
    bad = ["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(tmp_path / "bad"), *TINY]
    assert main([*bad, "--ignore", "nope"]) == 2 and "'nope'" in capsys.readouterr().err
    assert main([*bad, "--ignore", "churn"]) == 2 and "cannot be ignored" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*bad, "--threads", "0"])
    with pytest.raises(SystemExit):
        main([*bad, "--time-limit", "-3"])


def test_outputs_are_checked_before_the_compute_and_two_fits_never_share_one_out(files, tmp_path, capsys):
    """Issue 36, class 7: a second fit into an --out another fit holds is refused at its start (the lock),
    --out a folder where predict writes a file, and --id naming a column the predictions write, both
    refused before the model is read."""
    import fcntl

    out = tmp_path / "model"
    out.mkdir()
    with open(out / ".dacl.lock", "a+") as held:  # another dacl fit writing there
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(out), *TINY]) == 2
        assert "being written by another dacl fit" in capsys.readouterr().err
    assert not (out / "model.json").exists()
    (out / ".dacl.lock").unlink()
    victim = tmp_path / "victim.txt"
    victim.write_text("kept")
    (out / ".dacl.lock").symlink_to(victim)  # issue 45, class 1: the lock never truncates what a link names
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(out), *TINY]) == 2
    assert "symbolic link" in capsys.readouterr().err and victim.read_text() == "kept"
    (out / ".dacl.lock").unlink()
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    weights = out / "encoder.safetensors"
    weights.write_bytes(b"damaged")  # were the model read, this would be the error
    predict = ["predict", "--model", str(out), "--data", str(files / "new.csv")]
    (tmp_path / "p.csv").mkdir()
    assert main([*predict, "--out", str(tmp_path / "p.csv")]) == 2
    assert "is a folder" in capsys.readouterr().err
    for taken in ("churn", "proba_1"):
        assert main([*predict, "--out", str(tmp_path / "q.csv"), "--id", taken]) == 2
        assert "also a column the predictions write" in capsys.readouterr().err


def test_an_output_file_is_written_once_by_one_command_at_a_time(files, tmp_path, capsys):
    """Issue 45, class 3: predict and export --out FILE hold a lock beside the file for the whole command (a
    second one is refused at its start), and without --overwrite never replace a file, even one that appears
    while they compute; the lock is gone afterwards."""
    import subprocess
    import sys

    model = tmp_path / "model"
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(model), *TINY]) == 0
    predict = ["predict", "--model", str(model), "--data", str(files / "new.csv"), "--out"]
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from dacl.files import hold\n"
                               "with hold(sys.argv[1], sys.argv[2]):\n print('held', flush=True); time.sleep(60)",
                               str(tmp_path), ".p.csv.lock"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"  # another dacl predict writing p.csv
        capsys.readouterr()
        assert main([*predict, str(tmp_path / "p.csv")]) == 2
        assert "being written by another dacl predict" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "p.csv").exists()
    assert main([*predict, str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").exists() and not (tmp_path / ".p.csv.lock").exists()
    from dacl.cli import common

    (tmp_path / "late.csv").write_text("theirs")  # appeared while a predict computed
    capsys.readouterr()
    with pytest.raises(ValueError, match="appeared while this command ran and was kept"):
        common.write_output(tmp_path / "late.csv", b"ours", overwrite=False)
    assert (tmp_path / "late.csv").read_text() == "theirs"
    pytest.importorskip("onnx")
    (tmp_path / "g.onnx").write_text("theirs")
    assert main(["export", "--model", str(model), "--out", str(tmp_path / "g.onnx")]) == 2
    assert "exists" in capsys.readouterr().err and (tmp_path / "g.onnx").read_text() == "theirs"


def test_repeated_column_names_no_feature_column_and_an_infinite_target_are_named(files, tmp_path, capsys):
    """Issue 36, class 8: pandas would rename a repeated CSV name 'size.1' silently; a file of the label
    alone; an infinite regression target: each one line naming the column."""
    fit = ["fit", "--label", "churn", "--out", str(tmp_path / "m"), *TINY]
    (tmp_path / "twice.csv").write_text("size,size,churn\n1,2,0\n3,4,1\n5,6,\n")
    assert main([*fit, "--data", str(tmp_path / "twice.csv")]) == 2
    assert "column name 'size' more than once (columns 0, 1" in capsys.readouterr().err
    pd.DataFrame({"a": [1.0, 2.0], "churn": [0, 1]}).to_parquet(tmp_path / "p.parquet")
    (tmp_path / "alone.csv").write_text("churn\n0\n1\n\n1\n")
    assert main([*fit, "--data", str(tmp_path / "alone.csv")]) == 2
    assert "no feature column besides the label 'churn'" in capsys.readouterr().err
    prices = pd.read_csv(files / "prices.csv")
    prices.loc[prices["price"].first_valid_index(), "price"] = np.inf
    prices.to_csv(tmp_path / "inf.csv", index=False)
    assert main(["fit", "--data", str(tmp_path / "inf.csv"), "--label", "price", "--out", str(tmp_path / "r"),
                 *TINY]) == 2  # fmt: skip
    assert "the label column 'price'" in capsys.readouterr().err


def test_a_dataframe_with_a_repeated_column_name_is_refused():
    from dacl import DACL

    frame = pd.DataFrame(np.ones((10, 3)), columns=["a", "b", "a"])
    with pytest.raises(ValueError, match="column name 'a' more than once"):
        DACL(epochs=1).fit(frame)


def test_only_an_empty_cell_marks_an_unlabelled_row_in_memory_and_streamed_alike(tmp_path):
    """Issue 36, class 4: NA, null and None written in a label column are classes; an empty cell (or NaN
    among numbers) is no label; the in-memory and the streamed readers give the same classes and counts."""
    from dacl.tables.files import read_table
    from dacl.tables.stream import TableStream

    rng = np.random.default_rng(0)
    n = 120
    labels = rng.choice(["cat", "NA", "null", "None", ""], n).tolist()
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    lines = ["a,b,kind"] + [f"{a},{b},{k}" for a, b, k in zip(frame["a"], frame["b"], labels)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    _, y = read_table(tmp_path / "t.csv", "kind")
    in_memory = pd.Series([v for v in y if v is not None]).value_counts().sort_index()
    expected = pd.Series([k for k in labels if k]).value_counts().sort_index()
    assert in_memory.to_dict() == expected.to_dict() and "NA" in in_memory and "None" in in_memory
    stream = TableStream([tmp_path / "t.csv"], 32, label="kind")
    _, streamed = stream.labelled_rows("kind")
    assert streamed.value_counts().sort_index().to_dict() == expected.to_dict()
    (tmp_path / "n.csv").write_text("a,kind\n1,0\n2,1\n3,\n4,nan\n5,1\n6,2\n")
    _, numbers = read_table(tmp_path / "n.csv", "kind")
    _, streamed = TableStream([tmp_path / "n.csv"], 2, label="kind").labelled_rows("kind")
    assert np.isnan(numbers).sum() == 2 and streamed.tolist() == [0, 1, 1, 2]


def test_minus_one_in_a_file_is_a_class_and_dacl_fit_says_so(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80), "kind": rng.choice(["x", "y", "-1"], 80)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.warns(UserWarning, match="holds -1 on .* row.*pass --unlabeled-value -1"):
        assert main(["fit", "--data", str(tmp_path / "t.csv"), "--label", "kind", "--out", str(tmp_path / "m"),
                     *TINY]) == 0  # fmt: skip



def test_compare_reads_minus_one_as_fit_does_and_its_counts_match_its_results(tmp_path, capsys):
    """Issue 45, class 6: -1 in a file is a class for dacl compare too (said as dacl fit says it); the rows it
    prints as left out, tested and drawn from are those of its results."""
    import json

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "kind": rng.choice(["x", "y", "-1"], 120)})
    frame.loc[:9, "kind"] = None  # 10 rows without a label
    frame.to_csv(tmp_path / "t.csv", index=False)
    args = ["compare", "--data", str(tmp_path / "t.csv"), "--label", "kind", "--fractions", "1", "--budget", "smoke",
            "--out", str(tmp_path / "study"), "--quiet"]  # fmt: skip
    with pytest.warns(UserWarning, match="holds -1 on .* row.*drop those rows"):
        assert main(args) == 0
    said = capsys.readouterr().out
    assert "10 rows of" in said and "of its 110 labelled rows, 22 are the test rows" in said
    assert "drawn from the other 88" in said
    rows = json.loads((tmp_path / "study" / "results.json").read_text())["rows"]
    assert {r["labelled"] for r in rows} == {88}, rows[:2]


def test_compare_reuses_stored_cells_only_for_the_same_data(files, tmp_path, capsys):
    """Issue 36, class 5: the study's cells and encoder are keyed on a digest of the file's data, not on its
    name: the same file again reuses them all, another file of the same name computes its own."""
    out = tmp_path / "study"
    args = ["compare", "--label", "churn", "--fractions", "1", "--budget", "smoke", "--out", str(out), "--quiet"]
    first = tmp_path / "a" / "train.csv"
    first.parent.mkdir()
    first.write_bytes((files / "labelled.csv").read_bytes())
    assert main([*args, "--data", str(first)]) == 0
    cells = set((out / "runs").iterdir())
    assert main([*args, "--data", str(first)]) == 0 and set((out / "runs").iterdir()) == cells  # reused
    other = tmp_path / "b" / "train.csv"  # the same name, other rows
    other.parent.mkdir()
    frame = pd.read_csv(first)
    frame.assign(size=frame["size"] * 2).to_csv(other, index=False)
    assert main([*args, "--data", str(other)]) == 0
    assert len(set((out / "runs").iterdir())) == 2 * len(cells) and len(list((out / "encoders").iterdir())) == 2
    capsys.readouterr()


def test_compare_on_a_mostly_unlabelled_file_refuses_and_advises_only_on_enough_test_rows(files, tmp_path, capsys):
    """Issue 36, class 9: most rows without a label: refused with what to do instead; a test split too
    small to separate the models: no advice, said with its size."""
    args = ["compare", "--label", "churn", "--fractions", "1", "--budget", "smoke", "--quiet"]
    assert main([*args, "--data", str(files / "train.csv"), "--out", str(tmp_path / "s")]) == 2
    assert "rows without a label" in capsys.readouterr().err and not (tmp_path / "s" / "runs").exists()
    small = tmp_path / "small.csv"
    pd.read_csv(files / "labelled.csv").head(200).to_csv(small, index=False)
    assert main([*args, "--data", str(small), "--out", str(tmp_path / "t")]) == 0
    assert "no advice: the test split has 40 rows" in capsys.readouterr().out.strip().splitlines()[-1]


def test_flag_errors_name_the_flag_and_its_range_and_classes_print_as_written(files, tmp_path, capsys):
    """Issue 36, class 8: "argument --alpha: expected a number in [0.5, 1]" (was scikit-learn's "The 'alpha'
    parameter of DACLClassifier ...", after reading the data); a class printed as 'cat', not np.str_('cat')."""
    fit = ["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(tmp_path / "m")]
    for flag, said in (("--alpha=2", "argument --alpha: expected a number in [0.5, 1]"),
                       ("--width=0", "argument --width: expected a whole number >= 1"),
                       ("--cv=1", "argument --cv: expected a whole number >= 2"),
                       ("--fine-tune-lrs=-1", "argument --fine-tune-lrs: expected comma-separated numbers > 0")):
        with pytest.raises(SystemExit):
            main([*fit, flag])
        assert said in capsys.readouterr().err
    (tmp_path / "one.csv").write_text("a,kind\n1,cat\n2,cat\n3,\n4,\n")
    assert main(["fit", "--data", str(tmp_path / "one.csv"), "--label", "kind", "--out", str(tmp_path / "o"),
                 *TINY]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "only 1 class ('cat')" in err and "np.str_" not in err


def test_dacl_fit_prints_a_clean_leaderboard_that_says_which_candidates_used_the_unlabelled_rows(files, tmp_path,
                                                                                                 capsys):  # fmt: skip
    model = tmp_path / "model"
    flags = [*TINY[:-2], "probe,linear-raw,spread,spread-raw", "--quiet"]
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(model), *flags]) == 0
    out = capsys.readouterr().out
    board = out[out.index("#  candidate") : out.index("chosen:")]
    lines = [line for line in board.splitlines() if line.strip()]
    assert "held-out accuracy %" in lines[0] and "unlabelled rows" in lines[0]
    assert "NaN" not in board and "False" not in board and "True" not in board
    rows = [line for line in lines[1:] if line.split()[0].isdigit()]
    names = {line.split()[1].rstrip("†") for line in rows}
    assert names == {"probe", "linear-raw", "spread", "spread-raw", "ensemble"}
    for line in rows:
        uses = any(word.rstrip("†") in ("spread", "spread-raw") for word in line.split()[1:5])
        assert (" yes" in line) == uses, line
    assert sum("chosen" in line for line in lines[1:]) == 1
    scores = [float(line.split(" ± ")[0].split()[-1]) for line in rows]
    assert scores == sorted(scores, reverse=True)  # best first
    assert [int(line.split()[0]) for line in rows] == list(range(1, len(rows) + 1))
    text = (model / "model.md").read_text()
    assert "| # | candidate | setting | held-out accuracy % |" in text and "nan" not in text.lower()


def test_a_stream_gives_a_sample_of_its_unlabelled_rows_spread_over_its_files(files, tmp_path):
    from dacl.tables.semisupervised import DACLClassifier
    from dacl.tables.stream import TableStream

    table = pd.read_csv(files / "train.csv")
    parts = parquet_parts(table, tmp_path / "parts", rows=50)
    stream = TableStream(parts, 64, label="churn")
    unlabelled = table[table["churn"].isna()]
    sample = stream.unlabelled_sample("churn", 60, seed=0)
    assert len(sample) == 60 and list(sample.columns) == list(stream.columns)
    assert set(sample["id"]) <= set(unlabelled["id"])  # no labelled row
    assert sample["id"].nunique() == 60 and sample["id"].max() > 1250  # from the later files too
    assert stream.unlabelled_sample("churn", 10_000, seed=0)["id"].tolist() == unlabelled["id"].tolist()
    model = DACLClassifier(depth=1, width=8, projection_dim=4, epochs=2, batch_size=64, warmup_epochs=0.0,
                           candidates=("probe", "spread"), cv=2, random_state=0).fit_files(parts, "churn")  # fmt: skip
    assert "spread" in set(model.selection_["candidate"])


def test_stopping_ctrl_c_a_too_short_time_limit_and_kill_9_each_leave_a_clean_state(files, tmp_path, capsys):
    """Issue 45, class 7: Ctrl-C during dacl fit: one line, then the process ends by SIGINT (status 130 in a
    shell, and a shell loop around it stops), no model folder; a --time-limit too short for any candidate:
    one line naming the limit given; a kill -9 of dacl fit: the next fit into the same --out is not refused
    (the lock is the operating system's, released with the process)."""
    import os
    import shlex
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "model"
    long = ["--depth", "4", "--width", "256", "--epochs", "200", "--batch-size", "32", "--threads", "1", "--quiet"]
    command = [sys.executable, "-m", "dacl", "fit", "--data", str(files / "train.csv"), "--label", "churn", "--out",
               str(out), *long]  # fmt: skip
    # Ctrl-C in a shell loop reaches the loop and dacl fit (one process group): dacl prints its one line and
    # ends by SIGINT, so the loop stops too (a child that exits 130 instead lets bash run the next round)
    loop = f"for round in 1 2; do {shlex.join(command)}; echo finished-$round; done"
    shell = subprocess.Popen(["bash", "-c", loop], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # fmt: skip
    assert shell.stdout.readline().startswith("dacl fit:")  # it has started: the lock is held
    time.sleep(1)  # pretraining
    os.killpg(shell.pid, signal.SIGINT)
    said, err = shell.communicate(timeout=60)
    assert shell.returncode == -signal.SIGINT and "finished" not in said, (said, err)
    assert err.strip().splitlines()[-1].startswith("dacl fit: interrupted; nothing was half-written"), err
    assert "Traceback" not in err and not (out / "model.json").exists()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().startswith("dacl fit:")
    time.sleep(1)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL and not (out / "model.json").exists()
    capsys.readouterr()
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(out), *TINY,
                 "--time-limit", "0.05"]) == 2  # fmt: skip
    said = capsys.readouterr().err
    assert "time_limit=0.05 s is too short for any candidate" in said and "--time-limit" in said, said
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(out), *TINY]) == 0


def test_huge_cells_are_cut_in_messages_and_an_unwritable_folder_is_one_line(files, tmp_path, capsys):
    """Issue 45, class 9: whatever raised it, the CLI prints an error as one line with each word cut to 120
    characters (saying how long it was) and the whole to 2,000; an --out that cannot be written is one line."""
    huge = "x" * 1_000_000
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "price": ["1.5", huge, "2.5", None]})
    frame.to_csv(tmp_path / "huge.csv", index=False)
    assert main(["fit", "--data", str(tmp_path / "huge.csv"), "--label", "price", "--task", "regression", "--out",
                 str(tmp_path / "m"), *TINY]) == 2  # fmt: skip
    said = capsys.readouterr().err
    assert len(said) < 1000 and "characters]" in said and "needs numbers" in said, said[:300]
    assert said.strip().count("\n") == 0
    from dacl.cli import readable

    listed = readable("the file lacks " + ", ".join(f"column_{i}" for i in range(3000)))
    assert len(listed) <= 2000 and listed.endswith("characters in all]")
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--out", "/proc/dacl-no/m", *TINY]) == 2
    said = capsys.readouterr().err
    assert said.startswith("dacl fit: error: cannot write to /proc/dacl-no/m") and said.strip().count("\n") == 0
