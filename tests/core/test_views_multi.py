"""Multi-sample mixup: the sample keeps λ0 ~ U(α, 1), the rest split over k partners by a flat Dirichlet
draw (Eq. 3 generalised; Eq. 5 with geometric weights; Eq. 6 with each taken coordinate from one of k
partners). Tested against direct computations from the same random numbers; k = 1 is today's mixup."""

import pytest
import torch

from dacl.core.views import (
    BinaryMixup,
    GeometricMixup,
    LinearMixup,
    MixupPlus,
    flat_dirichlet,
    sample_partners,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def direct_partners(x, k, g):
    return torch.stack([x[sample_partners(x.shape[0], g)] for _ in range(k)])


def direct_weights(n, k, g):
    u = torch.rand((k, n, 1), generator=g)
    e = -torch.log(1 - u)
    return e / e.sum(0, keepdim=True)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_linear_multi_sample_mixup_is_eq3_with_dirichlet_weights_over_k_partners(k):
    x, alpha = torch.rand(40, 6), 0.6
    view = LinearMixup(alpha, partners=k)(x, gen(1))
    g = gen(1)
    others = direct_partners(x, k, g)
    lam = alpha + (1 - alpha) * torch.rand((40, 1), generator=g)
    w = direct_weights(40, k, g)
    expected = lam * x + (1 - lam) * sum(w[j] * others[j] for j in range(k))
    assert torch.allclose(view, expected, atol=1e-6)


@pytest.mark.parametrize("k", [2, 4])
def test_geometric_multi_sample_mixup_is_eq5_with_geometric_weights(k):
    x, beta = torch.rand(30, 5) + 0.1, 0.7
    view = GeometricMixup(beta, partners=k)(x, gen(2))
    g = gen(2)
    others = direct_partners(x, k, g)
    lam = beta + (1 - beta) * torch.rand((30, 1), generator=g)
    w = direct_weights(30, k, g)
    expected = x**lam
    for j in range(k):
        expected = expected * others[j] ** ((1 - lam) * w[j])
    assert torch.allclose(view, expected, rtol=1e-5)


@pytest.mark.parametrize("k", [2, 3])
def test_binary_multi_sample_mixup_takes_each_coordinate_from_one_of_k_partners(k):
    x, rho = torch.rand(20, 50), 0.4
    view = BinaryMixup(rho, partners=k)(x, gen(3))
    g = gen(3)
    others = direct_partners(x, k, g)
    keep = (torch.rand(x.shape, generator=g) >= rho).float()
    chosen = torch.randint(0, k, x.shape, generator=g)
    taken = others.gather(0, chosen.unsqueeze(0)).squeeze(0)
    assert torch.equal(view, torch.lerp(taken, x, keep))


def test_on_one_hot_rows_the_sample_keeps_at_least_alpha_and_never_mixes_with_itself():
    n, k, alpha = 300, 3, 0.7
    view = LinearMixup(alpha, partners=k)(torch.eye(n), gen(4))
    own = view.diagonal()
    assert (own >= alpha - 1e-6).all() and (own <= 1 + 1e-6).all()
    assert torch.allclose(view.sum(1), torch.ones(n), atol=1e-5)  # convex: the weights sum to one
    others = (view > 1e-7).sum(1) - 1
    assert others.max() <= k and others.float().mean() > 1.5  # several partners, at most k


def test_the_dirichlet_weights_are_flat():
    w = flat_dirichlet(20_000, 2, torch.zeros(1, 1), gen(5)).reshape(2, -1)
    assert torch.allclose(w.sum(0), torch.ones(20_000))
    first = w[0]
    # Dirichlet(1, 1) is U(0, 1) for one weight: mean 1/2, variance 1/12, every quartile a quarter
    assert abs(first.mean().item() - 0.5) < 0.01 and abs(first.var().item() - 1 / 12) < 0.003
    for q in (0.25, 0.5, 0.75):
        assert abs((first < q).float().mean().item() - q) < 0.015


@pytest.mark.parametrize(
    "make",
    [
        lambda k: LinearMixup(0.8, partners=k),
        lambda k: GeometricMixup(0.8, partners=k),
        lambda k: BinaryMixup(0.3, partners=k),
        lambda k: MixupPlus(0.8, rho=0.3, partners=k),
    ],
)
def test_one_partner_is_todays_two_sample_mixup_exactly(make):
    x = torch.rand(64, 9)
    for a, b in zip(make(1).pair(x, gen(6)), type(make(1))(*_defaults(make(1))).pair(x, gen(6))):
        assert torch.equal(a, b)


def _defaults(noise):
    """The constructor's arguments without ``partners``: today's signature."""
    if isinstance(noise, LinearMixup):
        return (noise.alpha,)
    if isinstance(noise, GeometricMixup):
        return (noise.beta,)
    if isinstance(noise, BinaryMixup):
        return (noise.rho,)
    return (noise.linear.alpha, noise.geometric.beta, noise.binary.rho, noise.types)


def test_one_partner_with_blocks_is_the_direct_two_sample_computation():
    blocks = torch.tensor([-1, 0, 0, 0, -1])
    x = torch.cat([torch.rand(16, 1), torch.eye(3)[torch.arange(16) % 3], torch.rand(16, 1)], 1)
    noise = LinearMixup(0.7, partners=1)
    noise.set_blocks(blocks)
    view = noise(x, gen(7))
    g = gen(7)
    partner = x[sample_partners(16, g)]
    lam = 0.7 + 0.3 * torch.rand((16, 1), generator=g)
    keep = torch.rand((16, 1), generator=g) < lam
    expected = lam * x + (1 - lam) * partner
    expected[:, 1:4] = torch.where(keep, x[:, 1:4], partner[:, 1:4])
    assert torch.allclose(view, expected)


def test_blocks_come_whole_from_the_sample_or_one_of_the_k_partners():
    n, k = 400, 3
    blocks = torch.tensor([-1, 0, 0, 0, 0])
    x = torch.cat([torch.rand(n, 1), torch.eye(4)[torch.arange(n) % 4]], 1)
    ids = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    for make in (lambda: LinearMixup(0.5, partners=k), lambda: BinaryMixup(0.5, partners=k)):
        noise = make()
        noise.set_blocks(blocks)
        view = noise(x, gen(8))
        assert torch.equal(view[:, 1:].sum(1), torch.ones(n))  # still one-hot
        assert ((view[:, 1:] == 0) | (view[:, 1:] == 1)).all()
    # with k partners, the blocks not kept spread over several partners' categories
    noise = LinearMixup(0.5, partners=k)
    noise.set_blocks(torch.tensor([-1, 0, 0, 0, 0, 0, 0, 0, 0]))
    codes = torch.nn.functional.one_hot(torch.arange(n) % 8, 8).float()
    view = noise(torch.cat([ids / n, codes], 1), gen(9))
    changed = (view[:, 1:] != codes).any(1)
    assert 0.15 < changed.float().mean() < 0.35  # kept with E[λ0] = 0.75, less same-category partners


def test_mixup_plus_with_k_partners_keeps_each_samples_type_for_both_views():
    x = torch.rand(128, 7) + 0.05
    noise = MixupPlus(0.7, rho=0.3, partners=3)
    v1, v2, kinds = noise.views_and_types(x, gen(10))
    assert set(kinds.tolist()) == {0, 1, 2}
    binary = kinds == 2
    # binary rows take every coordinate from the sample or a partner: values of the batch
    assert torch.isin(v1[binary], x).all() and torch.isin(v2[binary], x).all()
    selection = noise._one_view_by_selection(x, noise.linear.draw_partners(x, gen(11)), kinds, gen(12))
    assert selection.shape == x.shape and torch.isfinite(selection).all()


def test_multi_sample_mixup_refuses_set_valued_samples_and_bad_k():
    with pytest.raises(ValueError, match="set-valued"):
        LinearMixup(0.9, partners=2).grouped_pair(torch.rand(6, 3), torch.tensor([0, 0, 1, 1, 2, 2]), 3, gen())
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="partners"):
            LinearMixup(0.9, partners=bad)
