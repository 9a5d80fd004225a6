"""Encoders and projection heads, and the one mechanism by which hidden mixup reaches inside an encoder.

An **encoder** is any ``nn.Module`` mapping a batch to representations ``(N, width)``; dacl reads its
width from ``out_features`` (or runs it once on a sample). To support hidden mixup (Eq. 4 of Verma
et al., ICML 2021) an encoder also takes ``hook=`` and calls ``h = hook(layer, h, groups)`` at every
layer boundary: ``layer = 0`` on its input, ``layer = l`` after its l-th layer, ``layer = depth`` on
its output (the representation). ``mix_at = l`` therefore means the same in every domain. The hook
may return more rows than it was given (both views stacked, ``2N``): the encoder goes on with the
larger batch, so the layers before ``l`` run once for both views. ``groups`` is ``None`` when a row is
a sample, and for set-valued samples (a GIN's nodes) says which sample each row belongs to. The MLP
here, the GIN (``dacl.graphs.GINEncoder``) and a ResNet all implement it.

The MLP is the paper's tabular encoder h: a stack of Linear -> BatchNorm -> ReLU layers (12 in the
paper); the projection head g has 3 layers and a 128-d output (Sec. 5.1).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from dacl.core.batchnorm import OneThreadBatchNorm1d

__all__ = ["LayerHook", "MLPEncoder", "MixAt", "ProjectionHead", "as_weight_dtype", "encoder_depth", "encoder_width"]


class LayerHook(Protocol):
    """Called by an encoder at each layer boundary; returns the (possibly mixed, possibly stacked) rows."""

    def __call__(self, layer: int, h: Tensor, groups: Tensor | None) -> Tensor: ...


class MixAt:
    """A :class:`LayerHook` that applies ``fn(h, groups)`` at one layer boundary and passes the others."""

    def __init__(self, layer: int, fn) -> None:
        self.layer = layer
        self.fn = fn

    def __call__(self, layer: int, h: Tensor, groups: Tensor | None) -> Tensor:
        return self.fn(h, groups) if layer == self.layer else h


def encoder_width(encoder: nn.Module, example=None) -> int:
    """The encoder's output width: its ``out_features``, else measured on ``example`` (a batch)."""
    width = getattr(encoder, "out_features", None)
    if isinstance(width, int) and width > 0:
        return width
    if example is None:
        raise ValueError(f"{type(encoder).__name__} has no out_features; set it to the encoder's output width.")
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = encoder(example)
    encoder.train(was_training)
    if not isinstance(out, Tensor) or out.dim() != 2:
        raise ValueError(
            f"an encoder must return a (N, width) tensor; {type(encoder).__name__} returned "
            f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}."
        )
    return int(out.shape[1])


def encoder_depth(encoder: nn.Module) -> int | None:
    """The encoder's number of layers (``depth``), where hidden mixup may act, or None if unknown."""
    depth = getattr(encoder, "depth", None)
    return depth if isinstance(depth, int) else None


def as_weight_dtype(x: Tensor, weight: Tensor) -> Tensor:
    """``x`` in the weights' floating dtype (float64 rows into a float32 encoder; under autocast the
    matmuls still run in bf16): an encoder takes rows of any floating or integer dtype."""
    if x.dtype == weight.dtype or (x.is_floating_point() and torch.is_autocast_enabled(x.device.type)):
        return x
    return x.to(weight.dtype)


def _block(in_features: int, out_features: int) -> nn.Sequential:
    # No bias: the BatchNorm that follows has its own shift.
    return nn.Sequential(
        nn.Linear(in_features, out_features, bias=False),
        OneThreadBatchNorm1d(out_features),  # nn.BatchNorm1d's numbers, the same on any thread count
        nn.ReLU(inplace=True),
    )


class MLPEncoder(nn.Module):
    """Encoder h: ``depth`` blocks of Linear(width) -> BatchNorm -> ReLU; ``hook`` as in the module doc."""

    def __init__(self, in_features: int, width: int = 1024, depth: int = 12) -> None:
        super().__init__()
        if in_features < 1 or width < 1 or depth < 1:
            raise ValueError(f"in_features, width and depth must be positive, got {in_features}, {width}, {depth}.")
        self.in_features = in_features
        self.out_features = width
        self.depth = depth
        sizes = [in_features] + [width] * depth
        self.blocks = nn.ModuleList(_block(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: Tensor, hook: LayerHook | None = None) -> Tensor:
        x = as_weight_dtype(x, self.blocks[0][0].weight)
        if hook is None:
            for block in self.blocks:
                x = block(x)
            return x
        x = hook(0, x, None)
        for layer, block in enumerate(self.blocks, start=1):
            x = hook(layer, block(x), None)
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
