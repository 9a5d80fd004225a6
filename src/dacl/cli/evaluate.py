"""``dacl evaluate``: a checkpoint's encoder scored by the linear probe and k-NN on its data (tables,
images) or by the graph protocol's cross-validated linear classifier (graphs)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dacl.cli import common
from dacl.cli.flags import add, add_data_options

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("evaluate", help="linear probe and k-NN accuracy of a checkpoint")
    parser.add_argument("--checkpoint", default=None, help="folder written by dacl pretrain (required)")
    add_data_options(parser)
    add(parser, "out", help="folder for results.json and results.md")
    add(parser, "overwrite", help="replace the results already in --out")
    parser.add_argument("--protocol", default="linear", choices=["linear", "svm"],
                        help="graphs: linear (the paper's classifier, 100 Adam steps) or svm (an SVM whose C is chosen "
                        "by inner cross-validation, as InfoGraph, GraphCL and GraphMAE publish); 10-fold either way; "
                        "default linear")  # fmt: skip
    return parser


def run(args: argparse.Namespace) -> None:
    from dacl.engine.checkpoint import read_state
    from dacl.studies.report import write_results

    if args.out:
        common.check_results_out(args)
    state = read_state(args.checkpoint)  # once: the domain, the data it was trained on, its input width
    domain = state.get("domain", "tables")
    recorded = state.get("metadata", {}).get("data") or {}
    started = time.perf_counter()
    if domain == "tables":
        result, name, scores = _tables(args, state, recorded)
    else:
        data = args.data or recorded.get("data") or state.get("metadata", {}).get("streamed")
        if not data:
            raise ValueError(f"this checkpoint records no dataset: pass --data (a {domain} dataset name or folder).")
        data_dir = args.data_dir or recorded.get("data_dir")
        if domain == "images":
            from dacl.images import load_data, load_model, scores_of_image_folder, scores_of_images

            result = load_model(args.checkpoint)
            if "streamed" in state.get("metadata", {}) and not args.data:  # embedded batch by batch
                scores, name = scores_of_image_folder(result, data), Path(data).name
            else:
                dataset = load_data(data, data_dir=data_dir, image_size=result.config.image_size)
                scores, name = scores_of_images(result, dataset), dataset.name
        else:
            from dacl.graphs import load_data, load_model, scores_of_graphs

            result = load_model(args.checkpoint)
            dataset = load_data(data, data_dir=data_dir)
            scores, name = scores_of_graphs(result, dataset, protocol=args.protocol), dataset.name
            scores["protocol"] = args.protocol
    row = {"method": result.config.method, "dataset": name, **scores, "seconds": time.perf_counter() - started}
    results = {"rows": [row], "config": result.config.to_dict(), "checkpoint": str(args.checkpoint)}
    common.print_results(results, write_results(results, args.out) if args.out else None)


def _tables(args: argparse.Namespace, state: dict, recorded: dict):
    from dacl.studies.experiment import evaluate_encoder
    from dacl.tables import load_model

    spec = common.data_spec(args) if args.data else recorded
    if not spec:
        raise ValueError("this checkpoint records no dataset: pass --data (and --label for a file).")
    result = load_model(args.checkpoint)
    metadata = state.get("metadata", {})
    if "preprocessing" in metadata and "files" in metadata:  # a streamed run: its own fitted preprocessing
        from dacl.studies.experiment import prepare_features
        from dacl.tables.saved_preprocessing import SavedPreprocessing

        dataset = common.load_dataset(spec)
        saved = SavedPreprocessing.from_dict(metadata["preprocessing"])
        features = prepare_features(dataset, metadata.get("scale", "minmax"), saved=saved)
    else:
        dataset, features = common.load_features(spec)
    if features.X_train.shape[1] != state["in_features"]:
        raise ValueError(
            f"the checkpoint's encoder takes {state['in_features']} features but {dataset.name} gives "
            f"{features.X_train.shape[1]} after preprocessing; evaluate on data with the columns it was trained on."
        )
    return result, dataset.name, evaluate_encoder(result, features)
