"""The chunk size of the nearest-neighbour search (``dacl.core.propagation.nearest``, also the size
``NearestNeighbours.predict`` uses), side by side in one process: 30,000 query rows against 9,192 reference
rows (a spread model's graph rows), k = 10, at widths 50, 512 (the features) and 784 (MNIST's raw columns),
chunks of 2**21 to 2**25 similarities (8 MB to 128 MB of float32; 2**25 before issue 44), one thread, the
median of ``--repeats`` rounds that alternate the sizes; the neighbours are checked to be the same
(docs/results/speed.md, "The k-NN chunk").

    python benchmarks/knn_block_speed.py
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from dacl.core.propagation import nearest
from dacl.core.runtime import cpu_kind

BLOCKS = (2**21, 2**22, 2**23, 2**24, 2**25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=30_000)
    parser.add_argument("--references", type=int, default=9_192)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"{cpu_kind()} ({platform.processor() or platform.machine()}), torch {torch.__version__}, 1 thread")
    print("| width | " + " | ".join(f"2**{b.bit_length() - 1} ({4 * b >> 20} MB) s" for b in BLOCKS)
          + " | same neighbours |")  # fmt: skip
    print("|---:|" + "---:|" * len(BLOCKS) + "---|")
    for width in (50, 512, 784):
        query, reference = torch.randn(args.queries, width), torch.randn(args.references, width)
        seconds: dict[int, list[float]] = {b: [] for b in BLOCKS}
        found = {}
        for _ in range(args.repeats):
            for block in BLOCKS:
                started = time.perf_counter()
                found[block] = nearest(query, reference, 10, block=block)[1]
                seconds[block].append(time.perf_counter() - started)
        same = "yes" if all(bool((found[b] == found[BLOCKS[0]]).all()) for b in BLOCKS) else "no"
        cells = " | ".join(f"{statistics.median(seconds[b]):.2f}" for b in BLOCKS)
        print(f"| {width} | {cells} | {same} |", flush=True)


if __name__ == "__main__":
    main()
