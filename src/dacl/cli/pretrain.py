"""``dacl pretrain``: an encoder on a table (in memory or streamed), an image dataset or folder, or TU
graphs, with checkpoints and exact resume."""

from __future__ import annotations

import argparse
from pathlib import Path

from dacl.cli import common
from dacl.cli.flags import add, add_data_options, add_pretrain_options, count

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("pretrain", help="pretrain an encoder and write checkpoints")
    add_data_options(parser)
    parser.add_argument("--domain", choices=["tables", "images", "graphs"], default="tables",
                        help="tables: rows of numbers, the MLP; images: --data names an image dataset "
                        "(cifar10, cifar10-jpeg, fashion-mnist, ...) or a folder of class folders, a ResNet with "
                        "the image defaults; graphs: --data names a TU dataset (MUTAG, ...; offline from "
                        "--data-dir/NAME/raw), a GIN with the paper's graph defaults; default tables")  # fmt: skip
    add_pretrain_options(parser)
    add(parser, "out", help="checkpoint folder (required)")
    parser.add_argument("--checkpoint-every", dest="checkpoint_every", type=count, default=0,
                        help="write a checkpoint every N epochs (>= 0; 0: only at the end); default 0")  # fmt: skip
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--stream", action="store_true",
                        help="read --data (Parquet or CSV files: a folder, a glob in quotes or a file) row group by "
                        "row group instead of into memory; on by default for a folder or a glob")  # fmt: skip
    parser.add_argument("--buffer-rows", dest="buffer_rows", type=count, default=262_144,
                        help="rows of the shuffle buffer when streaming; default 262144")  # fmt: skip
    parser.add_argument("--steps-per-epoch", dest="steps_per_epoch", type=count, default=None,
                        help="when streaming, end an epoch (and checkpoint) after N steps, each epoch reading "
                        "the row groups in a fresh random order; default: a whole pass")  # fmt: skip
    return parser


def run(args: argparse.Namespace) -> None:
    if args.domain == "images":
        return _images(args)
    if args.domain == "graphs":
        return _graphs(args)
    config = common.pretrain_config(args)
    if args.stream or (args.data and (Path(args.data).is_dir() or any(c in args.data for c in "*?["))):
        return _stream(args, config)
    from dacl.tables import pretrain

    spec = common.data_spec(args)
    dataset, features = common.load_features(spec)
    result = pretrain(features.X_train, config, features.y_train, checkpoint_dir=args.out,
                      checkpoint_every=args.checkpoint_every, resume=args.resume, progress=not args.quiet,
                      metadata={"data": spec, "dataset": dataset.name})  # fmt: skip
    _report(config.method, dataset.name, result, args.out)


def _report(method: str, name: str, result, out: str, what: str = "") -> None:
    epochs = len(result.history)
    if not epochs:
        print(f"{method} on {name}{what}: no training ({method!r}, {result.config.epochs} epochs); the initial "
              f"encoder is saved in {out}")  # fmt: skip
        return
    last = result.history[-1]
    print(f"{method} on {name}{what}: {epochs} epochs, final loss {last['loss']:.4f}, "
          f"{last['samples_per_s']:.0f} samples/s; checkpoint in {out}")  # fmt: skip


def _stream(args: argparse.Namespace, config) -> None:
    from dacl.tables import pretrain_files

    result = pretrain_files(args.data, config, label=args.label, scale=args.scale, buffer_rows=args.buffer_rows,
                            steps_per_epoch=args.steps_per_epoch, checkpoint_dir=args.out,
                            checkpoint_every=args.checkpoint_every, resume=args.resume,
                            progress=not args.quiet)  # fmt: skip
    _report(config.method, args.data, result, args.out, " (streamed)")


def _images(args: argparse.Namespace) -> None:
    from dacl.images import IMAGE_DEFAULTS, load_data, pretrain

    config = common.pretrain_config(args, IMAGE_DEFAULTS)
    dataset = load_data(args.data, data_dir=args.data_dir)
    spec = {"data": args.data, "data_dir": args.data_dir, "domain": "images"}
    result = pretrain(dataset.train_images, config, dataset.train_labels, checkpoint_dir=args.out,
                      checkpoint_every=args.checkpoint_every, resume=args.resume, progress=not args.quiet,
                      metadata={"data": spec, "dataset": dataset.name})  # fmt: skip
    _report(config.method, dataset.name, result, args.out, f" ({len(dataset.train_images)} images)")


def _graphs(args: argparse.Namespace) -> None:
    from dacl.graphs import GRAPH_DEFAULTS, load_data, pretrain

    config = common.pretrain_config(args, GRAPH_DEFAULTS)
    dataset = load_data(args.data, data_dir=args.data_dir)
    spec = {"data": args.data, "data_dir": args.data_dir, "domain": "graphs"}
    result = pretrain(dataset.graphs, config, checkpoint_dir=args.out, checkpoint_every=args.checkpoint_every,
                      resume=args.resume, progress=not args.quiet,
                      metadata={"data": spec, "dataset": dataset.name})  # fmt: skip
    _report(config.method, dataset.name, result, args.out, f" ({len(dataset.graphs)} graphs)")
