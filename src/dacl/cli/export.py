"""``dacl export``: a model folder written by ``dacl fit`` as one ONNX graph, raw columns in, predictions out
(``dacl.tables.semisupervised.onnx_export``): into the folder itself (``dacl predict`` then runs it through
onnxruntime, without torch), or to a file of its own (``--out``) for another runtime."""

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
    add(parser, "out", help="a file of its own to write, ending in .onnx; default the model folder's model.onnx, "
        "which dacl predict then runs through onnxruntime (without torch)")
    add(parser, "overwrite", help="replace an existing --out file")
    return parser


def run(args: argparse.Namespace) -> None:
    from dacl.tables.semisupervised.folder import load_predictor

    if args.out is None:
        from dacl.tables.semisupervised.folder import export_into_folder
        from dacl.tables.semisupervised.record import read_record

        read_record(args.model)  # a model folder, before the lock is taken in it
        with common.exclusive_out(Path(args.model), "export"):
            path = export_into_folder(args.model)
        print(f"dacl export: {path} written ({path.stat().st_size / 1e6:.1f} MB); dacl predict now runs it through "
              "onnxruntime, without torch (--precision auto or bfloat16: through torch)")
        return
    out = Path(args.out)
    with common.exclusive_output_file(out, (".onnx",), args.overwrite, "export"):
        predictor = load_predictor(args.model, precision="float32")
        model = predictor.to_onnx()
        common.write_output(out, model.SerializeToString(), args.overwrite)
    inputs = ", ".join(f"{i.name!r}" for i in list(model.graph.input)[:5]) + (", ..." if len(model.graph.input) > 5
                                                                               else "")  # fmt: skip
    outputs = ", ".join(o.name for o in model.graph.output)
    print(f"dacl export: {predictor.chosen['model']} written to {out} ({out.stat().st_size / 1e6:.1f} MB; inputs "
          f"{inputs}; outputs {outputs})")
