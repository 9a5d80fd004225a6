"""What every domain shares about data: downloads with checksums, the registered datasets (as arrays), the
canonical files' formats, label subsets. A domain's own readers live in its folder (``dacl.tables``,
``dacl.images``, ``dacl.graphs``)."""

from typing import Any

from dacl.data.registry import DATASETS, load_dataset
from dacl.data.tabular import Dataset, read_table

__all__ = ["DATASETS", "Dataset", "load_dataset", "read_table"]


def __getattr__(name: str) -> Any:
    from dacl._aliases import moved_name

    return moved_name(__name__, name)
