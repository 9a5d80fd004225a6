"""Table 1 of Verma et al. (ICML 2021): DACL on data with no known augmentation.

Rows: No-Pretraining, Gaussian-noise, DACL, DACL+, full supervised training, plus the linear probe
on the raw features. Hyperparameters are chosen on a validation split carved from the training
data (never the test split), then each row is trained on the whole training split with several
seeds and reported as mean ± std of the test accuracy. Every finished run is saved as a JSON file,
so a stopped reproduction started again skips what is done.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from dacl.config import PretrainConfig, epochs_within
from dacl.core.runtime import resolve_precision
from dacl.data import load_dataset
from dacl.data.dataset import Dataset
from dacl.data.subsets import stratified_subset
from dacl.files import write_atomic
from dacl.studies.experiment import Features, prepare_features, run_method
from dacl.studies.report import plot_loss_curves
from dacl.studies.reproduce import experiment_options, stored_run

__all__ = ["BUDGETS", "Budget", "PAPER_TABLE1", "reproduce_table1", "search_grid"]

# the rows of the paper's table, each a method of the registry (dacl.methods.METHODS)
ROWS = ("none", "gaussian", "dacl", "dacl+", "supervised", "raw")
LABELS = {"none": "No-Pretraining", "gaussian": "Gaussian-noise", "dacl": "DACL", "dacl+": "DACL+",
          "supervised": "Full network supervised training", "raw": "Linear probe on raw features"}  # fmt: skip

# The paper's Table 1 (linear evaluation accuracy, %) by dataset and method, for the "paper" column
# (../shared/paper/results.md); datasets the paper did not run show "-".
PAPER_TABLE1: dict[str, dict[str, float]] = {
    "fashion-mnist": {"none": 66.6, "gaussian": 75.8, "dacl": 81.4, "dacl+": 82.4, "supervised": 79.1},
    "cifar10": {"none": 26.8, "gaussian": 27.4, "dacl": 37.6, "dacl+": 39.7, "supervised": 35.2},
}
PAPER_TABLE1["cifar10-jpeg"] = PAPER_TABLE1["cifar10"]  # the same images, JPEG-compressed: the nearest column


@dataclass(frozen=True)
class Budget:
    """How much compute a reproduction spends: ``config`` holds options of ``dacl.PretrainConfig``
    (model size, batch, optimiser), the rest the epochs, seeds and search grid of the protocol."""

    config: dict[str, Any]
    epochs: int
    search_epochs: int
    seeds: int
    alphas: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)
    rhos: tuple[float, ...] = (0.1, 0.3, 0.5)
    sigmas: tuple[float, ...] = (0.05, 0.1, 0.3, 0.5)
    temperatures: tuple[float, ...] = (0.1, 0.5, 1.0)
    max_train: int | None = None  # subsample the training split (smoke tests only)
    max_steps: int | None = None  # cap on the optimiser steps of a final run (fewer epochs on large data)
    search_max_steps: int | None = None  # the same cap for a search run
    # The warm-up lasts config["warmup_epochs"] but at most this share of a run's epochs (None: no cap), so
    # that a run whose epochs a step cap lowered still decays its learning rate.
    max_warmup_share: float | None = None


# Every budget warms up for 10 epochs. At "small", as its stored runs did (docs/results/table1.md), a short
# run (adult, letter, magic searches; Fashion-MNIST: 4-8 epochs) is then all warm-up, and the engine warns;
# "medium" caps the warm-up at a third of the run (mnist-test's stored runs, 30 and 100 epochs, are unchanged).
BUDGETS = {
    # The paper's: 12 x 1024 encoder, batch 4096, 1000 epochs, LARS lr 0.1 with cosine decay, full grid.
    "paper": Budget(config={"depth": 12, "width": 1024, "batch_size": 4096, "optimizer": "lars", "lr": 0.1,
                            "warmup_epochs": 10.0},
                    epochs=1000, search_epochs=1000, seeds=3),
    # 20-70 minutes a dataset on 2 CPU cores (docs/results/table1.md): smaller encoder, 100 epochs or 800
    # steps (search: 30 epochs or 200 steps), whichever is fewer, so larger datasets get fewer epochs; a coarser
    # grid, τ fixed.
    "small": Budget(config={"depth": 4, "width": 512, "batch_size": 512, "lr": 0.5, "warmup_epochs": 10.0},
                    epochs=100, search_epochs=30, seeds=3,
                    alphas=(0.5, 0.7, 0.9), rhos=(0.1, 0.3, 0.5), sigmas=(0.05, 0.1, 0.3), temperatures=(0.5,),
                    max_steps=800, search_max_steps=200),
    # The paper's encoder (12 x 1024) at the small budget's schedule and grid, batch 1024: about an hour
    # for mnist-test on 2 cores with AMX in bf16 (docs/results/table1.md).
    "medium": Budget(config={"depth": 12, "width": 1024, "batch_size": 1024, "lr": 0.5, "warmup_epochs": 10.0},
                     epochs=100, search_epochs=30, seeds=3,
                     alphas=(0.5, 0.7, 0.9), rhos=(0.1, 0.3, 0.5), sigmas=(0.05, 0.1, 0.3), temperatures=(0.5,),
                     max_steps=800, search_max_steps=200, max_warmup_share=1 / 3),
    # Seconds: for tests.
    "smoke": Budget(config={"depth": 2, "width": 32, "batch_size": 128, "warmup_epochs": 10.0}, epochs=2,
                    search_epochs=1, seeds=2, alphas=(0.7, 0.9),
                    rhos=(0.3,), sigmas=(0.1,), temperatures=(0.5,), max_train=600),
}  # fmt: skip


def search_grid(method: str, budget: Budget) -> list[dict[str, float]]:
    """The hyperparameters searched for ``method``: α (β = α), ρ, σ and τ as in the paper."""
    taus = budget.temperatures
    if method == "dacl":
        return [{"alpha": a, "temperature": t} for a, t in itertools.product(budget.alphas, taus)]
    if method == "dacl+":
        return [{"alpha": a, "beta": a, "rho": r, "temperature": t}
                for a, r, t in itertools.product(budget.alphas, budget.rhos, taus)]  # fmt: skip
    if method == "gaussian":
        return [{"sigma": s, "temperature": t} for s, t in itertools.product(budget.sigmas, taus)]
    return [{}]


def _record(spec: dict[str, Any], run) -> dict[str, Any]:
    """A finished run as stored: its spec, its row and its history."""
    row, history = run()
    return {"spec": spec, "row": row, "history": history}


def _validation_split(dataset: Dataset, seed: int) -> Dataset:
    """Train/validation split carved from the training data only (20%, stratified)."""
    X_fit, X_val, y_fit, y_val = train_test_split(
        dataset.X_train, dataset.y_train, test_size=0.2, stratify=dataset.y_train, random_state=seed
    )
    return Dataset(f"{dataset.name}-validation", X_fit, np.asarray(y_fit), X_val, np.asarray(y_val))


def _subsample(dataset: Dataset, limit: int | None, seed: int) -> Dataset:
    if limit is None or len(dataset.y_train) <= limit:
        return dataset
    X, _, y, _ = train_test_split(dataset.X_train, dataset.y_train, train_size=limit, stratify=dataset.y_train,
                                  random_state=seed)  # fmt: skip
    test = stratified_subset(dataset.y_test, min(len(dataset.y_test), limit // 2), seed)
    return Dataset(dataset.name, X, np.asarray(y), dataset.X_test[test], dataset.y_test[test], dataset.info)


def _config(
    budget: Budget, epochs: int, seed: int, params: dict[str, float], runtime: dict[str, Any]
) -> PretrainConfig:
    options = {**budget.config, "epochs": epochs, "seed": seed, **params, **runtime}
    if budget.max_warmup_share is not None:
        options["warmup_epochs"] = min(options["warmup_epochs"], epochs * budget.max_warmup_share)
    return PretrainConfig.from_dict(options)


def _run_spec(phase: str, dataset: str, budget: Budget, method: str, config: PretrainConfig) -> dict[str, Any]:
    """What a stored run is keyed on: every option of its config (the precision resolved) but where it
    ran (device, compilation), and the data subset; so a changed budget never reuses a stale run."""
    options = experiment_options(config)
    return {"phase": phase, "dataset": dataset, "method": method, "max_train": budget.max_train, **options}


def reproduce_table1(
    dataset_name: str,
    budget_name: str,
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    methods: tuple[str, ...] = ROWS,
    progress: bool = False,
    log=print,
    device: str = "cpu",
    precision: str = "auto",
    compile: bool = False,
    hyperparameters_from: str | Path | None = None,
) -> dict[str, Any]:
    """Run the search and the seeded final runs; write results.json, table1.md and plots into ``out``.

    ``hyperparameters_from`` (a results.json, or the folder holding it, of an earlier reproduction on the
    same dataset, e.g. at a smaller budget) skips the search and takes each method's hyperparameters
    from there: how a budget too large to search (``paper`` on a GPU, ``medium`` on 60,000 rows of a
    CPU) borrows the search of a smaller one.

    ``device``, ``precision`` and ``compile`` are passed to every pretraining run (``PretrainConfig``).
    A run's saved result is reused only for the same options, the precision included; the device and
    compilation are not part of its key, since they change the arithmetic's order, not the
    experiment. ``"auto"`` resolves first (bf16 on AMX CPUs and CUDA GPUs), so a float32
    reproduction is resumed on such hardware with ``precision="float32"``.
    """
    if budget_name not in BUDGETS:
        raise ValueError(f"unknown budget {budget_name!r}; choose one of {', '.join(BUDGETS)}.")
    budget = BUDGETS[budget_name]
    precision = resolve_precision(precision, device)
    runtime = {"device": device, "precision": precision, "compile": compile}
    out = Path(out)
    started = time.perf_counter()
    dataset = _subsample(load_dataset(dataset_name, data_dir=data_dir), budget.max_train, 0)
    validation = _validation_split(dataset, seed=0)
    search_features: Features = prepare_features(validation)
    final_features: Features = prepare_features(dataset)
    search_epochs = epochs_within(budget.search_epochs, budget.search_max_steps, len(search_features.y_train),
                                  budget.config["batch_size"])  # fmt: skip
    final_epochs = epochs_within(budget.epochs, budget.max_steps, len(final_features.y_train),
                                 budget.config["batch_size"])  # fmt: skip

    borrowed = None if hyperparameters_from is None else borrowed_hyperparameters(hyperparameters_from, dataset_name)
    chosen: dict[str, dict[str, float]] = {}
    for method in methods:
        if borrowed is not None:
            if method not in borrowed["chosen"]:
                raise ValueError(
                    f"{borrowed['path']} has no row {method!r} to take hyperparameters from; "
                    f"it has {', '.join(borrowed['chosen'])}. Drop the row with --methods."
                )
            chosen[method] = borrowed["chosen"][method]
            continue
        grid = search_grid(method, budget)
        if len(grid) == 1:
            chosen[method] = grid[0]
            continue
        scores = []
        for params in grid:
            config = _config(budget, search_epochs, 0, params, runtime)
            spec = _run_spec("search", dataset_name, budget, method, config)
            run = partial(run_method, method, search_features, config, progress=progress)
            record = stored_run(out, f"search-{method}", spec, partial(_record, spec, run))
            scores.append((record["row"]["accuracy"], params))
            log(f"search {method} {params}: validation accuracy {100 * record['row']['accuracy']:.2f}")
        chosen[method] = max(scores, key=lambda item: item[0])[1]

    rows, histories = [], {}
    for method in methods:
        accuracies, knn, seconds = [], [], []
        for seed in range(budget.seeds):
            config = _config(budget, final_epochs, seed, chosen[method], runtime)
            spec = _run_spec("final", dataset_name, budget, method, config)
            run = partial(run_method, method, final_features, config, progress=progress)
            record = stored_run(out, f"final-{method}", spec, partial(_record, spec, run))
            accuracies.append(record["row"]["accuracy"])
            knn.append(record["row"]["knn_accuracy"])
            seconds.append(record["row"]["seconds"])
            histories.setdefault(method, record["history"])
        rows.append({
            "method": method, "dataset": dataset.name, "accuracy": float(np.mean(accuracies)),
            "std": float(np.std(accuracies)), "knn_accuracy": float(np.mean(knn)), "knn_std": float(np.std(knn)),
            "seconds": float(np.sum(seconds)), "seeds": list(range(budget.seeds)), "accuracies": accuracies,
            "hyperparameters": chosen[method],
        })  # fmt: skip
        log(f"{method}: {100 * rows[-1]['accuracy']:.2f} ± {100 * rows[-1]['std']:.2f}")

    results = {
        "rows": rows,
        "histories": histories,
        "dataset": {"name": dataset.name, "train": len(final_features.y_train), "test": len(final_features.y_test),
                    "features": int(final_features.X_train.shape[1]), **dataset.info},
        "budget": {"name": budget_name, **dataclasses.asdict(budget)},
        "epochs": {"search": search_epochs if borrowed is None else None, "final": final_epochs},
        "runtime": runtime,
        "protocol": ("hyperparameters chosen on a stratified 20% validation split of the training data"
                     + ("" if borrowed is None else f" by the {borrowed['budget']} budget's search")
                     + "; final runs on the whole training split, test accuracy mean ± std over seeds"),
        "hyperparameters_from": None if borrowed is None else {"path": borrowed["path"], "budget": borrowed["budget"]},
        "seconds": time.perf_counter() - started,
    }  # fmt: skip
    write_table1(results, out)
    return results


def borrowed_hyperparameters(path: str | Path, dataset_name: str) -> dict[str, Any]:
    """Each method's chosen hyperparameters in an earlier reproduction's results.json (``path`` or
    ``path/results.json``), which must be of ``dataset_name``: ``{"chosen", "budget", "path"}``."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise ValueError(f"no results.json at {path}; pass the output folder of a finished Table 1 reproduction.")
    stored = json.loads(path.read_text())
    if stored.get("dataset", {}).get("name") != dataset_name:
        raise ValueError(
            f"{path} is a reproduction on {stored.get('dataset', {}).get('name')!r}, not on "
            f"{dataset_name!r}: hyperparameters are borrowed only from the same dataset."
        )
    chosen = {row["method"]: row["hyperparameters"] for row in stored["rows"]}
    return {"chosen": chosen, "budget": stored.get("budget", {}).get("name"), "path": str(path)}


