"""The linear heads of the probe (Sec. 5's linear evaluation protocol) against direct computations."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.preprocessing import StandardScaler

from dacl.core.linear import RIDGE_ALPHAS, LinearHead, fit_ridge, fit_softmax, ridge_leave_one_out, standardization
from oracles import softmax_objective


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


@pytest.mark.parametrize("C", [0.1, 1.0])
def test_softmax_head_minimises_scikit_learns_objective_and_predicts_as_it_does(digits, C):
    X, y = digits
    train, test = slice(0, 1200), slice(1200, None)
    head = fit_softmax(torch.as_tensor(X[train]), torch.as_tensor(y[train]), 10, C=C)
    z = StandardScaler().fit(X[train]).transform(X[train])
    reference = LogisticRegression(C=C, max_iter=5000, tol=1e-8).fit(z, y[train])
    ours = softmax_objective(z, y[train], head.weight.numpy(), head.bias.numpy(), C)
    theirs = softmax_objective(z, y[train], reference.coef_.T, reference.intercept_, C)
    assert ours <= theirs * (1 + 1e-3)  # the same objective, minimised as far
    predicted = head(torch.as_tensor(X[test])).argmax(1).numpy()
    expected = reference.predict(StandardScaler().fit(X[train]).transform(X[test]))
    assert (predicted == expected).mean() > 0.99


def test_ridge_head_is_the_closed_form_of_scikit_learns_ridge_on_standardized_features(digits):
    X, _ = digits
    target = X[:, 20] * 2.0 - X[:, 30] + 0.5
    features = np.delete(X, [20, 30], axis=1)
    head = fit_ridge(torch.as_tensor(features), torch.as_tensor(target), alpha=3.0)
    z = StandardScaler().fit(features).transform(features)
    reference = Ridge(alpha=3.0).fit(z, target)
    np.testing.assert_allclose(head.weight.numpy()[:, 0], reference.coef_, atol=1e-4)
    np.testing.assert_allclose(head(torch.as_tensor(features)).numpy()[:, 0], reference.predict(z), atol=1e-3)


def test_ridge_leave_one_out_error_equals_refitting_without_each_row():
    # the oracle: N refits of scikit-learn's Ridge (intercept unpenalised), each without one row
    rng = np.random.default_rng(0)
    z = rng.normal(size=(30, 8))
    y = z @ rng.normal(size=8) + rng.normal(size=30)
    zc, yc = z - z.mean(0), y - y.mean()
    alphas = (0.1, 3.0, 100.0)
    errors = ridge_leave_one_out(torch.as_tensor(zc), torch.as_tensor(yc), alphas).numpy()
    in_chunks = ridge_leave_one_out(torch.as_tensor(zc), torch.as_tensor(yc), alphas, chunk=7).numpy()
    np.testing.assert_allclose(in_chunks, errors, rtol=1e-12)  # rows taken 7 at a time: the same sums
    for alpha, error in zip(alphas, errors):
        left_out = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            model = Ridge(alpha=alpha).fit(zc[keep], yc[keep])
            left_out.append(yc[i] - model.predict(zc[i : i + 1])[0])
        assert error == pytest.approx(np.mean(np.square(left_out)), rel=1e-8)


def test_ridge_chooses_its_penalty_by_leave_one_out_where_a_fixed_one_interpolates():
    # as many labelled rows as features (the study's 520 rows of wine-quality against 512 features at
    # 10%): alpha=1 all but interpolates the training rows and predicts new ones worse than their mean;
    # the leave-one-out choice is scikit-learn RidgeCV's, and predicts
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 200))
    y = x[:, :5].sum(1) + rng.normal(size=600)
    train, test = slice(0, 200), slice(200, None)
    chosen = fit_ridge(torch.as_tensor(x[train]), torch.as_tensor(y[train]))
    fixed = fit_ridge(torch.as_tensor(x[train]), torch.as_tensor(y[train]), alpha=1.0)
    z = StandardScaler().fit(x[train]).transform(x[train])
    reference = RidgeCV(alphas=RIDGE_ALPHAS).fit(z, y[train])
    expected = fit_ridge(torch.as_tensor(x[train]), torch.as_tensor(y[train]), alpha=float(reference.alpha_))
    np.testing.assert_allclose(chosen.weight.numpy(), expected.weight.numpy(), atol=1e-6)

    def r2(head):
        predicted = head(torch.as_tensor(x[test])).numpy()[:, 0]
        return 1 - np.square(y[test] - predicted).sum() / np.square(y[test] - y[test].mean()).sum()

    assert r2(fixed) < 0 < 0.4 < r2(chosen)


def test_constant_columns_are_left_unscaled_and_heads_round_trip_as_tensors():
    x = torch.tensor([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    mean, std = standardization(x)
    assert std[1] == 1 and torch.isfinite(mean).all()
    head = fit_softmax(x, torch.tensor([0, 1, 1]))
    copy = LinearHead.from_tensors(head.tensors())
    assert torch.equal(copy(x), head(x)) and torch.isfinite(head(x)).all()
    with pytest.raises(ValueError, match="at least one labelled row"):
        fit_ridge(torch.zeros(0, 2), torch.zeros(0))


def test_linear_probe_accuracy_with_the_torch_head_matches_scikit_learns(digits):
    from dacl.evaluate import linear_probe_accuracy

    X, y = digits
    labels = np.array(list("abcdefghij"))[y]  # any label type
    torch_probe = linear_probe_accuracy(X[:1200], labels[:1200], X[1200:], labels[1200:])
    sklearn_probe = linear_probe_accuracy(X[:1200], labels[:1200], X[1200:], labels[1200:], solver="sklearn")
    assert abs(torch_probe - sklearn_probe) <= 0.005
    with pytest.raises(ValueError, match="unknown solver"):
        linear_probe_accuracy(X[:10], y[:10], X[:10], y[:10], solver="lbfgs")


def test_the_softmax_fit_is_the_same_on_one_and_two_threads(threads):
    """Sizes where torch splits the sums over rows by thread (8,400 x 26 log-probabilities, as a
    self-training fit on a pool of unlabelled rows): before the sums ran on one thread the two fits
    differed in the last bits, and L-BFGS carried it on."""
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(8400, 512)).astype(np.float32))
    y = torch.as_tensor(rng.integers(0, 26, 8400))
    heads = []
    for count in (1, 2):
        threads(count)
        heads.append(fit_softmax(x, y, 26, C=1.0, max_iter=60))
        assert torch.get_num_threads() == count  # restored after the fit's one-thread parts
    for name in ("weight", "bias", "mean", "std"):
        assert torch.equal(getattr(heads[0], name), getattr(heads[1], name)), name
