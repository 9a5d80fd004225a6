"""``dacl reproduce``: the paper's Tables 1, 2 and 4, and the label study on the registered datasets."""

from __future__ import annotations

import argparse
from typing import Any

from dacl.cli import common
from dacl.cli.flags import add, add_pretrain_options, names

__all__ = ["add_parser", "run"]


def add_parser(sub) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = sub.add_parser("reproduce", help="reproduce a table of the paper")
    reproductions = parser.add_subparsers(dest="table", required=True)
    table1 = reproductions.add_parser("table1", help="Table 1: DACL on data with no known augmentation")
    table1.add_argument("--dataset", default=None, help="mnist-test, mnist5k, fashion-mnist, cifar10, adult, ...")
    add(table1, "budget", help="paper, medium, small or smoke")
    add(table1, "out", help="folder for results.json, table1.md, table1.png, runs/")
    add(table1, "methods", help="comma-separated subset of the rows")
    table1.add_argument("--hyperparameters-from", dest="hyperparameters_from", default=None,
                        help="skip the search: take each row's hyperparameters from an earlier reproduction on the "
                        "same dataset (its --out folder or results.json), e.g. at a smaller budget")  # fmt: skip
    add(table1, "precision")
    add(table1, "compile")

    table2 = reproductions.add_parser("table2", help="Table 2: images (ResNet): DACL, SimCLR, SimCLR+DACL and "
                                      "baselines")  # fmt: skip
    table2.add_argument("--dataset", default=None, help="cifar10, cifar100, cifar10-jpeg, fashion-mnist, mnist or "
                        "a folder of class folders")  # fmt: skip
    add(table2, "budget", help="paper, control, gpu, small or smoke")
    add(table2, "out", help="folder for results.json, table2.md, table2.png, runs/")
    add(table2, "methods", default="none,gaussian,dacl,dacl+,simclr,simclr+dacl",
        help="comma-separated image methods (dacl.methods.METHODS)")  # fmt: skip
    add(table2, "seeds")
    add(table2, "precision", help="auto (bf16 where it pays), float32 or bfloat16")

    table4 = reproductions.add_parser("table4", help="Table 4: DACL on graphs (GIN) against InfoGraph and "
                                      "No-Pretraining")  # fmt: skip
    add(table4, "datasets", help="comma-separated TU names, e.g. MUTAG,PTC_MR")
    add(table4, "budget", help="paper, small or smoke")
    add(table4, "out", help="folder for results.json, table4.md, runs/")
    add(table4, "methods", default="dacl,infograph,none",
        help="comma-separated graph methods; dacl@L mixes after GIN layer L")  # fmt: skip
    add(table4, "seeds", aliases=("--repeats",))
    table4.add_argument("--protocols", type=names, default=("linear",),
                        help="comma-separated: linear (the paper's classifier) and svm (the SVM that InfoGraph, "
                        "GraphCL and GraphMAE publish); default linear")  # fmt: skip

    labels = reproductions.add_parser("labels", help="few labels: DACLClassifier / DACLRegressor and every model "
                                      "they choose between, per label fraction")  # fmt: skip
    add(labels, "datasets", help="comma-separated registered datasets, e.g. digits,adult (regression: "
        "california-housing, wine-quality)")  # fmt: skip
    add(labels, "fractions", default="0.01,0.1,1")
    add(labels, "budget", help="small, screen (small with one label draw) or smoke")
    add(labels, "out", help="folder for results.json, labels.md, labels.png, runs/")
    add(labels, "methods", default="dacl+", help="pretrained encoders, comma-separated; the first is the "
        "estimator's, each further one adds its own rows")  # fmt: skip
    labels.add_argument("--block-mixing", dest="block_mixing", action="store_true",
                        help="dacl and dacl+ mix each categorical column's one-hot block as one unit")  # fmt: skip
    from dacl.tables.semisupervised.options import PRETRAINING_DEFAULTS  # light: names and numbers only

    add_pretrain_options(labels, skip=("method", "seed"), domain="tables", defaults=PRETRAINING_DEFAULTS)
    tables = {"table1": table1, "table2": table2, "table4": table4, "labels": labels}
    for command in tables.values():
        add(command, "data_dir", "quiet")
        if command is not labels:
            add(command, "device")
    return parser, tables


def run(args: argparse.Namespace) -> dict[str, Any]:
    return {"table1": _table1, "table2": _table2, "table4": _table4, "labels": _labels}[args.table](args)


def _check_methods(methods: tuple[str, ...], known: tuple[str, ...], what: str) -> None:
    unknown = sorted({m for m in methods if m.partition("@")[0] not in known})
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}.")


def _written(results: dict[str, Any], text: str, out: str, files: str) -> dict[str, Any]:
    print(text, end="")
    print(f"wall time {results['seconds']:.0f} s; wrote {out}/results.json, {files}")
    return results


def _table1(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.studies.reproduce.table1 import ROWS, reproduce_table1, table1_markdown

    methods = args.methods or ROWS
    _check_methods(methods, ROWS, "Table 1 row(s)")
    common.check_writable(args.out)
    results = reproduce_table1(args.dataset, args.budget, args.out, data_dir=args.data_dir, methods=methods,
                               progress=not args.quiet, device=args.device, precision=args.precision,
                               compile=args.compile, hyperparameters_from=args.hyperparameters_from)  # fmt: skip
    return _written(results, table1_markdown(results), args.out, "table1.md, table1.png")


def _table2(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.methods import method_names
    from dacl.studies.reproduce.table2 import reproduce_table2, table2_markdown

    _check_methods(args.methods, method_names("images"), "image method(s)")
    common.check_writable(args.out)
    results = reproduce_table2(args.dataset, args.budget, args.out, data_dir=args.data_dir, methods=args.methods,
                               seeds=args.seeds, device=args.device, precision=args.precision,
                               progress=not args.quiet)  # fmt: skip
    return _written(results, table2_markdown(results), args.out, "table2.md, table2.png")


def _table4(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.methods import method_names
    from dacl.studies.reproduce.table4 import reproduce_table4, table4_markdown

    _check_methods(args.methods, method_names("graphs"), "graph method(s)")
    common.check_writable(args.out)
    results = reproduce_table4(list(args.datasets), args.budget, args.out, data_dir=args.data_dir,
                               methods=args.methods, repeats=args.seeds, device=args.device,
                               progress=not args.quiet, protocols=tuple(args.protocols))  # fmt: skip
    return _written(results, table4_markdown(results), args.out, "table4.md")


def _labels(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.methods import method_names
    from dacl.studies.label_study import study_markdown
    from dacl.studies.reproduce.labels import reproduce_labels

    _check_methods(args.methods, method_names("tables", trainable=True), "method(s)")
    pretraining = common.given_pretraining(args)
    common.check_writable(args.out)
    results = reproduce_labels(list(args.datasets), args.fractions, args.budget, args.out, data_dir=args.data_dir,
                               methods=args.methods, progress=not args.quiet, block_mixing=args.block_mixing,
                               pretraining=pretraining)  # fmt: skip
    return _written(results, study_markdown(results), args.out, "labels.md, labels.png")
