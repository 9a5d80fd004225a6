import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from dacl import DACL

SMALL = dict(epochs=3, depth=2, width=16, projection_dim=8, batch_size=32, random_state=0)


# Every check of sklearn's suite that applies to a transformer runs, and none is expected to fail;
# sklearn itself skips only the array-API check unless SCIPY_ARRAY_API is set.
@parametrize_with_checks([DACL(**SMALL)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "member": rng.choice([True, False], n),
        }
    )
    frame.loc[::7, "age"] = np.nan
    frame.loc[::11, "city"] = np.nan
    y = (frame["city"].fillna("lyon") == "paris").to_numpy().astype(int)
    return frame, y


def test_pipeline_with_logistic_regression(table):
    X, y = table
    train, test = slice(0, 80), slice(80, None)
    pipeline = make_pipeline(DACL(**{**SMALL, "epochs": 10}), LogisticRegression(max_iter=500))
    pipeline.fit(X.iloc[train], y[train])
    # the label is a column of the input (city == paris): the features keep it, on rows never seen
    majority = max(np.mean(y[test]), 1 - np.mean(y[test]))
    assert pipeline.score(X.iloc[test], y[test]) >= majority + 0.15
    features = pipeline[0].transform(X)
    assert features.shape == (len(X), 16) and features.dtype == np.float32 and np.isfinite(features).all()
    # categorical columns are one-hot encoded, booleans are 0/1: 2 numeric + 3 cities + 1 boolean
    assert pipeline[0].preprocessor_.transform(X).shape[1] == 6


def test_parameters_are_the_configs_options_documented_and_validated():
    import inspect

    from sklearn.utils._param_validation import InvalidParameterError

    from dacl.config import options

    names = set(inspect.signature(DACL.__init__).parameters) - {"self"}
    tables = {f.name for f in options() if "tables" in f.metadata["domains"]}
    assert names == tables - {"seed"} | {"scale", "impute", "one_hot_mixing", "random_state", "verbose", "n_jobs",
                                         "encoder_cache"}
    assert {"pooling", "architecture", "crop_scale"}.isdisjoint(names)
    assert names == set(DACL._parameter_constraints)
    for name in names:
        assert f"    {name} : " in DACL.__doc__, name
    for bad in ({"alpha": 0.3}, {"method": "infograph"}, {"batch_size": 1}, {"optimizer": "sgd"}, {"scale": "log"}):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            DACL(**{**SMALL, **bad}).fit(np.random.default_rng(0).random((20, 3)))


def test_clone_get_set_params():
    est = DACL(**SMALL)
    assert est.get_params()["method"] == "dacl+"
    est.set_params(method="dacl", alpha=0.7)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy is not est


def test_fit_transform_is_deterministic_under_random_state(table):
    X, _ = table
    a = DACL(**SMALL).fit_transform(X)
    b = DACL(**SMALL).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


def test_transform_reuses_the_fitted_preprocessing(table):
    X, _ = table
    est = DACL(**SMALL).fit(X.iloc[:80])
    unseen = X.iloc[80:].copy()
    unseen.loc[unseen.index[0], "city"] = "marseille"  # unseen category -> all-zero one-hot
    assert np.isfinite(est.transform(unseen)).all()


def test_numpy_input_and_supervised_method():
    rng = np.random.default_rng(1)
    X = rng.random((60, 5))
    y = np.array(["a", "b", "c"] * 20)
    est = DACL(method="supervised", **SMALL).fit(X, y)
    assert est.transform(X).shape == (60, 16)
    with pytest.raises(ValueError, match="needs labels"):
        DACL(method="supervised", **SMALL).fit(X)


def test_missing_values_without_impute_and_infinite_values_raise(table):
    X, _ = table
    with pytest.raises(ValueError, match="missing values"):
        DACL(impute=False, **SMALL).fit(X)
    array = np.random.default_rng(0).random((20, 3))
    array[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DACL(impute=False, **SMALL).fit(array)
    array[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinit"):
        DACL(**SMALL).fit(array)
    frame = X.copy()
    frame.loc[0, "income"] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        DACL(**SMALL).fit(frame)


def test_standard_scaling_with_dacl_plus_explains_geometric(table):
    X, _ = table
    with pytest.raises(ValueError, match="minmax"):
        DACL(scale="standard", **SMALL).fit(X)
    DACL(scale="standard", method="dacl", **SMALL).fit(X)


def test_one_sample_raises():
    with pytest.raises(ValueError, match="1 sample"):
        DACL(**SMALL).fit(np.ones((1, 4)))


def test_wrong_number_of_features_at_transform(table):
    est = DACL(**SMALL).fit(np.random.default_rng(0).random((20, 4)))
    with pytest.raises(ValueError, match="features"):
        est.transform(np.ones((3, 5)))


def test_all_missing_columns_and_text_arrays_get_clear_errors():
    X = np.random.default_rng(0).random((10, 3))
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match="column.s. 1 of X hold only missing values"):
        DACL(**SMALL).fit(X)
    with pytest.raises(ValueError, match="X holds text; pass a pandas DataFrame"):
        DACL(**SMALL).fit([["a", "b"], ["c", "d"], ["e", "f"]])


def test_one_hot_mixing_blocks_mixes_each_categorical_column_as_one_unit(table):
    X, _ = table
    blocked = DACL(one_hot_mixing="blocks", **SMALL).fit(X)
    # age, income and member (a boolean: 0/1) numeric; city (3 categories) one-hot, after the numeric columns
    assert blocked.model_.views.blocks.tolist() == [-1, -1, -1, 0, 0, 0]
    assert DACL(**SMALL).fit(X).model_.views.blocks is None  # the paper's coordinate-wise mixing by default
    assert DACL(one_hot_mixing="blocks", method="scarf", **SMALL).fit(X).transform(X).shape == (len(X), 16)
    with pytest.raises(ValueError, match="one_hot_mixing"):
        DACL(one_hot_mixing="units", **SMALL).fit(X)


def test_finite_values_too_large_to_scale_are_refused_at_fit_naming_the_column():
    """1e308 is finite, but min-max scaling overflows on it (and a standard deviation from 1e154): refused
    like inf, the column named (issue 36, class 3)."""
    import pandas as pd

    X = pd.DataFrame({"small": np.arange(20.0), "huge": np.r_[np.zeros(19), 1e308]})
    for scale in ("minmax", "standard"):
        with pytest.raises(ValueError, match=r"too large to scale in column\(s\) 'huge'"):
            DACL(epochs=1, depth=1, width=8, scale=scale).fit(X)
