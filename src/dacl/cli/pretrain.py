"""``dacl pretrain``: an encoder on a table (in memory or streamed), an image dataset or folder, or TU
graphs, with checkpoints and exact resume."""

from __future__ import annotations

import argparse
import os
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
    add(parser, "overwrite", help="replace a checkpoint of another run in --out (else refused: --resume continues "
        "it)")  # fmt: skip
    parser.add_argument("--stream", action="store_true",
                        help="tables: read --data (Parquet or CSV files: a folder, a glob in quotes or a file) row "
                        "group by row group instead of into memory, on by default for a folder or a glob; images: "
                        "decode an image folder at every epoch in worker processes instead of once into memory, "
                        "on by default when its decoded images would fill over a quarter of this machine's "
                        "memory")  # fmt: skip
    parser.add_argument("--image-workers", dest="image_workers", type=count, default=None,
                        help="processes decoding a streamed image folder (0: in the training process); default "
                        "the cores less one, at most 8")  # fmt: skip
    parser.add_argument("--buffer-rows", dest="buffer_rows", type=count, default=None,
                        help=f"rows of the shuffle buffer when streaming; default {BUFFER_ROWS}")  # fmt: skip
    parser.add_argument("--steps-per-epoch", dest="steps_per_epoch", type=count, default=None,
                        help="when streaming, end an epoch (and checkpoint) after N steps (tables: each epoch reads "
                        "the row groups in a fresh random order; images: the next epoch goes on through the pass); "
                        "default a whole pass")  # fmt: skip
    return parser


BUFFER_ROWS = 262_144


def _check_out(args: argparse.Namespace, streamed: bool) -> None:
    """Before any compute: --out writable, another run's checkpoint not replaced unasked, and no option
    given that this run would ignore."""
    from dacl.engine.checkpoint import CHECKPOINT_FILE, PREVIOUS_FILE

    common.check_writable(args.out)
    held = any((Path(args.out) / name).is_file() for name in (CHECKPOINT_FILE, PREVIOUS_FILE))
    if held and not (args.resume or args.overwrite):
        raise ValueError(f"--out {args.out} holds the checkpoint of a run; continue it with --resume, replace it with "
                         "--overwrite, or choose another folder.")  # fmt: skip
    only = {"buffer_rows": streamed and args.domain == "tables", "steps_per_epoch": streamed,
            "image_workers": streamed and args.domain == "images"}  # fmt: skip
    ignored = [f for f, applies in only.items() if getattr(args, f) is not None and not applies]
    if ignored:
        names = ", ".join("--" + f.replace("_", "-") for f in ignored)
        what = "streamed files only (--stream, a folder or a glob)" if args.domain == "tables" else \
            "a streamed image folder only (--stream)"  # fmt: skip
        raise ValueError(f"{names} apply to {what}; --data {args.data} is read into memory.")


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _streams_images(args: argparse.Namespace) -> bool:
    """Stream an image folder when asked, or when its decoded training images would fill over a quarter
    of this machine's memory; a registered dataset (in memory) cannot be streamed."""
    from dacl.images.sets import IMAGE_DATASETS

    if str(args.data) in IMAGE_DATASETS or not Path(str(args.data)).is_dir():
        if args.stream:
            raise ValueError(f"--stream reads an image folder at every epoch; {args.data} is a dataset held in "
                             "memory: drop --stream, or give a folder of class folders.")  # fmt: skip
        return False
    if args.stream:
        return True
    from dacl.images.sets import decoded_bytes

    return decoded_bytes(args.data, args.image_size) > _memory_bytes() // 4


