"""Few labels: does dacl pay off for a user with much unlabeled data and few labels?

Per dataset, every method's encoder is pretrained once on the whole training split without labels
(DACL, DACL+, SCARF; No-Pretraining is the random encoder). Then for each label fraction and draw, a
stratified subset of the training rows keeps its labels (``dacl.labels.label_subset``) and is
scored on the untouched test split by: the linear probe and k-NN on each frozen encoder;
fine-tuning each encoder with the labelled rows (lr and epochs chosen on the labelled rows only;
fine-tuning the random encoder is the supervised MLP on the same rows); logistic regression and
gradient-boosted trees on the raw columns; and the trees on the raw columns plus the DACL+ features.
Every cell is stored as one JSON file under ``out/runs`` and every encoder as a checkpoint under
``out/encoders``, so a stopped run started again skips what is done.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from dacl.config import PretrainConfig
from dacl.data import load_dataset
from dacl.engine.checkpoint import write_atomic
from dacl.evaluate import encode, knn_accuracy, linear_probe_accuracy
from dacl.experiment import prepare_features
from dacl.labels import FINE_TUNE_BATCH, choose_fine_tuning, fine_tune, fine_tuned_accuracy, gbdt_accuracy, label_subset
from dacl.reproduce import experiment_options, run_key, stored_run
from dacl.config import epochs_within
from dacl.tables import mixes_blocks, pretrain

__all__ = ["LABEL_BUDGETS", "LabelBudget", "fine_tune_grid", "labels_markdown", "reproduce_labels"]

METHODS = ("dacl", "dacl+", "scarf", "none")


@dataclass(frozen=True)
class LabelBudget:
    """``config``: options of ``dacl.PretrainConfig`` for the pretraining; the rest the protocol."""

    config: dict[str, Any]
    draws: int
    lrs: tuple[float, ...]
    fine_tune_epochs: tuple[int, ...]
    max_train: int | None = None
    # caps for large data, as Table 1's budgets: the pretraining's epochs are lowered so that it takes at
    # most ``max_steps`` steps, and each fine-tuning epoch count so that a run takes at most
    # ``fine_tune_max_steps`` steps of 256 rows (larger labelled sets get fewer epochs)
    max_steps: int | None = None
    fine_tune_max_steps: int | None = None


LABEL_BUDGETS = {
    "small": LabelBudget(config={"depth": 4, "width": 512, "batch_size": 512, "lr": 0.5, "epochs": 50,
                                 "warmup_epochs": 5.0}, draws=3, lrs=(1e-4, 1e-3), fine_tune_epochs=(20, 50),
                         max_steps=1500, fine_tune_max_steps=1000),
    "smoke": LabelBudget(config={"depth": 2, "width": 32, "batch_size": 128, "epochs": 2, "warmup_epochs": 0.0},
                         draws=2, lrs=(1e-3,), fine_tune_epochs=(2,), max_train=600),
}  # fmt: skip


def _with_spec(spec: dict[str, Any], compute) -> dict[str, Any]:
    return {"spec": spec, **compute()}


def fine_tune_grid(budget: LabelBudget, labelled: int) -> tuple[int, ...]:
    """The budget's fine-tuning epochs, each lowered so that a run on ``labelled`` rows (the 80% the
    choice trains on) takes at most ``fine_tune_max_steps`` steps of 256 rows."""
    capped = (epochs_within(e, budget.fine_tune_max_steps, int(0.8 * labelled), FINE_TUNE_BATCH)
              for e in budget.fine_tune_epochs)  # fmt: skip
    return tuple(dict.fromkeys(capped))


def _encoder_cell(encoder, X, y, X_test, y_test, rows, train_features, test_features, budget, grid, draw) -> dict:
    """The probe, k-NN and fine-tuning of one encoder with the labelled ``rows`` (epochs chosen from ``grid``)."""
    chosen = choose_fine_tuning(encoder, X[rows], y[rows], budget.lrs, grid, seed=draw)
    tuned = fine_tune(encoder, X[rows], y[rows], epochs=chosen["epochs"], lr=chosen["lr"], seed=draw)
    return {
        "probe": linear_probe_accuracy(train_features[rows], y[rows], test_features, y_test),
        "knn": knn_accuracy(train_features[rows], y[rows], test_features, y_test, k=_neighbours(y[rows])),
        "fine-tune": fine_tuned_accuracy(tuned, X_test, y_test),
        "chosen": chosen,
    }


def _neighbours(labels, k: int = 10) -> int:
    """k of the k-NN vote: 10, but never more than the rarest class has labelled rows (with one row
    a class, 10 neighbours would outvote the right one)."""
    return max(1, min(k, int(np.bincount(labels)[np.unique(labels)].min())))


def _baseline_cell(X, y, X_test, y_test, rows, joined, joined_test, draw) -> dict:
    """Logistic regression and trees on the raw columns; trees on the raw columns plus DACL+ features."""
    return {
        "logistic": linear_probe_accuracy(X[rows], y[rows], X_test, y_test),
        "gbdt": gbdt_accuracy(X[rows], y[rows], X_test, y_test, seed=draw),
        "joined": gbdt_accuracy(joined[rows], y[rows], joined_test, y_test, seed=draw),
    }


def reproduce_labels(
    datasets: list[str],
    fractions: tuple[float, ...],
    budget_name: str,
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    methods: tuple[str, ...] = METHODS,
    progress: bool = False,
    log=print,
    block_mixing: bool = False,
) -> dict[str, Any]:
    """Every protocol at every label fraction on every dataset; writes results.json, labels.md, labels.png.

    ``block_mixing`` pretrains the mixup methods (``dacl.tables.mixes_blocks``: dacl, dacl+, ...) with each
    categorical column's one-hot block mixed as one unit (``dacl.core.views._PartnerMixup``); their rows are
    then named "dacl (blocks)", ... and stored apart from the coordinate-wise ones, on the same splits and
    label draws."""
    if budget_name not in LABEL_BUDGETS:
        raise ValueError(f"unknown budget {budget_name!r}; choose one of {', '.join(LABEL_BUDGETS)}.")
    budget = LABEL_BUDGETS[budget_name]
    out = Path(out)
    started = time.perf_counter()
    cells = []
    for name in datasets:
        dataset = load_dataset(name, data_dir=data_dir)
        if budget.max_train and len(dataset.y_train) > budget.max_train:
            keep = label_subset(dataset.y_train, budget.max_train / len(dataset.y_train), draw=0)
            dataset = dataclasses.replace(dataset, X_train=dataset.X_train[keep], y_train=dataset.y_train[keep])
        features = prepare_features(dataset)
        X, y, X_test, y_test = features.X_train, features.y_train, features.X_test, features.y_test
        encoders = {}
        epochs = epochs_within(budget.config["epochs"], budget.max_steps, len(y), budget.config["batch_size"])
        configs = {m: PretrainConfig.from_dict({**budget.config, "epochs": epochs, "method": m}) for m in methods}
        blocks = {m: features.blocks for m in methods if block_mixing and mixes_blocks(configs[m])}
        label = {m: f"{m} (blocks)" if m in blocks else m for m in methods}
        suffix = {m: "-blocks" if m in blocks else "" for m in methods}  # stored apart from coordinate-wise
        for method, config in configs.items():
            folder = out / "encoders" / f"{name}-{method}{suffix[method]}-{run_key(experiment_options(config))}"
            encoders[method] = pretrain(X, config, checkpoint_dir=folder, resume=True, progress=progress,
                                        blocks=blocks.get(method)).encoder  # fmt: skip
        train_features = {m: encode(e, X) for m, e in encoders.items()}
        test_features = {m: encode(e, X_test) for m, e in encoders.items()}
        for fraction in fractions:
            # with every label, every draw labels the same rows: one draw (the rest would vary only the
            # fine-tuning's seed, at the price of the most expensive cells)
            for draw in range(budget.draws if fraction < 1 else 1):
                rows = label_subset(y, fraction, draw)
                base = {"dataset": name, "fraction": fraction, "draw": draw, "budget": budget.config,
                        "labelled": len(rows)}  # fmt: skip
                if epochs != budget.config["epochs"]:
                    base["pretraining_epochs"] = epochs
                grid = fine_tune_grid(budget, len(rows))
                for method in methods:
                    spec = {**base, "method": method, "protocols": ["probe", "knn (k <= rarest class)", "fine-tune"]}
                    if grid != budget.fine_tune_epochs:
                        spec["fine_tune_epochs"] = list(grid)
                    if method in blocks:
                        spec["mixing"] = "one-hot blocks as units"
                    data = (X, y, X_test, y_test, rows, train_features[method], test_features[method])
                    cell = partial(_encoder_cell, encoders[method], *data, budget, grid, draw)
                    record = stored_run(out, f"{name}-{method}{suffix[method]}", spec, partial(_with_spec, spec, cell))
                    for protocol in ("probe", "knn", "fine-tune"):
                        cells.append({**base, "method": label[method], "protocol": protocol,
                                      "accuracy": record[protocol]})  # fmt: skip
                with_dacl = "dacl+" if "dacl+" in methods else methods[0]
                joined = (np.hstack([X, train_features[with_dacl]]), np.hstack([X_test, test_features[with_dacl]]))
                spec = {
                    **base,
                    "method": "baselines",
                    "joined": label[with_dacl],
                    "gbdt_leaf": "min(20, rarest class / 2)",
                }
                record = stored_run(out, f"{name}-baselines", spec, partial(
                    _with_spec, spec, partial(_baseline_cell, X, y, X_test, y_test, rows, *joined, draw)))  # fmt: skip
                for key, row in (("logistic", "logistic"), ("gbdt", "gbdt"), ("joined", f"gbdt+{label[with_dacl]}")):
                    cells.append({**base, "method": row, "protocol": "raw columns", "accuracy": record[key]})
            log(f"{name}, {fraction:g} of the labels: done")
    results = {"cells": cells, "rows": _summarise(cells), "budget": {"name": budget_name, **dataclasses.asdict(budget)},
               "fractions": list(fractions), "seconds": time.perf_counter() - started}  # fmt: skip
    write_atomic(out / "results.json", json.dumps(results, indent=2).encode())
    write_atomic(out / "labels.md", labels_markdown(results).encode())
    _plot(results, out / "labels.png")
    return results


def _summarise(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and std over draws per (dataset, fraction, method, protocol)."""
    groups: dict[tuple, list[float]] = {}
    for c in cells:
        groups.setdefault((c["dataset"], c["fraction"], c["method"], c["protocol"]), []).append(c["accuracy"])
    return [{"dataset": d, "fraction": f, "method": m, "protocol": p, "accuracy": float(np.mean(a)),
             "std": float(np.std(a)), "draws": len(a)} for (d, f, m, p), a in groups.items()]  # fmt: skip


