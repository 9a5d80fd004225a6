"""The ``dacl`` command: pretrain, evaluate, compare, demo.

Every subcommand also reads its options from a YAML or TOML file (``--config FILE``); options
given on the command line win over the file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from dacl.config import GROUPS, PretrainConfig, option_help, options
from dacl.methods import method_names

DEMO_METHODS = ["none", "gaussian", "dacl", "dacl+", "supervised", "raw"]
# The demo's budget: the paper's protocol (LARS, warm-up + cosine, tau 0.5, alpha 0.9, rho 0.3,
# 3-layer head) on a smaller encoder so that all six rows run in under 3 minutes on 2 CPU cores.
# lr 0.5 was chosen over 0.1 on a validation split of digits' training set, never its test set
# (docs/results/demo_validation.py, docs/results/demo-validation.txt).
DEMO_CONFIG = {"depth": 4, "width": 256, "epochs": 100, "batch_size": 256, "lr": 0.5}


def _boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1), got {value}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def _parser_of(f):
    """The command-line type of a config option (its checks are the config's own)."""
    kind, optional = f.metadata["kind"], f.metadata["optional"]
    if kind is bool:
        return _boolean
    if kind == "str-tuple":
        return lambda text: tuple(t.strip() for t in text.split(",") if t.strip())

    def parse(text: str):
        if optional and text.lower() == "none":
            return None
        try:
            return kind(text)
        except ValueError:
            expected = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    return parse if kind in (int, float) else str


def _add_pretrain_options(
    parser: argparse.ArgumentParser, skip: tuple[str, ...] = (), domain: str | None = None, defaults=None
) -> None:
    """One flag per option of ``dacl.PretrainConfig`` (those of ``domain``), in its groups, with its help,
    choices, range and default (``defaults[name]`` where a command's defaults differ from the config's)."""
    for group_name in GROUPS:
        group = parser.add_argument_group(f"{group_name} options (dacl.PretrainConfig)")
        for f in options(domain):
            if f.metadata["group"] == group_name and f.name not in skip:
                text = (
                    option_help(f) if defaults is None or f.name not in defaults else option_help(f, defaults[f.name])
                )
                group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=_parser_of(f), default=None,
                                   help=text.replace("%", "%%"))  # fmt: skip


# Options a command cannot run without; checked after the config file is merged, so either may give them.
REQUIRED = {"pretrain": ("data", "out"), "evaluate": ("checkpoint",), "compare": ("data", "out"),
            "fit": ("data", "label", "out"), "predict": ("model", "data", "out"),
            "reproduce table1": ("dataset", "out"), "reproduce table2": ("dataset", "out"),
            "reproduce table4": ("datasets", "out"),
            "reproduce labels": ("datasets", "out")}  # fmt: skip


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", default=None, help="a dataset name (digits) or a .csv/.parquet/.npy/.npz file")
    group.add_argument("--label", default=None, help="label column of a CSV/Parquet file (name or index)")
    group.add_argument("--test", default=None, help="a separate test file (else a stratified split)")
    group.add_argument("--test-size", dest="test_size", type=_fraction, default=0.2,
                       help="share of a file's rows held out for testing, in (0, 1); default 0.2 (registered "
                       "datasets have their own test split)")  # fmt: skip
    group.add_argument("--data-seed", dest="data_seed", type=int, default=0, help="seed of the train/test split")
    group.add_argument(
        "--scale",
        choices=["minmax", "standard"],
        default="minmax",
        help="scaling of numeric columns: minmax (to [0, 1], needed by geometric mixup) or standard",
    )
    group.add_argument(
        "--data-dir",
        dest="data_dir",
        default=None,
        help="dataset cache and offline folder (default $DACL_DATA_DIR or ~/.cache/dacl)",
    )


def _add_runtime_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("hardware")
    group.add_argument("--device", default="cpu", help="cpu, cuda (cuda:N) or auto")
    group.add_argument(
        "--precision",
        default="auto",
        help="auto (bfloat16 on a bf16 CUDA GPU or an AMX CPU, else float32), float32 or bfloat16",
    )
    group.add_argument("--compile", type=_boolean, default=False, help="the training step through torch.compile")


def _add_fit_parser(sub) -> None:
    from dacl.semisupervised.options import PRETRAINING_DEFAULTS, SEMI_DEFAULTS, SEMI_PARAMETERS

    defaults = {**PRETRAINING_DEFAULTS, **SEMI_DEFAULTS}
    fit = sub.add_parser("fit", help="fit DACLClassifier / DACLRegressor on a table whose label is empty on the "
                         "unlabelled rows; write a model folder")  # fmt: skip
    data = fit.add_argument_group("data")
    data.add_argument("--data", default=None, help="a .csv/.tsv/.parquet file; rows whose --label cell is empty are "
                      "the unlabelled ones (all rows pretrain the encoder)")  # fmt: skip
    data.add_argument("--label", default=None, help="the label column (required)")
    data.add_argument("--unlabeled", default=None, help="a further file of unlabelled rows with the same columns")
    data.add_argument(
        "--task",
        default="auto",
        choices=["auto", "classification", "regression"],
        help="auto: numbers that are not all whole are a regression target, anything else classes",
    )
    data.add_argument("--scale", choices=["minmax", "standard"], default="minmax", help="scaling of numeric columns")
    fit.add_argument("--out", default=None, help="the model folder to write (required)")
    fit.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    fit.add_argument("--seed", type=int, default=0, help="seed of the pretraining, the splits and the models")
    _add_pretrain_options(fit, domain="tables", skip=("seed",), defaults=defaults)
    choice = fit.add_argument_group("the choice on the labelled rows")
    for name in SEMI_PARAMETERS:
        value = defaults[name]
        kind = {"candidates": _names, "fine_tune_lrs": _numbers(float), "fine_tune_epochs": _numbers(int),
                "ensemble": _boolean}.get(name, _optional_count)  # fmt: skip
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
        choice.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None,
                            help=f"{SEMI_PARAMETERS[name][1]} Default {shown}.".replace("%", "%%"))  # fmt: skip
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


