"""The UCI tabular datasets of our Table 1 runs: adult, letter, magic, spambase.

Read with the same ``read_table`` a user would call on a CSV, from ``<data dir>/tabular/NAME/``
(downloaded from the UCI repository and checksum-verified when missing), with their usual splits:
adult its own test file, letter the last 4,000 rows, the others a seeded stratified 20% test split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dacl.data.download import RemoteFile, fetch
from dacl.tables.files import Dataset, read_table, split

__all__ = ["UCI_FILES", "load_uci"]

_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/"
# sha256 of the files as the UCI repository serves them.
UCI_FILES = {
    "adult": RemoteFile("tabular/adult", "adult.data", (_UCI + "adult/adult.data",),
                        "sha256:5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
                        aliases=("adult-train.csv",)),
    "adult-test": RemoteFile("tabular/adult", "adult.test", (_UCI + "adult/adult.test",),
                             "sha256:a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"),
    "letter": RemoteFile("tabular/letter", "letter-recognition.data",
                         (_UCI + "letter-recognition/letter-recognition.data",),
                         "sha256:2b89f3602cf768d3c8355267d2f13f2417809e101fc2b5ceee10db19a60de6e2"),
    "magic": RemoteFile("tabular/magic", "magic04.data", (_UCI + "magic/magic04.data",),
                        "sha256:e9314b7ebd4b4b59a3b3d65f7316663963777b16a46786877651dbbaa640b36a"),
    "spambase": RemoteFile("tabular/spambase", "spambase.data", (_UCI + "spambase/spambase.data",),
                           "sha256:b1ef93de71f97714d3d7d4f58fc9f718da7bbc8ac8a150eff2778616a8097b12"),
}  # fmt: skip

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation", "relationship",
    "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]  # fmt: skip


def _read(path: Path, label, **options):
    return read_table(path, label=label, header=None, **options)


def load_uci(name: str, data_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """One of adult, letter, magic, spambase, as a ``Dataset`` (features keep their column types)."""
    path = fetch(UCI_FILES[name], data_dir)
    info = {"source": str(path)}
    if name == "adult":
        options = dict(names=ADULT_COLUMNS, na_values="?")
        X_train, y_train = _read(path, "income", **options)
        X_test, y_test = _read(fetch(UCI_FILES["adult-test"], data_dir), "income", skiprows=1, **options)
        y_test = np.array([label.rstrip(".") for label in y_test])  # the test file writes ">50K."
        return Dataset(name, X_train, y_train, X_test, y_test, {"split": "official adult.test", **info})
    if name == "letter":
        X, y = _read(path, 0)
        return Dataset(name, X.iloc[:16000], y[:16000], X.iloc[16000:], y[16000:], {"split": "last 4,000 rows", **info})
    X, y = _read(path, -1)
    return split(name, X, y, test_size=0.2, seed=seed, **info)
