"""The choice's table for people: what ``dacl fit`` prints and model.md shows, from the same rows.

One row per candidate setting (and the ensemble), best first: the held-out score as a percentage
(mean ± std over the splits), the splits it was scored on, its fitting seconds, whether it used the
unlabelled rows at choice time, and which was chosen; settings left behind by successive halving get a
mark and one footnote instead of a column of text. Torch-free (the CLI prints it without loading more).
"""

from __future__ import annotations

import math
from typing import Any

from dacl.tables.semisupervised.options import UNLABELLED_CANDIDATES

__all__ = ["leaderboard"]

HALVED = "†"


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _cells(rows: list[dict[str, Any]], classification: bool) -> tuple[list[list[str]], bool]:
    key = "cv_accuracy" if classification else "cv_r2"
    scored = sorted((r for r in rows if _number(r.get(key)) is not None), key=lambda r: -float(r[key]))
    unscored = [r for r in rows if _number(r.get(key)) is None]
    table, halved = [], False
    for rank, row in enumerate(scored + unscored, 1):
        score, std = _number(row.get(key)), _number(row.get("cv_std"))
        text = "" if score is None else f"{100 * score:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")
        members = row["setting"].split(" + ") if row["candidate"] == "ensemble" else [row["candidate"]]
        mark = HALVED if isinstance(row.get("note"), str) and row["note"] else ""
        halved |= bool(mark)
        splits = row.get("splits")
        table.append([str(rank) if score is not None else "-", row["candidate"] + mark, str(row["setting"] or ""),
                      text, "" if _number(splits) is None else str(int(splits)),
                      f"{float(row.get('seconds') or 0):.1f}",
                      "yes" if any(m in UNLABELLED_CANDIDATES for m in members) else "",
                      "chosen" if row.get("chosen") else ""])  # fmt: skip
    return table, halved


def leaderboard(rows: list[dict[str, Any]], classification: bool, markdown: bool = False) -> str:
    """The choice's rows (``Selection.rows``, ``selection_`` as records, or model.json's) as a table: Markdown
    (model.md) or aligned text (the terminal)."""
    table, halved = _cells(rows, classification)
    head = ["#", "candidate", "setting", f"held-out {'accuracy' if classification else 'R²'} %", "splits",
            "seconds", "unlabelled rows", ""]  # fmt: skip
    right = {0, 3, 4, 5}
    if markdown:
        lines = ["| " + " | ".join(head[:-1] + ["chosen"]) + " |",
                 "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]  # fmt: skip
        lines += ["| " + " | ".join(row[:-1] + ["yes" if row[-1] else ""]) + " |" for row in table]
    else:
        widths = [max(len(r[i]) for r in [head, *table]) for i in range(len(head))]

        def line(cells: list[str]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        lines = [line(head).rstrip(), *(line(r).rstrip() for r in table)]
    if halved:
        lines += ["", f"{HALVED} far behind after the first repeat of the split: not fitted on the others "
                  "(scored on fewer splits)"]  # fmt: skip
    return "\n".join(lines)
