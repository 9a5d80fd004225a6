"""The images domain: uint8 images (N, C, H, W) in memory, ResNet encoders, the one engine.

Images stay uint8 on the run's device (CIFAR-10's 50,000 images: 150 MB) and each batch becomes
float [0, 1] there: the views (mixup on the pixels, SimCLR's augmentations, Gaussian noise) act on
[0, 1] images, and the encoder standardises them per channel with the training images' statistics
(stored with its weights). Table 2 of Verma et al. (ICML 2021): ResNet-50 (4x), 3-layer projection
head to 128, LARS (lr 1.0 x batch / 256), 10 warm-up epochs, cosine decay, τ = 0.5.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dacl.config import PretrainConfig
from dacl.core.encoders import encoder_width
from dacl.core.runtime import autocast, resolve_device, resolve_precision
from dacl.engine.domain import class_labels, model_encoder, read_model_state, refuse_if_too_big, with_weights
from dacl.engine.loop import Callback, PretrainResult, fit
from dacl.engine.sources import TensorSource
from dacl.images.resnet import ResNet
from dacl.methods import METHODS, Method, build_method, method_names

__all__ = [
    "IMAGE_DEFAULTS",
    "ImageSource",
    "build_image_method",
    "check_images",
    "embed",
    "embed_images",
    "image_config",
    "load_image_model",
    "load_model",
    "pretrain",
    "pretrain_folder",
    "pretrain_images",
]

# The paper's image set-up (Table 2) at a batch that fits one GPU: ResNet-18 by default (the paper:
# ResNet-50 (4x), batch 4096, lr 16), the 3-layer head to 128, LARS at 1.0 x batch / 256.
IMAGE_DEFAULTS: dict[str, Any] = {
    "method": "simclr", "architecture": "resnet18", "resnet_width": 1.0, "stem": "auto", "head_depth": 3,
    "projection_dim": 128, "epochs": 100, "batch_size": 512, "optimizer": "lars", "lr": 2.0, "weight_decay": 1e-6,
    "warmup_epochs": 10.0, "schedule": "cosine", "temperature": 0.5, "alpha": 0.9,
}  # fmt: skip


def image_config(**options: Any) -> PretrainConfig:
    """A :class:`PretrainConfig` with the image defaults, overridden by ``options``."""
    return PretrainConfig.from_dict(options, **IMAGE_DEFAULTS)


def check_images(images: Any, what: str = "images", minimum: int = 2) -> Tensor:
    """``images`` as a uint8 tensor (N, C, H, W), C = 1 or 3; a clear error otherwise."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, Tensor):
        raise ValueError(f"{what} must be a uint8 array or tensor (N, C, H, W), got {type(images).__name__}.")
    if images.dtype != torch.uint8:
        raise ValueError(
            f"{what} must be uint8 pixels 0-255 (N, C, H, W), got {images.dtype}; "
            "convert with (x * 255).round().to(torch.uint8) if they are floats in [0, 1]."
        )
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"{what} must have shape (N, C, H, W) with C = 1 or 3, got {tuple(images.shape)}; "
            "channels-last arrays (N, H, W, C) need .permute(0, 3, 1, 2)."
        )
    if len(images) < minimum:
        raise ValueError(f"{what} hold {len(images)} images; at least {minimum} are needed.")
    return images


class ImageSource(TensorSource):
    """Shuffled batches of uint8 images held on the device, each made float [0, 1] there."""

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor | None]]:
        for images, labels in super().epoch(generator):
            yield images.float().div_(255), labels


def _stem(config: PretrainConfig, side: int) -> str:
    return config.stem if config.stem != "auto" else ("cifar" if side <= 64 else "imagenet")


# weights of each ResNet at width 1 (they grow with the square of the width multiplier)
RESNET_WEIGHTS = {"resnet18": 11.2e6, "resnet34": 21.3e6, "resnet50": 23.5e6}


