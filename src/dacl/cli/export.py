"""``dacl export``: a model folder written by ``dacl fit`` as one ONNX graph, raw columns in, predictions out
(``dacl.tables.semisupervised.onnx_export``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dacl.cli import common
from dacl.cli.flags import add

__all__ = ["FORMATS", "add_parser", "run"]

FORMATS = ("onnx",)


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("export", help="write a model folder as one ONNX graph, for onnxruntime")
    parser.add_argument("--model", default=None, help="the model folder (required)")
    parser.add_argument("--format", default="onnx", choices=FORMATS, help="the file format; default onnx")
    add(parser, "out", help="the file to write, ending in .onnx (required)")
    add(parser, "overwrite", help="replace an existing --out file")
    return parser


def run(args: argparse.Namespace) -> None:
    from dacl.tables.semisupervised.folder import load_predictor

    out = Path(args.out)
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"--out {out} must end in .onnx.")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give the file's name, ending in .onnx.")
    if out.exists() and not args.overwrite:
        raise ValueError(f"--out {out} exists; choose another file or pass --overwrite.")
    common.check_writable(out.parent if str(out.parent) else Path("."))
    predictor = load_predictor(args.model, precision="float32")
    model = predictor.to_onnx(out)
    inputs = ", ".join(f"{i.name!r}" for i in list(model.graph.input)[:5]) + (", ..." if len(model.graph.input) > 5
                                                                               else "")  # fmt: skip
    outputs = ", ".join(o.name for o in model.graph.output)
    print(f"dacl export: {predictor.chosen['model']} written to {out} ({out.stat().st_size / 1e6:.1f} MB; inputs "
          f"{inputs}; outputs {outputs})")