def _names(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _numbers(kind: type):
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(t) for t in _names(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__} values, got {text!r}") from None

    return parse


def _optional_count(text: str) -> int | None:
    return None if text.lower() == "none" else _count(text)


def _add_predict_parser(sub) -> None:
    predict = sub.add_parser("predict", help="predict with a model folder written by dacl fit")
    predict.add_argument("--model", default=None, help="the model folder (required)")
    predict.add_argument("--data", default=None, help="a .csv/.tsv/.parquet file with the model's columns, by name")
    predict.add_argument("--out", default=None, help="the predictions file to write, .csv or .parquet (required)")
    predict.add_argument("--id", default=None, help="a column of --data to copy beside each prediction")
    predict.add_argument("--proba", action="store_true", help="add one probability column per class")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dacl", description="Domain-agnostic contrastive learning (DACL).")
    parser.add_argument("--version", action="version", version=f"dacl {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    pretrain = sub.add_parser("pretrain", help="pretrain an encoder and write checkpoints")
    _add_data_options(pretrain)
    pretrain.add_argument("--domain", choices=["tables", "images"], default="tables",
                          help="tables: rows of numbers, the MLP; images: --data names an image dataset "
                          "(cifar10, cifar10-jpeg, fashion-mnist, ...) or a folder of class folders, a ResNet "
                          "with the image defaults; default tables")  # fmt: skip
    _add_pretrain_options(pretrain)
    pretrain.add_argument("--out", default=None, help="checkpoint folder (required)")
    pretrain.add_argument(
        "--checkpoint-every",
        dest="checkpoint_every",
        type=_count,
        default=0,
        help="write a checkpoint every N epochs (>= 0; 0: only at the end); default 0",
    )
    pretrain.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    pretrain.add_argument("--stream", action="store_true",
                          help="read --data (Parquet or CSV files: a folder, a glob in quotes or a file) row group by "
                          "row group instead of into memory; on by default for a folder or a glob")  # fmt: skip
    pretrain.add_argument("--buffer-rows", dest="buffer_rows", type=_count, default=262_144,
                          help="rows of the shuffle buffer when streaming; default 262144")  # fmt: skip
    pretrain.add_argument("--steps-per-epoch", dest="steps_per_epoch", type=_count, default=None,
                          help="when streaming, end an epoch (and checkpoint) after N steps, each epoch reading "
                          "the row groups in a fresh random order; default: a whole pass")  # fmt: skip

    evaluate = sub.add_parser("evaluate", help="linear probe and k-NN accuracy of a checkpoint")
    evaluate.add_argument("--checkpoint", default=None, help="folder written by dacl pretrain (required)")
    _add_data_options(evaluate)
    evaluate.add_argument("--out", default=None, help="folder for results.json and results.md")

    compare = sub.add_parser("compare", help="several methods on one dataset, side by side; with --fractions, "
                             "the label study (DACLClassifier / DACLRegressor and each model it chooses "
                             "between)")  # fmt: skip
    _add_data_options(compare)
    _add_pretrain_options(compare, skip=("method",))  # compare takes --methods
    compare.add_argument("--methods", default=None, help="comma-separated; default " + ",".join(DEMO_METHODS)
                         + " (with --fractions: dacl+, the estimator's encoder)")  # fmt: skip
    compare.add_argument("--out", default=None, help="folder for results.json, results.md, results.png (required)")
    study = compare.add_argument_group("label study (--fractions)")
    study.add_argument("--fractions", default=None, help="comma-separated shares of the training labels, e.g. "
                       "0.01,0.1,1: run the label study on --data instead of the methods side by side")  # fmt: skip
    study.add_argument("--budget", default="small", help="small (the estimators' defaults) or smoke")
    study.add_argument(
        "--task",
        default="auto",
        choices=["auto", "classification", "regression"],
        help="auto: numbers that are not all whole are a regression target, anything else classes",
    )

    _add_fit_parser(sub)
    _add_predict_parser(sub)

    demo = sub.add_parser("demo", help="compare all methods on the embedded digits dataset (< 3 minutes)")
    demo.add_argument("--out", default="demo-out", help="folder for results.json, results.md, results.png")
    demo.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"pretraining epochs (default {DEMO_CONFIG['epochs']}; fewer for a quick look)",
    )

    bench = sub.add_parser("bench", help="pretraining speed on this machine (writes bench.json)")
    bench.add_argument("--out", default="bench-out", help="folder for bench.json and bench.md")
    bench.add_argument(
        "--domain",
        choices=["tables", "images"],
        default="tables",
        help="tables: the paper's MLP step; images: a SimCLR step on a ResNet against the straightforward "
        "DataLoader way; default tables",
    )
    bench.add_argument(
        "--batch-sizes",
        dest="batch_sizes",
        default=None,
        help="comma-separated batch sizes to time (each >= 2); default 1024,4096 (images: 256)",
    )
    bench.add_argument(
        "--precisions",
        default=None,
        help="comma-separated, of: float32, bfloat16 (images also auto); default float32,bfloat16 (images: auto)",
    )
    images = bench.add_argument_group("images (--domain images)")
    images.add_argument("--architecture", default="resnet18", help="resnet18, resnet34 or resnet50")
    images.add_argument("--resnet-width", dest="resnet_width", type=float, default=1.0, help="width multiplier")
    images.add_argument("--image-size", dest="image_size", type=int, default=32, help="side of the images")
    images.add_argument("--workers", type=int, default=2, help="DataLoader workers of the straightforward way")
    bench.add_argument("--width", type=int, default=1024, help="encoder width; default 1024")
    bench.add_argument("--depth", type=int, default=12, help="encoder layers; default 12")
    bench.add_argument("--in-features", dest="in_features", type=int, default=784, help="input width; default 784")
    bench.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    bench.add_argument("--repeats", type=int, default=3, help="alternate measurements of dacl and straightforward")
    bench.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    bench.add_argument("--compile", type=_boolean, default=False, help="dacl's step through torch.compile")

    reproduce = sub.add_parser("reproduce", help="reproduce a table of the paper")
    tables = reproduce.add_subparsers(dest="table", required=True)
    table1 = tables.add_parser("table1", help="Table 1: DACL on data with no known augmentation")
    table1.add_argument("--dataset", default=None, help="mnist-test, mnist5k, fashion-mnist, cifar10, adult, ...")
    table1.add_argument("--budget", default="small", help="paper, medium, small or smoke")
    table1.add_argument("--out", default=None, help="folder for results.json, table1.md, table1.png, runs/")
    table1.add_argument("--data-dir", dest="data_dir", default=None, help="dataset cache and offline folder")
    table1.add_argument("--methods", default=None, help="comma-separated subset of the rows")
    table1.add_argument("--quiet", action="store_true", help="no progress bars")
    table1.add_argument(
        "--hyperparameters-from",
        dest="hyperparameters_from",
        default=None,
        help="skip the search: take each row's hyperparameters from an earlier reproduction on the "
        "same dataset (its --out folder or results.json), e.g. at a smaller budget",
    )
    _add_runtime_options(table1)
    table4 = tables.add_parser("table4", help="Table 4: DACL on graphs (GIN) against InfoGraph and No-Pretraining")
    table4.add_argument("--datasets", default=None, help="comma-separated TU names, e.g. MUTAG,PTC_MR")
    table4.add_argument("--budget", default="small", help="paper, small or smoke")
    table4.add_argument("--out", default=None, help="folder for results.json, table4.md, runs/")
    table4.add_argument("--data-dir", dest="data_dir", default=None, help="folder holding NAME/raw/ (offline)")
    table4.add_argument(
        "--methods",
        default="dacl,infograph,none",
        help=f"comma-separated, of: {', '.join(method_names('graphs'))}; dacl@L mixes after GIN layer L",
    )
    table4.add_argument("--repeats", type=int, default=None, help="seeds per row (default: the budget's)")
    table4.add_argument("--quiet", action="store_true", help="no progress bars")
    table4.add_argument("--device", default="cpu", help="cpu, cuda (cuda:N) or auto")

    for name, command in sub.choices.items():
        if name == "reproduce":  # its tables take their own options
            continue
        command.add_argument("--config", default=None, help="YAML or TOML file with options of this command")
        command.add_argument("--quiet", action="store_true", help="no progress bars")
    table2 = tables.add_parser("table2", help="Table 2: images (ResNet): DACL, SimCLR, SimCLR+DACL and baselines")
    table2.add_argument("--dataset", default=None, help="cifar10, cifar100, cifar10-jpeg, fashion-mnist, mnist or "
                        "a folder of class folders")  # fmt: skip
    table2.add_argument("--budget", default="small", help="paper, control, gpu, small or smoke")
    table2.add_argument("--out", default=None, help="folder for results.json, table2.md, table2.png, runs/")
    table2.add_argument("--data-dir", dest="data_dir", default=None, help="dataset cache and offline folder")
    table2.add_argument("--methods", default=",".join(("none", "gaussian", "dacl", "dacl+", "simclr", "simclr+dacl")),
                        help=f"comma-separated, of: {', '.join(method_names('images'))}")  # fmt: skip
    table2.add_argument("--seeds", type=int, default=None, help="seeds per row (default: the budget's)")
    table2.add_argument("--quiet", action="store_true", help="no progress bars")
    table2.add_argument("--device", default="cpu", help="cpu, cuda (cuda:N) or auto")
    table2.add_argument("--precision", default="auto", help="auto (bf16 where it pays), float32 or bfloat16")
    labels = tables.add_parser("labels", help="few labels: DACLClassifier / DACLRegressor and every model they "
                               "choose between, per label fraction")  # fmt: skip
    labels.add_argument("--datasets", default=None, help="comma-separated registered datasets, e.g. digits,adult "
                        "(regression: california-housing, wine-quality)")  # fmt: skip
    labels.add_argument("--fractions", default="0.01,0.1,1", help="comma-separated shares of the training labels")
    labels.add_argument("--budget", default="small", help="small, screen (small with one label draw) or smoke")
    labels.add_argument("--out", default=None, help="folder for results.json, labels.md, labels.png, runs/")
    labels.add_argument("--data-dir", dest="data_dir", default=None, help="dataset cache and offline folder")
    labels.add_argument("--methods", default="dacl+", help="pretrained encoders, comma-separated; the first is the "
                        "estimator's, each further one adds its own rows")  # fmt: skip
    labels.add_argument("--quiet", action="store_true", help="no progress bars")
    labels.add_argument("--block-mixing", dest="block_mixing", action="store_true",
                        help="dacl and dacl+ mix each categorical column's one-hot block as one unit")  # fmt: skip
    from dacl.semisupervised.options import PRETRAINING_DEFAULTS  # light: names and numbers only

    _add_pretrain_options(labels, skip=("method", "seed"), domain="tables", defaults=PRETRAINING_DEFAULTS)
    for command in [*sub.choices.values(), table1, table2, table4, labels]:
        command.add_argument("--debug", action="store_true", help="show the traceback of an error")
    for command in (table1, table2, table4, labels):
        command.add_argument("--config", default=None, help="YAML or TOML file with options of this table")
    return parser


def _version() -> str:
    from dacl import __version__

    return __version__


def _toml_parser():
    """Python's ``tomllib`` (3.11+), or on 3.10 the same parser as the ``tomli`` package (a dependency there)."""
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    return tomllib


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Options from a YAML (.yaml/.yml) or TOML (.toml) file, keys as the long option names, flat or
    in the groups of ``dacl.PretrainConfig`` (``[model]``, ``[method]``, ``[optimisation]``, ``[runtime]``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist.")
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ValueError(f"config file {path} must end in .yaml, .yml or .toml.")
    import yaml

    tomllib = _toml_parser()

    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is allowed
        values = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text) or {}
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"config file {path} cannot be parsed as {path.suffix[1:].upper()}: {reason}") from None
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a mapping of option names to values.")
    flat: dict[str, Any] = {}
    for key, value in values.items():  # [model], [method], [optimisation], [runtime] sections or flat keys
        if key in GROUPS and isinstance(value, dict):
            flat.update({str(k).replace("-", "_"): v for k, v in value.items()})
        else:
            flat[str(key).replace("-", "_")] = value
    return flat