def run(args: argparse.Namespace) -> None:
    if args.domain == "images":
        streamed = _streams_images(args)
    else:
        streamed = args.domain == "tables" and bool(
            args.stream or (args.data and (Path(args.data).is_dir() or any(c in args.data for c in "*?[")))
        )
    _check_out(args, streamed)
    if args.domain == "images":
        return _streamed_images(args) if streamed else _images(args)
    if args.domain == "graphs":
        return _graphs(args)
    config = common.pretrain_config(args)
    if streamed:
        return _stream(args, config)
    from dacl.tables import pretrain
    from dacl.tables.saved_preprocessing import SavedPreprocessing

    spec = common.data_spec(args)
    table = _partly_labelled_table(args)
    if table is not None:
        return _every_row(args, config, spec, *table)
    dataset, features = common.load_features(spec)
    # the fitted preprocessing as data, so that dacl fit --encoder applies it to the same columns
    saved = SavedPreprocessing.from_fitted(features.preprocessor, features.columns).to_dict()
    # the one-hot blocks tell the embeddings which columns are numeric and which make one categorical column
    result = pretrain(features.X_train, config, features.y_train, checkpoint_dir=args.out,
                      checkpoint_every=args.checkpoint_every, resume=args.resume, progress=not args.quiet,
                      metadata={"data": spec, "dataset": dataset.name, "preprocessing": saved},
                      categories=features.blocks)  # fmt: skip
    _report(config.method, dataset.name, result, args.out)


def _partly_labelled_table(args: argparse.Namespace):
    """(X, labels or None) of a table file (the one dacl fit takes) with no --label or with some rows'
    label cells empty; None for a registered dataset or a file labelled on every row (split and evaluated
    as before)."""
    import pandas as pd

    from dacl.data.registry import DATASETS
    from dacl.tables.files import read_table

    path = Path(str(args.data))
    if str(args.data) in DATASETS or not path.is_file():
        return None
    X, y = read_table(path, args.label)
    if y is not None and common.present(y).all():
        return None
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(X, columns=[str(i) for i in range(X.shape[1])])
    return X, y


def _every_row(args: argparse.Namespace, config, spec: dict, X, y) -> None:
    """Pretrain on every row of a table with no labels or some (as dacl fit does, its preprocessing fitted
    on every row and recorded in the run for dacl fit --encoder), then score the frozen encoder on the
    labelled rows where there are any (``labelled_rows_score``)."""
    from dacl.tables.transformer import CONFIG_PARAMETERS, DACL

    if config.method == "supervised":
        raise ValueError(f"method 'supervised' trains on labels and {args.data} has rows without one; choose a "
                         "self-supervised method (dacl+, dacl, ...).")  # fmt: skip
    name = Path(str(args.data)).stem
    dacl = DACL(**{option: getattr(config, option) for option in CONFIG_PARAMETERS}, scale=args.scale,
                random_state=config.seed, verbose=not args.quiet, encoder_cache=False, n_jobs=args.thread_count)
    dacl.fit(X, checkpoint_dir=args.out, checkpoint_every=args.checkpoint_every, resume=args.resume,
             metadata={"data": spec, "dataset": name})  # fmt: skip
    labelled = None if y is None else common.present(y)
    said = "no label column" if labelled is None else f"{int(labelled.sum())} labelled"
    last = dacl.history_[-1] if dacl.history_ else None
    print(f"{config.method} on {name} (every row: {len(X)}, {said}): {len(dacl.history_)} epochs"
          + (f", final loss {last['loss']:.4f}" if last else "") + f"; checkpoint in {args.out}")  # fmt: skip
    if labelled is not None:
        score = labelled_rows_score(dacl.transform(X[labelled]), y[labelled])
        if score:
            print(score)


