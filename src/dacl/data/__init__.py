"""Datasets and preprocessing."""

from dacl.data.preprocess import make_preprocessor
from dacl.data.registry import DATASETS, load_dataset
from dacl.data.tabular import Dataset, read_table

__all__ = ["DATASETS", "Dataset", "load_dataset", "make_preprocessor", "read_table"]