def _subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return actions[0].choices[name]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    name = f"{args.command} {args.table}" if args.command == "reproduce" else args.command
    if getattr(args, "config", None):
        values = load_config_file(args.config)
        command = _subcommand(parser, args.command)
        if args.command == "reproduce":
            command = _subcommand(command, args.table)
        known = {action.dest for action in command._actions} - {"help", "config"}
        unknown = sorted(set(values) - known)
        if unknown:
            parser.error(f"{args.config}: unknown option(s) for 'dacl {name}': {', '.join(unknown)}")
        for key, value in values.items():
            if isinstance(value, list):
                values[key] = ",".join(map(str, value)) if key in ("methods", "datasets") else tuple(value)
        command.set_defaults(**values)
        args = parser.parse_args(argv)
    missing = [f"--{option}" for option in REQUIRED.get(name, ()) if getattr(args, option) is None]
    if missing:
        parser.error(f"dacl {name} needs {', '.join(missing)} (on the command line or in --config)")
    return args


def _given_pretraining(args: argparse.Namespace) -> dict[str, Any]:
    """The pretraining options given on the command line or in the config file (the study's budget
    gives the others), checked now, before any compute."""
    from dacl.study import check_pretraining

    given = {f.name: getattr(args, f.name) for f in options("tables") if getattr(args, f.name, None) is not None}
    return check_pretraining({k: v for k, v in given.items() if k not in ("method", "seed")})


