"""``dacl fit``: DACLClassifier or DACLRegressor on a user's table whose label cell is empty on the unlabelled
rows; writes a model folder (encoder, preprocessing, choice; no code)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dacl.cli import common
from dacl.cli.flags import (
    add,
    add_pretrain_options,
    at_least,
    boolean,
    names,
    optional_count,
    positive_numbers,
    seconds,
)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    from dacl.tables.semisupervised.options import PRETRAINING_DEFAULTS, SEMI_DEFAULTS, SEMI_PARAMETERS

    defaults = {**PRETRAINING_DEFAULTS, **SEMI_DEFAULTS}
    parser = sub.add_parser("fit", help="fit DACLClassifier / DACLRegressor on a table whose label is empty on the "
                            "unlabelled rows; write a model folder")  # fmt: skip
    data = parser.add_argument_group("data")
    data.add_argument("--data", default=None, help="a .csv/.tsv/.parquet file; rows whose --label cell is empty are "
                      "the unlabelled ones (all rows pretrain the encoder)")  # fmt: skip
    data.add_argument("--label", default=None, help="the label column (required)")
    data.add_argument("--unlabeled", default=None, help="a further file of unlabelled rows with the same columns")
    add(data, "ignore")
    add(data, "task")
    add(data, "scale")
    add(parser, "out", help="the model folder to write (required)")
    add(parser, "overwrite", help="replace a model already in --out")
    reuse = parser.add_argument_group("pretrain once, fit many times")
    reuse.add_argument("--encoder", default=None, help="fit on the encoder of a dacl pretrain run on this table (its "
                       "--out folder: any number of processes or machines, streamed or in memory) instead of "
                       "pretraining; its preprocessing and options are the model's, and the model folder keeps a copy "
                       "of it")  # fmt: skip
    reuse.add_argument("--cache", default=None, help="the encoder cache's folder: a fit whose rows and pretraining "
                       "options (seed, threads, precision included) are those of an earlier fit takes its encoder "
                       "from there, bit for bit; default $DACL_CACHE, else ~/.cache/dacl/encoders")  # fmt: skip
    reuse.add_argument("--no-cache", dest="no_cache", action="store_true", help="pretrain without the encoder cache, "
                       "neither reading nor writing it")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the pretraining, the splits and the models")
    add_pretrain_options(parser, domain="tables", skip=("seed",), defaults=defaults)
    choice = parser.add_argument_group("the choice on the labelled rows")
    kinds = {"candidates": names, "fine_tune_lrs": positive_numbers(float), "fine_tune_epochs": positive_numbers(int),
             "logistic_cs": positive_numbers(float), "time_limit": seconds, "cv": at_least(2),
             "ensemble": boolean}  # fmt: skip
    for name in SEMI_PARAMETERS:
        value = defaults[name]
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
        text = f"{SEMI_PARAMETERS[name][1].rstrip('.')}; default {shown}".replace("%", "%%")
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
    from dacl.tables.semisupervised.estimators import parameter_of
    from dacl.tables.semisupervised.options import SEMI_PARAMETERS
    from dacl.tables.transformer import CONFIG_PARAMETERS

    values = {parameter_of(name): getattr(args, name) for name in (*CONFIG_PARAMETERS, *SEMI_PARAMETERS)}
    values = {k: v for k, v in values.items() if v is not None}
    values.update(scale=args.scale, one_hot_mixing=args.one_hot_mixing, random_state=args.seed,
                  verbose=not args.quiet, n_jobs=args.threads, encoder=args.encoder,
                  encoder_cache=False if args.no_cache else (args.cache or True))  # fmt: skip
    return values


def run(args: argparse.Namespace) -> None:
    from dacl.core.distributed import rank, world_size

    out = Path(args.out)
    if args.no_cache and args.cache:
        raise ValueError("--cache names the encoder cache and --no-cache turns it off; give one of them.")
    if world_size() > 1:  # torchrun: every process pretrains its share of each batch; rank 0 chooses and writes
        _check_processes(args, world_size())
        if rank() != 0:
            return _fit(args, out)
    if (out / "model.json").exists() and not args.overwrite:
        raise ValueError(f"--out {out} already holds a model; choose another folder or pass --overwrite.")
    common.check_writable(out)
    with common.exclusive_out(out, "fit"):
        return _fit(args, out)


def _check_processes(args: argparse.Namespace, processes: int) -> None:
    """Under torchrun, what one process would take that several cannot: a time limit (the processes would
    stop at different steps), a batch the processes cannot share evenly, and a given encoder (nothing to
    pretrain: run dacl fit --encoder in one process)."""
    from dacl.tables.semisupervised.options import PRETRAINING_DEFAULTS

    if args.time_limit is not None:
        raise ValueError(f"--time-limit fits one process's run; under torchrun ({processes} processes) give --epochs "
                         "or --max-steps instead.")  # fmt: skip
    if args.encoder:
        raise ValueError("--encoder fits on an encoder already pretrained: nothing is left for several processes; "
                         "run dacl fit --encoder in one process (pretrain under torchrun with dacl pretrain).")
    batch = args.batch_size or PRETRAINING_DEFAULTS["batch_size"]
    if batch % processes:
        raise ValueError(f"--batch-size {batch} is not divisible by the {processes} processes; give a multiple of "
                         f"{processes} (the global batch is split evenly).")  # fmt: skip


def _fit(args: argparse.Namespace, out: Path) -> None:
    from dacl.tables.labelled import read_labelled, read_unlabelled, warn_minus_one
    from dacl.tables.semisupervised import DACLClassifier, DACLRegressor

    if args.data and (Path(args.data).is_dir() or any(c in args.data for c in "*?[")):
        return _streamed(args, out)
    X, y, task = read_labelled(args.data, args.label, args.task, args.ignore)
    unlabeled = read_unlabelled(args.unlabeled, X.columns, args.label, args.ignore) if args.unlabeled else None
    values = _values(args)
    if task == "classification":
        # a file marks unlabelled rows by empty cells; --unlabeled-value adds one label that does too
        values["unlabeled_value"] = None if args.unlabeled_value is None else _label_like(args.unlabeled_value, y)
        if args.unlabeled_value is None:
            warn_minus_one(y, args.label, 'pass --unlabeled-value -1')
        model = DACLClassifier(**values)
    else:
        model = DACLRegressor(**values)
    labelled = int(common.present(y).sum())
    more = f", {len(unlabeled)} more from {args.unlabeled}" if unlabeled is not None else ""
    print(f"dacl fit: {task} of {args.label!r} on {args.data}: {labelled} labelled rows, "
          f"{len(y) - labelled} unlabelled{more}{_limit(args)}")  # fmt: skip
    try:
        model.fit(X, y, X_unlabeled=unlabeled)
    except ValueError as error:  # the estimators call the labels y; here they are a column of the file
        said = str(error)
        if said.startswith("y "):
            raise ValueError(f"the label column {args.label!r} of {args.data}{said[1:]}") from None
        raise
    _save(model, args, out)


def _streamed(args: argparse.Namespace, out: Path) -> None:
    """A folder or glob of Parquet/CSV files: pretrained streamed, only the labelled rows read into memory."""
    from dacl.tables.labelled import infer_task
    from dacl.tables.semisupervised import DACLClassifier, DACLRegressor
    from dacl.tables.stream import table_files

    if args.label is None:
        raise ValueError("--label names the label column (required).")
    if args.unlabeled:
        raise ValueError("--unlabeled adds a file to a table read into memory; with a folder or a glob, put the "
                         "unlabelled rows' files among the others.")  # fmt: skip
    files = table_files(args.data)
    labels = _label_column(files, args.label)
    task = infer_task(labels) if args.task == "auto" else args.task
    values = _values(args)
    if task == "classification":
        values["unlabeled_value"] = None if args.unlabeled_value is None else _label_like(args.unlabeled_value, labels)
    model = (DACLClassifier if task == "classification" else DACLRegressor)(**values)
    labelled = int(common.present(labels).sum())
    print(f"dacl fit: {task} of {args.label!r} on {len(files)} file(s) at {args.data}, streamed: {labelled} labelled "
          f"rows, {len(labels) - labelled} unlabelled{_limit(args)}")  # fmt: skip
    model.fit_files(files, args.label, ignore=args.ignore)
    _save(model, args, out)


def _limit(args: argparse.Namespace) -> str:
    """What the user is told up front about the time: the limit where one is given."""
    if getattr(args, "time_limit", None) is None:
        return "; pretraining's bar, then the choice's, show the time left"
    return f"; ends within {args.time_limit:g} s (--time-limit)"


def _save(model, args: argparse.Namespace, out: Path) -> None:
    """The fitted model written to ``out``, its selection table and its choice printed (by rank 0 alone
    under torchrun: the other processes only pretrained)."""
    from dacl.core.distributed import rank

    if rank() != 0:
        return
    model.save(out, label=args.label, overwrite=args.overwrite)
    from dacl.tables.semisupervised.leaderboard import leaderboard

    rows = model.selection_.to_dict(orient="records")
    print(leaderboard(rows, model.task_.is_classification))
    print(f"chosen: {model.chosen_['model']} ({model.chosen_['reason']}); model in {out} (model.md)")


def _label_column(files: list, label: str) -> Any:
    """The label column of every file (one column read, as written), as an object array with None where a
    cell holds no label, by the rule of every reader (``dacl.tables.files.label_values``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    from dacl.tables.files import label_values

    parts = []
    for file in files:
        try:
            if file.suffix.lower() == ".csv":
                options = pv.ConvertOptions(include_columns=[label], column_types={label: pa.string()})
                table = pv.read_csv(file, convert_options=options)
            else:
                table = pq.read_table(file, columns=[label])
        except (KeyError, ValueError) as error:
            raise ValueError(f"label column {label!r} is not in {file} ({error}).") from None
        if label not in table.column_names:
            raise ValueError(f"label column {label!r} is not in {file}.")
        parts.append(table[label].to_pandas().to_numpy(dtype=object))
    return label_values(np.concatenate(parts))



def _label_like(text: str, y) -> Any:
    """The --unlabeled-value in the type of the labels (a number where they are numbers)."""
    if any(v is not None and not isinstance(v, str) for v in y):
        try:
            return int(text)
        except ValueError:
            return text
    return text
