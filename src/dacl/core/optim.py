"""Optimisers and learning-rate schedule: LARS with linear warm-up and cosine decay, or AdamW.

The paper trains with LARS (You et al., 2017) and cosine decay, as SimCLR does (Verma et al.,
ICML 2021, Sec. 5). PyTorch ships no LARS, and the libraries that do (timm, lightly) would pull in
torchvision and much more for about forty lines, so it is written here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

__all__ = ["LARS", "OPTIMIZERS", "SCHEDULES", "build_optimizer", "parameter_groups", "warmup_cosine"]

OPTIMIZERS = ("lars", "adamw", "adam")
SCHEDULES = ("cosine", "constant")


class LARS(torch.optim.Optimizer):
    """SGD with momentum and a layer-wise trust ratio (LARS), as in SimCLR.

    For a parameter p with gradient g in a group with ``lars=True``:
    g <- g + wd p; g <- g * η ||p|| / ||g|| (when both norms are positive); buf <- μ buf + g;
    p <- p - lr buf. Groups with ``lars=False`` (biases and BatchNorm parameters) skip both the
    weight decay and the trust ratio.

    The scaled gradient is formed in a buffer per parameter that the optimiser keeps between steps
    (not in its ``state_dict``): a fresh parameter-sized tensor every step costs page faults on
    the CPU, which made the step 2x slower (docs/results/speed.md). ``p.grad`` is left as it was.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 0.1,
        momentum: float = 0.9,
        weight_decay: float = 1e-6,
        trust_coefficient: float = 1e-3,
    ) -> None:
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0 or trust_coefficient <= 0:
            raise ValueError(
                "LARS needs lr > 0, 0 <= momentum < 1, weight_decay >= 0 and trust_coefficient > 0; "
                f"got lr={lr}, momentum={momentum}, weight_decay={weight_decay}, "
                f"trust_coefficient={trust_coefficient}."
            )
        defaults = dict(
            lr=lr, momentum=momentum, weight_decay=weight_decay, trust_coefficient=trust_coefficient, lars=True
        )
        super().__init__(params, defaults)
        self._update_buffers: dict[Tensor, Tensor] = {}  # scratch, rebuilt when absent

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if group["lars"]:
                # whole-group (foreach) kernels, in place on kept buffers: no allocation per step
                updates = [self._update_buffer(p) for p in params]
                torch._foreach_copy_(updates, grads)
                if group["weight_decay"]:
                    torch._foreach_add_(updates, params, alpha=group["weight_decay"])
                grads = updates
                p_norms = torch.stack(torch._foreach_norm(params))
                g_norms = torch.stack(torch._foreach_norm(grads))
                ratios = torch.where(
                    (p_norms > 0) & (g_norms > 0),
                    group["trust_coefficient"] * p_norms / g_norms,
                    torch.ones_like(p_norms),
                )
                torch._foreach_mul_(grads, list(ratios.unbind()))
            buffers = []
            for p in params:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buffers.append(state["momentum_buffer"])
            torch._foreach_mul_(buffers, group["momentum"])
            torch._foreach_add_(buffers, grads)
            torch._foreach_add_(params, buffers, alpha=-group["lr"])
        return loss

    def _update_buffer(self, p: Tensor) -> Tensor:
        buffer = self._update_buffers.get(p)
        if buffer is None or (buffer.shape, buffer.dtype, buffer.device) != (p.shape, p.dtype, p.device):
            buffer = self._update_buffers[p] = torch.empty_like(p, memory_format=torch.preserve_format)
        return buffer


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split parameters: weights (decayed, LARS-adapted) and 1-D ones (biases, BatchNorm), which are not."""
    decayed: list[Tensor] = []
    exempt: list[Tensor] = []
    for p in model.parameters():
        if p.requires_grad:
            (exempt if p.ndim <= 1 else decayed).append(p)
    return [
        {"params": decayed, "weight_decay": weight_decay, "lars": True},
        {"params": exempt, "weight_decay": 0.0, "lars": False},
    ]


def build_optimizer(
    model: nn.Module, name: str, lr: float, weight_decay: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """``"lars"`` (the paper's for tables and images), ``"adamw"`` or ``"adam"`` (the paper's for
    graphs: L2 weight decay in the gradient), with biases and BatchNorm parameters not decayed. Adam and
    AdamW run torch's fused kernel where it exists (the same update in one pass over the parameters: a
    fine-tuning step on 30 rows of a 4 x 512 MLP took 2.9-3.3 ms against 6.5-7.5 ms, docs/results/speed.md)."""
    groups = parameter_groups(model, weight_decay)
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    for group in groups:
        group.pop("lars")
    if name not in ("adamw", "adam"):
        raise ValueError(f"unknown optimizer {name!r}; choose {', '.join(OPTIMIZERS)}.")
    kind = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    try:  # one fused kernel for every parameter: the step of a small network 2.2x faster on the CPU
        return kind(groups, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # a torch or a device without the fused kernel
        return kind(groups, lr=lr, weight_decay=weight_decay)


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, schedule: str = "cosine") -> float:
    """Learning-rate factor at ``step``: linear warm-up to 1, then cosine decay to 0 (``"cosine"``,
    SimCLR's and the paper's) or a constant 1 (``"constant"``, the paper's Adam for graphs)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))
