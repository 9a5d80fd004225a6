"""Reference implementations the tests check the product against (test oracles live here, not in dacl)."""

import torch
import torch.nn.functional as F


def cross_entropy_ntxent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """NT-Xent (Algorithm 1, line 21) the textbook way: the (2N x 2N) cosine logits with the diagonal
    masked out, each view's positive its partner, through ``cross_entropy``."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = (z @ z.T / tau).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    return F.cross_entropy(logits, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device))
