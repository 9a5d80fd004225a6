"""What every domain shares about data: the labelled-dataset container and its split, downloads with
checksums, the registered datasets (by name, each read by its domain's loader), label subsets. A domain's own
readers and file formats live in its folder (``dacl.tables.files``, ``dacl.images.sets``, ``dacl.graphs.tu``)."""

from typing import Any

from dacl.data.dataset import Dataset
from dacl.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "Dataset", "load_dataset"]


def __getattr__(name: str) -> Any:
    from dacl._aliases import moved_name

    return moved_name(__name__, name)
