"""Summary of docs/results/table1/*/results.json: one table over datasets and the paper's claims.

python docs/results/table1_summary.py   # its output is the Summary section of docs/results/table1.md
"""

import json
from pathlib import Path

from dacl.studies.reproduce.table1 import table1_summary

folder = Path(__file__).parent / "table1"
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
