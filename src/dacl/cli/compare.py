"""``dacl compare``: several methods on one dataset side by side; with ``--fractions``, the label study
on a user's file or a registered dataset (the estimator, every model it chooses between, the regret)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dacl.cli import common
from dacl.cli.flags import add, add_data_options, add_pretrain_options, seconds

__all__ = ["DEMO_METHODS", "add_parser", "run"]

DEMO_METHODS = ("none", "gaussian", "dacl", "dacl+", "supervised", "raw")


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("compare", help="several methods on one dataset, side by side; with --fractions, "
                            "the label study (DACLClassifier / DACLRegressor and each model it chooses "
                            "between)")  # fmt: skip
    add_data_options(parser)
    add_pretrain_options(parser, skip=("method",))  # compare takes --methods
    add(parser, "methods", help="comma-separated; default " + ",".join(DEMO_METHODS)
        + " (with --fractions: dacl+, the estimator's encoder)")  # fmt: skip
    add(parser, "out", help="folder for results.json, results.md, results.png (required)")
    add(parser, "overwrite", help="replace the results already in --out")
    study = parser.add_argument_group("label study (--fractions)")
    add(study, "fractions", help="comma-separated shares of the training labels, e.g. 0.01,0.1,1: run the label "
        "study on --data instead of the methods side by side")  # fmt: skip
    add(study, "budget", help="small (the estimators' defaults), screen (one label draw) or smoke")
    add(study, "task")
    add(study, "ignore")
    study.add_argument("--time-limit", dest="time_limit", type=seconds, default=None,
                       help="seconds of each estimator fit, as dacl fit --time-limit: pretraining in at most half, "
                       "each cell's choice in the rest")  # fmt: skip
    return parser


def run(args: argparse.Namespace, base: dict[str, Any] | None = None) -> dict[str, Any]:
    if args.fractions:
        return _study(args)
    from dacl.studies.experiment import COMPARE_METHODS, compare
    from dacl.studies.report import write_results

    methods = list(args.methods or DEMO_METHODS)
    unknown = [m for m in methods if m not in COMPARE_METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(COMPARE_METHODS)}.")
    config = common.pretrain_config(args, base)
    common.check_results_out(args)
    spec = common.data_spec(args)
    dataset = common.load_dataset(spec)
    import time

    started = time.perf_counter()
    results = compare(dataset, methods, config, scale=spec["scale"], progress=not args.quiet)
    results["seconds"] = time.perf_counter() - started
    results["command"] = "dacl " + " ".join(sys.argv[1:]) if sys.argv[1:] else "dacl"
    common.print_results(results, write_results(results, args.out))
    return results


def _study(args: argparse.Namespace) -> dict[str, Any]:
    """``dacl compare --fractions``: the label study on --data (a file or a registered dataset)."""
    from dacl.data import DATASETS, load_dataset
    from dacl.methods import method_names
    from dacl.studies.label_study import recommendations, run_study, study_markdown
    from dacl.tables.labelled import labelled_dataset

    methods = args.methods or ("dacl+",)
    unknown = set(methods) - set(method_names("tables", trainable=True))
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}; choose from {', '.join(method_names('tables'))}.")
    pretraining = common.given_pretraining(args)
    common.check_writable(args.out)  # the study reuses its stored cells in --out: rerunning continues it
    if args.data in DATASETS:
        dataset = load_dataset(args.data, data_dir=args.data_dir)
    else:
        if args.label is None:
            raise ValueError("dacl compare --fractions on a file needs --label COLUMN.")
        dataset = labelled_dataset(args.data, args.label, args.task, args.test, args.test_size, args.data_seed,
                                   args.ignore)  # fmt: skip
        left_out, kept = dataset.info["unlabelled_rows_left_out"], len(dataset.y_train) + len(dataset.y_test)
        if left_out > kept:
            raise ValueError(f"{args.data} has {left_out} rows without a label and {kept} with one: dacl compare "
                             "--fractions measures on labelled rows only (it hides labels it knows), so most of "
                             "this file would be left out. Fit on it with dacl fit (every row pretrains the "
                             "encoder), or give compare the labelled rows.")  # fmt: skip
        if left_out:
            print(f"dacl compare: {left_out} rows of {args.data} have no label and are left out (pretraining "
                  f"included); of its {kept} labelled rows, {len(dataset.y_test)} are the test rows and the "
                  f"fractions are drawn from the other {len(dataset.y_train)}.")  # fmt: skip
    results = run_study([dataset], args.fractions, args.out, budget=args.budget, methods=methods,
                        pretraining=pretraining, progress=not args.quiet, time_limit=args.time_limit)  # fmt: skip
    print(study_markdown(results, with_recommendations=False), end="")
    print(f"wall time {results['seconds']:.0f} s; wrote {args.out}/results.json, labels.md, labels.png\n")
    print("\n".join(recommendations(results["rows"])))
    return results
