"""Self-training's rounds and cap against its score and cost (issue 44's cost bound, docs/results/labels.md,
"What the second use of the unlabelled rows costs"): a default ``DACLClassifier`` fit on a label-study
cell with ``Settings.self_train_rounds`` and ``Settings.self_train_rows`` set per variant, the same
labelled rows and seed, the encoder from the cache (pretrained once per table): each variant's test
accuracy, the seconds of the ``self-train`` candidate in the choice, and what the fit chose.

    python benchmarks/self_training_variants.py --cells letter:0.1,spambase:0.01,adult:0.1,magic:0.01 \\
        --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import replace

import numpy as np

# (rounds, rows): None rows is every confident unlabelled row (up to Settings.unlabelled_rows)
VARIANTS = ((2, None), (2, 1024), (2, 2048), (1, None), (1, 1024))


def variant_classifier(rounds: int, rows: int | None):
    """``DACLClassifier`` whose choice self-trains ``rounds`` rounds of at most ``rows`` rows."""
    from dacl import DACLClassifier

    class Variant(DACLClassifier):
        def _settings(self, seed: int):
            return replace(super()._settings(seed), self_train_rounds=rounds, self_train_rows=rows)

    Variant.__name__ = "DACLClassifier"  # the class it stands for (a model folder records its kind by name)
    return Variant


def fit_variant(dataset, fraction: float, draw: int, threads: int, rounds: int, rows: int | None) -> dict:
    from dacl.data.subsets import label_subset
    from dacl.studies.experiment import prepare_features

    labelled = label_subset(prepare_features(dataset).y_train, fraction, draw)  # the label study's draw
    marked = np.asarray(dataset.y_train, dtype=object).copy()
    marked[np.setdiff1d(np.arange(len(marked)), labelled)] = None
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = variant_classifier(rounds, rows)(random_state=0, n_jobs=threads).fit(dataset.X_train, marked)
    seconds = time.perf_counter() - started
    selection = model.selection_
    self_train = float(selection.loc[selection.candidate == "self-train", "seconds"].sum())
    return {"score": float(model.score(dataset.X_test, np.asarray(dataset.y_test))), "seconds": seconds,
            "self_train_s": self_train, "chosen": model.chosen_["model"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="letter:0.1,spambase:0.01,adult:0.1,magic:0.01",
                        help="DATASET:FRACTION pairs, comma-separated (classification datasets)")  # fmt: skip
    parser.add_argument("--draw", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    from dacl.data import load_dataset

    print("| self-training | cell | test accuracy % | self-train s | fit s | chose |\n|---|---|---:|---:|---:|---|")
    for cell in args.cells.split(","):
        name, fraction = cell.split(":")
        dataset = load_dataset(name, data_dir=args.data_dir)
        for rounds, rows in VARIANTS:
            result = fit_variant(dataset, float(fraction), args.draw, args.threads, rounds, rows)
            label = f"{rounds} round{'s' if rounds > 1 else ''}, " + ("every confident row" if rows is None
                                                                       else f"at most {rows:,} rows")  # fmt: skip
            row = (label, f"{name} {float(fraction):.0%}", f"{100 * result['score']:.1f}",
                   f"{result['self_train_s']:.1f}", f"{result['seconds']:.1f}", result["chosen"])  # fmt: skip
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
