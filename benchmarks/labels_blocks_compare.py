"""Adult's few-label cells with one-hot blocks mixed as units against the plain (coordinate-wise) views,
matched by method, label fraction and draw (the same labelled rows and seeds), from both results.json.

python benchmarks/labels_blocks_compare.py   # the table in docs/results/labels.md, "Mixing ... as one unit"
"""

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

folder = RESULTS / "labels"


def cells(name: str, suffix: str = "") -> dict:
    """(method, fraction, protocol, draw) -> accuracy % of one labels reproduction's results.json."""
    found = {}
    for c in json.loads((folder / name / "results.json").read_text())["cells"]:
        if c["method"].endswith(suffix) and c["protocol"] != "raw columns":
            found[(c["method"].removesuffix(suffix), c["fraction"], c["protocol"], c["draw"])] = 100 * c["accuracy"]
    return found


plain, blocks = cells("adult-small"), cells("adult-small-blocks", " (blocks)")
print("| method | labels | protocol | coordinate-wise | blocks as units | draws |")
print("|---|---:|---|---:|---:|---:|")
for method, fraction, protocol in dict.fromkeys(key[:3] for key in blocks):
    draws = sorted(d for m, f, p, d in blocks if (m, f, p) == (method, fraction, protocol))
    a = [plain[(method, fraction, protocol, d)] for d in draws]
    b = [blocks[(method, fraction, protocol, d)] for d in draws]
    print(f"| {method} | {100 * fraction:g}% | {protocol} | {np.mean(a):.1f} ± {np.std(a):.1f} | "
          f"{np.mean(b):.1f} ± {np.std(b):.1f} | {len(draws)} |")  # fmt: skip
