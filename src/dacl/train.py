"""Pretraining: DACL, DACL+, the Gaussian-noise baseline, supervised training and No-Pretraining.

Read top to bottom: the configuration, the model, the views, one training step (Algorithm 1 of
Verma et al., ICML 2021), then the loop with its progress bar, history and checkpoints.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dacl.checkpoint import CHECKPOINT_FILE, load_checkpoint, read_state, save_checkpoint
from dacl.losses import NTXentLoss
from dacl.models import MLPEncoder, ProjectionHead
from dacl.noise import BinaryMixup, GaussianNoise, GeometricMixup, LinearMixup, MixupPlus, check_batch
from dacl.optim import build_optimizer, warmup_cosine

__all__ = [
    "CONTRASTIVE_METHODS",
    "METHODS",
    "DACLModel",
    "PretrainConfig",
    "PretrainResult",
    "build_model",
    "build_views",
    "cpu_has_bf16_matrix_units",
    "load_model",
    "pretrain",
    "resolve_device",
    "resolve_precision",
]

CONTRASTIVE_METHODS = ("dacl", "dacl-geometric", "dacl-binary", "dacl+", "gaussian")
METHODS = CONTRASTIVE_METHODS + ("supervised", "none")


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run. Defaults are the paper's tabular set-up
    (12 x 1024 encoder, 3-layer head to 128, LARS with warm-up and cosine decay) except the batch
    size (the paper: 4096) and the number of epochs (the paper: 1000)."""

    method: str = "dacl+"
    depth: int = 12
    width: int = 1024
    head_depth: int = 3
    projection_dim: int = 128
    epochs: int = 100
    batch_size: int = 256
    optimizer: str = "lars"
    lr: float = 0.1
    weight_decay: float = 1e-6
    momentum: float = 0.9
    warmup_epochs: float = 10.0
    temperature: float = 0.5
    alpha: float = 0.9
    beta: float | None = None
    rho: float = 0.3
    sigma: float = 0.1
    mixup_types: tuple[str, ...] = MixupPlus.TYPES
    mix_at: int = 0
    precision: str = "auto"  # bfloat16 on a bf16-capable CUDA GPU or AMX CPU, else float32 (resolve_precision)
    device: str = "cpu"
    compile: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        self.mixup_types = tuple(self.mixup_types)
        self.precision = resolve_precision(self.precision, self.device)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}.")
        for name in ("depth", "width", "head_depth", "projection_dim", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2: mixup needs a partner from the same batch.")
        if self.epochs < 0:
            raise ValueError(f"epochs must be non-negative, got {self.epochs}.")
        if not 0 <= self.mix_at <= self.depth:
            raise ValueError(
                f"mix_at={self.mix_at} must lie in [0, depth={self.depth}]: 0 mixes the input, "
                "l mixes the representation after encoder layer l (hidden mixup, Eq. 4)."
            )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mixup_types"] = list(self.mixup_types)
        return d

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown pretraining option(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}.")
        return cls(**values)


class DACLModel(nn.Module):
    """Encoder h plus either the projection head g (contrastive) or a linear classifier (supervised)."""

    def __init__(self, encoder: MLPEncoder, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


def build_model(config: PretrainConfig, in_features: int, n_classes: int | None = None) -> DACLModel:
    """The model a method trains, initialised from ``config.seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        encoder = MLPEncoder(in_features, config.width, config.depth)
        if config.method == "supervised":
            if n_classes is None or n_classes < 2:
                raise ValueError("method 'supervised' needs labels y with at least 2 classes.")
            head: nn.Module = nn.Linear(config.width, n_classes)
        else:
            head = ProjectionHead(config.width, config.width, config.projection_dim, config.head_depth)
        return DACLModel(encoder, head)


def build_views(config: PretrainConfig) -> Callable[..., tuple[Tensor, Tensor]]:
    """The noise that makes the positive pairs of a contrastive method (Eqs. 3, 5, 6; DACL+)."""
    beta = config.alpha if config.beta is None else config.beta
    return {
        "dacl": lambda: LinearMixup(config.alpha),
        "dacl-geometric": lambda: GeometricMixup(beta),
        "dacl-binary": lambda: BinaryMixup(config.rho),
        "dacl+": lambda: MixupPlus(config.alpha, beta, config.rho, config.mixup_types),
        "gaussian": lambda: GaussianNoise(config.sigma),
    }[config.method]()


@dataclass
class PretrainResult:
    model: DACLModel
    config: PretrainConfig
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def encoder(self) -> MLPEncoder:
        return self.model.encoder


def _as_tensor(x: Any, name: str) -> Tensor:
    array = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be numeric; encode categorical columns first (dacl.DACL does this).")
    tensor = torch.as_tensor(array, dtype=torch.float32)
    if tensor.dim() != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {tuple(tensor.shape)}.")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite values; impute or drop them first.")
    return tensor


def resolve_precision(precision: str, device: str) -> str:
    """``"auto"`` becomes ``"bfloat16"`` where bf16 matrix units make it pay, else ``"float32"``.

    bf16 where measured to pay (docs/results/speed.md): a CUDA GPU with bf16 support (H200: 2.5-3x
    float32's speed at batch 4096) and a CPU with AMX (Xeon: 2.4-2.9x), the demo's linear-probe
    accuracy within 0.1 points on both. A CPU without AMX runs bf16 ~100x slower than float32
    (AVX2-only EPYC), so it stays float32 unless asked.
    """
    if precision == "auto":
        kind = resolve_device(device).type
        if kind == "cuda":
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
        return "bfloat16" if kind == "cpu" and cpu_has_bf16_matrix_units() else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {precision!r}.")
    return precision


def cpu_has_bf16_matrix_units() -> bool:
    """Whether this CPU has AMX tiles (Intel Sapphire Rapids and later), where bf16 matmuls run
    several times faster than float32 (3.2 against 0.43 TFLOP/s on 2 cores here)."""
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x: absent -> no
    return bool(check is not None and check())


def resolve_device(name: str) -> torch.device:
    """``"auto"`` (cuda when there is one), ``"cpu"`` or ``"cuda[:N]"``; an error when cuda is absent."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available; use device='cpu'.")
    return device


def contrastive_step(
    model: DACLModel | nn.Module, views, criterion: NTXentLoss, x: Tensor, mix_at: int, generator: torch.Generator
) -> Tensor:
    """Algorithm 1, lines 4-21, for one batch: views of h_l(x), both through the rest of h and g, NT-Xent.

    ``mix_at = 0`` mixes inputs (Eqs. 3, 5, 6); ``mix_at = l`` mixes the hidden representation after
    encoder layer l (Eq. 4). Both views go through the network as one batch of 2N.
    """
    hidden = model.encoder(x, stop=mix_at)
    # the data were checked once before training (``pretrain``), so no per-step check stalls a GPU
    view1, view2 = views(hidden, generator, validate=False)
    z = model.head(model.encoder(torch.cat([view1, view2]), start=mix_at))
    return criterion(z[: len(x)], z[len(x) :])


def pretrain(
    X: Any,
    config: PretrainConfig | None = None,
    y: Any = None,
    *,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    metadata: dict[str, Any] | None = None,
) -> PretrainResult:
    """Train an encoder on ``X`` (N, D) with ``config.method`` and return it with its history.

    ``y`` (class indices 0..C-1) is needed only by ``method="supervised"``. With ``checkpoint_dir``
    a checkpoint is written every ``checkpoint_every`` epochs (0: only at the end) and at the end;
    ``resume=True`` continues from the checkpoint there, reaching the same weights as an unbroken run.
    ``metadata`` (JSON-able) is stored in the checkpoint, e.g. where the data came from.
    """
    config = config or PretrainConfig()
    device = resolve_device(config.device)
    data = _as_tensor(X, "X").to(device)
    n, in_features = data.shape
    if n < 2:
        raise ValueError(f"X has 1 sample; pretraining needs at least 2 samples (got shape {tuple(data.shape)}).")
    labels = None
    n_classes = None
    if config.method == "supervised":
        if y is None:
            raise ValueError("method 'supervised' needs labels: pass y.")
        labels = torch.as_tensor(np.asarray(y), dtype=torch.long).to(device)
        if labels.shape != (n,):
            raise ValueError(f"y must have shape ({n},) to match X, got {tuple(labels.shape)}.")
        if labels.min() < 0:
            raise ValueError("y must hold class indices 0..C-1; encode labels with sklearn's LabelEncoder.")
        n_classes = int(labels.max()) + 1

    model = build_model(config, in_features, n_classes).to(device)
    result = PretrainResult(model, config)

    def checkpoint(epoch: int, optimizer=None, generator=None) -> None:
        if checkpoint_dir is not None:
            state = {
                "config": config.to_dict(),
                "epoch": epoch,
                "history": result.history,
                "in_features": in_features,
                "n_classes": n_classes,
                "metadata": metadata or {},
            }
            save_checkpoint(checkpoint_dir, model, optimizer, generator, state)

    if config.method == "none" or config.epochs == 0:
        model.eval()
        checkpoint(0)
        return result

    batch_size = min(config.batch_size, n)
    steps_per_epoch = n // batch_size
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = min(int(config.warmup_epochs * steps_per_epoch), total_steps - 1)
    optimizer = build_optimizer(model, config.optimizer, config.lr, config.weight_decay, config.momentum)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    criterion = NTXentLoss(config.temperature)
    views = build_views(config) if config.method in CONTRASTIVE_METHODS else None
    if views is not None and config.mix_at == 0:
        # the values every batch would be checked for, checked once (hidden layers are ReLU outputs)
        check_batch(data, non_negative=views.non_negative, what="X")

    start_epoch = 0
    if resume and checkpoint_dir is not None and (Path(checkpoint_dir) / CHECKPOINT_FILE).is_file():
        state = load_checkpoint(checkpoint_dir, model, optimizer, generator)
        if state["config"] != config.to_dict():
            differing = sorted(k for k, v in config.to_dict().items() if state["config"].get(k) != v)
            raise ValueError(
                f"cannot resume: the checkpoint in {checkpoint_dir} was made with other settings "
                f"({', '.join(differing)}); use the same config or another checkpoint_dir."
            )
        start_epoch = state["epoch"]
        result.history = state["history"]

    from tqdm.auto import tqdm

    bar = tqdm(
        total=total_steps,
        initial=start_epoch * steps_per_epoch,
        disable=not progress,
        desc=config.method,
        unit="step",
        leave=False,
    )
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bfloat16")
    # torch.compile'd views of the same modules: they share parameters with ``model``, whose
    # state_dict (and so every checkpoint) keeps its plain names.
    step_model = _CompiledModel(model) if config.compile else model
    model.train()
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator, device=device)
        loss_sum = torch.zeros((), device=device)
        for batch in range(steps_per_epoch):
            step = epoch * steps_per_epoch + batch
            lr = config.lr * warmup_cosine(step, total_steps, warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            index = order[batch * batch_size : (batch + 1) * batch_size]
            x = data[index]
            with autocast:
                if views is not None:
                    loss = contrastive_step(step_model, views, criterion, x, config.mix_at, generator)
                else:
                    loss = F.cross_entropy(step_model(x).float(), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            bar.update(1)
        epoch_loss = loss_sum.item() / steps_per_epoch  # waits for the device, so the timing below is true
        seconds = time.perf_counter() - started
        if not np.isfinite(epoch_loss):
            raise FloatingPointError(
                f"the loss became {epoch_loss} in epoch {epoch + 1}; lower lr (now {config.lr}) or raise temperature."
            )
        record = {
            "epoch": epoch + 1,
            "loss": epoch_loss,
            "lr": lr,
            "seconds": seconds,
            "samples_per_s": steps_per_epoch * batch_size / seconds,
        }
        result.history.append(record)
        bar.set_postfix(loss=f"{epoch_loss:.4f}", samples_s=f"{record['samples_per_s']:.0f}")
        done = epoch + 1 == config.epochs
        if done or (checkpoint_every and (epoch + 1) % checkpoint_every == 0):
            checkpoint(epoch + 1, optimizer, generator)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, record)
    bar.close()
    model.eval()
    return result


class _CompiledModel(nn.Module):
    """The encoder and head of a model, each through ``torch.compile``, sharing its parameters."""

    def __init__(self, model: DACLModel) -> None:
        super().__init__()
        self.encoder = torch.compile(model.encoder)
        self.head = torch.compile(model.head)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


def load_model(checkpoint_dir: str | Path) -> PretrainResult:
    """Rebuild a trained model from a checkpoint folder (JSON config + safetensors weights)."""
    state = read_state(checkpoint_dir)
    config = PretrainConfig.from_dict(state["config"])
    model = build_model(config, state["in_features"], state["n_classes"])
    load_checkpoint(checkpoint_dir, model)
    model.eval()
    return PretrainResult(model, config, state["history"])
