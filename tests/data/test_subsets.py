"""Subsets dacl takes are stratified and seeded; an evaluation on one class is an error, not a score."""

import numpy as np
import pandas as pd
import pytest

from dacl.data.subsets import stratified_subset
from dacl.evaluate import knn_accuracy, linear_cv_accuracy, linear_probe_accuracy
from dacl.tables.preprocess import make_preprocessor


def test_a_subset_of_label_sorted_data_holds_every_class_in_its_share():
    labels = np.repeat([0, 1, 2], [100, 60, 40])  # sorted by label, as TU files are
    chosen = stratified_subset(labels, 50, seed=0)
    assert len(chosen) == 50 and (np.diff(chosen) > 0).all()
    assert np.bincount(labels[chosen]).tolist() == [25, 15, 10]
    assert np.array_equal(chosen, stratified_subset(labels, 50, seed=0))
    assert not np.array_equal(chosen, stratified_subset(labels, 50, seed=1))
    assert np.array_equal(stratified_subset(labels, 500), np.arange(200))
    with pytest.raises(ValueError, match="cannot hold all 3 classes"):
        stratified_subset(labels, 2)


def test_an_evaluation_on_one_class_is_an_error():
    X = np.random.default_rng(0).random((20, 3))
    one = np.zeros(20, dtype=int)
    for evaluate in (lambda: linear_probe_accuracy(X, one, X, one), lambda: knn_accuracy(X, one, X, one),
                     lambda: linear_cv_accuracy(X, one, folds=2)):  # fmt: skip
        with pytest.raises(ValueError, match="1 class"):
            evaluate()


def test_an_id_like_text_column_is_capped_with_a_warning_naming_it():
    frame = pd.DataFrame({"id": [f"user{i}" for i in range(300)], "x": np.arange(300.0)})
    with pytest.warns(UserWarning, match="'id' \\(300\\)"):
        preprocessor = make_preprocessor(frame).fit(frame)
    assert preprocessor.transform(frame).shape[1] <= 51  # 50 one-hot columns at most, plus x
