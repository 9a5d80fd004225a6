"""Linear heads on frozen features, fitted on the device in float32: the linear evaluation protocol
(Verma et al., ICML 2021, Sec. 5: a linear classifier on the frozen encoder) without scikit-learn's
float64 solver.

- :func:`fit_softmax`: multinomial logistic regression on standardized features, L2-penalised as
  scikit-learn's ``LogisticRegression(C=C)`` (mean cross-entropy + ||W||² / (2 C n)), minimised by
  full-batch L-BFGS with a strong-Wolfe line search (``torch.optim.LBFGS``).
- :func:`fit_ridge`: ridge regression on standardized features, in closed form
  ((ZᵀZ + a I) w = Zᵀ(y - ȳ), as scikit-learn's ``Ridge(alpha=a)`` on the same Z), with ``a`` chosen
  by the exact leave-one-out error over a grid unless given (as scikit-learn's ``RidgeCV``): a fixed
  small ``a`` interpolates where the labelled rows are about as many as the features or fewer.

Both return a :class:`LinearHead` (standardization, weight, bias) that maps new features to logits
or predictions, and whose tensors are saved and loaded as plain arrays (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dacl.core.threads import one_thread, thread_count

__all__ = ["RIDGE_ALPHAS", "LinearHead", "fit_ridge", "fit_softmax", "ridge_leave_one_out", "standardization"]

# the penalties fit_ridge chooses among: 10^-2 .. 10^6 in quarter decades (standardized features)
RIDGE_ALPHAS: tuple[float, ...] = tuple(10.0 ** (e / 4) for e in range(-8, 25))


@dataclass
class LinearHead:
    """``(x - mean) / std @ weight + bias``: logits (classes) or one prediction per row (regression)."""

    mean: Tensor  # (D,)
    std: Tensor  # (D,)
    weight: Tensor  # (D, K)
    bias: Tensor  # (K,)

    @torch.no_grad()
    def __call__(self, features: Tensor, batch_size: int = 65536) -> Tensor:
        parts = []
        for start in range(0, len(features), batch_size):
            x = features[start : start + batch_size].to(self.weight.device, torch.float32)
            parts.append(torch.addmm(self.bias, (x - self.mean) / self.std, self.weight))
        return torch.cat(parts) if parts else torch.zeros(0, self.weight.shape[1], device=self.weight.device)

    def tensors(self) -> dict[str, Tensor]:
        return {"mean": self.mean, "std": self.std, "weight": self.weight, "bias": self.bias}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Tensor]) -> LinearHead:
        return cls(tensors["mean"], tensors["std"], tensors["weight"], tensors["bias"])


def standardization(features: Tensor) -> tuple[Tensor, Tensor]:
    """Column means and standard deviations (a constant column gets std 1, as scikit-learn's scaler),
    summed on one thread: torch splits a sum over many rows by thread (1 and 2 threads differ)."""
    with one_thread():
        mean = features.mean(0)
        std = features.std(0, unbiased=False)
    return mean, torch.where(std > 1e-12 * (1 + mean.abs()), std, torch.ones_like(std))


def fit_softmax(
    features: Tensor,
    labels: Tensor,
    classes: int | None = None,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
    tolerance: float = 1e-4,
) -> LinearHead:
    """Multinomial logistic regression of ``labels`` (0..classes-1) on standardized ``features``.

    Objective: mean cross-entropy + ||W||² / (2 C n) (the bias unpenalised), as scikit-learn's
    ``LogisticRegression(C=C)``; full-batch L-BFGS in float32 on ``features``' device, stopped when the
    largest gradient entry falls below ``tolerance`` or after ``max_iter`` iterations."""
    x = features.to(torch.float32)
    y = labels.to(x.device, torch.long)
    n, d = x.shape
    if n == 0:
        raise ValueError("a linear head needs at least one labelled row.")
    k = int(classes if classes is not None else int(y.max()) + 1)
    mean, std = standardization(x)
    z = (x - mean) / std
    z_t = z.T.contiguous()  # the gradient's product z^T g runs several times faster on a contiguous z^T
    one_hot = F.one_hot(y, k).to(torch.float32)
    weight = torch.zeros(d, k, device=x.device)
    bias = torch.zeros(k, device=x.device)
    weight.grad, bias.grad = torch.zeros_like(weight), torch.zeros_like(bias)
    penalty = 1.0 / (2.0 * C * n)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, history_size=20,
                                  tolerance_grad=tolerance, tolerance_change=1e-10,
                                  line_search_fn="strong_wolfe")  # fmt: skip
    threads = torch.get_num_threads()

    @torch.no_grad()
    def closure() -> Tensor:
        # the objective and its gradient written out: d/dlogits of the mean cross-entropy is (p - onehot) / n;
        # the row-wise work and the products (MKL's, in one order on any thread count) on every thread, the
        # sums over rows and L-BFGS's own dot products and norms (outside) on one: the same fit on any count
        with thread_count(threads):
            log_p = torch.log_softmax(torch.addmm(bias, z, weight), dim=1)
            picked = log_p * one_hot
            g = (log_p.exp() - one_hot) / n
            torch.addmm(weight, z_t, g, beta=2 * penalty, out=weight.grad)
        loss = -picked.sum() / n + penalty * weight.square().sum()
        torch.sum(g, dim=0, out=bias.grad)
        return loss

    with one_thread():
        optimizer.step(closure)
    return LinearHead(mean, std, weight.detach(), bias.detach())


def fit_ridge(
    features: Tensor, targets: Tensor, *, alpha: float | None = None, alphas: tuple[float, ...] = RIDGE_ALPHAS
) -> LinearHead:
    """Ridge regression of ``targets`` (N,) on standardized ``features``, closed form in float64:
    minimises ||y - Zw - b||² + alpha ||w||² (the bias unpenalised). ``alpha=None``: the one of
    ``alphas`` with the least leave-one-out squared error (:func:`ridge_leave_one_out`)."""
    x = features.to(torch.float32)
    y = targets.to(x.device, torch.float64).reshape(-1)
    if len(y) == 0:
        raise ValueError("a linear head needs at least one labelled row.")
    mean, std = standardization(x)
    z = ((x - mean) / std).double()
    centre = y.mean()
    if alpha is None:
        errors = ridge_leave_one_out(z, y - centre, alphas)
        alpha = alphas[int(torch.argmin(errors))] if bool(torch.isfinite(errors).any()) else max(alphas)
    gram = z.T @ z + alpha * torch.eye(z.shape[1], dtype=torch.float64, device=z.device)
    weight = torch.linalg.solve(gram, z.T @ (y - centre))
    return LinearHead(mean, std, weight.float().unsqueeze(1), centre.float().reshape(1))


def ridge_leave_one_out(z: Tensor, y: Tensor, alphas: tuple[float, ...], chunk: int = 16384) -> Tensor:
    """Mean squared leave-one-out error of ridge with an unpenalised bias, for each of ``alphas``, on
    column-centred ``z`` (N, D) and centred ``y`` (N,), without refitting: with ZᵀZ = V diag(e) Vᵀ and
    P = ZV, the hat matrix is H = 1 1ᵀ/N + P diag(1/(e + a)) Pᵀ and row i's left-out residual is
    (y - Hy)_i / (1 - H_ii), the leave-one-out shortcut of linear smoothers (Hastie, Tibshirani,
    Friedman, "The Elements of Statistical Learning", Sec. 7.10). A row its fit cannot leave out
    (1 - H_ii = 0) makes the error inf. Rows are taken ``chunk`` at a time (memory: chunk x D)."""
    eigenvalues, vectors = torch.linalg.eigh(z.T @ z)
    shrink = 1.0 / (
        eigenvalues.clamp_min(0)[None, :] + torch.tensor(alphas, dtype=z.dtype, device=z.device)[:, None]
    )  # (A, D)
    weights = (vectors.T @ (z.T @ y)) * shrink  # (A, D): diag(1/(e + a)) Pᵀ y for every a
    squares = torch.zeros(len(alphas), dtype=z.dtype, device=z.device)
    leaves = True
    for start in range(0, len(y), chunk):
        p = z[start : start + chunk] @ vectors  # (n, D)
        fitted = weights @ p.T  # (A, n)
        left = 1.0 - (shrink @ p.square().T + 1.0 / len(y))  # (A, n): 1 - H_ii
        leaves = leaves & (left > 1e-10).all(1)
        squares += ((y[start : start + chunk] - fitted) / left).square().sum(1)
    errors = squares / len(y)
    return torch.where(leaves, errors, torch.full_like(errors, float("inf")))
