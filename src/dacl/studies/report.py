"""Writing results: ``results.json``, a Markdown table and a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dacl.files import write_atomic

__all__ = ["markdown_table", "plot_loss_curves", "plot_results", "write_results"]


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a Markdown table: method, dataset, accuracy and k-NN accuracy (%), seconds."""
    lines = [
        "| method | dataset | linear-probe accuracy (%) | k-NN accuracy (%) | seconds |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['dataset']} | {_percent(row['accuracy'])} | "
            f"{_percent(row.get('knn_accuracy'))} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def plot_loss_curves(axes, histories: dict[str, list[dict[str, float]]], ylabel: str = "NT-Xent loss") -> None:
    """One loss curve per method with a history (the supervised cross-entropy is left out)."""
    for method, history in histories.items():
        if history and method != "supervised":
            axes.plot([h["epoch"] for h in history], [h["loss"] for h in history], label=method)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    if axes.lines:
        axes.legend()


def plot_results(results: dict[str, Any], path: Path) -> None:
    """Accuracy per method (bars: linear probe and k-NN) and pretraining loss curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    fig, (bars, curves) = plt.subplots(1, 2, figsize=(12, 5))
    names = [row["method"] for row in rows]
    positions = range(len(rows))
    bars.bar([p - 0.2 for p in positions], [100 * r["accuracy"] for r in rows], 0.4, label="linear probe")
    knn = [r.get("knn_accuracy") for r in rows]
    if all(v is not None for v in knn):  # the graph protocol has a cross-validated linear classifier only
        bars.bar([p + 0.2 for p in positions], [100 * v for v in knn], 0.4, label="k-NN")
    low = min(min(r["accuracy"], r.get("knn_accuracy") or 1.0) for r in rows)
    bars.set_ylim(max(0.0, 100 * low - 5), 100)
    bars.set_xticks(list(positions), names, rotation=20)
    bars.set_ylabel("test accuracy (%)")
    bars.set_title(f"{rows[0]['dataset']}: linear evaluation")
    bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2, frameon=False)
    plot_loss_curves(curves, results.get("histories", {}))
    curves.set_title("pretraining loss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(results: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and ``results.png`` into ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "results.md", "plot": out / "results.png"}
    write_atomic(paths["json"], json.dumps(results, indent=2).encode())
    write_atomic(paths["markdown"], markdown_table(results["rows"]).encode())
    plot_results(results, paths["plot"])
    return paths
