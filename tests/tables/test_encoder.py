"""Numeric embeddings (PLE, PLR: Gorishniy et al. 2022) and the residual MLP (Gorishniy et al. 2021),
against direct computations of their formulas."""

import math

import numpy as np
import pytest
import torch

from dacl.core.encoders import MLPEncoder
from dacl.tables.encoder import (
    CategoryEmbedding,
    ColumnEmbedding,
    PeriodicEmbedding,
    PiecewiseLinearEncoding,
    ResidualMLP,
    TabularEncoder,
    quantile_edges,
)


def test_quantile_edges_are_the_columns_quantiles():
    x = torch.rand(501, 3)
    edges = quantile_edges(x, 4)
    expected = np.quantile(x.numpy(), [0, 0.25, 0.5, 0.75, 1], axis=0).T
    assert edges.shape == (3, 5) and np.allclose(edges.numpy(), expected, atol=1e-6)


def ple_direct(value: float, edges: list[float]) -> list[float]:
    """Eq. 1 of Gorishniy et al. 2022, bin by bin."""
    bins = len(edges) - 1
    out = []
    for t in range(bins):
        left, right = edges[t], edges[t + 1]
        if t > 0 and value < left:
            out.append(0.0)
        elif t < bins - 1 and value >= right:
            out.append(1.0)
        else:
            out.append((value - left) / (right - left))
    return out


def test_piecewise_linear_encoding_is_eq1_inside_and_outside_the_training_range():
    edges = torch.tensor([[0.0, 0.2, 0.5, 1.0], [-1.0, 0.0, 1.0, 3.0]])
    values = torch.tensor([[0.1, -0.5], [0.35, 0.0], [0.7, 2.0], [-0.3, 4.0], [1.4, -2.0]])
    encoded = PiecewiseLinearEncoding(edges)(values)
    assert encoded.shape == (5, 6)
    for row in range(5):
        expected = ple_direct(values[row, 0].item(), edges[0].tolist()) + ple_direct(
            values[row, 1].item(), edges[1].tolist()
        )
        assert np.allclose(encoded[row].numpy(), expected, atol=1e-6), row


def test_piecewise_linear_encoding_of_a_column_with_repeated_quantiles_is_finite_and_steps():
    column = torch.tensor([0.0] * 80 + [1.0] * 20).unsqueeze(1)
    encoding = PiecewiseLinearEncoding(quantile_edges(column, 4))
    out = encoding(torch.tensor([[0.0], [1.0]]))
    assert torch.isfinite(out).all()
    assert not torch.equal(out[0], out[1])  # the two values stay apart


def test_periodic_embedding_is_plr():
    torch.manual_seed(0)
    embedding = PeriodicEmbedding(columns=3, size=4, sigma=0.5, frequencies=5)
    x = torch.rand(7, 3)
    out = embedding(x)
    assert out.shape == (7, 12) and (out >= 0).all()
    c, w, b = embedding.frequencies, embedding.weight, embedding.bias
    for column in range(3):
        angles = 2 * math.pi * c[column] * x[:, column : column + 1]
        v = torch.cat([torch.sin(angles), torch.cos(angles)], 1)
        expected = torch.relu(v @ w[column] + b[column])
        assert torch.allclose(out[:, 4 * column : 4 * column + 4], expected, atol=1e-5)


def test_column_embedding_embeds_numeric_columns_and_passes_the_others_and_their_blocks():
    numeric = torch.tensor([True, False, False, True])
    embedding = ColumnEmbedding(numeric, PiecewiseLinearEncoding(torch.tensor([[0.0, 0.5, 1.0]] * 2)))
    x = torch.tensor([[0.25, 1.0, 0.0, 0.75]])
    out = embedding(x)
    assert embedding.out_features == 6 and out.shape == (1, 6)
    assert torch.allclose(out, torch.tensor([[0.5, 0.0, 1.0, 0.5, 1.0, 0.0]]))
    assert embedding.embedded_blocks(torch.tensor([-1, 0, 0, -1])).tolist() == [-1, -1, -1, -1, 0, 0]
    with pytest.raises(ValueError, match="numeric column"):
        ColumnEmbedding(torch.tensor([False, False]), PiecewiseLinearEncoding(torch.zeros(1, 3)))