def _pretrain_config(args: argparse.Namespace, base: dict[str, Any] | None = None) -> PretrainConfig:
    values = dict(base or {})
    values.update({f.name: getattr(args, f.name) for f in options() if getattr(args, f.name, None) is not None})
    return PretrainConfig.from_dict(values)


def _data_spec(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("data", "label", "test", "test_size", "data_seed", "scale", "data_dir")}


def _dataset(spec: dict[str, Any]):
    from dacl.data import load_dataset

    return load_dataset(
        spec["data"], spec["label"], spec["test"], spec["test_size"], spec["data_seed"], spec.get("data_dir")
    )


def _load(spec: dict[str, Any]):
    from dacl.experiment import prepare_features

    dataset = _dataset(spec)
    return dataset, prepare_features(dataset, spec["scale"])


def _print_results(results: dict[str, Any], paths: dict[str, Path] | None) -> None:
    from dacl.report import markdown_table

    print(markdown_table(results["rows"]), end="")
    if paths:
        print("wrote " + ", ".join(str(p) for p in paths.values()))


def cmd_pretrain(args: argparse.Namespace) -> None:
    from dacl.tables import pretrain

    if args.domain == "images":
        return _pretrain_images(args)
    config = _pretrain_config(args)
    if args.stream or (args.data and (Path(args.data).is_dir() or any(c in args.data for c in "*?["))):
        return _pretrain_stream(args, config)
    spec = _data_spec(args)
    dataset, features = _load(spec)
    result = pretrain(
        features.X_train,
        config,
        features.y_train,
        checkpoint_dir=args.out,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        progress=not args.quiet,
        metadata={"data": spec, "dataset": dataset.name},
    )
    if not result.history:
        print(f"{config.method} on {dataset.name}: no training ({config.method!r}, {config.epochs} epochs); "
              f"the initial encoder is saved in {args.out}")  # fmt: skip
        return
    loss, epochs = result.history[-1]["loss"], len(result.history)
    print(f"{config.method} on {dataset.name}: {epochs} epochs, final loss {loss:.4f}; checkpoint in {args.out}")


