"""``dacl bench``: the pretraining step's speed on this machine (tables: the paper's MLP; images: a SimCLR
step on a ResNet against the straightforward DataLoader way)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dacl.cli.flags import add, boolean, count, names, numbers

__all__ = ["add_parser", "run"]


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("bench", help="pretraining speed on this machine (writes bench.json)")
    add(parser, "out", default="bench-out", help="folder for bench.json and bench.md")
    parser.add_argument("--domain", choices=["tables", "images"], default="tables",
                        help="tables: the paper's MLP step; images: a SimCLR step on a ResNet against the "
                        "straightforward DataLoader way; default tables")  # fmt: skip
    parser.add_argument(
        "--batch-sizes",
        dest="batch_sizes",
        type=numbers(int),
        default=None,
        help="comma-separated batch sizes to time (each >= 2); default 1024,4096 (images: 256)",
    )
    parser.add_argument("--precisions", type=names, default=None, help="comma-separated, of: float32, bfloat16 "
                        "(images also auto); default float32,bfloat16 (images: auto)")  # fmt: skip
    images = parser.add_argument_group("images (--domain images)")
    images.add_argument("--architecture", default="resnet18", help="resnet18, resnet34 or resnet50")
    images.add_argument("--resnet-width", dest="resnet_width", type=float, default=1.0, help="width multiplier")
    images.add_argument("--image-size", dest="image_size", type=int, default=32, help="side of the images")
    images.add_argument("--workers", type=count, default=2, help="DataLoader workers of the straightforward way")
    parser.add_argument("--width", type=int, default=1024, help="encoder width; default 1024")
    parser.add_argument("--depth", type=int, default=12, help="encoder layers; default 12")
    parser.add_argument("--in-features", dest="in_features", type=int, default=784, help="input width; default 784")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    parser.add_argument("--repeats", type=int, default=3, help="alternate measurements of dacl and straightforward")
    add(parser, "device", help="cpu or cuda (cuda:N)")
    add(parser, "compile", type=boolean, help="dacl's step through torch.compile")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.cli.common import check_writable
    from dacl.core.runtime import resolve_device
    from dacl.files import write_atomic
    from dacl.studies.bench import DTYPES, BenchSetup, bench_table, run_bench

    check_writable(args.out)
    if args.domain == "images":
        return _images(args)
    precisions = args.precisions or ("float32", "bfloat16")
    unknown = set(precisions) - set(DTYPES)
    if unknown:
        raise ValueError(f"unknown precision(s) {sorted(unknown)}; choose float32 and/or bfloat16.")
    device = str(resolve_device(args.device))  # a clear error when cuda is asked for and absent
    setup = BenchSetup(in_features=args.in_features, width=args.width, depth=args.depth, steps=args.steps,
                       repeats=args.repeats, device=device, compile=args.compile)  # fmt: skip
    # a GPU needs a larger probe than a CPU to reach its matmul peak
    roofline_size = 8192 if device.startswith("cuda") else 2048
    report = run_bench(args.out, setup, args.batch_sizes or (1024, 4096), precisions, roofline_size)
    table = bench_table(report)
    rooflines = ", ".join(f"{p} {v / 1e9:.1f} GFLOP/s" for p, v in report["rooflines"].items())
    write_atomic(Path(args.out) / "bench.md", f"matmul rooflines: {rooflines}\n\n{table}".encode())
    print(f"matmul rooflines: {rooflines}")
    print(table, end="")
    return report


def _images(args: argparse.Namespace) -> dict[str, Any]:
    from dacl.core.runtime import resolve_device
    from dacl.files import write_atomic
    from dacl.studies.bench_images import ImageBenchSetup, image_bench_table, run_image_bench

    device = str(resolve_device(args.device))
    precisions = args.precisions or ("auto",)
    unknown = set(precisions) - {"auto", "float32", "bfloat16"}
    if unknown:
        raise ValueError(f"unknown precision(s) {sorted(unknown)}; choose auto, float32 or bfloat16.")
    reports, tables = [], []
    for batch_size in args.batch_sizes or (256,):
        for precision in precisions:
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
