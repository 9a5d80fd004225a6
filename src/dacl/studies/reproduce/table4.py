"""Table 4 of Verma et al. (ICML 2021): DACL on graphs against InfoGraph and No-Pretraining.

The paper's protocol: pretrain a GIN for 20 epochs (batch 128, Adam with learning rate from
{1e-2, 1e-3, 1e-4}, α = 0.9, τ = 1.0); after each of the last five epochs, embed every graph and
score a linear classifier (100 full-batch Adam updates) by 10-fold stratified cross-validation;
the run's accuracy is the mean over those five epochs; five repeats give mean ± std. As in the
InfoGraph protocol the paper follows, the learning rate is the one with the best mean accuracy,
which is an optimistic choice; every learning rate's result is kept in ``results.json``.
Finished runs are saved one JSON file each, so a stopped reproduction skips what is done.
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
from dacl.data.subsets import stratified_subset
from dacl.evaluate import PROTOCOLS, linear_cv_accuracy, svm_cv_accuracy
from dacl.files import write_atomic
from dacl.graphs.train import embed_graphs, graph_config, pretrain_graphs
from dacl.graphs.tu import TU_SHA256, load_tu
from dacl.studies.reproduce import experiment_options, stored_run

__all__ = ["GRAPH_BUDGETS", "GraphBudget", "PAPER_TABLE4", "PUBLISHED_SVM", "paired_difference", "reproduce_table4",
           "table4_markdown"]  # fmt: skip

# the rows of the paper's table, each a method of the registry (dacl.methods.METHODS)
ROWS = ("dacl", "infograph", "none")
LABELS = {"dacl": "DACL", "infograph": "InfoGraph", "none": "No-Pretraining", "dacl+": "DACL+", "gaussian": "Gaussian",
          "graphcl": "GraphCL", "graphcl+dacl": "GraphCL+DACL"}  # fmt: skip

# Published accuracies (%) under the SVM protocol (dacl.evaluate.svm_cv_accuracy): InfoGraph (Sun et al., 2020),
# GraphCL (You et al., 2020), GraphMAE (Hou et al., 2022), as issue 38 quotes them
PUBLISHED_SVM: dict[str, dict[str, float]] = {
    "MUTAG": {"InfoGraph": 89.01, "GraphCL": 86.80, "GraphMAE": 88.19},
    "PTC_MR": {"InfoGraph": 61.65},
    "IMDB-BINARY": {"InfoGraph": 73.03, "GraphCL": 71.14, "GraphMAE": 75.52},
    "IMDB-MULTI": {"InfoGraph": 49.69, "GraphMAE": 51.63},
    "REDDIT-BINARY": {"InfoGraph": 82.50, "GraphCL": 89.53, "GraphMAE": 88.01},
}


def label(method: str) -> str:
    """Row name: ``dacl@2`` is DACL mixing after GIN layer 2 instead of at the output."""
    base, _, layer = method.partition("@")
    return LABELS.get(base, base) + (f" (mix after layer {layer})" if layer else "")


# The paper's Table 4 by dataset and method (accuracy %, mean and std; ../shared/paper/results.md);
# its InfoGraph row is the paper's own run with the linear classifier, not InfoGraph's SVM figures.
PAPER_TABLE4: dict[str, dict[str, tuple[float, float]]] = {
    "MUTAG": {"none": (81.70, 2.58), "infograph": (86.74, 1.28), "dacl": (85.31, 1.34)},
    "PTC_MR": {"none": (53.07, 1.27), "infograph": (57.09, 1.52), "dacl": (59.24, 2.57)},
    "REDDIT-BINARY": {"none": (55.13, 1.86), "infograph": (63.52, 1.66), "dacl": (66.92, 3.38)},
    "REDDIT-MULTI-5K": {"none": (24.27, 0.93), "infograph": (42.89, 0.62), "dacl": (42.86, 1.11)},
    "IMDB-BINARY": {"none": (52.67, 2.08), "infograph": (63.97, 2.05), "dacl": (64.71, 2.13)},
    "IMDB-MULTI": {"none": (33.72, 0.80), "infograph": (39.28, 1.43), "dacl": (40.16, 1.50)},
}


@dataclass(frozen=True)
class GraphBudget:
    """Compute of a Table 4 reproduction: ``config`` holds options of ``dacl.PretrainConfig`` over the
    paper's graph defaults (``dacl.graphs.graph_config``); the rest is the evaluation protocol."""

    config: dict[str, Any]
    lrs: tuple[float, ...]
    repeats: int
    last_epochs: int = 5
    folds: int = 10
    max_graphs: int | None = None

    @property
    def epochs(self) -> int:
        return graph_config(**self.config).epochs


