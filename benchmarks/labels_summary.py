"""Summary of docs/results/labels/*/results.json: per dataset and label fraction, the best of each
family (DACL or DACL+, SCARF, the random encoder, the trees or logistic regression on the raw
columns) over its protocols, and the gap between the best DACL row and the best raw-column baseline.

python benchmarks/labels_summary.py   # its output is the Summary section of docs/results/labels.md
"""

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

FAMILIES = {
    "DACL / DACL+": ("dacl", "dacl+"),
    "SCARF": ("scarf",),
    "random encoder / supervised MLP": ("none",),
    "trees / logistic (raw columns)": ("gbdt", "logistic"),
    "trees + DACL+ features": ("gbdt+dacl+",),
}
TIE = 0.005
ORDER = ["fashion-mnist", "mnist-test", "digits", "adult", "letter", "magic", "spambase"]


def best(rows, methods):
    """The best (accuracy, std, 'method protocol') among ``methods`` over every protocol."""
    chosen = max((r for r in rows if r["method"] in methods), key=lambda r: r["accuracy"], default=None)
    if chosen is None:
        return None
    return chosen["accuracy"], chosen["std"], f"{chosen['method']} {chosen['protocol']}"


def main() -> None:
    folder = RESULTS / "labels"
    found = {}
    for path in folder.glob("*/results.json"):
        for row in json.loads(path.read_text())["rows"]:
            found.setdefault(row["dataset"], []).append(row)
    names = sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else 99, n))
    header = "| dataset | labels | " + " | ".join(FAMILIES) + " | best DACL minus best raw-column baseline |"
    lines = [header, "|---|---:|" + "---|" * len(FAMILIES) + "---:|"]
    wins = {}
    for name in names:
        for fraction in sorted({r["fraction"] for r in found[name]}):
            rows = [r for r in found[name] if r["fraction"] == fraction]
            cells = {family: best(rows, methods) for family, methods in FAMILIES.items()}
            top = max(v[0] for v in cells.values() if v)
            texts = []
            for value in cells.values():
                if value is None:
                    texts.append("")
                    continue
                text = f"{100 * value[0]:.1f} ({value[2]})"
                texts.append(f"**{text}**" if value[0] == top else text)
            dacl, raw = cells["DACL / DACL+"], cells["trees / logistic (raw columns)"]
            gap = 100 * (dacl[0] - raw[0])
            # every family within half a point of the best: differences smaller than the draws' spread
            leaders = " = ".join(f for f, v in cells.items() if v and v[0] >= top - TIE)
            wins.setdefault((fraction, leaders), []).append(name)
            lines.append(f"| {name} | {100 * fraction:g}% | " + " | ".join(texts) + f" | {gap:+.1f} |")
    print("\n".join(lines))
    print()
    for (fraction, family), sets in sorted(wins.items()):
        print(f"- {100 * fraction:g}% of the labels, best (within {100 * TIE:g} point): {family} on {', '.join(sets)}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
