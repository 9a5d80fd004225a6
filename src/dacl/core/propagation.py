"""Label spreading over a k-nearest-neighbour graph, in whole-batch torch.

Zhou, Bousquet, Lal, Weston, Schölkopf ("Learning with Local and Global Consistency", NeurIPS 2004):
with W the graph's symmetric affinities, D its degrees and S = D^-1/2 W D^-1/2, the spread labels are
F* = (1 - α)(I - αS)^-1 Y (their Eq. 2, the limit of the iteration F <- αSF + (1 - α)Y), where Y holds
the known labels (one-hot rows, a number, or zeros for an unlabelled row). As Iscen, Tolias, Avrithis,
Chum ("Label Propagation for Deep Semi-supervised Learning", CVPR 2019) run it on a learned embedding:
a k-NN graph of the unit-length features with affinities max(0, cos)^γ, γ = 3 (their Eq. 9), and the
linear system (I - αS)F = Y solved by conjugate gradient (their Eq. 10), a fixed number of steps.

:func:`spread_labels` spreads an indicator of the labelled rows beside Y and returns Y's spread divided
by it: a class distribution per row (classes), or a weighted mean of the known numbers (regression,
where the spread of zeros at the unlabelled rows would otherwise shrink every value towards zero).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

__all__ = ["WEIGHTINGS", "knn_graph", "nearest", "normalized_affinity", "spread_labels"]

WEIGHTINGS = ("cosine", "binary")  # max(0, cos)^3 on unit-length rows (Iscen et al.); 1 per edge (scikit-learn's knn)
GAMMA = 3  # Iscen et al.'s exponent of the cosine affinity


def nearest(query: Tensor, reference: Tensor, k: int, *, skip_self: bool = False, block: int = 2**21
            ) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The ``k`` rows of ``reference`` nearest each row of ``query`` by Euclidean distance (on unit-length
    rows the cosine order): (squared distances, indices), each (n, k), nearest first. ``skip_self``: query
    row i is reference row i and is not its own neighbour. Queries go in chunks of at most ``block``
    distances (8 MB of float32), so memory stays bounded: as fast as chunks of 16 to 128 MB or faster (1.0-1.2x
    against 128 MB on one thread; docs/results/speed.md, "The k-NN chunk")."""
    k = min(k, len(reference) - int(skip_self))
    if k <= 0 or len(query) == 0:
        empty = torch.zeros(len(query), max(k, 0))
        return empty, empty.long()
    norms = (reference * reference).sum(1)
    step = max(1, block // max(len(reference), 1))
    distances, indices = [], []
    for start in range(0, len(query), step):
        q = query[start : start + step]
        d = (q * q).sum(1, keepdim=True) - 2 * q @ reference.T + norms
        if skip_self:
            rows = torch.arange(len(q))
            d[rows, rows + start] = float("inf")
        dist, index = d.topk(k, dim=1, largest=False)
        distances.append(dist.clamp_min(0))
        indices.append(index)
    return torch.cat(distances), torch.cat(indices)


def knn_graph(points: Tensor, k: int, known: tuple[Tensor, Tensor] | None = None, known_from: int = 0
              ) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Each row's ``k`` nearest other rows of ``points``: (squared distances, indices), each (n, k).

    ``known``: the neighbours among ``points[known_from:]`` of each of those rows, already computed (indices
    relative to ``known_from``): a graph of new rows and a fixed set of rows then costs only the new rows'
    distances (the unlabelled pool's graph is computed once for every fold of a cross-validation)."""
    if known is None:
        return nearest(points, points, k, skip_self=True)
    head, tail = points[:known_from], points[known_from:]
    first = nearest(head, points, k, skip_self=True)
    to_head = nearest(tail, head, k)
    distances = torch.cat([to_head[0], known[0]], dim=1)
    indices = torch.cat([to_head[1], known[1] + known_from], dim=1)
    kept = min(k, len(points) - 1)
    best, order = distances.topk(kept, dim=1, largest=False)
    return torch.cat([first[0], best]), torch.cat([first[1], indices.gather(1, order)])


def normalized_affinity(distances: Tensor, indices: Tensor, weighting: str = "cosine") -> Tensor:
    """S = D^-1/2 W D^-1/2 of the symmetrized k-NN graph (W + Wᵀ), as a sparse CSR matrix (one for every α
    of :func:`spread_labels` on the same graph)."""
    n, k = indices.shape
    if weighting == "cosine":  # unit-length rows: cos = 1 - d²/2
        weights = (1 - distances / 2).clamp_min(0) ** GAMMA
    elif weighting == "binary":
        weights = torch.ones_like(distances)
    else:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}.")
    rows = torch.arange(n).repeat_interleave(k)
    pairs = torch.stack([torch.cat([rows, indices.reshape(-1)]), torch.cat([indices.reshape(-1), rows])])
    w = torch.sparse_coo_tensor(pairs, torch.cat([weights.reshape(-1)] * 2), (n, n), check_invariants=False)
    w = w.coalesce()
    index, values = w.indices(), w.values()
    degree = torch.zeros(n).index_add_(0, index[0], values).clamp_min(1e-12)
    scale = degree.rsqrt()
    values = values * scale[index[0]] * scale[index[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta": the product below is all it is used for
        return torch.sparse_coo_tensor(index, values, (n, n), check_invariants=False).to_sparse_csr()


def spread_labels(
    distances: Tensor,
    indices: Tensor,
    targets: Tensor,
    labelled: Tensor,
    alpha: float = 0.99,
    weighting: str = "cosine",
    steps: int = 20,
    affinity: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Spread ``targets`` (n, C) (one-hot rows or numbers; any value on an unlabelled row is ignored) from
    the rows where ``labelled`` (n,) is True over the k-NN graph (``distances``, ``indices`` from
    :func:`knn_graph`): F solves (I - αS)F = Y by ``steps`` of conjugate gradient (module doc).
    ``affinity``: S of this graph and ``weighting`` (:func:`normalized_affinity`), where already computed.

    Returns (the spread targets divided by the spread of the labelled rows' indicator, (n, C); that
    indicator's spread, (n,): 0 on a row that no path joins to a labelled row, whose targets are then 0)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}.")
    s = normalized_affinity(distances, indices, weighting) if affinity is None else affinity
    mask = labelled.float()[:, None]
    y = torch.cat([targets.float() * mask, mask], dim=1)
    f = y.clone()  # conjugate gradient on every column at once, from F = Y
    residual = y - (f - alpha * (s @ f))
    direction = residual.clone()
    norm = (residual * residual).sum(0)
    for _ in range(steps):
        product = direction - alpha * (s @ direction)
        curvature = (direction * product).sum(0)
        step = torch.where(curvature > 0, norm / curvature.clamp_min(1e-30), torch.zeros_like(norm))
        f = f + step * direction
        residual = residual - step * product
        new_norm = (residual * residual).sum(0)
        ratio = torch.where(norm > 0, new_norm / norm.clamp_min(1e-30), torch.zeros_like(norm))
        direction = residual + ratio * direction
        norm = new_norm
    mass = f[:, -1].clamp_min(0)
    reached = mass > 1e-8
    spread = torch.where(reached[:, None], f[:, :-1] / mass.clamp_min(1e-8)[:, None], torch.zeros_like(f[:, :-1]))
    return spread, torch.where(reached, mass, torch.zeros_like(mass))
