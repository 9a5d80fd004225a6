"""The UCI tables from ../shared/data (checksum-verified), with their usual splits and column types."""

import numpy as np
import pytest

from dacl.data import load_dataset
from dacl.studies.experiment import prepare_features
from dacl.tables.uci import UCI_FILES, load_uci
from helpers import shared_data

SHARED = shared_data()
needs_shared = pytest.mark.skipif(not (SHARED / "tabular").is_dir(), reason="../shared/data is not beside the checkout")


@needs_shared
@pytest.mark.parametrize(
    "name, train, test, classes", [("adult", 32561, 16281, 2), ("letter", 16000, 4000, 26),
                                   ("magic", 15216, 3804, 2), ("spambase", 3680, 921, 2)],
)  # fmt: skip
def test_uci_datasets_from_shared_data(name, train, test, classes):
    ds = load_dataset(name, data_dir=SHARED)
    assert (len(ds.y_train), len(ds.y_test)) == (train, test)
    assert len(set(ds.y_train)) == classes and set(ds.y_test) <= set(ds.y_train)
    if name == "adult":
        assert ds.X_train["workclass"].isna().sum() > 0 and ds.X_train["workclass"].dtype != np.float64
        assert set(ds.y_test) == {"<=50K", ">50K"}
    features = prepare_features(ds)  # what every method trains on: finite, in [0, 1]
    assert features.X_train.shape[0] == train and np.isfinite(features.X_train).all()
    assert features.X_train.min() == 0 and features.X_train.max() == 1


@needs_shared
def test_the_splits_are_adults_own_test_file_letters_last_rows_and_a_seeded_stratified_fifth():
    adult = load_uci("adult", SHARED)
    assert adult.info["split"] == "official adult.test" and not any(str(v).endswith(".") for v in adult.y_test)
    assert list(adult.X_train.columns)[:3] == ["age", "workclass", "fnlwgt"] and "income" not in adult.X_train
    letter = load_uci("letter", SHARED)
    assert letter.info["split"] == "last 4,000 rows" and letter.X_test.index[0] == 16000
    a, b, c = load_uci("magic", SHARED), load_uci("magic", SHARED), load_uci("magic", SHARED, seed=1)
    assert a.X_test.equals(b.X_test) and not a.X_test.equals(c.X_test)
    share = lambda y: np.mean(np.asarray(y) == "g")  # noqa: E731
    assert abs(share(a.y_test) - share(a.y_train)) < 0.01


def test_every_uci_file_is_pinned_by_its_sha256():
    assert set(UCI_FILES) == {"adult", "adult-test", "letter", "magic", "spambase"}
    assert all(f.digest.startswith("sha256:") and len(f.digest) == 7 + 64 for f in UCI_FILES.values())
