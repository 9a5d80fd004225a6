import pytest
import torch

from dacl.core.views import (
    BinaryMixup,
    Compose,
    GaussianNoise,
    GeometricMixup,
    LinearMixup,
    MixupPlus,
    Pair,
    ScarfCorruption,
    as_pair_maker,
    group_means,
    sample_partners,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("n", [2, 3, 7, 64])
def test_partners_are_never_the_sample_itself_and_cover_the_others(n):
    draws = torch.stack([sample_partners(n, gen(s)) for s in range(300)])
    assert (draws != torch.arange(n)).all()
    assert draws.min() >= 0 and draws.max() < n
    if n <= 7:  # every other sample is drawn as a partner
        for i in range(n):
            assert set(draws[:, i].tolist()) == set(range(n)) - {i}


def recover_weight_and_partner(view):
    """For one-hot inputs x_i = e_i, a mix is w e_i + (1 - w) e_j: return w and j."""
    n = view.shape[0]
    own = view[torch.arange(n), torch.arange(n)]
    others = view.clone()
    others[torch.arange(n), torch.arange(n)] = -1
    return own, others.argmax(1), others.max(1).values


@pytest.mark.parametrize("alpha", [0.5, 0.6, 0.7, 0.8, 0.9])
def test_linear_mixup_lambda_in_alpha_one_and_partner_not_self(alpha):
    n = 200
    x = torch.eye(n)
    for view in LinearMixup(alpha).pair(x, gen(1)):
        lam, partner, partner_weight = recover_weight_and_partner(view)
        assert (lam >= alpha - 1e-6).all() and (lam <= 1 + 1e-6).all()
        assert torch.allclose(partner_weight, 1 - lam, atol=1e-6)
        assert (partner != torch.arange(n)).all()
        assert torch.allclose(view.sum(1), torch.ones(n))
    # lambdas are spread over [alpha, 1], one per sample
    lam = recover_weight_and_partner(LinearMixup(alpha)(x, gen(2)))[0]
    assert lam.std() > 0.05 * (1 - alpha)


@pytest.mark.parametrize("beta", [0.5, 0.7, 0.9])
def test_geometric_mixup_is_eq5(beta):
    n = 100
    x = torch.exp(torch.eye(n))  # log x_i = e_i, so log view = lambda e_i + (1 - lambda) e_j
    for view in GeometricMixup(beta).pair(x, gen(3)):
        lam, partner, partner_weight = recover_weight_and_partner(view.log())
        assert (lam >= beta - 1e-5).all() and (lam <= 1 + 1e-5).all()
        assert torch.allclose(partner_weight, 1 - lam, atol=1e-5)
        assert (partner != torch.arange(n)).all()


@pytest.mark.parametrize("rho", [0.1, 0.3, 0.5])
def test_binary_mixup_takes_share_rho_from_one_partner(rho):
    n, d = 50, 4000
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1).expand(n, d).contiguous()
    for view in BinaryMixup(rho).pair(x, gen(4)):
        kept = view == x
        taken = view[~kept]
        rows = (~kept).nonzero()[:, 0]
        # every coordinate not kept comes from one partner, and that partner is another sample
        partners = torch.full((n,), -1.0)
        partners[rows] = taken
        assert (partners[rows] == taken).all() and (partners[rows] != rows.float()).all()
        share_kept = kept.float().mean(1)
        # at least as close to the sample as to the partner, in expectation: 1 - rho >= 0.5
        assert abs(share_kept.mean().item() - (1 - rho)) < 0.01
        assert share_kept.mean() >= 0.5 - 0.01


def test_views_are_independent_and_seeded():
    x = torch.rand(32, 10)
    for noise in [LinearMixup(0.7), GeometricMixup(0.7), BinaryMixup(0.3), GaussianNoise(0.1), MixupPlus(0.7)]:
        a1, a2 = noise.pair(x, gen(5))
        b1, b2 = noise.pair(x, gen(5))
        assert a1.shape == a2.shape == x.shape
        assert torch.equal(a1, b1) and torch.equal(a2, b2), noise
        assert not torch.equal(a1, a2), noise


def classify(view_row, d):
    """Signature of each mix type on x = 1 + one-hot (see test below)."""
    if torch.isin(view_row, torch.tensor([1.0, 2.0])).all():
        return 2  # binary: every value is one of the two inputs' values
    if abs(view_row.sum().item() - (d + 1)) < 1e-4:
        return 0  # linear: a convex combination keeps the sum
    return 1  # geometric: the weighted geometric mean lowers the sum


