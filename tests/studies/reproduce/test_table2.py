"""The Table 2 reproduction on a toy image set: splits never touch the test images, runs are stored and
reused, the table holds the paper's column and its claims; the CLI's pretrain and evaluate on images."""

import json

import pytest
import torch

import dacl.studies.reproduce.table2 as table2
from dacl.cli import main
from dacl.images import sets as image_sets
from dacl.images.sets import ImageDataset


@pytest.fixture
def toy(monkeypatch):
    """448 training images of two classes; the 64 test images are all 255 (training images lie below 200)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(448) % 2
    train = torch.randint(0, 100, (448, 3, 12, 12), generator=g, dtype=torch.uint8) + (labels * 99).view(-1, 1, 1, 1)
    test = torch.full((64, 3, 12, 12), 255, dtype=torch.uint8)

    def load(data_dir=None, cache_dir=None):
        return ImageDataset("toy", train.to(torch.uint8), labels, test, torch.arange(64) % 2, ["a", "b"])

    monkeypatch.setitem(image_sets.IMAGE_DATASETS, "toy", load)
    return train


def test_splits_are_stratified_disjoint_and_keep_the_test_images_out(toy):
    data = image_sets.load_image_dataset("toy")
    splits = table2._splits(data, table2.IMAGE_BUDGETS["smoke"])
    train, validation, test = splits["train"][0], splits["validation"][0], splits["test"][0]
    assert len(train) == 256 and len(validation) == 128
    assert int(train.max()) < 255 and int(validation.max()) < 255 and int(test.min()) == 255
    rows = {tuple(x.flatten()[:16].tolist()) for x in train} & {tuple(x.flatten()[:16].tolist()) for x in validation}
    assert not rows  # no image in both
    assert splits["train"][1].mean() == pytest.approx(0.5, abs=0.05)


def test_smoke_reproduction_stores_runs_and_checks_the_claims(toy, tmp_path):
    results = table2.reproduce_table2("toy", "smoke", tmp_path, methods=("none", "dacl", "simclr", "simclr+dacl"),
                                      log=lambda *_: None)  # fmt: skip
    rows = {r["method"]: r for r in results["rows"]}
    assert set(rows) == {"none", "dacl", "simclr", "simclr+dacl"}
    assert "probe_augmented" in rows["simclr"] and "probe_augmented" not in rows["dacl"]
    assert len(rows["dacl"]["knn_validation_curve"]) == 2 and rows["none"]["knn_validation_curve"][0][0] == 0
    assert all(0 <= r["probe"] <= 1 and 0 <= r["knn_test"] <= 1 for r in rows.values())
    text = (tmp_path / "table2.md").read_text()
    assert "| SimCLR+DACL |" in text and "| SimCLR+DACL > SimCLR |" in text and (tmp_path / "table2.png").is_file()
    assert json.loads((tmp_path / "results.json").read_text())["images"] == {"train": 256, "validation": 128,
                                                                           "test": 64}  # fmt: skip
    stored = sorted(p.name for p in (tmp_path / "runs").glob("*.json"))
    again = table2.reproduce_table2("toy", "smoke", tmp_path, methods=("none", "dacl", "simclr", "simclr+dacl"),
                                    log=lambda *_: None)  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "runs").glob("*.json")) == stored
    assert [r["probe"] for r in again["rows"]] == [r["probe"] for r in results["rows"]]


def test_paper_columns_come_from_the_papers_table_2():
    assert table2.PAPER_TABLE2["cifar10"]["simclr+dacl"] == 94.3 and table2.PAPER_TABLE2["cifar100"]["none"] == 18.1
    paper = table2.IMAGE_BUDGETS["paper"].config
    assert paper["architecture"] == "resnet50" and paper["resnet_width"] == 4 and paper["batch_size"] == 4096
    assert paper["lr"] == 1.0 * paper["batch_size"] / 256 and paper["epochs"] == 1000


def test_cli_reproduce_table2_pretrain_and_evaluate_images(toy, tmp_path, capsys):
    assert main(["reproduce", "table2", "--dataset", "toy", "--budget", "smoke", "--out", str(tmp_path / "t2"),
                 "--methods", "none,dacl+", "--quiet"]) == 0  # fmt: skip
    assert "| DACL+ |" in capsys.readouterr().out
    assert main(["reproduce", "table2", "--dataset", "toy", "--out", str(tmp_path), "--methods", "scarf"]) == 2
    assert "unknown image method" in capsys.readouterr().err
    out = str(tmp_path / "ckpt")
    flags = ["--epochs", "1", "--warmup-epochs", "0", "--batch-size", "64", "--resnet-width", "0.0625", "--quiet"]
    assert main(["pretrain", "--domain", "images", "--data", "toy", "--out", out, "--method", "simclr", *flags]) == 0
    assert "simclr on toy (448 images): 1 epochs" in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", out]) == 0
    assert "| simclr | toy |" in capsys.readouterr().out


def test_each_claim_is_checked_on_the_probe_and_on_k_nn_where_they_can_disagree():
    def row(method, probe, knn):
        return {"method": method, "seeds": [0], "probe": probe, "knn_test": knn, "knn_validation_best": knn,
                "knn_validation_last": knn, "seconds": 1.0}  # fmt: skip

    results = {"dataset": "fashion-mnist", "rows": [row("gaussian", 0.826, 0.749), row("dacl", 0.824, 0.764)]}
    text = table2.table2_markdown(results)
    claim = next(line for line in text.splitlines() if line.startswith("| DACL > Gaussian-noise |"))
    assert claim == "| DACL > Gaussian-noise | 82.4 vs 82.6 (-0.2) | no | 76.4 vs 74.9 (+1.5) | yes |"
    assert "| DACL+ > DACL |" not in text  # a claim whose rows are missing is left out, not guessed
    assert "| DACL | 82.4 | 76.4 | 76.4 | 76.4 | - | 1 |" in text  # no paper figure for this dataset
