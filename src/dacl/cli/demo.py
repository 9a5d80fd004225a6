"""``dacl demo``: every method on the embedded digits dataset side by side (< 3 minutes on 2 cores), then a
table with few labels: DACLClassifier against the trees and logistic regression."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dacl.cli import common, compare
from dacl.config import options

__all__ = ["DEMO_CONFIG", "add_parser", "run"]

# The demo's budget: the paper's protocol (LARS, warm-up + cosine, tau 0.5, alpha 0.9, rho 0.3,
# 3-layer head) on a smaller encoder so that all six rows run in under 3 minutes on 2 CPU cores.
# lr 0.5 was chosen over 0.1 on a validation split of digits' training set, never its test set
# (benchmarks/demo_validation.py, docs/results/demo-validation.txt).
DEMO_CONFIG = {"depth": 4, "width": 256, "epochs": 100, "batch_size": 256, "lr": 0.5}


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("demo", help="compare all methods on the embedded digits dataset (< 3 minutes)")
    parser.add_argument("--out", default="demo-out", help="folder for results.json, results.md, results.png")
    epochs = DEMO_CONFIG["epochs"]
    parser.add_argument("--epochs", type=int, default=None, help=f"pretraining epochs (fewer for a quick look); "
                        f"default {epochs}")  # fmt: skip
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    common.check_writable(args.out)  # the demo writes over its own earlier results
    values = {f.name: None for f in options()} | {"epochs": args.epochs}
    demo_args = argparse.Namespace(data="digits", label=None, test=None, test_size=0.25, data_seed=0, scale="minmax",
                                   data_dir=None, methods=compare.DEMO_METHODS, out=args.out, quiet=args.quiet,
                                   fractions=None, **values)  # fmt: skip
    epochs = args.epochs if args.epochs is not None else DEMO_CONFIG["epochs"]
    print(f"dacl demo: {', '.join(compare.DEMO_METHODS)} on scikit-learn's digits, encoder {DEMO_CONFIG['depth']} x "
          f"{DEMO_CONFIG['width']}, {epochs} epochs")  # fmt: skip
    results = compare.run(demo_args, DEMO_CONFIG)
    _few_labels(Path(args.out), args.epochs)
    return results


def _few_labels(out: Path, epochs: int | None) -> None:
    """The demo's second part: a table with few labels, DACLClassifier against what a user would fit."""
    from dacl.files import write_atomic
    from dacl.studies.baselines import BASELINES
    from dacl.studies.label_study import few_labels_demo

    row = few_labels_demo(**({} if epochs is None else {"epochs": epochs}))
    lines = [f"Few labels: digits with {100 * row['fraction']:g}% of the training labels ({row['labelled']} rows; "
             f"{row['unlabelled']} unlabelled rows pretrain the encoder), test accuracy:", "",
             "| model | test accuracy (%) |", "|---|---:|",
             f"| DACLClassifier (chose {row['chosen']}, {row['seconds']:.0f} s) | {100 * row['DACLClassifier']:.2f} |",
             f"| gradient-boosted trees | {100 * row['gradient-boosted trees']:.2f} |",
             f"| logistic regression | {100 * row['logistic regression']:.2f} |",
             *(f"| {name} (scikit-learn) | {100 * row[name]:.2f} |" for name in BASELINES), ""]  # fmt: skip
    text = "\n".join(lines)
    write_atomic(out / "few-labels.md", text.encode())
    write_atomic(out / "few-labels.json", json.dumps(row, indent=2).encode())
    print("\n" + text)