def test_category_embedding_gives_each_categorys_row_and_mixes_linearly():
    blocks = torch.tensor([0, 0, 0, 1, 1])  # a column of three categories, one of two
    embedding = CategoryEmbedding(blocks, size=4)
    table = embedding.weight.detach()  # one row per category: rows 0-2 the first column's, 3-4 the second's
    a, b = torch.tensor([[0.0, 1, 0, 1, 0]]), torch.tensor([[0.0, 0, 1, 0, 1]])
    assert embedding.out_features == 8
    assert torch.equal(embedding(a), torch.cat([table[1], table[3]]).unsqueeze(0))  # a direct lookup per column
    lam = 0.7  # Eq. 3 on the one-hot rows is Eq. 3 on their embeddings
    assert torch.allclose(embedding(lam * a + (1 - lam) * b), lam * embedding(a) + (1 - lam) * embedding(b))
    with pytest.raises(ValueError, match="no id left out"):
        CategoryEmbedding(torch.tensor([0, 0, 2, 2]), size=4)


def test_column_embedding_with_categories_gives_each_units_block():
    numeric = torch.tensor([True, False, False, False, False, True])
    categories = CategoryEmbedding(torch.tensor([0, 0, 1, 1]), size=3)
    embedding = ColumnEmbedding(numeric, None, categories)
    x = torch.tensor([[0.25, 1.0, 0.0, 0.0, 1.0, 0.75]])
    out = embedding(x)
    assert embedding.out_features == 2 + 6 and out.shape == (1, 8)
    assert torch.equal(out[0, :2], torch.tensor([0.25, 0.75]))  # numeric columns as they are, first
    assert torch.equal(out[0, 2:], categories(x[:, 1:5])[0])
    # mixed as units, each column's three embedding units are one block
    assert embedding.embedded_blocks(torch.tensor([-1, 4, 4, 7, 7, -1])).tolist() == [-1, -1, 4, 4, 4, 7, 7, 7]
    with pytest.raises(ValueError, match="not numeric"):
        ColumnEmbedding(torch.tensor([True, False, False]), None, categories)


class Recorder:
    def __init__(self):
        self.seen = []

    def __call__(self, layer, h, groups):
        self.seen.append((layer, h.shape[1]))
        return torch.cat([h, h]) if layer == 0 else h


def test_residual_mlp_calls_the_hook_at_every_boundary_and_carries_stacked_views():
    encoder = ResidualMLP(5, width=8, depth=3)
    hook = Recorder()
    out = encoder(torch.rand(4, 5), hook=hook)
    assert hook.seen == [(0, 5), (1, 8), (2, 8), (3, 8)]
    assert out.shape == (8, 8) and (out >= 0).all()  # both views, after the last BatchNorm and ReLU
    assert encoder(torch.rand(4, 5)).shape == (4, 8)


@pytest.mark.parametrize("mix_embeddings", [False, True])
def test_tabular_encoder_gives_the_hook_the_raw_or_the_embedded_columns(mix_embeddings):
    embedding = ColumnEmbedding(torch.ones(3, dtype=torch.bool), PiecewiseLinearEncoding(torch.rand(3, 5).sort(1)[0]))
    encoder = TabularEncoder(embedding, MLPEncoder(embedding.out_features, 8, 2), mix_embeddings)
    hook = Recorder()
    out = encoder(torch.rand(4, 3), hook=hook)
    assert hook.seen[0] == (0, 12 if mix_embeddings else 3)
    assert [layer for layer, _ in hook.seen] == [0, 1, 2] and out.shape == (8, 8)
    assert encoder.mixes_embedded_input is mix_embeddings and encoder.depth == 2
