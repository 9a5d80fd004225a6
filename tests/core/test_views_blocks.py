"""One-hot blocks mixed as units: every mixup's numeric columns as without blocks, a block taken whole
from the sample with probability λ (Eqs. 3, 5) or 1 - ρ (Eq. 6), else from the partner."""

import numpy as np
import pandas as pd
import pytest
import torch

from dacl.core.views import BinaryMixup, GeometricMixup, LinearMixup, MixupPlus, check_blocks, sample_partners
from dacl.tables.preprocess import make_preprocessor, one_hot_blocks

BLOCKS = torch.tensor([-1, 0, 0, 0, -1, 1, 1])


def table(n: int, seed: int = 0) -> torch.Tensor:
    """Rows of two numeric columns in [0, 1] and two one-hot blocks (3 and 2 categories)."""
    g = torch.Generator().manual_seed(seed)
    numeric = torch.rand(n, 2, generator=g)
    first = torch.nn.functional.one_hot(torch.randint(0, 3, (n,), generator=g), 3).float()
    second = torch.nn.functional.one_hot(torch.randint(0, 2, (n,), generator=g), 2).float()
    return torch.cat([numeric[:, :1], first, numeric[:, 1:], second], dim=1)


@pytest.mark.parametrize("make", [lambda: LinearMixup(0.6), lambda: GeometricMixup(0.6), lambda: BinaryMixup(0.3)])
def test_blocks_are_taken_whole_from_the_sample_or_its_partner_and_numeric_columns_are_unchanged(make):
    x = table(64)
    plain, blocked = make(), make()
    blocked.set_blocks(BLOCKS)
    view_plain = plain(x, torch.Generator().manual_seed(3))
    view = blocked(x, torch.Generator().manual_seed(3))
    numeric = BLOCKS < 0
    assert torch.equal(view[:, numeric], view_plain[:, numeric])  # the same λ / masks and partners, drawn first
    partners = x[sample_partners(64, torch.Generator().manual_seed(3))]
    for block in (0, 1):
        columns = BLOCKS == block
        own = (view[:, columns] == x[:, columns]).all(1)
        theirs = (view[:, columns] == partners[:, columns]).all(1)
        assert bool((own | theirs).all())  # always one whole block, one-hot
        assert torch.equal(view[:, columns].sum(1), torch.ones(64))


def test_linear_blocks_are_the_sample_s_with_probability_lambda_exactly_as_drawn():
    """The direct computation: partners, then λ ~ U(α, 1), then one uniform per sample and block."""
    x, alpha = table(32), 0.7
    noise = LinearMixup(alpha)
    noise.set_blocks(BLOCKS)
    view = noise(x, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    partner = x[sample_partners(32, g)]
    lam = alpha + (1 - alpha) * torch.rand((32, 1), generator=g)
    keep = torch.rand((32, 2), generator=g) < lam
    expected = lam * x + (1 - lam) * partner
    for block in (0, 1):
        columns = BLOCKS == block
        expected[:, columns] = torch.where(keep[:, block : block + 1], x[:, columns], partner[:, columns])
    assert torch.allclose(view, expected)


@pytest.mark.parametrize(("noise", "share"), [(LinearMixup(0.5), 0.75), (BinaryMixup(0.3), 0.7)])
def test_the_share_of_blocks_kept_is_the_expected_lambda_or_one_minus_rho(noise, share):
    n = 20_000
    x = torch.zeros(n, 2)
    x[torch.arange(n), torch.arange(n) % 2] = 1.0  # rows alternate categories; a partner differs half the time
    noise.set_blocks(torch.tensor([0, 0]))
    view = noise(x, torch.Generator().manual_seed(0))
    partners = x[sample_partners(n, torch.Generator().manual_seed(0))]
    differ = (partners != x).any(1)
    kept = (view == x).all(1)[differ].float().mean().item()
    assert kept == pytest.approx(share, abs=0.02)


def test_geometric_mixup_of_different_categories_zeroes_a_block_only_without_blocks():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    plain = GeometricMixup(0.7)(x, torch.Generator().manual_seed(0))
    assert torch.equal(plain, torch.zeros(2, 2))  # x^λ 0^(1-λ) = 0 in every coordinate
    blocked = GeometricMixup(0.7)
    blocked.set_blocks(torch.tensor([0, 0]))
    assert torch.equal(blocked(x, torch.Generator().manual_seed(0)).sum(1), torch.ones(2))


def test_mixup_plus_mixes_blocks_as_units_in_every_type():
    x = table(256)
    noise = MixupPlus(alpha=0.5, rho=0.5)
    noise.set_blocks(BLOCKS)
    for view in noise.pair(x, torch.Generator().manual_seed(1)):
        for block in (0, 1):
            assert torch.equal(view[:, BLOCKS == block].sum(1), torch.ones(256))
            assert set(view[:, BLOCKS == block].unique().tolist()) == {0.0, 1.0}
    selection = noise._one_view_by_selection(x, x.roll(1, 0).unsqueeze(0), torch.randint(0, 3, (256,)), None)
    assert torch.equal(selection[:, BLOCKS == 0].sum(1), torch.ones(256))


@pytest.mark.parametrize(
    ("blocks", "match"),
    [([0, 0, 1], "two or more columns"), ([0, 0, 2, 2], "two or more columns"), ([-2, 0, 0], "two or more"),
     ([[0, 0]], "one block id"), ([0, 0, -1], "shape \\(4,\\)")],
)  # fmt: skip
def test_bad_blocks_raise(blocks, match):
    with pytest.raises(ValueError, match=match):
        check_blocks(torch.tensor(blocks), 4 if match.startswith("shape") else None)


def test_blocks_of_a_different_width_than_the_batch_raise():
    noise = LinearMixup(0.9)
    noise.set_blocks(BLOCKS)
    with pytest.raises(ValueError, match="set for 7 columns"):
        noise(torch.rand(4, 5), None)


def test_one_hot_blocks_of_a_fitted_preprocessor():
    frame = pd.DataFrame({
        "age": [20.0, 30.0, 40.0, 50.0], "colour": ["red", "blue", "green", "red"], "hours": [1, 2, 3, 4],
        "flag": ["y", "n", "n", "y"], "constant": ["a", "a", "a", "a"]})  # fmt: skip
    preprocessor = make_preprocessor(frame).fit(frame)
    blocks = one_hot_blocks(preprocessor)
    assert preprocessor.transform(frame).shape[1] == len(blocks)
    np.testing.assert_array_equal(blocks, [-1, -1, 0, 0, 0, 1, 1, -1])  # numeric first; one category: no block
    numeric = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    np.testing.assert_array_equal(one_hot_blocks(make_preprocessor(numeric).fit(numeric)), [-1, -1])


def test_one_hot_blocks_count_the_infrequent_column():
    values = [f"v{i}" for i in range(60)] * 2
    frame = pd.DataFrame({"id": values, "x": np.arange(120.0)})
    with pytest.warns(UserWarning, match="an ID"):
        preprocessor = make_preprocessor(frame).fit(frame)
    blocks = one_hot_blocks(preprocessor)
    assert preprocessor.transform(frame).shape[1] == len(blocks) == 1 + 50
    assert (blocks[1:] == 0).all()