def table1_markdown(results: dict[str, Any]) -> str:
    """The paper's layout: one row per method, ours (mean ± std) beside the paper's number if any."""
    name = results["dataset"]["name"]
    paper = PAPER_TABLE1.get(name, {})
    lines = [
        f"| method | {name}: ours (%) | k-NN (%) | paper (%) | chosen hyperparameters |",
        "|---|---:|---:|---:|---|",
    ]
    for row in results["rows"]:
        theirs = paper.get(row["method"])
        params = ", ".join(f"{k}={v}" for k, v in row["hyperparameters"].items()) or "-"
        lines.append(
            f"| {LABELS[row['method']]} | {100 * row['accuracy']:.2f} ± {100 * row['std']:.2f} | "
            f"{100 * row['knn_accuracy']:.2f} | {'-' if theirs is None else f'{theirs:.1f}'} | {params} |"
        )
    borrowed = results.get("hyperparameters_from")
    if borrowed:
        lines += ["", f"Hyperparameters from the `{borrowed['budget']}` budget's search ({borrowed['path']})."]
    return "\n".join(lines) + "\n"


def write_table1(results: dict[str, Any], out: Path) -> None:
    """results.json, table1.md and table1.png (accuracy with error bars; loss curves)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_atomic(out / "results.json", json.dumps(results, indent=2).encode())
    write_atomic(out / "table1.md", table1_markdown(results).encode())
    rows = results["rows"]
    fig, (bars, curves) = plt.subplots(1, 2, figsize=(12, 4.5))
    bars.bar(range(len(rows)), [100 * r["accuracy"] for r in rows], yerr=[100 * r["std"] for r in rows], capsize=4)
    bars.set_xticks(range(len(rows)), [r["method"] for r in rows], rotation=20)
    bars.set_ylim(max(0, min(100 * r["accuracy"] for r in rows) - 10), 100)
    bars.set_ylabel("test accuracy (%), mean ± std over seeds")
    bars.set_title(f"{results['dataset']['name']}, budget {results['budget']['name']}")
    plot_loss_curves(curves, results["histories"], "NT-Xent loss (seed 0)")
    fig.tight_layout()
    fig.savefig(out / "table1.png", dpi=110)
    plt.close(fig)


# The paper's claims about Table 1, as (name, better method(s), worse method): the best of the
# "better" rows is compared with the "worse" row.
CLAIMS = (
    ("DACL beats Gaussian-noise", ("dacl",), "gaussian"),
    ("DACL beats No-Pretraining", ("dacl",), "none"),
    ("DACL+ adds to DACL", ("dacl+",), "dacl"),
    ("the probe on DACL/DACL+ features beats full supervised training", ("dacl", "dacl+"), "supervised"),
)


def claim_verdicts(results: dict[str, Any]) -> list[tuple[str, str]]:
    """Each claim of :data:`CLAIMS` on one dataset: ``holds``, ``does not hold`` or ``within noise``
    (the means differ by less than the larger of the two standard deviations over seeds)."""
    rows = {r["method"]: r for r in results["rows"]}
    verdicts = []
    for name, better, worse in CLAIMS:
        if worse not in rows or not any(m in rows for m in better):
            continue
        best = max((rows[m] for m in better if m in rows), key=lambda r: r["accuracy"])
        difference = best["accuracy"] - rows[worse]["accuracy"]
        noise = max(best["std"], rows[worse]["std"])
        verdict = "within noise" if abs(difference) < noise else "holds" if difference > 0 else "does not hold"
        verdicts.append((name, f"{verdict} ({100 * difference:+.2f} points)"))
    return verdicts


def table1_summary(all_results: list[dict[str, Any]]) -> str:
    """Methods as rows, datasets as columns (test accuracy %, mean ± std), then the claims per dataset.

    Where the results were made with more than one budget, each column also names its budget.
    """
    budgets = {r.get("budget", {}).get("name") for r in all_results}
    names = [
        r["dataset"]["name"] if len(budgets) == 1 else f"{r['dataset']['name']} ({r.get('budget', {}).get('name')})"
        for r in all_results
    ]
    cell = {(row["method"], name): row for name, r in zip(names, all_results) for row in r["rows"]}
    lines = ["| method | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for method in ROWS:
        if not any((method, n) in cell for n in names):
            continue
        values = [cell.get((method, n)) for n in names]
        texts = ["" if v is None else f"{100 * v['accuracy']:.2f} ± {100 * v['std']:.2f}" for v in values]
        lines.append(f"| {LABELS[method]} | " + " | ".join(texts) + " |")
    lines += ["", "| claim | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    verdicts = [dict(claim_verdicts(r)) for r in all_results]
    for name, _, _ in CLAIMS:
        lines.append(f"| {name} | " + " | ".join(v.get(name, "") for v in verdicts) + " |")
    return "\n".join(lines) + "\n"