def labelled_rows_score(features, labels) -> str | None:
    """The frozen encoder scored on the labelled rows of a partly labelled table: a linear model's
    cross-validated accuracy (classes) or R² (numbers), 5 folds or as many as the rarest class allows."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from dacl.tables.labelled import infer_task

    task = infer_task(labels)
    if task == "classification":
        labels = np.asarray([str(v) for v in labels])
        folds = min(5, int(np.unique(labels, return_counts=True)[1].min()))
        if folds < 2 or len(np.unique(labels)) < 2:
            return None
        model, split, what = LogisticRegression(max_iter=1000), StratifiedKFold(folds, shuffle=True,
                                                                                random_state=0), "accuracy"
    else:
        labels = np.asarray(labels, dtype=np.float64)
        folds = min(5, len(labels) // 2)
        if folds < 2:
            return None
        model, split, what = RidgeCV(), KFold(folds, shuffle=True, random_state=0), "r2"
    scores = cross_val_score(make_pipeline(StandardScaler(), model), features, labels, cv=split, scoring=what)
    return (f"the frozen encoder on the {len(labels)} labelled rows: a linear model's {folds}-fold {what} "
            f"{scores.mean():.4f} ± {scores.std():.4f}")


def _report(method: str, name: str, result, out: str, what: str = "") -> None:
    epochs = len(result.history)
    if not epochs:
        print(f"{method} on {name}{what}: no training ({method!r}, {result.config.epochs} epochs); the initial "
              f"encoder is saved in {out}")  # fmt: skip
        return
    last, placed = result.history[-1], result.placement
    where = f"{placed['processes']} process{'es' if placed['processes'] > 1 else ''}, {placed['device']}, " \
        f"{placed['precision']}"  # fmt: skip
    print(f"{method} on {name}{what}: {epochs} epochs, final loss {last['loss']:.4f}, "
          f"{last['samples_per_s']:.0f} samples/s ({where}); checkpoint in {out}")  # fmt: skip


def _stream(args: argparse.Namespace, config) -> None:
    from dacl.tables import pretrain_files

    buffer_rows = BUFFER_ROWS if args.buffer_rows is None else args.buffer_rows
    result = pretrain_files(args.data, config, label=args.label, scale=args.scale, buffer_rows=buffer_rows,
                            steps_per_epoch=args.steps_per_epoch, checkpoint_dir=args.out,
                            checkpoint_every=args.checkpoint_every, resume=args.resume,
                            progress=not args.quiet)  # fmt: skip
    _report(config.method, args.data, result, args.out, " (streamed)")


def _images(args: argparse.Namespace) -> None:
    from dacl.images import IMAGE_DEFAULTS, load_data, pretrain

    config = common.pretrain_config(args, IMAGE_DEFAULTS)
    dataset = load_data(args.data, data_dir=args.data_dir, image_size=config.image_size)
    spec = {"data": args.data, "data_dir": args.data_dir, "domain": "images", "image_size": config.image_size}
    result = pretrain(dataset.train_images, config, dataset.train_labels, checkpoint_dir=args.out,
                      checkpoint_every=args.checkpoint_every, resume=args.resume, progress=not args.quiet,
                      metadata={"data": spec, "dataset": dataset.name})  # fmt: skip
    _report(config.method, dataset.name, result, args.out, f" ({len(dataset.train_images)} images)")


def _streamed_images(args: argparse.Namespace) -> None:
    from dacl.images import IMAGE_DEFAULTS, pretrain_folder
    from dacl.images.sets import training_files

    config = common.pretrain_config(args, IMAGE_DEFAULTS)
    root, files = training_files(args.data)
    spec = {"data": args.data, "data_dir": args.data_dir, "domain": "images", "image_size": config.image_size}
    result = pretrain_folder(root, config, files=files, workers=args.image_workers,
                             steps_per_epoch=args.steps_per_epoch, checkpoint_dir=args.out,
                             checkpoint_every=args.checkpoint_every, resume=args.resume, progress=not args.quiet,
                             metadata={"data": spec, "dataset": Path(args.data).name})  # fmt: skip
    _report(config.method, Path(args.data).name, result, args.out, " (streamed)")


def _graphs(args: argparse.Namespace) -> None:
    from dacl.graphs import GRAPH_DEFAULTS, load_data, pretrain

    config = common.pretrain_config(args, GRAPH_DEFAULTS)
    dataset = load_data(args.data, data_dir=args.data_dir)
    spec = {"data": args.data, "data_dir": args.data_dir, "domain": "graphs"}
    result = pretrain(dataset.graphs, config, checkpoint_dir=args.out, checkpoint_every=args.checkpoint_every,
                      resume=args.resume, progress=not args.quiet,
                      metadata={"data": spec, "dataset": dataset.name})  # fmt: skip
    _report(config.method, dataset.name, result, args.out, f" ({len(dataset.graphs)} graphs)")
