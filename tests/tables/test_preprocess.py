"""Issue 45, class 4: the bound of what the networks can carry follows their dtype, and one check between
the scaled float64 values and that dtype names the column and the row (``dacl.tables.preprocess``)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from dacl import DACL, PretrainConfig
from dacl.tables.preprocess import (
    LARGEST_OF_DTYPE,
    STEP_OF_DTYPE,
    check_scaled,
    network_bound,
    warn_scaled_to_nothing,
)
from dacl.tables.train import encode, table_encoder


def test_the_dtype_constants_are_torchs():
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        assert LARGEST_OF_DTYPE[name] == pytest.approx(torch.finfo(dtype).max, rel=1e-7)
        assert STEP_OF_DTYPE[name] == torch.finfo(dtype).eps
    assert network_bound("float32") == pytest.approx(torch.finfo(torch.float32).max ** 0.25)
    assert network_bound(None) == network_bound("auto") == min(map(network_bound, ("float32", "bfloat16")))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_inputs_at_the_bound_keep_the_default_encoder_and_its_squares_finite(precision):
    """The claim behind the bound: rows at +-network_bound through an encoder of the estimators' default
    shape (4 x 512) give finite features, and their squared norms (k-NN, spreading) are finite too."""
    torch.manual_seed(0)
    config = PretrainConfig(depth=4, width=512)
    encoder = table_encoder(config, 6).eval()
    bound = network_bound(precision)
    rows = np.array([[bound] * 6, [-bound] * 6, [bound, -bound, 0, bound, 0, -bound]], dtype=np.float32)
    features = encode(encoder, rows, precision=precision).astype(np.float64)
    assert np.isfinite(features).all()
    assert torch.as_tensor(features, dtype=torch.float32).square().sum(1).isfinite().all()


def test_check_scaled_names_the_first_column_and_row_past_the_bound():
    bound = network_bound()
    scaled = np.zeros((4, 3))
    scaled[2, 1], scaled[3, 0] = 2 * bound, np.nan
    raw = scaled * 1e3
    with pytest.raises(ValueError, match=r"column 'b' of the data holds 8.\d+e\+12 at row 2 .*past 4.\d+e\+09"):
        check_scaled(scaled, ["a", "b", "c"], "the data", raw)
    check_scaled(np.full((2, 2), bound), ["a", "b"], "the data")  # at the bound, and NaN: no error


def test_a_value_scaled_past_the_bound_is_named_not_made_nan():
    """Before, 1e36 in a column fitted on [0, 1e-3] became 1e39 once scaled, infinite in float32: NaN
    probabilities (through the probe, fine-tuning, linear-raw) or meaningless ones (k-NN). Now named."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=80), "small": rng.random(80) * 1e-3})
    model = DACL(epochs=1, depth=1, width=8, random_state=0).fit(X)
    bad = X.copy()
    bad.loc[5, "small"] = 1e36
    with pytest.raises(ValueError, match=r"column 'small' of X holds 1e\+36 at row 5 .* 1.\d+e\+39 once scaled"):
        model.transform(bad)
    assert np.isfinite(model.transform(X.assign(small=1e3))).all()  # a million times the range: still taken


def test_a_column_that_varies_too_little_to_scale_is_named_at_fit():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "tiny": rng.random(60) * 1e-30, "constant": 1.0})
    with pytest.warns(UserWarning, match=r"column\(s\) 'tiny' \(spans 9.\d+e-31\) vary too little"):
        DACL(epochs=1, depth=1, width=8, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant column, or a normal one: no such warning
        warn_scaled_to_nothing(np.array([0.0, 2.0]), np.array([0.0, 1.0]), ["constant", "a"])
