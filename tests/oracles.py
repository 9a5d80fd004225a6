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


def nearest_rows(query, reference, k: int, skip_self: bool = False):
    """Each query row's k nearest reference rows by Euclidean distance, one query at a time (stable order)."""
    import numpy as np

    query, reference = np.asarray(query, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    out = []
    for i, q in enumerate(query):
        d = ((reference - q) ** 2).sum(1)
        if skip_self:
            d[i] = np.inf
        out.append(np.argsort(d, kind="stable")[:k])
    return np.array(out)


def label_spreading(points, targets, labelled, k: int, alpha: float, weighting: str):
    """Zhou et al. (NeurIPS 2004) in closed form on a dense matrix: the symmetrized k-NN graph's W, S = D^-1/2 W
    D^-1/2, F = (I - αS)^-1 [Y·1_L, 1_L]; returns (F_Y / F_1, F_1), as ``dacl.core.propagation.spread_labels``."""
    import numpy as np

    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    neighbours = nearest_rows(points, points, k, skip_self=True)
    w = np.zeros((n, n))
    for i in range(n):
        for j in neighbours[i]:
            d = ((points[i] - points[j]) ** 2).sum()
            weight = max(0.0, 1 - d / 2) ** 3 if weighting == "cosine" else 1.0
            w[i, j] += weight
            w[j, i] += weight
    scale = 1 / np.sqrt(np.maximum(w.sum(1), 1e-12))
    s = w * scale[:, None] * scale[None, :]
    mask = np.asarray(labelled, dtype=np.float64)[:, None]
    y = np.hstack([np.asarray(targets, dtype=np.float64).reshape(n, -1) * mask, mask])
    f = np.linalg.solve(np.eye(n) - alpha * s, y)
    with np.errstate(invalid="ignore", divide="ignore"):  # rows no path joins to a label: 0 / 0
        return f[:, :-1] / f[:, -1:], f[:, -1]
