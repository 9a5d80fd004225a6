"""The chunk size of the nearest-neighbour search (``dacl.core.propagation.nearest``, ``NearestNeighbours.predict``),
side by side in one process: 30,000 query rows against 9,192 reference rows (a spread model's graph rows),
k = 10, at feature widths 50 and 512, chunks of 2**25 similarities (128 MB of float32, the size before issue
44) and 2**21 (8 MB), one thread, the median of ``--repeats`` alternating runs; the neighbours are checked to
be the same (docs/results/speed.md, "The k-NN chunk").

    python docs/results/knn_block_speed.py
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from dacl.core.propagation import nearest
from dacl.core.runtime import cpu_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=30_000)
    parser.add_argument("--references", type=int, default=9_192)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    blocks = (2**25, 2**21)
    print(f"{cpu_kind()} ({platform.processor() or platform.machine()}), torch {torch.__version__}, 1 thread")
    print("| width | 2**25 (128 MB) s | 2**21 (8 MB) s | ratio | same neighbours |")
    print("|---:|---:|---:|---:|---|")
    for width in (50, 512):
        query, reference = torch.randn(args.queries, width), torch.randn(args.references, width)
        seconds: dict[int, list[float]] = {b: [] for b in blocks}
        found = {}
        for _ in range(args.repeats):
            for block in blocks:
                started = time.perf_counter()
                found[block] = nearest(query, reference, 10, block=block)[1]
                seconds[block].append(time.perf_counter() - started)
        before, after = (statistics.median(seconds[b]) for b in blocks)
        same = "yes" if bool((found[blocks[0]] == found[blocks[1]]).all()) else "no"
        print(f"| {width} | {before:.2f} | {after:.2f} | {before / after:.2f} | {same} |", flush=True)


if __name__ == "__main__":
    main()
