"""Fine-tuning's last batch: "ragged" (full batches and what is left) against "even" (the same number of
batches, of equal size), on the label study's encoders (docs/results/fine_tune_batches.md).

    python benchmarks/fine_tune_batches.py --data-dir ../shared/data

For each dataset, the label study's `plain` encoder (DACL+, the `small` budget; pretrained once and kept
in docs/results/tabular_encoders/plain/encoders/, the encoder study's folder) is fine-tuned on each of
the first 3 label draws at 10% of the labels, at each setting of the study's grid, both ways, from the
same seed; the cell is the test accuracy. Only the batching differs: the rows, the order of each epoch,
the number of steps and the initial head are the same.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

OUT = RESULTS / "tabular_encoders" / "plain"


def measure(dataset: str, data_dir: str | None, fraction: float = 0.1, draws: int = 3) -> list[dict]:
    from dacl.data import load_dataset
    from dacl.data.subsets import label_subset
    from dacl.studies.experiment import prepare_features
    from dacl.studies.label_study import STUDY_BUDGETS, study_encoder
    from dacl.tables.semisupervised.candidates import (
        CLASSIFICATION,
        Inputs,
        Settings,
        Task,
        fine_tune_epochs,
    )
    from dacl.tables.semisupervised.registry import CANDIDATES

    features = prepare_features(load_dataset(dataset, data_dir=data_dir))
    X, y, X_test, y_test = features.X_train, features.y_train, features.X_test, features.y_test
    encoder, _, _ = study_encoder(dataset, features, OUT)  # the encoder study's finals: small, DACL+
    task = Task(CLASSIFICATION, len(features.classes))
    results = []
    for draw in range(draws):
        rows = label_subset(y, fraction, draw)
        labelled = Inputs(X[rows], np.zeros((len(rows), 1), np.float32), encoder)
        test = Inputs(X_test, np.zeros((len(X_test), 1), np.float32), encoder)
        base = Settings(**STUDY_BUDGETS["small"].settings)
        for lr in base.fine_tune_lrs:
            for epochs in fine_tune_epochs(base, len(rows)):
                setting = f"lr={lr:g}, epochs={epochs}"
                scores = {}
                for batches in ("ragged", "even"):
                    settings = dataclasses.replace(base, fine_tune_batches=batches)
                    model = CANDIDATES["fine-tune"].fit_setting(labelled, y[rows], task, settings, setting)
                    scores[batches] = float((model.predict(test).argmax(1) == y_test).mean())
                results.append({"dataset": dataset, "draw": draw, "labelled": len(rows), "setting": setting,
                                **scores})  # fmt: skip
                print(results[-1], flush=True)
    return results


def table(results: list[dict], batch: int = 256) -> str:
    lines = ["| dataset | labelled rows | ragged batches | setting | ragged | even | even − ragged |",
             "|---|---:|---|---|---:|---:|---:|"]  # fmt: skip
    keys = dict.fromkeys((r["dataset"], r["setting"]) for r in results)
    for dataset, setting in keys:
        found = [r for r in results if (r["dataset"], r["setting"]) == (dataset, setting)]
        labelled = found[0]["labelled"]
        full, rest = divmod(labelled, batch)
        shape = f"{full} x {batch}" + (f" + {rest}" if rest else "") if labelled > batch else f"1 x {labelled}"
        ragged, even = (100 * np.mean([r[k] for r in found]) for k in ("ragged", "even"))
        lines.append(f"| {dataset} | {labelled} | {shape} | {setting} | {ragged:.1f} | {even:.1f} | "
                     f"{even - ragged:+.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n\nTest accuracy (%), mean over the first 3 label draws at 10% of the labels.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="mnist-test,letter,digits")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    results = [r for d in args.datasets.split(",") for r in measure(d.strip(), args.data_dir)]
    print(table(results))


if __name__ == "__main__":
    main()