def _pretrain_stream(args: argparse.Namespace, config: PretrainConfig) -> None:
    from dacl.tables import pretrain_files

    result = pretrain_files(args.data, config, label=args.label, scale=args.scale, buffer_rows=args.buffer_rows,
                            steps_per_epoch=args.steps_per_epoch, checkpoint_dir=args.out,
                            checkpoint_every=args.checkpoint_every, resume=args.resume,
                            progress=not args.quiet)  # fmt: skip
    epochs = len(result.history)
    loss = f", final loss {result.history[-1]['loss']:.4f}" if epochs else ""
    speed = f", {result.history[-1]['samples_per_s']:.0f} samples/s" if epochs else ""
    print(f"{config.method} on {args.data} (streamed): {epochs} epochs{loss}{speed}; checkpoint in {args.out}")


def _pretrain_images(args: argparse.Namespace) -> None:
    from dacl.data.image_sets import load_image_dataset
    from dacl.images.train import IMAGE_DEFAULTS, pretrain_images

    config = _pretrain_config(args, IMAGE_DEFAULTS)
    spec = {"data": args.data, "data_dir": args.data_dir, "domain": "images"}
    dataset = load_image_dataset(args.data, data_dir=args.data_dir)
    result = pretrain_images(dataset.train_images, config, dataset.train_labels, checkpoint_dir=args.out,
                             checkpoint_every=args.checkpoint_every, resume=args.resume, progress=not args.quiet,
                             metadata={"data": spec, "dataset": dataset.name})  # fmt: skip
    epochs = len(result.history)
    loss = f", final loss {result.history[-1]['loss']:.4f}" if epochs else " (no training)"
    print(f"{config.method} on {dataset.name} ({len(dataset.train_images)} images): {epochs} epochs{loss}; "
          f"checkpoint in {args.out}")  # fmt: skip


def _evaluate_images(args: argparse.Namespace, spec: dict[str, Any]) -> None:
    from dacl.data.image_sets import load_image_dataset
    from dacl.evaluate import linear_probe_accuracy
    from dacl.images.probes import weighted_knn_accuracy
    from dacl.images.train import embed_images, load_image_model
    from dacl.report import write_results

    started = time.perf_counter()
    result = load_image_model(args.checkpoint)
    data = args.data or spec.get("data")
    if not data:
        raise ValueError("this checkpoint records no dataset: pass --data (an image dataset name or folder).")
    dataset = load_image_dataset(data, data_dir=args.data_dir or spec.get("data_dir"))
    train = embed_images(result.encoder, dataset.train_images, precision=result.config.precision)
    test = embed_images(result.encoder, dataset.test_images, precision=result.config.precision)
    y_train, y_test = dataset.train_labels.numpy(), dataset.test_labels.numpy()
    row = {"method": result.config.method, "dataset": dataset.name,
           "accuracy": linear_probe_accuracy(train, y_train, test, y_test),
           "knn_accuracy": weighted_knn_accuracy(train, y_train, test, y_test),
           "seconds": time.perf_counter() - started}  # fmt: skip
    results = {"rows": [row], "config": result.config.to_dict(), "checkpoint": str(args.checkpoint)}
    _print_results(results, write_results(results, args.out) if args.out else None)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from dacl.engine.checkpoint import read_state
    from dacl.experiment import evaluate_encoder
    from dacl.report import write_results
    from dacl.tables import load_model

    state = read_state(args.checkpoint)
    if state.get("domain") == "images":
        return _evaluate_images(args, state.get("metadata", {}).get("data") or {})
    spec = _data_spec(args) if args.data else state.get("metadata", {}).get("data")
    if not spec:
        raise ValueError("this checkpoint records no dataset: pass --data (and --label for a file).")
    started = time.perf_counter()
    result = load_model(args.checkpoint)
    dataset, features = _load(spec)
    trained_on = read_state(args.checkpoint)["in_features"]
    if features.X_train.shape[1] != trained_on:
        raise ValueError(
            f"the checkpoint's encoder takes {trained_on} features but {dataset.name} gives "
            f"{features.X_train.shape[1]} after preprocessing; evaluate on data with the columns it was trained on."
        )
    scores = evaluate_encoder(result, features)
    row = {"method": result.config.method, "dataset": dataset.name, **scores, "seconds": time.perf_counter() - started}
    results = {"rows": [row], "config": result.config.to_dict(), "checkpoint": str(args.checkpoint)}
    paths = None
    if args.out:
        paths = write_results(results, args.out)
    _print_results(results, paths)


def _compare_study(args: argparse.Namespace) -> dict[str, Any]:
    """``dacl compare --fractions``: the label study on --data (a file or a registered dataset)."""
    from dacl.data import DATASETS, load_dataset
    from dacl.data.labelled import labelled_dataset
    from dacl.study import recommendations, run_study, study_markdown

    try:
        fractions = tuple(float(f) for f in str(args.fractions).split(",") if f.strip())
    except ValueError:
        raise ValueError(f"--fractions must be comma-separated numbers in (0, 1], got {args.fractions!r}.") from None
    methods = tuple(m.strip() for m in str(args.methods or "dacl+").split(",") if m.strip())
    unknown = set(methods) - set(method_names("tables", trainable=True))
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}; choose from {', '.join(method_names('tables'))}.")
    _check_writable(Path(args.out))
    if args.data in DATASETS:
        dataset = load_dataset(args.data, data_dir=args.data_dir)
    else:
        if args.label is None:
            raise ValueError("dacl compare --fractions on a file needs --label COLUMN.")
        dataset = labelled_dataset(args.data, args.label, args.task, args.test, args.test_size, args.data_seed)
    results = run_study([dataset], fractions, args.out, budget=args.budget, methods=methods,
                        pretraining=_given_pretraining(args), progress=not args.quiet)  # fmt: skip
    print(study_markdown(results, with_recommendations=False), end="")
    print(f"wall time {results['seconds']:.0f} s; wrote {args.out}/results.json, labels.md, labels.png\n")
    print("\n".join(recommendations(results["rows"])))
    return results


