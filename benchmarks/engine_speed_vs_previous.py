"""Side-by-side samples/s of table pretraining before and after the one engine (issue 9): the
previous ``dacl.train.pretrain`` (commit fc03b89, its own loop) against ``dacl.pretrain`` (the
engine), on the bench's set-up (12 x 1024 encoder, 784 inputs, DACL+, 10 steps an epoch, the last
of two epochs timed).

Both run in one process: the previous package is copied from git under the name ``dacl_prev``, and
the two alternate run by run, so that the machine's drift (large for bf16 on a shared 2-core VM)
hits both alike. Reported: the median of each and the median ratio of adjacent pairs.

python benchmarks/engine_speed_vs_previous.py [--pairs 8] [--batch-sizes 1024,4096] [--precisions float32,bfloat16]
(from the repository root of a git checkout)
"""

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

PREVIOUS = "fc03b89"


def load_previous_package() -> object:
    """The previous ``dacl`` package, imported as ``dacl_prev``."""
    folder = Path(tempfile.mkdtemp())
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", PREVIOUS, "src/dacl"], capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        if not name.endswith(".py"):
            continue
        source = subprocess.run(
            ["git", "show", f"{PREVIOUS}:{name}"], capture_output=True, text=True, check=True
        ).stdout
        target = folder / name.replace("src/dacl", "dacl_prev", 1)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.replace("from dacl.", "from dacl_prev.").replace("import dacl.", "import dacl_prev."))
    sys.path.insert(0, str(folder))
    return importlib.import_module("dacl_prev.train")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--batch-sizes", default="1024,4096")
    parser.add_argument("--precisions", default="float32,bfloat16")
    args = parser.parse_args()
    previous = load_previous_package()
    import dacl

    torch.set_num_threads(torch.get_num_threads())
    for batch in map(int, args.batch_sizes.split(",")):
        data = torch.rand(batch * 10, 784, generator=torch.Generator().manual_seed(0))
        for precision in args.precisions.split(","):
            options = dict(method="dacl+", depth=12, width=1024, epochs=2, batch_size=batch, precision=precision,
                           warmup_epochs=0)  # fmt: skip
            runs = {
                "previous": lambda d=data, o=options: previous.pretrain(d, previous.PretrainConfig(**o), progress=0),
                "engine": lambda d=data, o=options: dacl.pretrain(d, dacl.PretrainConfig(**o), progress=False),
            }
            speeds: dict[str, list[float]] = {"previous": [], "engine": []}
            for _ in range(args.pairs):
                for name, run in runs.items():
                    speeds[name].append(run().history[-1]["samples_per_s"])
            ratios = [e / p for e, p in zip(speeds["engine"], speeds["previous"])]
            print(f"batch {batch}, {precision}: previous {statistics.median(speeds['previous']):.0f} samples/s, "
                  f"engine {statistics.median(speeds['engine']):.0f} samples/s; engine/previous, median of "
                  f"{args.pairs} adjacent pairs: {statistics.median(ratios):.3f} "
                  f"(range {min(ratios):.2f}-{max(ratios):.2f})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