def test_mixup_plus_uses_one_type_per_sample_for_both_views():
    n = 300
    x = 1 + torch.eye(n)
    noise = MixupPlus(alpha=0.6, rho=0.3)
    v1, v2, kinds = noise.views_and_types(x, gen(6))
    assert set(kinds.tolist()) == {0, 1, 2}
    for i in range(n):
        assert classify(v1[i], n) == classify(v2[i], n) == kinds[i].item()


def test_mixup_plus_selection_form_keeps_each_samples_type():
    # the form used on GPUs (no host read-back): every type mixed over the batch, each row's own kept
    n = 300
    x = 1 + torch.eye(n)
    noise = MixupPlus(alpha=0.6, rho=0.3)
    g = gen(8)
    kinds = noise.sample_types(n, g)
    view = noise._one_view_by_selection(x, x[sample_partners(n, g)].unsqueeze(0), kinds, g)
    assert set(kinds.tolist()) == {0, 1, 2}
    assert [classify(view[i], n) for i in range(n)] == kinds.tolist()


def test_validate_false_skips_only_the_value_checks():
    bad = torch.tensor([[1.0, float("nan")], [-1.0, 1.0]])
    for noise in (LinearMixup(), GeometricMixup(), MixupPlus()):
        v1, _ = noise.pair(bad, gen(9), validate=False)  # no read-back of values: the caller checked them
        assert v1.shape == bad.shape
        with pytest.raises(ValueError, match="at least 2 samples"):
            noise.pair(torch.ones(1, 3), validate=False)


def test_mixup_plus_without_geometric_accepts_signed_data():
    x = torch.randn(16, 8)
    v1, v2 = MixupPlus(types=("linear", "binary")).pair(x, gen(7))
    assert torch.isfinite(v1).all() and torch.isfinite(v2).all()


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), "NaN or infinite"),
        (torch.tensor([[1.0, float("inf")], [0.0, 1.0]]), "NaN or infinite"),
        (torch.ones(1, 5), "at least 2 samples"),
        (torch.ones(5), "sample dimension"),
        (torch.ones(4, 3, dtype=torch.long), "float tensor"),
    ],
)
@pytest.mark.parametrize("noise", [LinearMixup(), GeometricMixup(), BinaryMixup(), GaussianNoise(), MixupPlus()])
def test_bad_batches_raise_clear_errors(noise, x, match):
    with pytest.raises(ValueError, match=match):
        noise(x)
    with pytest.raises(ValueError, match=match):
        noise.pair(x)


@pytest.mark.parametrize("noise", [GeometricMixup(0.9), MixupPlus(0.9)])
def test_geometric_rejects_negative_inputs(noise):
    with pytest.raises(ValueError, match="non-negative"):
        noise(torch.randn(8, 4))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LinearMixup(0.4), "alpha must lie in"),
        (lambda: LinearMixup(1.2), "alpha must lie in"),
        (lambda: GeometricMixup(0.3), "beta must lie in"),
        (lambda: BinaryMixup(0.7), "rho"),
        (lambda: GaussianNoise(0.0), "sigma"),
        (lambda: MixupPlus(types=("cutout",)), "types"),
    ],
)
def test_bad_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "noise", [LinearMixup(0.7), GeometricMixup(0.7), BinaryMixup(0.3), GaussianNoise(), MixupPlus()]
)
def test_views_of_batches_of_any_shape_equal_the_flattened_views(noise):
    # (N, C, H, W) images: the same draws as on the (N, C*H*W) rows, reshaped
    x = torch.rand(6, 3, 4, 5)
    images = noise.pair(x, gen(11))
    rows = noise.pair(x.reshape(6, -1), gen(11))
    for image, row in zip(images, rows):
        assert image.shape == x.shape
        torch.testing.assert_close(image.reshape(6, -1), row)


def test_pair_and_compose_follow_the_view_protocol():
    x = torch.rand(10, 4)

    def flip(batch, generator):
        return batch.flip(1)

    first, second = Pair(flip).pair(x, gen())
    assert torch.equal(first, x.flip(1)) and torch.equal(second, x.flip(1))
    first, second = Pair(flip, LinearMixup(0.7)).pair(x, gen(1))
    assert torch.equal(first, x.flip(1))
    torch.testing.assert_close(second, LinearMixup(0.7)(x, gen(1)))
    # an augmentation, then mixup: the mixup of the augmented batch, with the same draws
    composed = Compose(flip, LinearMixup(0.7))(x, gen(2))
    torch.testing.assert_close(composed, LinearMixup(0.7)(x.flip(1), gen(2)))
    assert isinstance(as_pair_maker(flip), Pair) and as_pair_maker(LinearMixup()).pair
    with pytest.raises(ValueError, match="shape"):
        Pair(lambda batch, g: batch[:, :2]).pair(x)
    with pytest.raises(ValueError, match="pair maker"):
        as_pair_maker(3)