GRAPH_BUDGETS = {
    "paper": GraphBudget(config={"width": 512, "depth": 4, "epochs": 20, "batch_size": 128}, lrs=(1e-2, 1e-3, 1e-4),
                         repeats=5),
    "small": GraphBudget(config={"width": 128, "depth": 4, "epochs": 20, "batch_size": 128}, lrs=(1e-3,), repeats=3),
    "smoke": GraphBudget(config={"width": 16, "depth": 2, "epochs": 2, "batch_size": 32}, lrs=(1e-3,), repeats=2,
                         last_epochs=1, folds=3, max_graphs=60),
}  # fmt: skip


def _one_run(graphs: list, labels, config: PretrainConfig, budget: GraphBudget, progress: bool = False,
             svm: bool = False) -> dict:  # fmt: skip
    """One pretraining run scored by the paper's protocol (the linear classifier after each of the last epochs,
    averaged) and, with ``svm``, by the literature's (the SVM on the final embeddings, as InfoGraph, GraphCL
    and GraphMAE evaluate after training)."""
    scores: list[float] = []
    embedded: list = []  # the last scored epoch's embeddings: the final ones, which the SVM scores
    first_scored = config.epochs - budget.last_epochs + 1

    def score(epoch, record, method):
        if epoch >= first_scored:
            embedded[:] = [embed_graphs(method.encoder, graphs)]
            scores.append(linear_cv_accuracy(embedded[0], labels, budget.folds, seed=config.seed))

    started = time.perf_counter()
    result = pretrain_graphs(graphs, config, callbacks=(score,), progress=progress)
    if config.method == "none":
        score(config.epochs, {}, result.model)
    seconds = time.perf_counter() - started
    speeds = [h["samples_per_s"] for h in result.history]
    run = {"accuracy": float(np.mean(scores)), "epoch_accuracies": scores, "seconds": seconds,
           "graphs_per_s": float(np.mean(speeds)) if speeds else None, "history": result.history}  # fmt: skip
    if svm:
        run["svm_accuracy"] = svm_cv_accuracy(embedded[0], labels, budget.folds, seed=config.seed)
    return run


