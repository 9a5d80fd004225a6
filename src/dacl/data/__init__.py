"""Datasets and preprocessing."""

from dacl.data.preprocess import make_preprocessor
from dacl.data.tabular import DATASETS, Dataset, load_dataset, read_table

__all__ = ["DATASETS", "Dataset", "load_dataset", "make_preprocessor", "read_table"]
