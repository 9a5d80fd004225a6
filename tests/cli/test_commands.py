import json

import pytest

from dacl.cli import main

TINY = [
    "--depth",
    "2",
    "--width",
    "16",
    "--head-depth",
    "2",
    "--projection-dim",
    "8",
    "--epochs",
    "2",
    "--batch-size",
    "64",
    "--quiet",
]


def test_demo_end_to_end_on_a_tiny_budget(tmp_path, capsys, monkeypatch):
    from dacl.studies import label_study

    few = label_study.few_labels_demo  # its part of the demo on fewer candidates (tests/studies runs it whole)
    monkeypatch.setattr(label_study, "few_labels_demo", lambda **kw: few(candidates=("probe", "linear-raw"), **kw))
    assert main(["demo", "--out", str(tmp_path), "--epochs", "1", "--quiet"]) == 0
    assert "DACLClassifier (chose" in (tmp_path / "few-labels.md").read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    methods = [row["method"] for row in results["rows"]]
    assert methods == ["none", "gaussian", "dacl", "dacl+", "supervised", "raw"]
    for row in results["rows"]:
        assert row["dataset"] == "digits"
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["knn_accuracy"] <= 1 and row["seconds"] >= 0
    assert (tmp_path / "results.png").stat().st_size > 10_000
    assert "| dacl+ | digits |" in (tmp_path / "results.md").read_text()
    assert "| raw | digits |" in capsys.readouterr().out


def test_pretrain_resume_and_evaluate_from_a_yaml_config(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(
        "data: digits\nmethod: dacl\nalpha: 0.7\ndepth: 2\nwidth: 16\nhead-depth: 2\n"
        "projection_dim: 8\nepochs: 2\nbatch_size: 64\n"
    )
    out = tmp_path / "ckpt"
    assert main(["pretrain", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    state = json.loads((out / "checkpoint.json").read_text())
    assert state["config"]["alpha"] == 0.7 and state["epoch"] == 2 and state["metadata"]["data"]["data"] == "digits"
    # the command line wins over the file; resuming a finished run changes nothing
    assert main(["pretrain", "--config", str(config), "--out", str(out), "--resume", "--quiet"]) == 0
    other = tmp_path / "other"
    assert main(["pretrain", "--config", str(config), "--alpha", "0.8", "--out", str(other), "--quiet"]) == 0
    assert json.loads((other / "checkpoint.json").read_text())["config"]["alpha"] == 0.8
    assert main(["evaluate", "--checkpoint", str(out), "--out", str(tmp_path / "eval")]) == 0
    row = json.loads((tmp_path / "eval" / "results.json").read_text())["rows"][0]
    assert row["method"] == "dacl" and row["dataset"] == "digits" and 0 < row["accuracy"] <= 1


def test_compare_on_a_csv_from_a_toml_config(tmp_path):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.to_csv(tmp_path / "iris.csv", index=False)
    config = tmp_path / "cmp.toml"
    config.write_text(f'data = "{tmp_path / "iris.csv"}"\nlabel = "target"\nmethods = ["dacl", "raw"]\n')
    assert main(["compare", "--config", str(config), "--out", str(tmp_path / "out"), *TINY]) == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["dacl", "raw"] and rows[0]["dataset"] == "iris"


def test_errors_are_reported_clearly(tmp_path, capsys):
    assert main(["compare", "--data", "no-such-set", "--out", str(tmp_path), *TINY]) == 2
    assert "unknown dataset 'no-such-set'" in capsys.readouterr().err
    assert main(["compare", "--data", "digits", "--methods", "dacl,simclr", "--out", str(tmp_path), *TINY]) == 2
    assert "unknown method(s) simclr" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochz: 3\n")
    with pytest.raises(SystemExit):
        main(["pretrain", "--config", str(bad), "--data", "digits", "--out", str(tmp_path)])
    assert "unknown option(s)" in capsys.readouterr().err


def test_config_file_sections_are_the_option_groups(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('data = "digits"\n[method]\nmethod = "dacl"\nalpha = 0.6\n[model]\ndepth = 2\nwidth = 16\n'
                      'head-depth = 2\nprojection_dim = 8\n[optimisation]\nepochs = 1\nbatch_size = 64\n')  # fmt: skip
    out = tmp_path / "ckpt"
    assert main(["pretrain", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    saved = json.loads((out / "checkpoint.json").read_text())["config"]
    assert (saved["method"], saved["alpha"], saved["depth"], saved["epochs"]) == ("dacl", 0.6, 2, 1)


def test_config_files_are_read_without_tomllib_as_on_python_3_10(tmp_path):
    """Python 3.10 has no ``tomllib``: the CLI reads TOML with ``tomli`` there (a dependency on 3.10)."""
    import subprocess
    import sys

    config = tmp_path / "run.toml"
    config.write_text('data = "digits"\n[model]\ndepth = 2\n')
    code = ("import sys; sys.modules['tomllib'] = None\n"  # makes `import tomllib` fail, as on 3.10
            "from dacl.cli import load_config_file\n"
            f"print(load_config_file({str(config)!r}))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "{'data': 'digits', 'depth': 2}"
    bad = tmp_path / "bad.toml"
    bad.write_text("depth = = 2\n")
    code = code.replace(repr(str(config)), repr(str(bad)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "ValueError: config file" in done.stderr and "cannot be parsed as TOML" in done.stderr


def test_help_lists_every_option_with_its_choices_or_range(capsys):
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for expected in (
        "--method",
        "choices: dacl, dacl-geometric",
        "--alpha",
        "range [0.5, 1]",
        "--optimizer",
        "choices: lars, adamw, adam",
        "--rho",
        "range [0, 0.5]",
        "model options",
        "runtime options",
    ):
        assert expected in text, expected
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = capsys.readouterr().out
    assert "--methods" in text and "--method " not in text  # compare takes --methods only


def test_reproduce_reads_a_config_file(tmp_path):
    config = tmp_path / "t1.yaml"
    config.write_text("dataset: digits\nbudget: smoke\nmethods: [none, raw]\nquiet: true\n")
    assert main(["reproduce", "table1", "--config", str(config), "--out", str(tmp_path / "t1")]) == 0
    rows = json.loads((tmp_path / "t1" / "results.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["none", "raw"]
    with pytest.raises(SystemExit):
        main(["reproduce", "table1", "--budget", "smoke"])  # --dataset and --out are still required