def build_image_method(
    config: PretrainConfig,
    channels: int,
    side: int,
    n_classes: int | None = None,
    *,
    mean: Any = None,
    std: Any = None,
    views: Any = None,
    channels_last: bool = True,
    encoder: torch.nn.Module | None = None,
) -> Method:
    """The method ``config.method`` on a ResNet for (channels x side x side) images (or on a user's
    ``encoder``, which gets float images in [0, 1]), initialised from ``config.seed`` without touching the
    global random state; ``mean``/``std`` per channel, in [0, 1] units, standardise the ResNet's input."""
    if config.method not in method_names("images"):
        raise ValueError(
            f"method {config.method!r} does not apply to images; choose one of {', '.join(method_names('images'))}."
        )
    if encoder is None:  # weights (x4: gradients, two optimiser buffers) before they are allocated
        weights = RESNET_WEIGHTS.get(config.architecture, 0) * config.resnet_width**2
        refuse_if_too_big(int(16 * weights + 4 * config.batch_size * channels * side * side * 6), config.device,
                          f"a {config.architecture} of width {config.resnet_width:g}, batch {config.batch_size}",
                          "--resnet-width or --batch-size")  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if encoder is None:
            encoder = ResNet(config.architecture, _stem(config, side), config.resnet_width, channels)
            if mean is not None:
                encoder.set_normalization(mean, std)
        width = encoder_width(encoder, torch.rand(2, channels, side, side))
        method = build_method(config, encoder, width, n_classes=n_classes, views=views)
    return method.to(memory_format=torch.channels_last) if channels_last and _channels_last_safe(encoder) else method


# oneDNN's backward of a 1 x 1 strided convolution in channels_last with fewer input channels than the
# AVX2 vector (8 floats) corrupts the heap on AVX2-only CPUs (torch 2.13 CPU build, measured on an AMD EPYC:
# aborts, or wrong gradients; tests/images/test_train.py); such narrow ResNets (width under 1/8) stay in
# the default layout.
MIN_CHANNELS_LAST_WIDTH = 8


def _channels_last_safe(encoder: torch.nn.Module) -> bool:
    """Whether every 1 x 1 strided convolution of ``encoder`` has enough input channels for channels_last."""
    strided = [m.in_channels for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)
               and m.kernel_size == (1, 1) and max(m.stride) > 1]  # fmt: skip
    return min(strided, default=MIN_CHANNELS_LAST_WIDTH) >= MIN_CHANNELS_LAST_WIDTH


