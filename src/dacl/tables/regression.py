"""Two regression tables: california-housing (20,640 districts, 9 columns of which one categorical,
missing values; the target is the median house value) and wine-quality (6,497 wines, red and white
joined with a ``colour`` column; the target is the quality score 3-9).

Read with ``read_table`` from ``<data dir>/tabular/NAME/`` (downloaded and checksum-verified when
missing), split 80/20 at random under the seed (a number cannot be stratified as classes are).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dacl.data.download import RemoteFile, fetch
from dacl.tables.files import Dataset, read_table, split

__all__ = ["REGRESSION_FILES", "load_regression"]

_WINE = "https://archive.ics.uci.edu/ml/machine-learning-databases/wine-quality/"
# sha256 of the files as their sources serve them (california-housing: the copy of Géron's
# handson-ml2 repository, 207 total_bedrooms removed and ocean_proximity added; wine-quality: UCI's).
REGRESSION_FILES = {
    "california-housing": RemoteFile(
        "tabular/california-housing", "housing.csv",
        ("https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/housing.csv",),
        "sha256:8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e"),
    "wine-red": RemoteFile("tabular/wine-quality", "winequality-red.csv", (_WINE + "winequality-red.csv",),
                           "sha256:4a402cf041b025d4566d954c3b9ba8635a3a8a01e039005d97d6a710278cf05e"),
    "wine-white": RemoteFile("tabular/wine-quality", "winequality-white.csv", (_WINE + "winequality-white.csv",),
                             "sha256:76c3f809815c17c07212622f776311faeb31e87610d52c26d87d6e361b169836"),
}  # fmt: skip
TARGETS = {"california-housing": "median_house_value", "wine-quality": "quality"}


def load_regression(name: str, data_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """california-housing or wine-quality as a ``Dataset`` whose ``y`` are numbers (``info["task"]``)."""
    if name == "california-housing":
        path = fetch(REGRESSION_FILES[name], data_dir)
        X, y = read_table(path, TARGETS[name])
        sources = [str(path)]
    elif name == "wine-quality":
        parts, sources = [], []
        for colour in ("red", "white"):
            path = fetch(REGRESSION_FILES[f"wine-{colour}"], data_dir)
            parts.append(read_table(path, sep=";")[0].assign(colour=colour))
            sources.append(str(path))
        frame = pd.concat(parts, ignore_index=True)
        X, y = frame.drop(columns=[TARGETS[name]]), frame[TARGETS[name]].to_numpy()
    else:
        raise ValueError(f"unknown regression dataset {name!r}; choose {', '.join(TARGETS)}.")
    return split(name, X, np.asarray(y, dtype=np.float64), test_size=0.2, seed=seed, stratify=False,
                 source=", ".join(sources), task="regression", target=TARGETS[name])  # fmt: skip
