"""Gradient-boosted trees kept as arrays predict as scikit-learn's fitted model, bit for bit, and arrays that
do not describe trees are refused at load."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from dacl.tables.semisupervised.trees import BoostedTrees


def _data(seed=0, n=600, columns=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, columns)).astype(np.float32)
    X[rng.random(X.shape) < 0.08] = np.nan  # missing values go to the side each node learnt
    return rng, X


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_the_arrays_predict_as_scikit_learn(kind):
    rng, X = _data()
    signal = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1])
    if kind == "regression":
        model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, signal + rng.normal(size=len(X)))
    else:
        y = (signal > 0).astype(int) if kind == "binary" else np.digitize(signal, [-1, 0, 1])
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    kept = BoostedTrees.from_fitted(model)
    trees = BoostedTrees.from_tensors(kept.tensors(), kept.link)  # as a model folder stores and loads them
    _, new = _data(seed=1, n=2000)
    np.testing.assert_array_equal(trees.raw(new), model._raw_predict(new))  # scikit-learn's own walker
    np.testing.assert_allclose(trees.walk(new), model._raw_predict(new), rtol=0, atol=1e-12)  # the NumPy one
    if kind == "regression":
        np.testing.assert_array_equal(trees.predict(new), model.predict(new))
    else:
        np.testing.assert_allclose(trees.predict_proba(new), model.predict_proba(new), rtol=0, atol=1e-15)
        np.testing.assert_array_equal(trees.predict(new), model.predict(new))


def test_arrays_that_are_not_trees_are_refused():
    rng, X = _data()
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, (np.nan_to_num(X[:, 0]) > 0))
    kept = BoostedTrees.from_fitted(model)
    for name, change in (("left", lambda a: a + 10_000), ("roots", lambda a: a - 1), ("output", lambda a: a + 1)):
        arrays = kept.tensors()
        arrays[name] = change(arrays[name])
        with pytest.raises(ValueError, match="do not describe trees"):
            BoostedTrees.from_tensors(arrays, kept.link)
    cycle = kept.tensors()
    root = int(cycle["roots"][0])
    cycle["left"][root] = root  # a node that is its own child
    with pytest.raises(ValueError, match="cycle"):
        BoostedTrees.from_tensors(cycle, kept.link)
    # issue 45: arrays that pass every range check yet would send scikit-learn's compiled walker, which
    # trusts its nodes, outside a tree or round forever (a fuzz test met the hang)
    inner = np.flatnonzero(~kept.tensors()["leaf"].astype(bool))
    second_root = int(kept.tensors()["roots"][1])
    for name, change, said in (
        ("left", lambda a: _set(a, inner[0], second_root + 1), "outside its own tree"),
        ("right", lambda a: _set(a, inner[1], inner[0]), "cycle"),
        ("roots", lambda a: a[::-1].copy(), "not in order"),
    ):
        arrays = kept.tensors()
        arrays[name] = change(arrays[name])
        with pytest.raises(ValueError, match=said):
            BoostedTrees.from_tensors(arrays, kept.link)
    with pytest.raises(ValueError, match="link"):
        BoostedTrees.from_tensors(kept.tensors(), "exp")
    with pytest.raises(ValueError, match="split on column"):
        kept.raw(np.zeros((2, 1)))


def _set(array, index, value):
    array = array.copy()
    array[index] = value
    return array
