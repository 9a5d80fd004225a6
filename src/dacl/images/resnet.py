"""ResNet encoders (He et al., 2016) for the image half of the paper (Tables 2 and 3: ResNet-50 (4x)).

Written here because PyPI's torchvision does not load beside the CPU torch build this project pins.
Two stems: ``"cifar"`` (3x3 convolution, stride 1, no max-pool: the usual choice for 32x32 images, as
in SimCLR's CIFAR experiments) and ``"imagenet"`` (7x7 convolution, stride 2, 3x3 max-pool). ``width``
multiplies every stage's channels (SimCLR's and the paper's ResNet-50 (4x): width 4, 8192 features;
fractions such as 0.25 give the narrow ResNets that a CPU budget can train).

The encoder implements the layer hook of ``dacl.core.encoders``: ``hook(l, h, None)`` on the image
(l = 0), after stage l (l = 1..4, the stem belongs to stage 1; h is a feature map (N, C, H, W)) and on
the pooled representation (l = 5, ``depth``). Mixup works on any shape, so hidden mixup (Eq. 4) can
mix feature maps as well as the representation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dacl.core.encoders import LayerHook

__all__ = ["ARCHITECTURES", "ResNet", "resnet"]

# blocks per stage and the block type of each architecture
ARCHITECTURES = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}


class _Basic(nn.Module):
    """Two 3x3 convolutions with a shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = _shortcut(in_channels, channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(x)).relu_()
        return (self.bn2(self.conv2(out)) + self.shortcut(x)).relu_()


class _Bottleneck(nn.Module):
    """1x1 down, 3x3 (carrying the stride), 1x1 up to 4x the channels, with a shortcut (ResNet-50)."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(x)).relu_()
        out = self.bn2(self.conv2(out)).relu_()
        return (self.bn3(self.conv3(out)) + self.shortcut(x)).relu_()


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


class ResNet(nn.Module):
    """A ResNet trunk without its classifier: images (N, C, H, W) -> features (N, out_features)."""

    depth = 5  # hook boundaries: 0 the image, 1-4 after each stage, 5 the pooled representation

    def __init__(
        self, architecture: str = "resnet18", stem: str = "cifar", width: float = 1, in_channels: int = 3
    ) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}.")
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' (3x3, no max-pool) or 'imagenet' (7x7, max-pool), got {stem!r}.")
        if width * 64 < 1 or in_channels < 1:
            raise ValueError(
                f"width must give at least one channel (width >= 1/64) and in_channels must be positive, "
                f"got {width} and {in_channels}."
            )
        kind, counts = ARCHITECTURES[architecture]
        block = _Basic if kind == "basic" else _Bottleneck
        base = round(64 * width)
        if stem == "cifar":
            layers: list[nn.Module] = [nn.Conv2d(in_channels, base, 3, 1, 1, bias=False)]
        else:
            layers = [nn.Conv2d(in_channels, base, 7, 2, 3, bias=False)]
        layers += [nn.BatchNorm2d(base), nn.ReLU(inplace=True)]
        if stem == "imagenet":
            layers.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*layers)
        stages, channels_in = [], base
        for index, count in enumerate(counts):
            channels = base * 2**index
            blocks = []
            for position in range(count):
                blocks.append(block(channels_in, channels, 2 if position == 0 and index > 0 else 1))
                channels_in = channels * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.out_features = channels_in
        # per-channel standardisation applied after the input hook (mixup sees the raw [0, 1] pixels,
        # which geometric mixup needs); stored with the weights, set with ``set_normalization``
        self.register_buffer("mean", torch.zeros(1, in_channels, 1, 1))
        self.register_buffer("std", torch.ones(1, in_channels, 1, 1))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def set_normalization(self, mean: Tensor, std: Tensor) -> ResNet:
        """Standardise inputs by per-channel ``mean`` and ``std`` (e.g. the training images')."""
        channels = self.mean.shape[1]
        mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
        if mean.numel() != channels or std.numel() != channels or not bool((std > 0).all()):
            raise ValueError(f"mean and std need {channels} values (one per channel), std > 0; got {mean}, {std}.")
        self.mean.copy_(mean.view(1, channels, 1, 1))
        self.std.copy_(std.view(1, channels, 1, 1))
        return self

    def forward(self, x: Tensor, hook: LayerHook | None = None) -> Tensor:
        if hook is not None:
            x = hook(0, x, None)
        x = (x - self.mean) / self.std
        if self.stem[0].weight.is_contiguous(memory_format=torch.channels_last) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # the model was made channels_last: feed it so
        x = self.stem(x)
        for layer, stage in enumerate(self.stages, start=1):
            x = stage(x)
            if hook is not None:
                x = hook(layer, x, None)
        x = x.mean(dim=(2, 3))  # global average pooling
        return x if hook is None else hook(self.depth, x, None)


def resnet(architecture: str = "resnet18", stem: str = "cifar", width: float = 1, in_channels: int = 3) -> ResNet:
    """``resnet("resnet50", "cifar", 4)`` is the paper's ResNet-50 (4x) for CIFAR (8192 features)."""
    return ResNet(architecture, stem, width, in_channels)