def cmd_compare(args: argparse.Namespace, base: dict[str, Any] | None = None) -> dict[str, Any]:
    from dacl.experiment import COMPARE_METHODS, compare
    from dacl.report import write_results

    if getattr(args, "fractions", None):
        return _compare_study(args)
    methods = [m.strip() for m in str(args.methods or ",".join(DEMO_METHODS)).split(",") if m.strip()]
    unknown = [m for m in methods if m not in COMPARE_METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(COMPARE_METHODS)}.")
    config = _pretrain_config(args, base)
    spec = _data_spec(args)
    dataset = _dataset(spec)
    started = time.perf_counter()
    results = compare(dataset, methods, config, scale=spec["scale"], progress=not args.quiet)
    results["seconds"] = time.perf_counter() - started
    results["command"] = "dacl " + " ".join(sys.argv[1:]) if sys.argv[1:] else "dacl"
    _print_results(results, write_results(results, args.out))
    return results


def cmd_demo(args: argparse.Namespace) -> dict[str, Any]:
    values = {f.name: None for f in options()} | {"epochs": args.epochs}
    demo_args = argparse.Namespace(
        data="digits",
        label=None,
        test=None,
        test_size=0.25,
        data_seed=0,
        scale="minmax",
        data_dir=None,
        methods=",".join(DEMO_METHODS),
        out=args.out,
        quiet=args.quiet,
        **values,
    )
    epochs = args.epochs if args.epochs is not None else DEMO_CONFIG["epochs"]
    print(
        f"dacl demo: {', '.join(DEMO_METHODS)} on scikit-learn's digits, encoder {DEMO_CONFIG['depth']} x "
        f"{DEMO_CONFIG['width']}, {epochs} epochs"
    )
    results = cmd_compare(demo_args, DEMO_CONFIG)
    _few_labels_demo(Path(args.out), args.epochs)
    return results


def _few_labels_demo(out: Path, epochs: int | None) -> None:
    """The demo's second part: a table with few labels, DACLClassifier against what a user would fit."""
    from dacl.files import write_atomic
    from dacl.study import few_labels_demo

    row = few_labels_demo(**({} if epochs is None else {"epochs": epochs}))
    lines = [f"Few labels: digits with {100 * row['fraction']:g}% of the training labels ({row['labelled']} rows; "
             f"{row['unlabelled']} unlabelled rows pretrain the encoder), test accuracy:", "",
             "| model | test accuracy (%) |", "|---|---:|",
             f"| DACLClassifier (chose {row['chosen']}, {row['seconds']:.0f} s) | {100 * row['DACLClassifier']:.2f} |",
             f"| gradient-boosted trees | {100 * row['gradient-boosted trees']:.2f} |",
             f"| logistic regression | {100 * row['logistic regression']:.2f} |", ""]  # fmt: skip
    text = "\n".join(lines)
    write_atomic(out / "few-labels.md", text.encode())
    write_atomic(out / "few-labels.json", json.dumps(row, indent=2).encode())
    print("\n" + text)


def cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.bench import DTYPES, BenchSetup, bench_table, run_bench
    from dacl.core.runtime import resolve_device
    from dacl.files import write_atomic

    if args.domain == "images":
        return _bench_images(args)
    precisions = tuple(p.strip() for p in (args.precisions or "float32,bfloat16").split(",") if p.strip())
    unknown = set(precisions) - set(DTYPES)
    if unknown:
        raise ValueError(f"unknown precision(s) {sorted(unknown)}; choose float32 and/or bfloat16.")
    device = str(resolve_device(args.device))  # a clear error when cuda is asked for and absent
    setup = BenchSetup(in_features=args.in_features, width=args.width, depth=args.depth, steps=args.steps,
                       repeats=args.repeats, device=device, compile=args.compile)  # fmt: skip
    batch_sizes = tuple(int(b) for b in (args.batch_sizes or "1024,4096").split(","))
    # a GPU needs a larger probe than a CPU to reach its matmul peak
    roofline_size = 8192 if device.startswith("cuda") else 2048
    report = run_bench(args.out, setup, batch_sizes, precisions, roofline_size)
    table = bench_table(report)
    rooflines = ", ".join(f"{p} {v / 1e9:.1f} GFLOP/s" for p, v in report["rooflines"].items())
    write_atomic(Path(args.out) / "bench.md", f"matmul rooflines: {rooflines}\n\n{table}".encode())
    print(f"matmul rooflines: {rooflines}")
    print(table, end="")
    return report


