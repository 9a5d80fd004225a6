"""Property-based tests of the views and the loss over random shapes, dtypes, values and batch sizes."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dacl.core.losses import NTXentLoss
from dacl.core.views import BinaryMixup, GaussianNoise, GeometricMixup, LinearMixup, MixupPlus, sample_partners
from oracles import cross_entropy_ntxent

DTYPES = st.sampled_from([torch.float32, torch.float64])


@st.composite
def batches(draw, non_negative=False):
    n = draw(st.integers(2, 40))
    shape = (n, *draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    x = torch.rand(shape, generator=generator, dtype=draw(DTYPES)) * scale
    return x if non_negative else x - scale / 2


def partners_of(seed, n):
    """The partners a view drew: the first draw of its generator (Algorithm 1, lines 6 and 11)."""
    return sample_partners(n, torch.Generator().manual_seed(seed))


@settings(max_examples=60, deadline=None)
@given(batches(), st.floats(0.5, 1.0), st.integers(0, 1000))
def test_linear_mixup_lies_on_the_segment_from_the_partner_to_the_sample(x, alpha, seed):
    view = LinearMixup(alpha)(x, torch.Generator().manual_seed(seed))
    partner = x[partners_of(seed, len(x))]
    assert view.shape == x.shape and view.dtype == x.dtype
    assert (partners_of(seed, len(x)) != torch.arange(len(x))).all()
    gap = x - partner
    lam = ((view - partner) * gap).flatten(1).sum(1) / (gap * gap).flatten(1).sum(1).clamp_min(1e-30)
    moved = (gap * gap).flatten(1).sum(1) > 1e-12
    tolerance = 1e-3 if x.dtype == torch.float32 else 1e-9
    assert (lam[moved] >= alpha - tolerance).all() and (lam[moved] <= 1 + tolerance).all()
    expected = lam.reshape((-1,) + (1,) * (x.dim() - 1)) * gap + partner  # one λ for the whole sample
    torch.testing.assert_close(view[moved], expected[moved], rtol=1e-3, atol=1e-3 * float(x.abs().max()) + 1e-6)


@settings(max_examples=60, deadline=None)
@given(batches(non_negative=True), st.floats(0.5, 1.0), st.integers(0, 1000))
def test_geometric_mixup_lies_between_the_sample_and_the_partner(x, beta, seed):
    view = GeometricMixup(beta)(x, torch.Generator().manual_seed(seed))
    partner = x[partners_of(seed, len(x))]
    low, high = torch.minimum(x, partner), torch.maximum(x, partner)
    slack = 1e-4 * high.abs().max() + 1e-30
    assert torch.isfinite(view).all() and (view >= low - slack).all() and (view <= high + slack).all()


@settings(max_examples=60, deadline=None)
@given(batches(), st.floats(0.0, 0.5), st.integers(0, 1000))
def test_binary_mixup_takes_every_coordinate_from_the_sample_or_the_partner(x, rho, seed):
    view = BinaryMixup(rho)(x, torch.Generator().manual_seed(seed))
    partner = x[partners_of(seed, len(x))]
    assert ((view == x) | (view == partner)).all()


@settings(max_examples=40, deadline=None)
@given(batches(non_negative=True), st.integers(0, 1000))
def test_every_view_is_finite_seeded_and_keeps_shape_and_dtype(x, seed):
    for noise in (LinearMixup(), GeometricMixup(), BinaryMixup(), GaussianNoise(), MixupPlus()):
        first = noise.pair(x, torch.Generator().manual_seed(seed))
        again = noise.pair(x, torch.Generator().manual_seed(seed))
        for a, b in zip(first, again):
            assert a.shape == x.shape and a.dtype == x.dtype and torch.isfinite(a).all()
            assert torch.equal(a, b)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 24), st.integers(1, 16), st.sampled_from([0.05, 0.1, 0.5, 1.0, 0.01]), st.integers(0, 1000),
       st.sampled_from([1e-3, 1.0, 1e4]))  # fmt: skip
def test_ntxent_is_finite_and_equals_the_direct_computation(n, k, tau, seed, scale):
    generator = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, k, generator=generator, dtype=torch.float64) * scale
    z2 = torch.randn(n, k, generator=generator, dtype=torch.float64) * scale
    loss = NTXentLoss(tau)(z1, z2)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(cross_entropy_ntxent(z1, z2, tau).item(), rel=1e-9, abs=1e-9)
