"""The normalized temperature-scaled cross-entropy (NT-Xent / InfoNCE) loss of SimCLR and DACL.

Verma et al., ICML 2021, Algorithm 1, lines 17-21 (after Chen et al., SimCLR, 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dacl.core.distributed import gather_with_grad

__all__ = ["NTXentLoss", "masked_cross_entropy_ntxent"]

# At or above this τ, logits of unit vectors (|s/τ| <= 20) are exponentiated without a shift:
# e^20 x (2N candidates) stays far inside float32's range, e^-20 far above its smallest normal.
MIN_UNSHIFTED_TEMPERATURE = 0.05


class NTXentLoss(nn.Module):
    """NT-Xent over the 2N views of a batch.

    Called on ``(z1, z2)``, each of shape (N, K), where row k of ``z1`` and row k of ``z2`` are the
    projections of the two views of sample k. Returns Algorithm 1, line 21::

        L = 1/(2N) Σ_k [ℓ(2k-1, 2k) + ℓ(2k, 2k-1)],
        ℓ(i, j) = -log( exp(s_ij/τ) / Σ_{k≠i} exp(s_ik/τ) ),  s = cosine similarity,

    the anchor itself left out of the denominator. The (2N x 2N) similarity matrix is the only
    large buffer: :class:`_FusedInfoNCE` turns it into exponentials in place and reuses it for the
    gradient. Cosine similarities lie in [-1, 1], so for τ >= 0.05 every exp(s/τ) lies in
    [e^-20, e^20] and is exponentiated as it is; below that the row maximum is subtracted first.

    The anchors are this process's 2N views; the candidates of the denominator come from
    ``_gather_candidates``. With ``gather_distributed=True`` under an initialised
    ``torch.distributed`` process group the candidates are every process's views (the negatives of
    a global batch, gathered with gradients), and the mean over anchors averaged across processes by
    DDP is the same global loss. In a single process the two are identical.
    """

    def __init__(self, temperature: float = 0.5, gather_distributed: bool = False) -> None:
        super().__init__()
        temperature = float(temperature)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive (the paper searches 0.1, 0.5, 1.0), got {temperature}.")
        self.temperature = temperature
        self.gather_distributed = gather_distributed

    def _gather_candidates(self, z: Tensor) -> tuple[Tensor, int]:
        """All processes' rows of ``z`` and the offset of this process's rows among them."""
        return gather_with_grad(z) if self.gather_distributed else (z, 0)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        if z1.dim() != 2 or z1.shape != z2.shape:
            raise ValueError(f"z1 and z2 must both have shape (N, K), got {tuple(z1.shape)} and {tuple(z2.shape)}.")
        n = z1.shape[0]
        if n < 2:
            raise ValueError("NT-Xent needs at least 2 samples per batch to have negatives, got 1.")
        dtype = torch.promote_types(z1.dtype, torch.float32)  # bf16/fp16 projections: the loss in float32
        z1 = F.normalize(z1.to(dtype), dim=1)
        z2 = F.normalize(z2.to(dtype), dim=1)
        anchors = torch.cat([z1, z2], dim=0)  # (2N, K)
        all1, offset = self._gather_candidates(z1)
        all2, _ = self._gather_candidates(z2)
        m = all1.shape[0]
        candidates = torch.cat([all1, all2], dim=0)  # (2M, K), M = N x world size
        local = torch.arange(n, device=z1.device) + offset
        self_index = torch.cat([local, local + m])
        positive_index = torch.cat([local + m, local])
        bounded = self.temperature >= MIN_UNSHIFTED_TEMPERATURE
        return _FusedInfoNCE.apply(anchors, candidates, self_index, positive_index, self.temperature, bounded)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"


class _FusedInfoNCE(torch.autograd.Function):
    """Mean over anchors i of ``logsumexp_{j≠self(i)} s_ij - s_{i,pos(i)}``, ``s = A Cᵀ / τ``.

    Same value and gradient as ``cross_entropy`` on the masked logits, with one (R x C) buffer
    instead of four: the logits are exponentiated in place, kept for backward, and turned in place
    into the gradient ``softmax - onehot(pos)``. Backward may therefore run only once. Both passes
    run in float32 even inside a bfloat16 autocast region.

    ``bounded``: the logits are known to lie in [-20, 20] (unit rows, τ >= 0.05), so they are
    exponentiated without subtracting the row maximum: two fewer passes over the (R x C) buffer.
    """

    @staticmethod
    def forward(ctx, anchors: Tensor, candidates: Tensor, self_index: Tensor, positive_index: Tensor,
                temperature: float, bounded: bool) -> Tensor:  # fmt: skip
        with torch.autocast(anchors.device.type, enabled=False):
            rows = torch.arange(anchors.shape[0], device=anchors.device)
            scaled = anchors / temperature
            weights = scaled @ candidates.T  # (R, C) logits, then their exponentials in place
            weights[rows, self_index] = float("-inf")
            if bounded:
                row_sum = weights.exp_().sum(dim=1, keepdim=True)
                log_norm = row_sum.log()
            else:
                row_max = weights.amax(dim=1, keepdim=True)
                row_sum = weights.sub_(row_max).exp_().sum(dim=1, keepdim=True)
                log_norm = row_sum.log() + row_max
            positive = (scaled * candidates[positive_index]).sum(dim=1)
            loss = log_norm.squeeze(1).sub(positive).mean()
        ctx.save_for_backward(anchors, candidates, weights, row_sum, positive_index)
        ctx.temperature = temperature
        ctx.used = False
        return loss

    @staticmethod
    def backward(ctx, grad_loss: Tensor):
        if ctx.used:
            raise RuntimeError("NTXentLoss reuses its buffers: backward through it can run only once per forward.")
        ctx.used = True
        anchors, candidates, weights, row_sum, positive_index = ctx.saved_tensors
        with torch.autocast(anchors.device.type, enabled=False):
            rows = torch.arange(anchors.shape[0], device=anchors.device)
            scale = grad_loss / (anchors.shape[0] * ctx.temperature)
            grad_logits = weights.mul_(scale / row_sum)  # scale x softmax over candidates, one pass
            grad_logits[rows, positive_index] -= scale
            return grad_logits @ candidates, grad_logits.T @ anchors, None, None, None, None


def masked_cross_entropy_ntxent(z1: Tensor, z2: Tensor, tau: float) -> Tensor:
    """NT-Xent the textbook way: the (2N x 2N) cosine logits with the diagonal masked, through
    ``cross_entropy`` and plain autograd. The benches time :class:`NTXentLoss` against it."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = (z @ z.T / tau).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    return F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device))
