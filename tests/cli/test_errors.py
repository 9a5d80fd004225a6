"""A user's mistake through the CLI: one line on stderr saying what is wrong, exit status 2, no
traceback; --debug shows the traceback. (The bad inputs of issue 13's table, one by one.)"""

import json

import numpy as np
import pytest

from dacl.cli import main

TINY = ["--depth", "2", "--width", "16", "--head-depth", "2", "--projection-dim", "8", "--epochs", "1",
        "--batch-size", "64", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    assert main(["pretrain", "--data", "digits", "--method", "dacl", "--out", str(folder), *TINY]) == 0
    return folder


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "six.csv"
    rows = ["a,b,c,d,e,label"] + [",".join(f"{v:.3f}" for v in rng.random(5)) + f",{i % 2}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    return path


def one_line_error(capsys, *expected):
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for text in expected:
        assert text in err, err
    return err


def test_a_checkpoint_whose_settings_do_not_fit_its_weights(trained, tmp_path, capsys):
    edited = tmp_path / "edited"
    edited.mkdir()
    data = (trained / "checkpoint.safetensors").read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + size].decode().replace('\\"width\\": 16', '\\"width\\": 32')
    assert '\\"width\\": 32' in header
    padded = header.encode().ljust(size)  # the same length: only the stored settings differ
    (edited / "checkpoint.safetensors").write_bytes(data[:8] + padded + data[8 + size :])
    assert main(["evaluate", "--checkpoint", str(edited)]) == 2
    one_line_error(capsys, "do not fit this model")


def test_resuming_with_another_width_names_the_setting(trained, capsys):
    args = ["pretrain", "--data", "digits", "--method", "dacl", "--out", str(trained), "--resume", *TINY]
    assert main([*args, "--width", "32"]) == 2
    one_line_error(capsys, "other settings (width)")


def test_evaluate_on_data_with_other_columns(trained, table, capsys):
    assert main(["evaluate", "--checkpoint", str(trained), "--data", str(table), "--label", "label"]) == 2
    one_line_error(capsys, "takes 64 features", "gives 5")


def test_a_checkpoint_cut_to_half_its_size(trained, tmp_path, capsys):
    cut = tmp_path / "cut"
    cut.mkdir()
    data = (trained / "checkpoint.safetensors").read_bytes()
    (cut / "checkpoint.safetensors").write_bytes(data[: len(data) // 2])
    assert main(["evaluate", "--checkpoint", str(cut)]) == 2
    one_line_error(capsys, "damaged")
    assert main(["pretrain", "--data", "digits", "--method", "dacl", "--out", str(cut), "--resume", *TINY]) == 2
    one_line_error(capsys, "damaged")


def test_a_label_column_out_of_range(table, tmp_path, capsys):
    assert main(["pretrain", "--data", str(table), "--label", "99", "--out", str(tmp_path / "o"), *TINY]) == 2
    one_line_error(capsys, "label column 99 is out of range", "6 columns")


def test_a_config_with_a_list_where_a_number_belongs(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("data: digits\nalpha: [0.5, 0.9]\n")
    assert main(["pretrain", "--config", str(config), "--out", str(tmp_path / "o"), *TINY]) == 2
    one_line_error(capsys, "c.yaml: alpha: expected a number in [0.5, 1], got '0.5,0.9'")


def test_a_missing_config_file_and_debug(tmp_path, capsys):
    assert main(["pretrain", "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "does not exist")
    with pytest.raises(ValueError, match="does not exist"):
        main(["pretrain", "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path), "--debug"])


def test_a_test_size_outside_0_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["pretrain", "--data", "digits", "--test-size", "2.5", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "expected a share in (0, 1)" in capsys.readouterr().err


def test_zero_epochs_says_no_training(tmp_path, capsys):
    args = ["pretrain", "--data", "digits", "--out", str(tmp_path), *TINY[:-3], "--epochs", "0", "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "no training" in out and "nan" not in out
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epoch"] == 0


def test_another_runs_checkpoint_or_results_are_not_replaced_unasked(trained, tmp_path, capsys):
    args = ["pretrain", "--data", "digits", "--method", "dacl", "--out", str(trained), *TINY]
    before = (trained / "checkpoint.safetensors").read_bytes()
    assert main(args) == 2
    one_line_error(capsys, "holds the checkpoint of a run", "--resume", "--overwrite")
    assert (trained / "checkpoint.safetensors").read_bytes() == before
    out = tmp_path / "cmp"
    compare = ["compare", "--data", "digits", "--methods", "raw", "--out", str(out), *TINY]
    assert main(compare) == 0 and main(compare) == 2
    one_line_error(capsys, "already holds results.json", "--overwrite")
    assert main([*compare, "--overwrite"]) == 0
    capsys.readouterr()
    evaluate = ["evaluate", "--checkpoint", str(trained), "--out", str(out)]
    assert main(evaluate) == 2
    one_line_error(capsys, "already holds results.json")


def test_an_out_that_is_a_file_or_cannot_be_written_stops_before_any_compute(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args in (["pretrain", "--data", "digits", "--out", str(blocker)],
                 ["compare", "--data", "digits", "--out", str(blocker)],
                 ["bench", "--out", str(blocker)], ["demo", "--out", str(blocker)],
                 ["reproduce", "labels", "--datasets", "digits", "--out", str(blocker)]):  # fmt: skip
        assert main([*args, "--quiet"]) == 2, args
        one_line_error(capsys, "is a file")


def test_streaming_options_on_data_read_into_memory_are_refused(tmp_path, capsys):
    for flag in (["--buffer-rows", "1000"], ["--steps-per-epoch", "3"]):
        assert main(["pretrain", "--data", "digits", "--out", str(tmp_path / "o"), *flag, *TINY]) == 2
        one_line_error(capsys, "apply to streamed files only")


def test_the_run_says_how_it_was_placed(tmp_path, capsys):
    out = tmp_path / "placed"
    assert main(["pretrain", "--data", "digits", "--method", "dacl", "--out", str(out), *TINY]) == 0
    assert "(1 process, cpu, " in capsys.readouterr().out
    resolved = json.loads((out / "checkpoint.json").read_text())["resolved"]
    assert (resolved["processes"], resolved["device"]) == (1, "cpu")
    assert resolved["precision"] in ("float32", "bfloat16")


def test_data_errors_name_the_file_and_the_column(tmp_path, capsys):
    rows = "\n".join(f"{i},{i % 3},{i % 2}" for i in range(20))
    (tmp_path / "nan.csv").write_text("a,b,y\n" + rows + "\n5,5,\n")
    (tmp_path / "inf.csv").write_text("a,b,y\n" + rows + "\n5,inf,1\n")
    (tmp_path / "fake.parquet").write_text("not parquet")
    out = str(tmp_path / "o")
    assert main(["compare", "--data", str(tmp_path / "nan.csv"), "--label", "y", "--methods", "raw", "--out", out]) == 2
    one_line_error(capsys, "nan.csv has 1 row(s) with no value in the label column 'y'")  # was: Input y contains NaN
    assert main(["compare", "--data", str(tmp_path / "inf.csv"), "--label", "y", "--methods", "raw", "--out", out]) == 2
    one_line_error(capsys, "inf.csv", "infinite values in column(s) 'b'")  # was: Input X contains infinity
    assert main(["pretrain", "--data", str(tmp_path / "fake.parquet"), "--stream", "--out", out, "--quiet"]) == 2
    one_line_error(capsys, "cannot read", "fake.parquet as Parquet")  # was: pyarrow's message without the file
