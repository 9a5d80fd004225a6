"""Fully connected encoder and projection head of the paper's tabular set-up (Table 1).

The encoder h is a stack of Linear -> BatchNorm -> ReLU layers (the paper: 12 layers); the
projection head g has 3 layers and a 128-d output (Verma et al., ICML 2021, Sec. 5.1).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["MLPEncoder", "ProjectionHead"]


def _block(in_features: int, out_features: int) -> nn.Sequential:
    # No bias: the BatchNorm that follows has its own shift.
    return nn.Sequential(
        nn.Linear(in_features, out_features, bias=False),
        nn.BatchNorm1d(out_features),
        nn.ReLU(inplace=True),
    )


class MLPEncoder(nn.Module):
    """Encoder h: ``depth`` blocks of Linear(width) -> BatchNorm -> ReLU.

    ``forward(x, start, stop)`` runs blocks ``start`` to ``stop`` only, which is how hidden mixup
    (Eq. 4) mixes the representation after block ``l``: ``encoder(x, stop=l)`` gives it, and
    ``encoder(view, start=l)`` finishes the pass. Block 0 is the input.
    """

    def __init__(self, in_features: int, width: int = 1024, depth: int = 12) -> None:
        super().__init__()
        if in_features < 1 or width < 1 or depth < 1:
            raise ValueError(f"in_features, width and depth must be positive, got {in_features}, {width}, {depth}.")
        self.in_features = in_features
        self.out_features = width
        self.depth = depth
        sizes = [in_features] + [width] * depth
        self.blocks = nn.ModuleList(_block(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: Tensor, start: int = 0, stop: int | None = None) -> Tensor:
        for block in self.blocks[start:stop]:
            x = block(x)
        return x


class ProjectionHead(nn.Module):
    """Projection head g: ``depth - 1`` Linear -> BatchNorm -> ReLU blocks, then a Linear to ``out``."""

    def __init__(self, in_features: int, hidden: int = 1024, out_features: int = 128, depth: int = 3) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"head depth must be at least 1, got {depth}.")
        sizes = [in_features] + [hidden] * (depth - 1)
        layers: list[nn.Module] = [_block(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        layers.append(nn.Linear(sizes[-1], out_features))
        self.net = nn.Sequential(*layers)
        self.out_features = out_features

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)