def _bench_images(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.bench_images import ImageBenchSetup, image_bench_table, run_image_bench
    from dacl.core.runtime import resolve_device
    from dacl.files import write_atomic

    device = str(resolve_device(args.device))
    reports, tables = [], []
    for batch_size in (int(b) for b in (args.batch_sizes or "256").split(",")):
        for precision in (p.strip() for p in (args.precisions or "auto").split(",") if p.strip()):
            if precision not in ("auto", "float32", "bfloat16"):
                raise ValueError(f"unknown precision {precision!r}; choose auto, float32 or bfloat16.")
            setup = ImageBenchSetup(architecture=args.architecture, resnet_width=args.resnet_width,
                                    side=args.image_size, batch_size=batch_size, steps=args.steps,
                                    workers=args.workers, repeats=args.repeats, device=device,
                                    precision=precision)  # fmt: skip
            reports.append(run_image_bench(setup))
            tables.append(image_bench_table(reports[-1]))
            print(tables[-1])
    out = Path(args.out)
    write_atomic(out / "bench-images.json", json.dumps(reports, indent=2).encode())
    write_atomic(out / "bench-images.md", "\n".join(tables).encode())
    return {"rows": reports}


def cmd_reproduce(args: argparse.Namespace) -> dict[str, Any]:
    if args.table == "table2":
        return _reproduce_table2(args)
    if args.table == "table4":
        return _reproduce_table4(args)
    if args.table == "labels":
        return _reproduce_labels(args)
    from dacl.reproduce.table1 import ROWS, reproduce_table1, table1_markdown

    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else ROWS
    unknown = set(methods) - set(ROWS)
    if unknown:
        raise ValueError(f"unknown row(s) {sorted(unknown)}; Table 1 has {', '.join(ROWS)}.")
    results = reproduce_table1(args.dataset, args.budget, args.out, data_dir=args.data_dir, methods=methods,
                               progress=not args.quiet, device=args.device, precision=args.precision,
                               compile=args.compile, hyperparameters_from=args.hyperparameters_from)  # fmt: skip
    print(table1_markdown(results), end="")
    print(f"wall time {results['seconds']:.0f} s; wrote {args.out}/results.json, table1.md, table1.png")
    return results


def _reproduce_labels(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.reproduce.labels import reproduce_labels
    from dacl.study import study_markdown

    try:
        fractions = tuple(float(f) for f in str(args.fractions).split(",") if f.strip())
    except ValueError:
        raise ValueError(f"--fractions must be comma-separated numbers in (0, 1], got {args.fractions!r}.") from None
    methods = tuple(m.strip() for m in str(args.methods).split(",") if m.strip())
    unknown = set(methods) - set(method_names("tables", trainable=True))
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}; choose from {', '.join(method_names('tables'))}.")
    datasets = [d.strip() for d in str(args.datasets).split(",") if d.strip()]
    results = reproduce_labels(datasets, fractions, args.budget, args.out, data_dir=args.data_dir, methods=methods,
                               progress=not args.quiet, block_mixing=args.block_mixing,
                               pretraining=_given_pretraining(args))  # fmt: skip
    print(study_markdown(results), end="")
    print(f"wall time {results['seconds']:.0f} s; wrote {args.out}/results.json, labels.md, labels.png")
    return results


def _reproduce_table2(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.reproduce.table2 import reproduce_table2, table2_markdown

    methods = tuple(m.strip() for m in str(args.methods).split(",") if m.strip())
    unknown = set(methods) - set(method_names("images"))
    if unknown:
        raise ValueError(f"unknown image method(s) {sorted(unknown)}; choose from {', '.join(method_names('images'))}.")
    results = reproduce_table2(args.dataset, args.budget, args.out, data_dir=args.data_dir, methods=methods,
                               seeds=args.seeds, device=args.device, precision=args.precision,
                               progress=not args.quiet)  # fmt: skip
    print(table2_markdown(results), end="")
    print(f"wall time {results['seconds']:.0f} s; wrote {args.out}/results.json, table2.md, table2.png")
    return results


def _reproduce_table4(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.methods import method_names
    from dacl.reproduce.table4 import reproduce_table4, table4_markdown

    graph_methods = method_names("graphs")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = {m for m in methods if m.partition("@")[0] not in graph_methods}
    if unknown:
        raise ValueError(f"unknown graph method(s) {sorted(unknown)}; choose from {', '.join(graph_methods)}.")
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    results = reproduce_table4(datasets, args.budget, args.out, data_dir=args.data_dir, methods=methods,
                               repeats=args.repeats, device=args.device, progress=not args.quiet)  # fmt: skip
    print(table4_markdown(results), end="")
    print(f"wall time {results['seconds']:.0f} s; wrote {args.out}/results.json, table4.md")
    return results


def _fit_values(args: argparse.Namespace) -> dict[str, Any]:
    """The estimator's parameters given on the command line (the rest keep the estimator's defaults)."""
    from dacl.estimator import CONFIG_PARAMETERS
    from dacl.semisupervised.options import SEMI_PARAMETERS

    values = {name: getattr(args, name) for name in (*CONFIG_PARAMETERS, *SEMI_PARAMETERS)}
    values = {k: v for k, v in values.items() if v is not None}
    values.update(scale=args.scale, one_hot_mixing=args.one_hot_mixing, random_state=args.seed,
                  verbose=not args.quiet)  # fmt: skip
    return values


def cmd_fit(args: argparse.Namespace) -> None:
    from dacl.data.labelled import read_labelled
    from dacl.data.tabular import read_table
    from dacl.semisupervised import DACLClassifier, DACLRegressor

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the model.")
    if (out / "model.json").exists() and not args.overwrite:
        raise ValueError(f"--out {out} already holds a model; choose another folder or pass --overwrite.")
    _check_writable(out)
    X, y, task = read_labelled(args.data, args.label, args.task)
    unlabeled = None
    if args.unlabeled:
        unlabeled = read_table(args.unlabeled)[0]
        unlabeled = unlabeled.drop(columns=[args.label], errors="ignore")
        unlabeled = unlabeled[[c for c in X.columns if c in unlabeled.columns] + [
            c for c in unlabeled.columns if c not in X.columns]]  # fmt: skip
        if set(unlabeled.columns) != set(X.columns):
            raise ValueError(f"--unlabeled {args.unlabeled} must have the columns of --data (less the label); it "
                             f"lacks {sorted(set(X.columns) - set(unlabeled.columns))[:10]} and adds "
                             f"{sorted(set(unlabeled.columns) - set(X.columns))[:10]}.")  # fmt: skip
    values = _fit_values(args)
    if task == "classification":
        if args.unlabeled_value is not None:
            values["unlabeled_value"] = _unlabeled_value(args.unlabeled_value, y)
        else:
            values["unlabeled_value"] = None  # a file marks unlabelled rows by empty cells
        model = DACLClassifier(**values)
    else:
        model = DACLRegressor(**values)
    labelled = int(pd_notna(y).sum())
    more = f", {len(unlabeled)} more from {args.unlabeled}" if unlabeled is not None else ""
    print(f"dacl fit: {task} of {args.label!r} on {args.data}: {labelled} labelled rows, "
          f"{len(y) - labelled} unlabelled{more}")  # fmt: skip
    model.fit(X, y, X_unlabeled=unlabeled)
    model.save(out, label=args.label, overwrite=args.overwrite)
    table = model.selection_.to_string(index=False, float_format=lambda v: f"{v:.4f}")
    print(table)
    print(f"chosen: {model.chosen_['model']} ({model.chosen_['reason']}); model in {out} (model.md)")


def pd_notna(values) -> Any:
    import pandas as pd

    return pd.notna(pd.Series(values, dtype=object)).to_numpy()


def _unlabeled_value(text: str, y) -> Any:
    """The --unlabeled-value in the type of the labels (a number where they are numbers)."""
    numbers = [v for v in y if v is not None and not isinstance(v, str)]
    if numbers:
        try:
            return int(text)
        except ValueError:
            return text
    return text


def _check_writable(folder: Path) -> None:
    """Fail now, not after the compute, when ``folder`` cannot be written."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".dacl-write-check."):
            pass
    except OSError as error:
        raise ValueError(f"cannot write to {folder}: {error.strerror or error}; choose another --out.") from None


def cmd_predict(args: argparse.Namespace) -> None:
    import pandas as pd

    from dacl.data.tabular import read_table
    from dacl.files import write_atomic
    from dacl.semisupervised.folder import load_predictor

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"--out {out} must end in .csv or .parquet.")
    if out.exists() and not args.overwrite:
        raise ValueError(f"--out {out} exists; choose another file or pass --overwrite.")
    _check_writable(out.parent if str(out.parent) else Path("."))
    predictor = load_predictor(args.model)
    X = read_table(args.data)[0]
    if not isinstance(X, pd.DataFrame):
        raise ValueError(f"--data {args.data} must be a CSV or Parquet table with named columns.")
    frame = pd.DataFrame(index=range(len(X)))
    if args.id is not None:
        if args.id not in X.columns:
            raise ValueError(f"--id {args.id!r} is not a column of {args.data}; its columns: "
                             f"{', '.join(map(str, list(X.columns)[:20]))}.")  # fmt: skip
        frame[args.id] = X[args.id].to_numpy()
    name = predictor.state.get("label") or "prediction"
    if args.proba:
        probabilities = predictor.predict_proba(X, what=str(args.data))
        frame[name] = predictor.classes_[probabilities.argmax(1)]
        for index, label in enumerate(predictor.classes_):
            frame[f"proba_{label}"] = probabilities[:, index]
    else:
        frame[name] = predictor.predict(X, what=str(args.data))
    if out.suffix.lower() == ".parquet":
        import io

        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        write_atomic(out, buffer.getvalue())
    else:
        write_atomic(out, frame.to_csv(index=False).encode())
    print(f"dacl predict: {len(frame)} predictions of {name!r} ({predictor.chosen['model']}) written to {out}")


COMMANDS = {
    "fit": cmd_fit,
    "predict": cmd_predict,
    "pretrain": cmd_pretrain,
    "evaluate": cmd_evaluate,
    "compare": cmd_compare,
    "demo": cmd_demo,
    "bench": cmd_bench,
    "reproduce": cmd_reproduce,
}


# A user's mistake (a bad value, file, config or checkpoint; a run that diverged) is reported in one
# line with exit status 2; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError, FloatingPointError)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or os.environ.get("DACL_DEBUG", "") not in ("", "0")
    command = next((a for a in argv if not a.startswith("-")), "")
    try:
        args = parse_args(argv)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under torchrun: join the group, rank 0 prints
            from dacl.core.distributed import init_from_environment, rank

            init_from_environment(getattr(args, "device", "cpu") or "cpu")
            if rank() != 0:
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
        COMMANDS[args.command](args)
    except USER_ERRORS as error:
        if debug:
            raise
        print(f"dacl {command}: error: {error} (--debug or DACL_DEBUG=1 shows the traceback)".strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
