"""``dacl predict``: a model folder written by ``dacl fit`` applied to a user's file, columns read by name."""

from __future__ import annotations

import argparse
from pathlib import Path

from dacl.cli import common
from dacl.cli.flags import add

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("predict", help="predict with a model folder written by dacl fit")
    parser.add_argument("--model", default=None, help="the model folder (required)")
    parser.add_argument("--data", default=None, help="a .csv/.tsv/.parquet file with the model's columns, by name")
    add(parser, "out", help="the predictions file to write, .csv or .parquet (required)")
    parser.add_argument("--id", default=None, help="a column of --data to copy beside each prediction")
    parser.add_argument("--proba", action="store_true", help="add one probability column per class")
    add(parser, "overwrite", help="replace an existing --out file")
    add(parser, "precision", default=None, choices=["auto", "float32", "bfloat16"],
        help="of the networks' forward passes through torch (float32: the same predictions on every machine, and "
        "the model's ONNX graph's); default the folder's ONNX graph through onnxruntime where dacl export "
        "--model FOLDER put one there and onnxruntime is installed (float32, without torch), else the fit's "
        "precision (auto: bfloat16 where the CPU or GPU has bf16 units)")
    return parser


def run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    with common.exclusive_output_file(out, (".csv", ".parquet"), args.overwrite, "predict"):
        _predict(args, out)


def _predict(args: argparse.Namespace, out: Path) -> None:
    from dacl.tables.files import read_table
    from dacl.tables.semisupervised.onnx_runtime import load_onnx_predictor
    from dacl.tables.semisupervised.outputs import predictions_table, recorded_outputs

    if args.id is not None:
        taken = recorded_outputs(args.model)  # model.json only: the columns the predictions will have
        if str(args.id) in taken:
            raise ValueError(f"--id {args.id!r} is also a column the predictions write ({', '.join(taken[:4])}"
                             f"{', ...' if len(taken) > 4 else ''}); name the identifier column, not the label.")
    predictor = None
    if args.precision is None:  # the folder's ONNX graph, where it has one: no torch to import
        predictor = load_onnx_predictor(args.model, threads=getattr(args, "thread_count", None))
    if predictor is None:
        from dacl.tables.semisupervised.folder import load_predictor

        predictor = load_predictor(args.model, precision=args.precision)
    X = read_table(args.data)[0]
    frame = predictions_table(predictor, X, str(args.data), id_column=args.id, proba=args.proba)
    if out.suffix.lower() == ".parquet":
        import io

        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        common.write_output(out, buffer.getvalue(), args.overwrite)
    else:
        common.write_output(out, frame.to_csv(index=False).encode(), args.overwrite)
    name = frame.columns[1 if args.id is not None else 0]
    print(f"dacl predict: {len(frame)} predictions of {name!r} ({predictor.chosen['model']}, {predictor.runtime}) "
          f"written to {out}")