def labels_markdown(results: dict[str, Any]) -> str:
    """One table per dataset: rows (method, protocol), columns the label fractions (mean ± std over
    draws, %; one draw with every label)."""
    parts = []
    fractions = results["fractions"]
    for name in dict.fromkeys(r["dataset"] for r in results["rows"]):
        cell = {(r["method"], r["protocol"], r["fraction"]): r for r in results["rows"] if r["dataset"] == name}
        lines = [f"### {name}", "", "| method | protocol | " + " | ".join(f"{100 * f:g}% labels" for f in fractions)
                 + " |", "|---|---|" + "---:|" * len(fractions)]  # fmt: skip
        for method, protocol in dict.fromkeys((m, p) for m, p, _ in cell):
            values = [cell.get((method, protocol, f)) for f in fractions]
            texts = ["" if v is None else f"{100 * v['accuracy']:.1f}" + (
                f" ± {100 * v['std']:.1f}" if v["draws"] > 1 else "") for v in values]  # fmt: skip
            lines.append(f"| {method} | {protocol} | " + " | ".join(texts) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _plot(results: dict[str, Any], path: Path) -> None:
    """Accuracy against the label fraction, one panel per dataset, one line per (method, protocol)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in results["rows"]))
    methods = list(dict.fromkeys(r["method"] for r in results["rows"]))
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    styles = {"probe": "-", "knn": ":", "fine-tune": "--", "raw columns": "-."}
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        rows = [r for r in results["rows"] if r["dataset"] == name]
        for method, protocol in dict.fromkeys((r["method"], r["protocol"]) for r in rows):
            line = sorted((r for r in rows if (r["method"], r["protocol"]) == (method, protocol)),
                          key=lambda r: r["fraction"])  # fmt: skip
            ax.errorbar([r["fraction"] for r in line], [100 * r["accuracy"] for r in line],
                        yerr=[100 * r["std"] for r in line], capsize=3, marker="o", color=colours[method],
                        linestyle=styles.get(protocol, "-"), label=f"{method} ({protocol})")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("share of the training labels")
        ax.set_ylabel("test accuracy (%), mean ± std over draws")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