def test_grouped_linear_mixup_is_eq4_on_set_valued_samples():
    # 3 samples of 2, 3 and 1 rows: every row of sample i mixed with the mean row of partner j under λ_i
    x = torch.rand(6, 4)
    groups = torch.tensor([0, 0, 1, 1, 1, 2])
    means = torch.stack([x[groups == k].mean(0) for k in range(3)])
    torch.testing.assert_close(group_means(x, groups, 3), means)
    view = LinearMixup(0.6).grouped_view(x, groups, 3, gen(3))
    g = gen(3)
    partners = sample_partners(3, g)
    lam = 0.6 + 0.4 * torch.rand((3, 1), generator=g)
    for row in range(6):
        i = groups[row]
        expected = lam[i] * x[row] + (1 - lam[i]) * means[partners[i]]
        torch.testing.assert_close(view[row], expected)
    assert (partners != torch.arange(3)).all()
    with pytest.raises(ValueError, match="set-valued"):
        MixupPlus().grouped_view(x, groups, 3, gen())


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.6, 1.0])
def test_scarf_replaces_a_fraction_of_features_from_the_same_column_of_other_rows(fraction):
    n, d = 40, 20
    x = torch.arange(n * d, dtype=torch.float32).reshape(n, d)  # value = row * d + column: its origin is known
    anchor, view = ScarfCorruption(fraction).pair(x, gen(12))
    assert torch.equal(anchor, x)  # SCARF's anchor is the row itself
    replaced = view != x
    assert (replaced.sum(1) == round(fraction * d)).all()  # exactly that many per row
    donor_rows = (view // d).long()
    columns = (view % d).long()
    assert (columns == torch.arange(d)).all()  # from the same feature
    assert (donor_rows[replaced] != torch.arange(n).unsqueeze(1).expand(n, d)[replaced]).all()  # of another row
    if 0 < fraction < 1:  # a fresh subset per row
        assert len({tuple(row.tolist()) for row in replaced}) > n // 2
    with pytest.raises(ValueError, match="fraction"):
        ScarfCorruption(1.5)


def test_mixup_plus_over_a_wider_menu_keeps_each_samples_type_for_both_views():
    """DACL+ with SCARF's corruption and Gaussian noise among its types (issue 20's wider menu)."""
    n, d = 240, 12
    x = torch.arange(n * d, dtype=torch.float32).reshape(n, d) / (n * d)  # every value distinct
    noise = MixupPlus(0.7, rho=0.3, types=("binary", "scarf", "gaussian"), sigma=0.05, corruption=0.5)
    v1, v2, kinds = noise.views_and_types(x, gen(13))
    assert set(kinds.tolist()) == {0, 1, 2}
    columns = [set(x[:, j].tolist()) for j in range(d)]
    for view in (v1, v2):
        scarf = view[kinds == 1]
        # SCARF's view: every value is from its own column of the batch, half of each row from other rows
        assert all(set(scarf[:, j].tolist()) <= columns[j] for j in range(d))
        assert ((scarf != x[kinds == 1]).float().mean(1) - 0.5).abs().max() < 0.01
        gauss = view[kinds == 2] - x[kinds == 2]
        assert 0.03 < gauss.std() < 0.07 and torch.isin(view[kinds == 2], x).float().mean() < 0.01
        binary = view[kinds == 0]
        assert torch.isin(binary, x).all()  # binary mixup takes whole coordinates from the batch
    with pytest.raises(ValueError, match="subset of"):
        MixupPlus(types=("linear", "cutmix"))


def test_geometric_mixup_is_the_same_on_one_and_two_threads(threads):
    """torch's pow differs in the last bit between its vector path and the scalar one for a chunk's last
    elements, and the chunks follow the thread count: sparse rows like fashion-mnist's gave other views on
    2 threads in a few of these draws before Eq. 5 ran on one thread."""
    mixup = GeometricMixup(0.9)
    generator = torch.Generator().manual_seed(0)
    for _ in range(100):
        rows = int(torch.randint(100, 200, (1,), generator=generator))
        x, partner = (torch.rand(rows, 784, generator=generator) for _ in range(2))
        x[x < 0.5], partner[partner < 0.5] = 0.0, 0.0
        lam = 0.9 + 0.1 * torch.rand(rows, 1, generator=generator)
        mixed = []
        for count in (1, 2):
            threads(count)
            mixed.append(mixup.mix(x, partner, lam))
        assert torch.equal(*mixed)
