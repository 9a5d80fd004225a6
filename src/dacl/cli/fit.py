"""``dacl fit``: DACLClassifier or DACLRegressor on a user's table whose label cell is empty on the unlabelled
rows; writes a model folder (encoder, preprocessing, choice; no code)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dacl.cli import common
from dacl.cli.flags import add, add_pretrain_options, boolean, names, numbers, optional_count

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    from dacl.semisupervised.options import PRETRAINING_DEFAULTS, SEMI_DEFAULTS, SEMI_PARAMETERS

    defaults = {**PRETRAINING_DEFAULTS, **SEMI_DEFAULTS}
    parser = sub.add_parser("fit", help="fit DACLClassifier / DACLRegressor on a table whose label is empty on the "
                            "unlabelled rows; write a model folder")  # fmt: skip
    data = parser.add_argument_group("data")
    data.add_argument("--data", default=None, help="a .csv/.tsv/.parquet file; rows whose --label cell is empty are "
                      "the unlabelled ones (all rows pretrain the encoder)")  # fmt: skip
    data.add_argument("--label", default=None, help="the label column (required)")
    data.add_argument("--unlabeled", default=None, help="a further file of unlabelled rows with the same columns")
    add(data, "task")
    add(data, "scale")
    add(parser, "out", help="the model folder to write (required)")
    add(parser, "overwrite", help="replace a model already in --out")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pretraining, the splits and the models")
    add_pretrain_options(parser, domain="tables", skip=("seed",), defaults=defaults)
    choice = parser.add_argument_group("the choice on the labelled rows")
    kinds = {"candidates": names, "fine_tune_lrs": numbers(float), "fine_tune_epochs": numbers(int),
             "ensemble": boolean}  # fmt: skip
    for name in SEMI_PARAMETERS:
        value = defaults[name]
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
        text = f"{SEMI_PARAMETERS[name][1]} Default {shown}.".replace("%", "%%")
        choice.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kinds.get(name, optional_count),
                            default=None, help=text)  # fmt: skip
    choice.add_argument(
        "--unlabeled-value",
        dest="unlabeled_value",
        default=None,
        help="a label that also marks an unlabelled row (classes), e.g. -1; empty cells always do",
    )
    choice.add_argument(
        "--one-hot-mixing",
        dest="one_hot_mixing",
        choices=["coordinates", "blocks"],
        default="coordinates",
        help="how the mixups mix a categorical column's one-hot block",
    )
    return parser


def _values(args: argparse.Namespace) -> dict[str, Any]:
    """The estimator's parameters given on the command line (the rest keep the estimator's defaults)."""
    from dacl.estimator import CONFIG_PARAMETERS
    from dacl.semisupervised.options import SEMI_PARAMETERS

    values = {name: getattr(args, name) for name in (*CONFIG_PARAMETERS, *SEMI_PARAMETERS)}
    values = {k: v for k, v in values.items() if v is not None}
    values.update(scale=args.scale, one_hot_mixing=args.one_hot_mixing, random_state=args.seed,
                  verbose=not args.quiet)  # fmt: skip
    return values


def run(args: argparse.Namespace) -> None:
    from dacl.data.labelled import read_labelled, read_unlabelled
    from dacl.semisupervised import DACLClassifier, DACLRegressor

    out = Path(args.out)
    if (out / "model.json").exists() and not args.overwrite:
        raise ValueError(f"--out {out} already holds a model; choose another folder or pass --overwrite.")
    common.check_writable(out)
    X, y, task = read_labelled(args.data, args.label, args.task)
    unlabeled = read_unlabelled(args.unlabeled, X.columns, args.label) if args.unlabeled else None
    values = _values(args)
    if task == "classification":
        # a file marks unlabelled rows by empty cells; --unlabeled-value adds one label that does too
        values["unlabeled_value"] = None if args.unlabeled_value is None else _label_like(args.unlabeled_value, y)
        model = DACLClassifier(**values)
    else:
        model = DACLRegressor(**values)
    labelled = int(_present(y).sum())
    more = f", {len(unlabeled)} more from {args.unlabeled}" if unlabeled is not None else ""
    print(f"dacl fit: {task} of {args.label!r} on {args.data}: {labelled} labelled rows, "
          f"{len(y) - labelled} unlabelled{more}")  # fmt: skip
    model.fit(X, y, X_unlabeled=unlabeled)
    model.save(out, label=args.label, overwrite=args.overwrite)
    print(model.selection_.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"chosen: {model.chosen_['model']} ({model.chosen_['reason']}); model in {out} (model.md)")


def _present(values) -> Any:
    import pandas as pd

    return pd.notna(pd.Series(values, dtype=object)).to_numpy()


def _label_like(text: str, y) -> Any:
    """The --unlabeled-value in the type of the labels (a number where they are numbers)."""
    if any(v is not None and not isinstance(v, str) for v in y):
        try:
            return int(text)
        except ValueError:
            return text
    return text