def _statistics(images: Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units, in chunks (no float copy of all)."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for start in range(0, len(images), 4096):
        chunk = images[start : start + 4096].to(torch.float64).div_(255)
        total += chunk.sum(dim=(0, 2, 3))
        squares += chunk.square().sum(dim=(0, 2, 3))
    count = images.numel() / images.shape[1]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()


def pretrain_images(
    images: Any,
    config: PretrainConfig | None = None,
    labels: Any = None,
    *,
    encoder: torch.nn.Module | None = None,
    views: Any = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool = True,
    callbacks: tuple[Callback, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> PretrainResult:
    """Train a ResNet (or ``encoder``: any module from float images (N, C, H, W) in [0, 1] to (N, width))
    on uint8 ``images`` (N, C, H, W) with ``config.method`` (default :func:`image_config`) and return it
    with its history; ``labels`` only for ``supervised``; ``views`` replace the method's. Checkpoints and
    resume as :func:`dacl.pretrain`."""
    config = config or image_config()
    images = check_images(images)
    n, channels, height, width = images.shape
    targets, n_classes = None, None
    if METHODS[config.method].kind == "supervised":
        targets, n_classes = class_labels(labels, n)
    source = ImageSource(images, targets, config.batch_size).to(resolve_device(config.device))
    return _fit_images(source, config, (channels, height, width), n_classes, _statistics(images), encoder, views,
                       metadata or {}, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                       resume=resume, progress=progress, callbacks=callbacks)  # fmt: skip


def _fit_images(source, config, shape, n_classes, statistics, encoder, views, metadata, **run) -> PretrainResult:
    """The image method built for ``shape`` (C, H, W), standardising with ``statistics`` (mean, std), and
    trained on ``source`` by the engine; ``run``: the checkpoint and progress keywords of ``fit``."""
    channels, height, width = shape
    mean, std = statistics
    method = build_image_method(config, channels, min(height, width), n_classes, mean=mean, std=std, views=views,
                                channels_last=encoder is None, encoder=encoder)  # fmt: skip
    state = {"domain": "images", "shape": [channels, height, width], "n_classes": n_classes, "metadata": metadata,
             "encoder": None if encoder is None else type(encoder).__qualname__}  # fmt: skip
    return fit(method, source, config, state=state, **run)


def pretrain_folder(
    root: str | Path,
    config: PretrainConfig | None = None,
    *,
    files: list[tuple[Path, int]] | None = None,
    workers: int | None = None,
    steps_per_epoch: int | None = None,
    encoder: torch.nn.Module | None = None,
    views: Any = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool = True,
    callbacks: tuple[Callback, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> PretrainResult:
    """:func:`pretrain_images` on a folder of class folders (``root/CLASS/*.jpg``) too big for memory: the
    images are decoded (and resized to ``config.image_size``) by ``workers`` processes at every epoch
    (``dacl.images.stream``); ``files`` restricts the run to some of them (e.g. a training split);
    ``steps_per_epoch`` ends an epoch (and its checkpoint) after that many steps. The encoder standardises
    its input with the statistics of 2,048 images spread over the folder. Resume is exact, as in memory."""
    from dacl.images.stream import ImageFolderStream

    config = config or image_config()
    supervised = METHODS[config.method].kind == "supervised"
    source = ImageFolderStream(root, config.batch_size, files=files, image_size=config.image_size, workers=workers,
                               steps_per_epoch=steps_per_epoch, seed=config.seed,
                               with_labels=supervised)  # fmt: skip
    n_classes = len(source.classes) if supervised else None
    metadata = {**(metadata or {}), "streamed": str(root), "images": len(source.paths)}
    return _fit_images(source, config, source.shape, n_classes, source.statistics(), encoder, views, metadata,
                       checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
                       progress=progress, callbacks=callbacks)  # fmt: skip


def load_image_model(checkpoint_dir: str | Path, encoder: torch.nn.Module | None = None) -> PretrainResult:
    """Rebuild a trained image model from a checkpoint folder (no code is run from it); a run made with a
    user's encoder needs a fresh instance of it as ``encoder``."""
    state, config = read_model_state(checkpoint_dir, "images", encoder)
    channels, height, width = state["shape"]
    method = build_image_method(config, channels, min(height, width), state["n_classes"],
                                channels_last=encoder is None, encoder=encoder)  # fmt: skip
    return with_weights(checkpoint_dir, method, config, state)


@torch.no_grad()
def embed_images(
    encoder: torch.nn.Module | PretrainResult,
    images: Any,
    batch_size: int = 1024,
    device: Any = None,
    precision: str | None = None,
) -> np.ndarray:
    """Features of the frozen encoder (eval mode) for uint8 images (N, C, H, W), as float32 numpy;
    ``encoder`` may be a trained model (``pretrain``'s or ``load_model``'s result); ``precision`` as the
    config's ("auto": bf16 where it pays; default: the model's, else float32)."""
    encoder, precision = model_encoder(encoder, precision)
    images = check_images(images, minimum=1)
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device if device is None else torch.device(device)
    precision = resolve_precision(precision, device)
    parts = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device).float().div_(255)
        with autocast(device, precision):
            parts.append(encoder(batch).float().cpu())
    encoder.train(was_training)
    return torch.cat(parts).numpy()


# The domain's verbs under the names every domain shares (dacl.tables, dacl.images, dacl.graphs)
pretrain = pretrain_images
load_model = load_image_model
embed = embed_images
