"""Few labels on registered datasets: the label study (``dacl.studies.label_study``) on the seven classification
tables of docs/results/labels.md and the two regression tables, one list of names on top of the
study that ``dacl compare --fractions`` runs on a user's file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dacl.data import load_dataset
from dacl.studies.label_study import STUDY_BUDGETS, check_pretraining, run_study

__all__ = ["LABEL_DATASETS", "REGRESSION_DATASETS", "reproduce_labels"]

LABEL_DATASETS = ("fashion-mnist", "mnist-test", "digits", "adult", "letter", "magic", "spambase")
REGRESSION_DATASETS = ("california-housing", "wine-quality")


def reproduce_labels(
    datasets: list[str],
    fractions: tuple[float, ...],
    budget_name: str,
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    methods: tuple[str, ...] = ("dacl+",),
    progress: bool = False,
    log=print,
    block_mixing: bool = False,
    pretraining: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The label study on each registered dataset; writes results.json, labels.md, labels.png in ``out``.
    ``pretraining``: options of the encoder over the budget's (``dacl.studies.label_study.label_study``)."""
    if budget_name not in STUDY_BUDGETS:
        raise ValueError(f"unknown budget {budget_name!r}; choose one of {', '.join(STUDY_BUDGETS)}.")
    check_pretraining(pretraining)
    loaded = [load_dataset(name, data_dir=data_dir) for name in datasets]
    return run_study(loaded, fractions, out, budget=budget_name, methods=methods, block_mixing=block_mixing,
                     pretraining=pretraining, progress=progress, log=log)  # fmt: skip
