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


def softmax_objective(z, y, weight, bias, C: float):
    """scikit-learn's LogisticRegression objective, mean form: mean cross-entropy + ||W||² / (2 C n)."""
    z, weight, bias = (torch.as_tensor(t, dtype=torch.float64) for t in (z, weight, bias))
    logits = z @ weight + bias
    return float(F.cross_entropy(logits, torch.as_tensor(y)) + weight.square().sum() / (2 * C * len(z)))


def cosine_knn_votes(reference, labels, queries, k: int, classes: int):
    """Each query's class shares among its k most cosine-similar reference rows, one query at a time."""
    import numpy as np

    reference = np.asarray(reference, dtype=np.float64)
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    out = []
    for q in np.asarray(queries, dtype=np.float64):
        similarity = reference @ (q / np.linalg.norm(q))
        nearest = np.argsort(-similarity, kind="stable")[:k]
        out.append(np.bincount(np.asarray(labels)[nearest], minlength=classes) / k)
    return np.array(out)