def reproduce_table4(
    datasets: list[str],
    budget_name: str,
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    methods: tuple[str, ...] = ROWS,
    repeats: int | None = None,
    protocols: tuple[str, ...] = ("linear",),
    log=print,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Every method on every dataset; writes results.json and table4.md into ``out``.

    ``repeats`` overrides the budget's number of seeds (0 .. repeats-1); finished runs are reused.
    ``protocols``: "linear" (the paper's, always scored) and "svm" (the literature's; a run scored by it is
    stored under its own key, so the runs stored before keep theirs).
    ``device`` is not part of a run's key (it changes the arithmetic's order, not the experiment).
    """
    if budget_name not in GRAPH_BUDGETS:
        raise ValueError(f"unknown budget {budget_name!r}; choose one of {', '.join(GRAPH_BUDGETS)}.")
    budget = GRAPH_BUDGETS[budget_name]
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown or not protocols:
        raise ValueError(f"protocols are {', '.join(PROTOCOLS)}; got {', '.join(protocols) or 'none'}.")
    svm = "svm" in protocols
    if repeats is not None:
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}.")
        budget = dataclasses.replace(budget, repeats=repeats)
    out = Path(out)
    started = time.perf_counter()
    rows = []
    for name in datasets:
        dataset = load_tu(name, data_dir=data_dir)
        graphs = dataset.graphs
        if budget.max_graphs:  # stratified: a TU file sorted by label would otherwise give one class
            graphs = [graphs[i] for i in stratified_subset(dataset.labels, budget.max_graphs, seed=0)]
        labels = np.array([int(g.y) for g in graphs])
        # a set without published checksums (REDDIT-BINARY here) is keyed on its graphs, not its name
        data = {} if name in TU_SHA256 else {"data": dataset.digest()[:16]}
        for method in methods:
            by_lr = {}
            for lr in budget.lrs if method != "none" else (None,):
                runs = []
                for seed in range(budget.repeats):
                    base, _, layer = method.partition("@")  # "dacl@2": mix after GIN layer 2
                    config = graph_config(**budget.config, method=base, lr=lr or 1e-3, seed=seed, device=device,
                                          mix_at=int(layer) if layer else -1)  # fmt: skip
                    options = experiment_options(config)
                    spec = {"table": 4, "dataset": name, "budget": budget_name, **options, **data,
                            **({"protocols": ["linear", "svm"]} if svm else {})}  # fmt: skip
                    compute = partial(_one_run, graphs, labels, config, budget, progress, svm)
                    runs.append(stored_run(out, f"{name}-{method}", spec, compute))
                by_lr[lr] = runs
                accuracies = [r["accuracy"] for r in runs]
                svm_text = ""
                if svm:
                    svm_scores = [r["svm_accuracy"] for r in runs]
                    svm_text = f"; svm {100 * np.mean(svm_scores):.2f} ± {100 * np.std(svm_scores):.2f}"
                log(f"{name} {method} lr={lr}: {100 * np.mean(accuracies):.2f} ± {100 * np.std(accuracies):.2f}"
                    + svm_text)
            best_lr, accuracy, std, accuracy_by_lr = _best_rate(by_lr, "accuracy")
            best = by_lr[best_lr]
            speeds = [r["graphs_per_s"] for r in best if r["graphs_per_s"]]
            rows.append({
                "method": method, "dataset": name, "accuracy": accuracy, "std": std,
                "seeds": list(range(budget.repeats)), "seconds": float(sum(r["seconds"] for r in best)), "lr": best_lr,
                "graphs_per_s": float(np.mean(speeds)) if speeds else None, "by_lr": accuracy_by_lr,
                "graphs": len(graphs), "node_features": dataset.info["node_features"],
            })  # fmt: skip
            if svm:  # the SVM protocol's row: the learning rate that is best under it
                svm_lr, svm_accuracy, svm_std, svm_by_lr = _best_rate(by_lr, "svm_accuracy")
                rows[-1].update({"svm_accuracy": svm_accuracy, "svm_std": svm_std, "svm_lr": svm_lr,
                                 "svm_by_lr": svm_by_lr})  # fmt: skip
    results = {"rows": rows, "budget": {"name": budget_name, **dataclasses.asdict(budget)},
               "seconds": time.perf_counter() - started}  # fmt: skip
    write_atomic(out / "results.json", json.dumps(results, indent=2).encode())
    write_atomic(out / "table4.md", table4_markdown(results).encode())
    return results


def _best_rate(by_lr: dict, score: str) -> tuple[Any, float, float, dict[str, list[float]]]:
    """The learning rate whose seeds have the best mean ``score``, that mean and std, and every rate's
    per-seed scores (keyed by the rate as text, as results.json stores them)."""
    scores = {lr: [r[score] for r in runs] for lr, runs in by_lr.items()}
    best = max(scores, key=lambda lr: np.mean(scores[lr]))
    return best, float(np.mean(scores[best])), float(np.std(scores[best])), {str(lr): s for lr, s in scores.items()}


# Pairs of rows compared seed by seed (the same seed: the same initial GIN, batches and folds)
PAIRS = (("graphcl+dacl", "graphcl"), ("graphcl+dacl", "none"), ("dacl", "none"), ("graphcl", "none"))


def paired_difference(
    first: dict[str, Any], second: dict[str, Any], protocol: str = "linear"
) -> tuple[float, float] | None:
    """Mean and standard error of ``first``'s accuracy minus ``second``'s over their seeds, each at its
    reported learning rate under ``protocol``; None without two common seeds or without per-seed scores."""
    scores, rate = ("by_lr", "lr") if protocol == "linear" else ("svm_by_lr", "svm_lr")
    if first["seeds"] != second["seeds"] or len(first["seeds"]) < 2 or scores not in first or scores not in second:
        return None
    differences = np.subtract(first[scores][str(first[rate])], second[scores][str(second[rate])])
    return float(differences.mean()), float(differences.std(ddof=1) / np.sqrt(len(differences)))


def _paired_lines(datasets: list[str], cell: dict) -> list[str]:
    """The :data:`PAIRS` present, as paired differences in points under each protocol scored."""
    lines = []
    for protocol in ("linear", "svm"):
        for first, second in PAIRS:
            parts = []
            for name in datasets:
                a, b = cell.get((first, name)), cell.get((second, name))
                difference = None if a is None or b is None else paired_difference(a, b, protocol)
                parts.append("" if difference is None else f"{100 * difference[0]:+.1f} ± {100 * difference[1]:.1f}")
            if any(parts):
                lines.append(f"| {label(first)} − {label(second)} | {protocol} | " + " | ".join(parts) + " |")
    if not lines:
        return []
    return ["", "Paired differences in points, seed by seed (mean ± standard error; the same seed gives both rows "
            "the same initial GIN and folds):", "", "| rows | protocol | " + " | ".join(datasets) + " |",
            "|---|---|" + "---:|" * len(datasets), *lines]  # fmt: skip


def table4_markdown(results: dict[str, Any]) -> str:
    """Methods as rows, datasets as columns (the paper's layout): ours, and the paper's where known."""
    datasets = list(dict.fromkeys(r["dataset"] for r in results["rows"]))
    methods = list(dict.fromkeys(r["method"] for r in results["rows"]))
    cell = {(r["method"], r["dataset"]): r for r in results["rows"]}
    budget = GRAPH_BUDGETS.get(results["budget"]["name"])  # rows with fewer seeds than it are marked
    lines = ["| method | " + " | ".join(datasets) + " |", "|---|" + "---:|" * len(datasets)]
    for method in methods:
        parts = []
        for name in datasets:
            row = cell.get((method, name))
            ours = "" if row is None else f"{100 * row['accuracy']:.1f} ± {100 * row['std']:.1f}"
            if row is not None and budget is not None and len(row["seeds"]) != budget.repeats:
                ours += f" ({len(row['seeds'])} seed{'s' if len(row['seeds']) != 1 else ''})"
            paper = PAPER_TABLE4.get(name, {}).get(method)
            parts.append(ours + (f" (paper {paper[0]:.1f} ± {paper[1]:.1f})" if paper else ""))
        lines.append(f"| {label(method)} | " + " | ".join(parts) + " |")
    if any("svm_accuracy" in r for r in results["rows"]):
        folds = results["budget"]["folds"]
        lines += ["", f"Under the SVM protocol (C from 1e-3 .. 1e3 by inner 5-fold cross-validation, {folds}-fold "
                  "outer, on the final embeddings), with the published numbers under the same protocol:", "",
                  "| method | " + " | ".join(datasets) + " |", "|---|" + "---:|" * len(datasets)]  # fmt: skip
        for method in methods:
            parts = []
            for name in datasets:
                row = cell.get((method, name))
                parts.append("" if row is None or "svm_accuracy" not in row
                             else f"{100 * row['svm_accuracy']:.1f} ± {100 * row['svm_std']:.1f}")  # fmt: skip
            lines.append(f"| {label(method)} | " + " | ".join(parts) + " |")
        for source in ("InfoGraph", "GraphCL", "GraphMAE"):
            values = [PUBLISHED_SVM.get(name, {}).get(source) for name in datasets]
            if any(v is not None for v in values):
                lines.append(f"| {source} (published) | " + " | ".join("" if v is None else f"{v:.1f}" for v in values)
                             + " |")
    lines += _paired_lines(datasets, cell)
    return "\n".join(lines) + "\n"
