"""Issue 46: pretrain once, fit many times, on many machines: dacl pretrain on the table dacl fit takes (no
labels, or some), dacl fit --encoder on its run (one process or two), torchrun dacl fit (two processes, and
two launchers as two machines), and the encoder cache through the command line."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dacl import DACL, DACLClassifier, load_predictor
from dacl.cli import main

SMALL = ["--depth", "1", "--width", "16", "--projection-dim", "8", "--epochs", "3", "--batch-size", "64",
         "--warmup-epochs", "0"]  # fmt: skip
CHOICE = ["--cv", "2", "--candidates", "probe,knn,linear-raw", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reuse")
    rng = np.random.default_rng(0)
    n = 400
    table = pd.DataFrame({"size": rng.normal(size=n), "count": rng.integers(0, 7, n),
                          "city": rng.choice(["paris", "lyon", "nice"], n)})  # fmt: skip
    label = np.where(table["size"] + (table["city"] == "nice") > 0.3, "yes", "no").astype(object)
    label[rng.random(n) > 0.4] = None
    table.assign(churn=label).to_csv(folder / "train.csv", index=False)
    table.to_csv(folder / "unlabelled.csv", index=False)
    table.drop(columns="count").assign(churn=label).to_csv(folder / "fewer.csv", index=False)
    return folder


def test_pretrain_takes_a_partly_labelled_table_and_fit_encoder_predicts_on_it(files, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["pretrain", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(run), *SMALL,
                 "--quiet"]) == 0  # fmt: skip
    said = capsys.readouterr().out
    assert "every row: 400" in said and "on the 1" in said and "labelled rows: a linear model's" in said, said
    assert main(["pretrain", "--data", str(files / "unlabelled.csv"), "--out", str(tmp_path / "bare"), *SMALL,
                 "--quiet"]) == 0  # fmt: skip
    assert "no label column" in capsys.readouterr().out
    model = tmp_path / "model"
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--encoder", str(run), "--out",
                 str(model), *CHOICE]) == 0  # fmt: skip
    record = json.loads((model / "model.json").read_text())
    assert record["encoder_from"]["encoder"] == str(run) and record["pretraining"]["width"] == 16
    predictor = load_predictor(model)  # the folder holds the encoder: the run may go
    for name in os.listdir(run):
        os.remove(run / name)
    frame = pd.read_csv(files / "train.csv")
    assert set(predictor.predict(frame)) <= {"yes", "no"}
    assert main(["predict", "--model", str(model), "--data", str(files / "train.csv"), "--out",
                 str(tmp_path / "p.csv")]) == 0  # fmt: skip


def test_an_encoder_of_other_columns_or_other_options_is_refused(files, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["pretrain", "--data", str(files / "train.csv"), "--label", "churn", "--out", str(run), *SMALL,
                 "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    args = ["fit", "--label", "churn", "--encoder", str(run), "--out", str(tmp_path / "m"), *CHOICE]
    assert main([*args, "--data", str(files / "fewer.csv")]) == 2
    said = capsys.readouterr().err
    assert "lacks 'count'" in said and "pretrained on 3 columns" in said, said
    assert main([*args, "--data", str(files / "train.csv"), "--width", "32"]) == 2
    assert "width=32 (the encoder's: 16)" in capsys.readouterr().err
    assert main([*args, "--data", str(files / "train.csv"), "--encoder", str(tmp_path)]) == 2
    assert "checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "m" / "model.json").exists()


def test_a_fitted_dacl_as_encoder_gives_its_features_and_refuses_other_columns(files):
    frame = pd.read_csv(files / "train.csv")
    X, y = frame.drop(columns="churn"), frame["churn"]
    pretrained = DACL(depth=1, width=16, projection_dim=8, epochs=3, batch_size=64, warmup_epochs=0.0,
                      random_state=0).fit(X)  # fmt: skip
    model = DACLClassifier(encoder=pretrained, candidates=("probe", "knn"), cv=2, random_state=0,
                           precision="float32").fit(X, y)  # fmt: skip (a runtime option: not the encoder's)
    assert np.array_equal(model.transform(X), pretrained.transform(X))
    assert model.encoder_from_["columns"] == 3
    with pytest.raises(ValueError, match="has 'extra' that the encoder was not pretrained on"):
        DACLClassifier(encoder=pretrained, candidates=("probe",), cv=2).fit(X.assign(extra=1.0), y)
    with pytest.raises(ValueError, match="depth=2 .the encoder's: 1."):
        DACLClassifier(encoder=pretrained, depth=2, candidates=("probe",), cv=2).fit(X, y)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str, nodes: str = "", timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


def test_torchrun_fit_writes_one_model_folder_and_fit_encoder_takes_a_two_process_pretraining(files, tmp_path):
    model = tmp_path / "model"
    fit = ["-m", "dacl", "fit", "--data", str(files / "train.csv"), "--label", "churn", "--threads", "1", *SMALL,
           *CHOICE]  # fmt: skip
    done = _torchrun("--nproc-per-node", "2", "--master-port", str(_free_port()), *fit, "--out", str(model))
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in model.iterdir() if not p.name.startswith(".")) == \
        ["encoder.safetensors", "members.safetensors", "model.json", "model.md", "selection.png"]  # fmt: skip
    assert done.stdout.count("chosen:") == 1  # rank 0 alone chose and wrote
    assert main(["predict", "--model", str(model), "--data", str(files / "train.csv"), "--out",
                 str(tmp_path / "p.csv")]) == 0  # fmt: skip
    run = tmp_path / "run"
    done = _torchrun("--nproc-per-node", "2", "--master-port", str(_free_port()), "-m", "dacl", "pretrain", "--data",
                     str(files / "train.csv"), "--label", "churn", "--out", str(run), "--threads", "1", *SMALL,
                     "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert main(["fit", "--data", str(files / "train.csv"), "--label", "churn", "--encoder", str(run), "--out",
                 str(tmp_path / "on-run"), *CHOICE]) == 0  # fmt: skip
    assert load_predictor(tmp_path / "on-run").state["encoder_from"]["encoder"] == str(run)
    refused = _torchrun("--nproc-per-node", "2", "--master-port", str(_free_port()), *fit, "--out",
                        str(tmp_path / "limited"), "--time-limit", "30")  # fmt: skip
    assert refused.returncode != 0 and "--time-limit fits one process's run" in refused.stderr


def test_two_launchers_as_two_machines_fit_one_model(files, tmp_path):
    """--nnodes 2 with a rendezvous on localhost: the second launcher plays a second machine."""
    model = tmp_path / "model"
    endpoint = f"127.0.0.1:{_free_port()}"
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
               "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "dacl-test", "-m", "dacl", "fit",
               "--data", str(files / "train.csv"), "--label", "churn", "--threads", "1", "--out", str(model), *SMALL,
               *CHOICE]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launchers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(2)]  # fmt: skip
    outputs = [launcher.communicate(timeout=240) for launcher in launchers]
    assert [launcher.returncode for launcher in launchers] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sum(out.count("chosen:") for out, _ in outputs) == 1
    assert load_predictor(model).predict(pd.read_csv(files / "train.csv")).shape == (400,)


def test_the_cache_flags(files, tmp_path, capsys):
    cache = tmp_path / "cache"
    args = ["fit", "--data", str(files / "train.csv"), "--label", "churn", *SMALL, *CHOICE]
    assert main([*args, "--out", str(tmp_path / "a"), "--cache", str(cache)]) == 0
    assert len(list(cache.iterdir())) == 1
    assert main([*args, "--out", str(tmp_path / "b"), "--cache", str(cache), "--cv", "3"]) == 0
    assert len(list(cache.iterdir())) == 1  # taken, not written again
    first = load_predictor(tmp_path / "a").encoder.state_dict()
    second = load_predictor(tmp_path / "b").encoder.state_dict()
    assert all(np.array_equal(first[name].numpy(), second[name].numpy()) for name in first)
    assert main([*args, "--out", str(tmp_path / "c"), "--cache", str(cache), "--no-cache"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "c"), "--no-cache", "--seed", "3"]) == 0
    assert len(list(cache.iterdir())) == 1
