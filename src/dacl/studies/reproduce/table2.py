"""Table 2 of Verma et al. (ICML 2021): DACL on images against Gaussian noise, No-Pretraining,
SimCLR and SimCLR+DACL (ResNet-50 (4x) on CIFAR-10/100 in the paper).

Per method and seed: pretrain a ResNet on the (unlabelled) training images; every
``monitor_every`` epochs, the weighted k-NN accuracy (k = 200, T = 0.1, the figure lightly's and
solo-learn's benchmarks report) of a validation split held out of the training images, so that the
best and the last epoch can be reported without looking at the test set; at the end, the paper's
linear evaluation on the frozen encoder (a logistic regression on standardised features of the plain
training images; with ``probe_augment``, also a linear classifier trained on cropped and flipped
images for the SimCLR rows, as the paper) and the k-NN accuracy, on the test images.
Finished runs are stored one JSON file each and pretraining checkpoints every ``monitor_every``
epochs, so a stopped reproduction resumes where it was.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dacl.data.subsets import stratified_subset
from dacl.evaluate import linear_probe_accuracy
from dacl.files import write_atomic
from dacl.images.probes import augmented_probe_accuracy, weighted_knn_accuracy
from dacl.images.sets import ImageDataset, load_image_dataset
from dacl.images.train import build_image_method, embed_images, image_config, pretrain_images
from dacl.studies.reproduce import experiment_options, run_key, stored_run

__all__ = ["IMAGE_BUDGETS", "ImageBudget", "PAPER_TABLE2", "reproduce_table2", "table2_markdown"]

# the rows of the paper's table, each a method of the registry (dacl.methods.METHODS)
ROWS = ("none", "gaussian", "dacl", "dacl+", "simclr", "simclr+dacl")
LABELS = {"none": "No-Pretraining", "gaussian": "Gaussian-noise", "dacl": "DACL", "dacl+": "DACL+",
          "simclr": "SimCLR", "simclr+dacl": "SimCLR+DACL",
          "supervised": "Supervised (labels, no augmentation)"}  # fmt: skip
AUGMENTED = ("simclr", "simclr+dacl")  # the rows the paper probes with crop + flip

# Table 2 of the paper (linear evaluation, test accuracy %, ResNet-50 (4x), 1000 epochs, batch 4096):
# ../shared/paper/results.md
PAPER_TABLE2: dict[str, dict[str, float]] = {
    "cifar10": {"none": 43.1, "gaussian": 56.1, "dacl": 81.3, "dacl+": 83.8, "simclr": 93.4, "simclr+dacl": 94.3},
    "cifar100": {"none": 18.1, "gaussian": 29.8, "dacl": 46.5, "dacl+": 52.7, "simclr": 73.8, "simclr+dacl": 75.5},
}
PAPER_TABLE2["cifar10-jpeg"] = PAPER_TABLE2["cifar10"]

# The paper's claims for images, as (better, worse) pairs of rows.
CLAIMS = (("dacl", "gaussian"), ("dacl+", "dacl"), ("simclr", "dacl"), ("simclr+dacl", "simclr"))


@dataclass(frozen=True)
class ImageBudget:
    """Compute of a Table 2 reproduction: ``config`` holds options of ``dacl.PretrainConfig`` over the
    image defaults (``dacl.images.image_config``); the rest is data and evaluation."""

    config: dict[str, Any]
    max_train: int | None  # training images pretrained on (stratified subset); None: all but validation
    validation: int  # training images held out for the k-NN monitor (0: no monitor)
    max_test: int | None = None
    seeds: int = 1
    monitor_every: int = 5
    probe_augment: bool = False
    probe_epochs: int = 20


IMAGE_BUDGETS = {
    # the paper: ResNet-50 (4x), batch 4096, 1000 epochs, LARS lr 16 (1.0 x batch / 256), 10 warm-up epochs
    "paper": ImageBudget(config={"architecture": "resnet50", "resnet_width": 4, "batch_size": 4096, "epochs": 1000,
                                 "lr": 16.0, "warmup_epochs": 10}, max_train=None, validation=5000, monitor_every=50,
                         probe_augment=True, probe_epochs=100),
    # the budget of the published ResNet-18 SimCLR controls (lightly's benchmark: 200 epochs, batch 512,
    # k-NN 84.8%); our optimiser (LARS) and temperature, not theirs
    "control": ImageBudget(config={"architecture": "resnet18", "resnet_width": 1, "batch_size": 512, "epochs": 200,
                                   "lr": 2.0, "warmup_epochs": 10}, max_train=None, validation=5000,
                           monitor_every=10, probe_augment=True, probe_epochs=20),
    # one H100 for about 8 minutes of pretraining per method (estimated, not yet measured)
    "gpu": ImageBudget(config={"architecture": "resnet18", "resnet_width": 1, "batch_size": 512, "epochs": 15,
                               "lr": 2.0, "warmup_epochs": 1.5}, max_train=None, validation=5000, monitor_every=5,
                       probe_augment=True, probe_epochs=20),
    # this 2-core CPU in about 75 minutes (ResNet-18 at a quarter of the width, 10,000 images)
    "small": ImageBudget(config={"architecture": "resnet18", "resnet_width": 0.25, "batch_size": 256, "epochs": 25,
                                 "lr": 1.0, "warmup_epochs": 2.5}, max_train=10000, validation=5000, monitor_every=5),
    "smoke": ImageBudget(config={"architecture": "resnet18", "resnet_width": 1 / 16, "batch_size": 64, "epochs": 2,
                                 "lr": 0.5, "warmup_epochs": 0}, max_train=256, validation=128, max_test=256,
                         monitor_every=1, probe_augment=True, probe_epochs=1),
}  # fmt: skip


def _splits(dataset: ImageDataset, budget: ImageBudget) -> dict[str, tuple[torch.Tensor, np.ndarray]]:
    """Train (pretraining and probe), validation (k-NN monitor) and test images, stratified and seeded."""
    labels = dataset.train_labels.numpy()
    order = np.arange(len(labels))
    validation = np.array([], dtype=np.int64)
    if budget.validation:
        validation = stratified_subset(labels, budget.validation, seed=1)
        order = np.setdiff1d(order, validation)
    if budget.max_train is not None and budget.max_train < len(order):
        order = order[stratified_subset(labels[order], budget.max_train, seed=0)]
    test = np.arange(len(dataset.test_labels))
    if budget.max_test is not None and budget.max_test < len(test):
        test = stratified_subset(dataset.test_labels.numpy(), budget.max_test, seed=0)

    def part(images, all_labels, index):
        index = torch.as_tensor(index, dtype=torch.long)
        return images[index].contiguous(), all_labels[index].numpy()

    return {"train": part(dataset.train_images, dataset.train_labels, order),
            "validation": part(dataset.train_images, dataset.train_labels, validation),
            "test": part(dataset.test_images, dataset.test_labels, test)}  # fmt: skip


def _one_run(splits, config, budget: ImageBudget, checkpoints: Path, progress: bool) -> dict[str, Any]:
    train, train_y = splits["train"]
    validation, validation_y = splits["validation"]
    test, test_y = splits["test"]
    precision = config.precision

    last_bank = {}  # the training features of the final epoch, embedded once for monitor and probe

    def monitor(epoch: int, record: dict, method) -> None:
        if len(validation) and (epoch % budget.monitor_every == 0 or epoch == config.epochs):
            bank = embed_images(method.encoder, train, precision=precision)
            if epoch == config.epochs:
                last_bank["features"] = bank
            record["knn_validation"] = weighted_knn_accuracy(
                bank, train_y, embed_images(method.encoder, validation, precision=precision), validation_y
            )

    started = time.perf_counter()
    result = pretrain_images(train, config, labels=train_y, checkpoint_dir=checkpoints,
                             checkpoint_every=budget.monitor_every, resume=True, progress=progress,
                             callbacks=(monitor,))  # fmt: skip
    pretrain_seconds = time.perf_counter() - started
    encoder = result.encoder
    train_features = last_bank.get("features")
    if train_features is None:  # no monitor ran at the last epoch (a resumed finished run, or none)
        train_features = embed_images(encoder, train, precision=precision)
    test_features = embed_images(encoder, test, precision=precision)
    curve = [(h["epoch"], h["knn_validation"]) for h in result.history if "knn_validation" in h]
    if not curve and len(validation):  # No-Pretraining: the random encoder, once
        validation_features = embed_images(encoder, validation, precision=precision)
        curve = [(0, weighted_knn_accuracy(train_features, train_y, validation_features, validation_y))]
    record = {
        "probe": linear_probe_accuracy(train_features, train_y, test_features, test_y),
        "knn_test": weighted_knn_accuracy(train_features, train_y, test_features, test_y),
        "knn_validation": curve,
        "knn_validation_best": max((a for _, a in curve), default=None),
        "knn_validation_last": curve[-1][1] if curve else None,
        "pretrain_seconds": pretrain_seconds,
        "samples_per_s": float(np.mean([h["samples_per_s"] for h in result.history])) if result.history else None,
        "history": result.history,
        "features": int(train_features.shape[1]),
    }
    if budget.probe_augment and config.method in AUGMENTED:
        record["probe_augmented"] = augmented_probe_accuracy(
            encoder, train, train_y, test, test_y, epochs=budget.probe_epochs, seed=config.seed, precision=precision
        )
    record["seconds"] = time.perf_counter() - started
    return record


def reproduce_table2(
    dataset: str,
    budget_name: str,
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    methods: tuple[str, ...] = ROWS,
    seeds: int | None = None,
    device: str = "cpu",
    precision: str = "auto",
    progress: bool = False,
    log=print,
) -> dict[str, Any]:
    """Every method on ``dataset`` (a name of ``dacl.images.sets.IMAGE_DATASETS`` or an image
    folder); writes results.json, table2.md and table2.png into ``out``; finished runs are reused."""
    if budget_name not in IMAGE_BUDGETS:
        raise ValueError(f"unknown budget {budget_name!r}; choose one of {', '.join(IMAGE_BUDGETS)}.")
    budget = IMAGE_BUDGETS[budget_name]
    if seeds is not None:
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {seeds}.")
        budget = dataclasses.replace(budget, seeds=seeds)
    for method in methods:
        image_config(method=method)  # a clear error for an unknown method before any data is read
    out = Path(out)
    started = time.perf_counter()
    data = load_image_dataset(dataset, data_dir=data_dir)
    splits = _splits(data, budget)
    rows = []
    for method in methods:
        runs = []
        for seed in range(budget.seeds):
            config = image_config(**budget.config, method=method, seed=seed, device=device, precision=precision)
            options = experiment_options(config)
            spec = {"table": 2, "dataset": dataset, "budget": dataclasses.asdict(budget) | {"seeds": None}, **options}
            name = f"{data.name}-{method}-seed{seed}"
            checkpoints = out / "checkpoints" / f"{name}-{run_key(spec)}"
            runs.append(stored_run(out, name, spec, lambda c=config, p=checkpoints: _one_run(splits, c, budget, p,
                                                                                            progress)))  # fmt: skip
        row = {"method": method, "dataset": dataset, "seeds": list(range(budget.seeds))}
        for key in ("probe", "knn_test", "knn_validation_best", "knn_validation_last", "probe_augmented"):
            values = [r[key] for r in runs if r.get(key) is not None]
            if values:
                row[key], row[key + "_std"] = float(np.mean(values)), float(np.std(values))
        row["seconds"] = float(sum(r["seconds"] for r in runs))
        row["samples_per_s"] = runs[0]["samples_per_s"]
        row["knn_validation_curve"] = runs[0]["knn_validation"]
        row["history"] = runs[0]["history"]
        rows.append(row)
        log(f"{dataset} {method}: probe {100 * row['probe']:.2f}, k-NN test {100 * row['knn_test']:.2f} "
            f"({row['seconds']:.0f} s)")  # fmt: skip
    results = {
        "dataset": dataset, "rows": rows, "budget": {"name": budget_name, **dataclasses.asdict(budget)},
        "images": {part: len(splits[part][1]) for part in splits}, "info": data.info,
        "parameters": _parameters(budget), "seconds": time.perf_counter() - started,
    }  # fmt: skip
    write_atomic(out / "results.json", json.dumps(results, indent=2).encode())
    write_atomic(out / "table2.md", table2_markdown(results).encode())
    _plot(results, out / "table2.png")
    return results


def _parameters(budget: ImageBudget) -> int:
    """Encoder parameters of the budget's ResNet (the paper's ResNet-50 (4x): about 375 M)."""
    method = build_image_method(image_config(**budget.config, method="none"), 3, 32, channels_last=False)
    return sum(p.numel() for p in method.encoder.parameters())


def _cell(row: dict[str, Any], key: str) -> str:
    if key not in row:
        return "-"
    text = f"{100 * row[key]:.1f}"
    return text + (f" ± {100 * row[key + '_std']:.1f}" if len(row["seeds"]) > 1 else "")


def table2_markdown(results: dict[str, Any]) -> str:
    """Rows as the paper's Table 2, our figures beside the paper's, then the paper's claims checked."""
    paper = PAPER_TABLE2.get(results["dataset"], {})
    augmented = any("probe_augmented" in r for r in results["rows"])
    head = "| method | linear probe | " + ("probe, crop + flip | " if augmented else "")
    head += "k-NN test | k-NN validation, best epoch | k-NN validation, last epoch | paper (linear) | run s |"
    lines = [head, "|---|" + "---:|" * (head.count("|") - 2)]
    by_method = {r["method"]: r for r in results["rows"]}
    for row in results["rows"]:
        cells = [_cell(row, "probe")] + ([_cell(row, "probe_augmented")] if augmented else [])
        cells += [_cell(row, k) for k in ("knn_test", "knn_validation_best", "knn_validation_last")]
        reference = paper.get(row["method"])
        cells += ["-" if reference is None else f"{reference:.1f}", f"{row['seconds']:.0f}"]
        lines.append(f"| {LABELS.get(row['method'], row['method'])} | " + " | ".join(cells) + " |")
    lines += ["", "| the paper's claim | ours (linear probe) | holds here | k-NN test | holds on k-NN |",
              "|---|---:|---|---:|---|"]  # fmt: skip
    for better, worse in CLAIMS:
        if better in by_method and worse in by_method:
            cells = []
            for key in ("probe", "knn_test"):
                a, b = by_method[better][key], by_method[worse][key]
                cells += [f"{100 * a:.1f} vs {100 * b:.1f} ({100 * (a - b):+.1f})", "yes" if a > b else "no"]
            lines.append(f"| {LABELS[better]} > {LABELS[worse]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(results: dict[str, Any], path: Path) -> None:
    """Left: linear probe per method, ours and the paper's. Right: the k-NN monitor over epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    paper = PAPER_TABLE2.get(results["dataset"], {})
    fig, (bars, curves) = plt.subplots(1, 2, figsize=(12, 4.5))
    positions = np.arange(len(rows))
    shift, width = (0.2, 0.4) if paper else (0.0, 0.6)  # no paper figures for this dataset: our bars alone
    ours = bars.bar(positions - shift, [100 * r["probe"] for r in rows], width,
                    label=f"ours ({results['budget']['name']})")  # fmt: skip
    bars.bar_label(ours, fmt="%.1f", fontsize=8)
    if paper:
        bars.bar(positions + shift, [paper.get(r["method"], np.nan) for r in rows], width, label="paper")
    bars.set_xticks(positions, [LABELS.get(r["method"], r["method"]) for r in rows], rotation=20)
    bars.set_ylabel("test accuracy (%), linear probe")
    bars.set_title(f"{results['dataset']}: Table 2")
    bars.legend()
    for row in rows:
        curve = row.get("knn_validation_curve") or []
        if curve:
            curves.plot([e for e, _ in curve], [100 * a for _, a in curve], marker="o",
                        label=LABELS.get(row["method"], row["method"]))  # fmt: skip
    curves.set_xlabel("epoch")
    curves.set_ylabel("weighted k-NN accuracy (%), validation")
    curves.set_title("k-NN monitor")
    if curves.lines:
        curves.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
