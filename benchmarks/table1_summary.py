"""Summary of docs/results/table1/*/results.json: one table over datasets and the paper's claims.

python benchmarks/table1_summary.py   # its output is the Summary section of docs/results/table1.md
"""

import argparse
import json
from pathlib import Path

from dacl.studies.reproduce.table1 import table1_summary

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

folder = RESULTS / "table1"
order = [
    "fashion-mnist",
    "fashion-mnist-medium",
    "mnist-test",
    "mnist-test-medium",
    "mnist5k",
    "adult",
    "letter",
    "magic",
    "spambase",
]
found = {p.parent.name: json.loads(p.read_text()) for p in folder.glob("*/results.json")}
print(table1_summary([found[name] for name in sorted(found, key=lambda n: order.index(n) if n in order else 99)]))
