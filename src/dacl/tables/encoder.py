"""Encoders for tables beyond the paper's plain MLP: numeric column embeddings and a residual MLP.

- Piecewise-linear encoding with quantile bins (PLE) and periodic embeddings followed by a linear layer
  and a ReLU (PLR): Gorishniy, Rubachev, Babenko, "On Embeddings for Numerical Features in Tabular Deep
  Learning", NeurIPS 2022 (Eqs. 1-2 and Sec. 3.3). Written here on torch alone: the authors'
  ``rtdl_num_embeddings`` (0.0.12) imports ``sklearn.tree`` whenever scikit-learn is installed (for its
  tree-based bins), and the core imports only torch (``import dacl`` loads no scikit-learn).
- The residual MLP: Gorishniy, Rubachev, Khrulkov, Babenko, "Revisiting Deep Learning Models for
  Tabular Data", NeurIPS 2021 (the "ResNet" of Sec. 3.2), and learned embeddings of categorical columns
  (its Feature Tokenizer, Sec. 3.3). Before a linear first layer an embedding of one-hot columns is a
  factorisation of that layer's weights for them (rank at most B x size), so what it can change is the
  training, and what the views mix when they mix the embeddings.

:class:`TabularEncoder` puts an embedding in front of an encoder body and keeps the layer hook of hidden
mixup (``dacl.core.encoders``): the views are made of the raw columns (``mix_embeddings=False``, the
paper's data-space views) or of the embedded columns (``True``: Eq. 4 of Verma et al., ICML 2021, at
the embedding, layer 0 of the body).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dacl.core.batchnorm import OneThreadBatchNorm1d
from dacl.core.encoders import LayerHook, as_weight_dtype

__all__ = [
    "CategoryEmbedding",
    "ColumnEmbedding",
    "PeriodicEmbedding",
    "PiecewiseLinearEncoding",
    "ResidualMLP",
    "TabularEncoder",
    "quantile_edges",
]


def quantile_edges(x: Tensor, bins: int, max_rows: int = 100_000) -> Tensor:
    """Bin edges (D, bins + 1) per column: its quantiles 0, 1/bins, ..., 1 (PLE's quantile bins, Sec. 3.2.1
    of Gorishniy et al. 2022), computed on at most ``max_rows`` evenly spaced rows."""
    if x.dim() != 2 or x.shape[0] < 1:
        raise ValueError(f"quantile bins need a (N, D) table with N >= 1, got shape {tuple(x.shape)}.")
    if x.shape[0] > max_rows:
        x = x[torch.linspace(0, x.shape[0] - 1, max_rows).long()]
    levels = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    return torch.quantile(x.double(), levels, dim=0).t().contiguous().float()


class PiecewiseLinearEncoding(nn.Module):
    """PLE (Eq. 1 of Gorishniy et al. 2022): column value x and edges b_0 < ... < b_T give T numbers,
    e_t = clamp((x - b_(t-1)) / (b_t - b_(t-1)), 0, 1), the first bin unclamped below and the last unclamped
    above (values outside the training range extrapolate). A bin of zero width (repeated quantiles of a
    column with few distinct values) is 1 from its edge on. Output (N, D * T), non-negative inside the
    training range."""

    def __init__(self, edges: Tensor) -> None:
        super().__init__()
        if edges.dim() != 2 or edges.shape[1] < 3:
            raise ValueError(f"edges must be (columns, bins + 1) with 2 or more bins, got {tuple(edges.shape)}.")
        self.register_buffer("edges", edges.float().contiguous())
        bins = edges.shape[1] - 1
        low = torch.zeros(bins)
        low[0] = -math.inf
        high = torch.ones(bins)
        high[-1] = math.inf
        self.register_buffer("low", low, persistent=False)
        self.register_buffer("high", high, persistent=False)

    @property
    def out_features(self) -> int:
        return self.edges.shape[0] * (self.edges.shape[1] - 1)

    def forward(self, x: Tensor) -> Tensor:
        left, right = self.edges[:, :-1], self.edges[:, 1:]  # (D, T)
        width = right - left
        zero = width <= 0
        ratio = (x.unsqueeze(2) - left) / torch.where(zero, torch.ones_like(width), width)
        ratio = torch.where(zero, (x.unsqueeze(2) >= left).to(x.dtype), ratio)
        return torch.minimum(torch.maximum(ratio, self.low), self.high).flatten(1)


class PeriodicEmbedding(nn.Module):
    """PLR (Sec. 3.3 of Gorishniy et al. 2022): v = [sin(2π c x), cos(2π c x)] with trainable
    frequencies c ~ N(0, σ²) per column, then a linear layer per column and a ReLU. Output (N, D * size),
    non-negative."""

    def __init__(self, columns: int, size: int = 16, sigma: float = 1.0, frequencies: int | None = None) -> None:
        super().__init__()
        frequencies = frequencies or size
        self.frequencies = nn.Parameter(torch.randn(columns, frequencies) * sigma)
        bound = 1 / math.sqrt(2 * frequencies)
        self.weight = nn.Parameter(torch.empty(columns, 2 * frequencies, size).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(columns, size).uniform_(-bound, bound))
        self.columns, self.size = columns, size

    @property
    def out_features(self) -> int:
        return self.columns * self.size

    def forward(self, x: Tensor) -> Tensor:
        angles = 2 * math.pi * self.frequencies * x.unsqueeze(2)  # (N, D, k)
        periodic = torch.cat([torch.sin(angles), torch.cos(angles)], dim=2)  # (N, D, 2k)
        return torch.relu(torch.einsum("ndk,dks->nds", periodic, self.weight) + self.bias).flatten(1)


class CategoryEmbedding(nn.Module):
    """Learned embeddings of categorical columns that arrive one-hot encoded (the categorical part of the
    Feature Tokenizer of Gorishniy et al. 2021, Sec. 3.3, less its bias, which each category's row can
    carry since a one-hot row sums to 1): ``blocks`` gives each input column its column's id 0..B-1 (a block of
    one-hot columns each). Block b's columns x_b (N, n_b) give x_b E_b (N, size), E_b one learned row per
    category: on a one-hot row the category's embedding, on a mix of rows (Eq. 3) the same mix of their
    embeddings, the map being linear. Output (N, B * size), block by block."""

    def __init__(self, blocks: Tensor, size: int) -> None:
        super().__init__()
        blocks = torch.as_tensor(blocks).long()
        count = int(blocks.max()) + 1 if blocks.numel() else 0
        if (
            blocks.dim() != 1
            or not blocks.numel()
            or int(blocks.min()) < 0
            or set(blocks.tolist()) != set(range(count))
        ):
            raise ValueError(
                f"category blocks must number every column 0..B-1 with no id left out, got {blocks.tolist()}."
            )
        if size < 1:
            raise ValueError(f"the embedding size must be positive, got {size}.")
        self.register_buffer("blocks", blocks)
        self.weight = nn.Parameter(torch.empty(blocks.numel(), size).uniform_(-(size**-0.5), size**-0.5))
        self.register_buffer("placement", nn.functional.one_hot(blocks, count).float(), persistent=False)
        self.size, self.out_features = size, count * size

    def forward(self, x: Tensor) -> Tensor:
        # (C, B, size): column c's row placed in its block's slot, zeros elsewhere; one matmul for all blocks
        spread = (self.placement.unsqueeze(2) * self.weight.unsqueeze(1)).flatten(1)
        return x @ spread.to(x.dtype)


class ColumnEmbedding(nn.Module):
    """Embeddings of a table's columns: the numeric columns (``numeric``: a bool mask over its D columns)
    through ``embedding`` (None: as they are), the others (one-hot categories) through ``categories`` (a
    :class:`CategoryEmbedding`; None: as they are). Output [numeric part, categorical part]."""

    def __init__(self, numeric: Tensor, embedding: nn.Module | None, categories: CategoryEmbedding | None = None):
        super().__init__()
        numeric = torch.as_tensor(numeric, dtype=torch.bool)
        if numeric.dim() != 1:
            raise ValueError(f"numeric must be a bool per column, got shape {tuple(numeric.shape)}.")
        if embedding is not None and not bool(numeric.any()):
            raise ValueError("a numeric embedding needs at least one numeric column (a bool mask over the columns).")
        if categories is not None and categories.blocks.numel() != int((~numeric).sum()):
            raise ValueError(
                f"the category embedding takes {categories.blocks.numel()} columns, but {int((~numeric).sum())} "
                "columns are not numeric."
            )
        self.register_buffer("numeric", numeric)
        self.embedding, self.categories = embedding, categories
        self.in_features = numeric.numel()
        self.numeric_out = int(numeric.sum()) if embedding is None else embedding.out_features
        other_out = int((~numeric).sum()) if categories is None else categories.out_features
        self.out_features = self.numeric_out + other_out

    def forward(self, x: Tensor) -> Tensor:
        numeric, other = x[:, self.numeric], x[:, ~self.numeric]
        return torch.cat([numeric if self.embedding is None else self.embedding(numeric),
                          other if self.categories is None else self.categories(other)], dim=1)  # fmt: skip

    def embedded_blocks(self, blocks: Tensor) -> Tensor:
        """``blocks`` of the input columns (see ``dacl.core.views.check_blocks``) for the output columns:
        the numeric columns (embedded or not) are -1; the other columns keep their blocks, and a category
        embedding's ``size`` outputs for one column are that column's block."""
        blocks = torch.as_tensor(blocks).long()
        other = blocks[~self.numeric.cpu()]
        if self.categories is not None:  # the block of each category column, once per embedding unit
            per_column = torch.zeros(int(self.categories.blocks.max()) + 1, dtype=torch.long)
            per_column[self.categories.blocks] = other  # one column's one-hot columns share its block
            other = per_column.repeat_interleave(self.categories.size)
        return torch.cat([torch.full((self.numeric_out,), -1, dtype=torch.long), other])


def _residual_block(width: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(OneThreadBatchNorm1d(width), nn.Linear(width, hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, width))  # fmt: skip


class ResidualMLP(nn.Module):
    """The residual MLP of Gorishniy et al. 2021 (Sec. 3.2) as an encoder: Linear(in, width), then
    ``depth`` blocks x + Linear(ReLU(Linear(BatchNorm(x)))) (hidden width ``2 x width``, no dropout in
    pretraining), then BatchNorm and ReLU: the representation. The layer hook sees the input (0), the
    residual stream after block l (l < depth), which has negative values (``signed_hidden_layers``: no
    geometric mixup there), and the representation (depth)."""

    signed_hidden_layers = True

    def __init__(self, in_features: int, width: int = 512, depth: int = 4, hidden_factor: float = 2.0) -> None:
        super().__init__()
        if in_features < 1 or width < 1 or depth < 1:
            raise ValueError(f"in_features, width and depth must be positive, got {in_features}, {width}, {depth}.")
        self.in_features, self.out_features, self.depth = in_features, width, depth
        self.first = nn.Linear(in_features, width)
        self.blocks = nn.ModuleList(_residual_block(width, int(hidden_factor * width)) for _ in range(depth))
        self.last = nn.Sequential(OneThreadBatchNorm1d(width), nn.ReLU(inplace=True))

    def forward(self, x: Tensor, hook: LayerHook | None = None) -> Tensor:
        hook = hook or (lambda layer, h, groups: h)
        h = self.first(hook(0, as_weight_dtype(x, self.first.weight), None))
        for layer, block in enumerate(self.blocks, start=1):
            h = h + block(h)
            if layer < self.depth:
                h = hook(layer, h, None)
        return hook(self.depth, self.last(h), None)


class TabularEncoder(nn.Module):
    """``embedding`` (e.g. :class:`ColumnEmbedding`) then ``body`` (an encoder that takes ``hook=``).

    With ``mix_embeddings`` the hook's layer 0 is the embedded columns (the views mix embeddings, hidden
    mixup at the embedding, Eq. 4); without, it is the raw columns (the views stay in data space).
    """

    def __init__(self, embedding: nn.Module, body: nn.Module, mix_embeddings: bool = False) -> None:
        super().__init__()
        self.embedding, self.body, self.mix_embeddings = embedding, body, mix_embeddings
        self.mixes_embedded_input = mix_embeddings  # read by ``dacl.methods.Contrastive``: views at the hook
        self.in_features = getattr(embedding, "in_features", None)
        self.out_features, self.depth = body.out_features, body.depth

    def forward(self, x: Tensor, hook: LayerHook | None = None) -> Tensor:
        x = x if x.dtype == torch.float32 or torch.is_autocast_enabled(x.device.type) else x.float()
        if hook is None:
            return self.body(self.embedding(x))
        if self.mix_embeddings:
            return self.body(self.embedding(x), hook=hook)
        x = hook(0, x, None)
        return self.body(self.embedding(x), hook=lambda layer, h, groups: h if layer == 0 else hook(layer, h, groups))
