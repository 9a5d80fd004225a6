"""Positive views for contrastive learning: the Mixup noises of DACL, a Gaussian baseline, and the
protocols that let a user bring views of their own.

Verma et al., "Towards Domain-Agnostic Contrastive Learning", ICML 2021.

Two protocols, both over a batch ``x`` of any shape ``(N, ...)`` whose first dimension indexes samples:

- a **view** is a callable ``view(x, generator) -> Tensor`` of the same shape: one random view of
  every sample. Any function of that form is a view (a user's augmentation, a column dropout, ...).
- a **pair maker** has ``pair(x, generator) -> (view1, view2)``: the two views of Algorithm 1,
  lines 4-15. :class:`Pair` makes one from one view (two independent draws) or from two views;
  :class:`Compose` chains views (an augmentation, then mixup).

Every built-in noise is both: ``noise(x, g)`` is one view, ``noise.pair(x, g)`` two independent
ones. Each sample draws its own mixing coefficient (or mask) and its own partner from the batch,
never itself. The same classes work on inputs and on hidden representations (hidden mixup, Eq. 4).
For set-valued samples (the nodes of a graph, Eq. 4 inside a GIN) ``grouped_view`` mixes every row
of sample i with the mean row of its partner sample.

All randomness comes from an optional ``torch.Generator`` so that runs repeat exactly under a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from dacl.core.threads import one_thread

__all__ = [
    "BinaryMixup",
    "Compose",
    "GaussianNoise",
    "GeometricMixup",
    "LinearMixup",
    "MixupPlus",
    "Pair",
    "PairMaker",
    "ScarfCorruption",
    "SummedPairs",
    "View",
    "ViewPair",
    "as_pair_maker",
    "check_batch",
    "check_blocks",
    "check_partners",
    "flat_dirichlet",
    "group_means",
    "sample_partners",
]

ViewPair = tuple[Tensor, Tensor]


@runtime_checkable
class View(Protocol):
    """One random view of every sample of a batch ``(N, ...)``, drawn from ``generator``."""

    def __call__(self, x: Tensor, generator: torch.Generator | None) -> Tensor: ...


@runtime_checkable
class PairMaker(Protocol):
    """The two views of every sample (Algorithm 1, lines 4-15)."""

    def pair(self, x: Tensor, generator: torch.Generator | None = None, *, validate: bool = True) -> ViewPair: ...


class Pair:
    """A pair maker from one view (two independent draws) or two views (one draw each)."""

    def __init__(self, view1: Callable[..., Tensor], view2: Callable[..., Tensor] | None = None) -> None:
        for view in (view1, view2):
            if view is not None and not callable(view):
                raise ValueError(f"a view must be callable as view(x, generator), got {type(view).__name__}.")
        self.view1 = view1
        self.view2 = view1 if view2 is None else view2

    @property
    def non_negative(self) -> bool:
        return any(getattr(v, "non_negative", False) for v in (self.view1, self.view2))

    def pair(self, x: Tensor, generator: torch.Generator | None = None, *, validate: bool = True) -> ViewPair:
        first, second = self.view1(x, generator), self.view2(x, generator)
        for view in (first, second):
            if not isinstance(view, Tensor) or view.shape != x.shape:
                raise ValueError(
                    f"a view must return a tensor of the batch's shape {tuple(x.shape)}, "
                    f"got {tuple(view.shape) if isinstance(view, Tensor) else type(view).__name__}."
                )
        return first, second

    def __repr__(self) -> str:
        return f"Pair({self.view1!r})" if self.view1 is self.view2 else f"Pair({self.view1!r}, {self.view2!r})"


class Compose:
    """A view that applies ``views`` in order, e.g. ``Compose(augment, LinearMixup(0.9))``."""

    def __init__(self, *views: Callable[..., Tensor]) -> None:
        if not views or not all(callable(v) for v in views):
            raise ValueError("Compose needs one or more views, each callable as view(x, generator).")
        self.views = views

    @property
    def non_negative(self) -> bool:
        return getattr(self.views[0], "non_negative", False)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for view in self.views:
            x = view(x, generator)
        return x

    def pair(self, x: Tensor, generator: torch.Generator | None = None, *, validate: bool = True) -> ViewPair:
        return self(x, generator), self(x, generator)

    def __repr__(self) -> str:
        return f"Compose({', '.join(map(repr, self.views))})"


class SummedPairs:
    """Several pair makers whose contrastive losses are summed, each on its own two views: SimCLR+DACL
    (Verma et al., ICML 2021, Sec. 5.2: per batch the SimCLR loss on two augmented views plus the DACL
    loss on two mixup views). ``Contrastive`` computes one NT-Xent per pair maker and adds them."""

    def __init__(self, *pair_makers: PairMaker | Callable[..., Tensor]) -> None:
        if len(pair_makers) < 2:
            raise ValueError("SummedPairs needs two or more pair makers (or views); one is just that pair maker.")
        self.pair_makers = tuple(as_pair_maker(p) for p in pair_makers)

    @property
    def non_negative(self) -> bool:
        return any(getattr(p, "non_negative", False) for p in self.pair_makers)

    def __repr__(self) -> str:
        return f"SummedPairs({', '.join(map(repr, self.pair_makers))})"


def as_pair_maker(views: PairMaker | Callable[..., Tensor] | tuple) -> PairMaker:
    """A pair maker as given, or one made from a view or a ``(view1, view2)`` tuple."""
    if hasattr(views, "pair"):
        return views  # type: ignore[return-value]
    if isinstance(views, tuple) and len(views) == 2:
        return Pair(*views)
    if callable(views):
        return Pair(views)
    raise ValueError(
        "views must be a pair maker (with .pair(x, generator)), a view callable as view(x, generator), "
        f"or a tuple of two views; got {type(views).__name__}."
    )


def check_batch(x: Tensor, *, non_negative: bool = False, what: str = "input", values: bool = True) -> None:
    """Raise ``ValueError`` unless ``x`` is a finite float batch of shape (N, ...) with N >= 2.

    ``values=False`` checks only the type and shape: the value checks read a result back from the
    device, which stalls a GPU's queue every step; the training loop checks its data once instead.
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"{what} must be a torch.Tensor of shape (N, ...), got {type(x).__name__}.")
    if x.dim() < 2:
        raise ValueError(
            f"{what} must have a sample dimension and at least one feature dimension, (N, D) or (N, ...), "
            f"got shape {tuple(x.shape)}; reshape a batch of scalars with x.reshape(-1, 1)."
        )
    if not x.is_floating_point():
        raise ValueError(f"{what} must be a float tensor, got dtype {x.dtype}; call x.float() first.")
    if x.shape[0] < 2:
        raise ValueError(
            f"{what} has {x.shape[0]} sample(s): mixup needs a partner from the same batch, "
            "so batches must hold at least 2 samples; use a larger batch_size or drop the last batch."
        )
    if values and not torch.isfinite(x).all():
        raise ValueError(
            f"{what} contains NaN or infinite values; impute or drop them before training "
            "(dacl.DACL imputes missing values by default)."
        )
    if values and non_negative and bool((x < 0).any()):
        raise ValueError(
            f"geometric mixup (Eq. 5) is defined only for non-negative inputs, but {what} has "
            f"minimum {x.min().item():.4g}; scale features to [0, 1] (scale='minmax'), apply it "
            "after a ReLU (mix_at >= 1), or use linear or binary mixup instead."
        )


def sample_partners(n: int, generator: torch.Generator | None = None, device=None) -> Tensor:
    """For each of ``n`` samples, the index of a partner drawn uniformly from the others.

    Algorithm 1, lines 6 and 11: x̃ is another sample of the batch, never x itself. Drawing an
    offset in [1, n-1] and adding it modulo n gives every other index the same probability.
    """
    offsets = torch.randint(1, n, (n,), generator=generator, device=device)
    return (torch.arange(n, device=device) + offsets) % n


def _uniform(n: int, low: float, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """λ ~ U(low, 1), one per sample, shaped (n, 1, ...) to broadcast over a sample's other dimensions."""
    u = torch.rand((n,) + (1,) * (x.dim() - 1), generator=generator, device=x.device, dtype=x.dtype)
    return low + (1.0 - low) * u


def flat_dirichlet(n: int, k: int, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Weights w ~ Dirichlet(1, ..., 1) over ``k`` partners, one draw per sample, shaped (k, n, 1, ...)
    to broadcast over a stack of partners (k, n, ...): normalised standard exponentials, -log U, which
    is the flat Dirichlet exactly and draws from ``generator`` (``torch.distributions`` takes none)."""
    u = torch.rand((k, n) + (1,) * (x.dim() - 1), generator=generator, device=x.device, dtype=x.dtype)
    e = -torch.log1p(-u)  # -log(1 - u), finite for u in [0, 1)
    return e / e.sum(0, keepdim=True).clamp(min=torch.finfo(x.dtype).tiny)


def check_partners(partners: int) -> int:
    """``partners`` as an int >= 1 (k of multi-sample mixup; 1: the paper's two-sample mixup)."""
    if isinstance(partners, bool) or not isinstance(partners, int) or partners < 1:
        raise ValueError(f"partners (k of multi-sample mixup) must be a whole number >= 1, got {partners!r}.")
    return partners


def group_means(x: Tensor, groups: Tensor, num_groups: int) -> Tensor:
    """The mean row of each group: ``groups[r]`` is the sample (e.g. the graph) that row r belongs to."""
    sums = torch.zeros((num_groups,) + x.shape[1:], device=x.device, dtype=x.dtype).index_add_(0, groups, x)
    ones = torch.ones_like(groups, dtype=x.dtype)
    counts = torch.zeros(num_groups, device=x.device, dtype=x.dtype).index_add_(0, groups, ones)
    return sums / counts.clamp(min=1).reshape((num_groups,) + (1,) * (x.dim() - 1))


def _partners_text(partners: int) -> str:
    return "" if partners == 1 else f", partners={partners}"


def _check_lower_bound(name: str, value: float) -> float:
    value = float(value)
    if not 0.5 <= value <= 1.0:
        raise ValueError(
            f"{name} must lie in [0.5, 1] so that λ ~ U({name}, 1) keeps each view closer to its "
            f"sample than to the partner (the paper searches 0.5 ... 0.9), got {value}."
        )
    return value


class _Noise:
    """A built-in noise: one view per call (the :class:`View` protocol), two independent views per
    ``pair`` call (the :class:`PairMaker` protocol; Algorithm 1, lines 4-15)."""

    non_negative = False

    def one_view(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError

    def grouped_view(self, x: Tensor, groups: Tensor, num_groups: int, generator: torch.Generator | None) -> Tensor:
        """One view of set-valued samples: rows of ``x`` grouped into ``num_groups`` samples by ``groups``."""
        raise ValueError(
            f"{type(self).__name__} does not mix set-valued samples (e.g. graph nodes inside a GIN); "
            "use linear, geometric or binary mixup, Gaussian noise, or mix the encoder's output instead."
        )

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One view of ``x`` (N, ...)."""
        check_batch(x, non_negative=self.non_negative)
        return self.one_view(x, generator)

    def pair(self, x: Tensor, generator: torch.Generator | None = None, *, validate: bool = True) -> ViewPair:
        """The two views of ``x`` (N, ...); ``validate=False`` skips the value checks (see ``check_batch``)."""
        check_batch(x, non_negative=self.non_negative, values=validate)
        return self.one_view(x, generator), self.one_view(x, generator)

    def grouped_pair(self, x: Tensor, groups: Tensor, num_groups: int, generator: torch.Generator | None) -> ViewPair:
        """Two independent grouped views (one λ and one partner per sample and view)."""
        if num_groups < 2:
            raise ValueError(f"mixing needs at least 2 samples in a batch, got {num_groups}.")
        return (self.grouped_view(x, groups, num_groups, generator),
                self.grouped_view(x, groups, num_groups, generator))  # fmt: skip


def check_blocks(blocks: Tensor | None, features: int | None = None) -> Tensor | None:
    """``blocks`` as a long tensor (D,): the one-hot block (0, 1, ...) of each column, -1 for a column of
    its own; ``ValueError`` unless every block has two or more columns and ``features`` (if given) is D."""
    if blocks is None:
        return None
    blocks = torch.as_tensor(blocks).long()
    if blocks.dim() != 1 or (features is not None and blocks.numel() != features):
        raise ValueError(
            f"blocks must name one block id (or -1) per column, shape ({features or 'D'},); got {tuple(blocks.shape)}."
        )
    ids = blocks[blocks >= 0]
    sizes = torch.bincount(ids) if ids.numel() else ids
    if bool((blocks < -1).any()) or bool((sizes == 1).any()) or bool((sizes == 0).any()):
        raise ValueError(
            "blocks must number the one-hot blocks 0, 1, ... with two or more columns each and mark other "
            "columns -1 (dacl.tables.preprocess.one_hot_blocks gives them for a fitted preprocessor); "
            f"got {blocks.tolist()}."
        )
    return blocks


class _PartnerMixup(_Noise):
    """A mixup noise: each sample mixed with a partner from the same batch, never itself
    (Algorithm 1, lines 6 and 11). Subclasses say how one row is mixed with its partner.

    With ``blocks`` set (``set_blocks``: a categorical column's one-hot block per column), each block
    is mixed as one unit: it is the sample's whole block with probability ``keep`` (λ for Eqs. 3 and 5,
    1 - ρ for Eq. 6), else the partner's, drawn per sample and block. A view's block stays one-hot (Eq. 5
    coordinate by coordinate zeroes a block whose categories differ; Eq. 6 leaves zero or two ones), and
    in expectation it is Eq. 3's λ e_x + (1 - λ) e_x̃. Other columns are mixed as without blocks.

    **Multi-sample mixup** (``partners = k >= 2``; the paper's "richer mixing", Eq. 3 generalised):
    the sample keeps λ0 ~ U(α, 1) and the rest, 1 - λ0, is split over ``k`` partners (each drawn as in
    Algorithm 1, never the sample itself; two partners may coincide) by weights w ~ Dirichlet(1, ..., 1):
    x⁺ = λ0 x + (1 - λ0) Σ_j w_j x̃_j (Eq. 3), x⁺ = x^λ0 ⊙ Π_j x̃_j^((1 - λ0) w_j) (Eq. 5), and for Eq. 6
    each coordinate not kept is taken from one of the ``k`` partners, chosen uniformly. A block not kept
    comes whole from partner j with probability w_j (1/k for Eq. 6). ``partners = 1`` is the two-sample
    mixup, drawn exactly as before (same random numbers, same views).
    """

    blocks: Tensor | None = None
    partners: int = 1

    def set_blocks(self, blocks: Tensor | None) -> None:
        """Mix the one-hot blocks named by ``blocks`` (see ``check_blocks``) as units; None: coordinate-wise."""
        blocks = check_blocks(blocks)
        self.blocks = blocks if blocks is not None and bool((blocks >= 0).any()) else None  # none: coordinate-wise
        self.block_count = 0 if self.blocks is None else int(self.blocks.max()) + 1  # no device read per step

    def mix_coordinates(self, x: Tensor, partner: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Row i of ``x`` mixed with row i of ``partner`` coordinate by coordinate, and each row's
        probability (N, 1) of keeping its own block when blocks are mixed as units."""
        raise NotImplementedError

    def mix_coordinates_many(
        self, x: Tensor, others: Tensor, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Row i of ``x`` mixed with row i of each of the ``k`` partner stacks ``others`` (k, N, ...);
        also each row's probability (N, 1) of keeping its own block and the partners' weights (k, N, 1...)."""
        raise NotImplementedError

    def mix_with(self, x: Tensor, partner: Tensor, generator: torch.Generator | None) -> Tensor:
        """Row i of ``x`` mixed with row i of ``partner`` under its own coefficient or mask; one-hot
        blocks, if set, as units."""
        mixed, keep = self.mix_coordinates(x, partner, generator)
        return mixed if self.blocks is None else self._mix_blocks(x, partner, mixed, keep, generator)

    def mix_with_partners(self, x: Tensor, others: Tensor, generator: torch.Generator | None) -> Tensor:
        """Row i of ``x`` mixed with row i of every partner stack in ``others`` (k, N, ...); k = 1 is
        ``mix_with`` (the two-sample mixup, the same draws)."""
        if others.shape[0] == 1:
            return self.mix_with(x, others[0], generator)
        mixed, keep, weights = self.mix_coordinates_many(x, others, generator)
        return mixed if self.blocks is None else self._mix_blocks(x, others, mixed, keep, generator, weights)

    def draw_partners(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        """``self.partners`` partner stacks (k, N, ...): row i of each is another sample of the batch."""
        return torch.stack([x[sample_partners(x.shape[0], generator, x.device)] for _ in range(self.partners)])

    def _mix_blocks(
        self, x: Tensor, partner: Tensor, mixed: Tensor, keep: Tensor, generator, weights: Tensor | None = None
    ) -> Tensor:
        """Blocks whole: the sample's with probability ``keep``, else the partner's (``partner`` (N, D)),
        or with ``weights`` (k, N, 1) partner j's of the stack ``partner`` (k, N, D) with probability w_j."""
        if self.blocks.device != x.device:
            self.blocks = self.blocks.to(x.device)
        blocks = self.blocks
        if x.dim() != 2 or x.shape[1] != blocks.numel():
            raise ValueError(
                f"one-hot blocks are set for {blocks.numel()} columns, but the batch has shape {tuple(x.shape)}; "
                "blocks apply to tables (N, D) mixed at the input (mix_at=0)."
            )
        columns = blocks.clamp(min=0)
        draws = torch.rand((x.shape[0], self.block_count), generator=generator, device=x.device, dtype=x.dtype)
        own = (draws < keep.reshape(-1, 1))[:, columns]  # (N, D): the sample's block kept
        if weights is not None:  # one partner per sample and block, partner j with probability w_j
            which = torch.rand((x.shape[0], self.block_count), generator=generator, device=x.device, dtype=x.dtype)
            bounds = weights.reshape(weights.shape[0], -1).t().cumsum(1)  # (N, k)
            chosen = (which.unsqueeze(2) >= bounds[:, None, :-1]).sum(2)  # (N, blocks) in 0..k-1
            partner = partner.gather(0, chosen[:, columns].unsqueeze(0)).squeeze(0)
        return torch.where(blocks >= 0, torch.where(own, x, partner), mixed)

    def mix_grouped(
        self, x: Tensor, partner: Tensor, groups: Tensor, num_groups: int, generator: torch.Generator | None
    ) -> Tensor:
        """Rows mixed with their sample's partner row; by default row by row, as ``mix_with``."""
        return self.mix_with(x, partner, generator)

    def one_view(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        if self.partners == 1:
            return self.mix_with(x, x[sample_partners(x.shape[0], generator, x.device)], generator)
        return self.mix_with_partners(x, self.draw_partners(x, generator), generator)

    def grouped_view(self, x: Tensor, groups: Tensor, num_groups: int, generator: torch.Generator | None) -> Tensor:
        """Eq. 4 on set-valued samples: every row of sample i mixed with the mean row of a partner
        sample j ≠ i (one partner and one coefficient per sample)."""
        if self.partners != 1:
            raise ValueError(
                f"multi-sample mixup (partners={self.partners}) mixes rows, not set-valued samples (graph nodes); "
                "mix a graph's pooled embedding (mix_at=-1) or use partners=1."
            )
        partners = sample_partners(num_groups, generator, x.device)
        return self.mix_grouped(x, group_means(x, groups, num_groups)[partners][groups], groups, num_groups, generator)


class _CoefficientMixup(_PartnerMixup):
    """Mixes each sample with a partner under a coefficient λ ~ U(lower, 1), one λ per sample."""

    lower: float

    def mix(self, x: Tensor, partner: Tensor, lam: Tensor) -> Tensor:
        raise NotImplementedError

    def mix_coordinates(self, x: Tensor, partner: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Row i of ``x`` mixed with row i of ``partner`` under its own λ ~ U(lower, 1); λ is also the
        probability of keeping a block."""
        lam = _uniform(x.shape[0], self.lower, x, generator)
        return self.mix(x, partner, lam), lam

    def combine(self, others: Tensor, weights: Tensor) -> Tensor:
        """The partners (k, N, ...) combined under weights (k, N, 1, ...) summing to 1 over k."""
        raise NotImplementedError

    def mix_coordinates_many(
        self, x: Tensor, others: Tensor, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """λ0 ~ U(lower, 1) for the sample, the rest split over the partners by w ~ Dirichlet(1, ..., 1)."""
        lam = _uniform(x.shape[0], self.lower, x, generator)
        weights = flat_dirichlet(x.shape[0], others.shape[0], x, generator)
        return self.mix(x, self.combine(others, weights), lam), lam, weights

    def mix_grouped(
        self, x: Tensor, partner: Tensor, groups: Tensor, num_groups: int, generator: torch.Generator | None
    ) -> Tensor:
        """Every row of sample i mixed under sample i's own λ ~ U(lower, 1)."""
        return self.mix(x, partner, _uniform(num_groups, self.lower, x, generator)[groups])


class LinearMixup(_CoefficientMixup):
    """Linear mixup noise, Eq. 3: x⁺ = λx + (1-λ)x̃ with λ ~ U(α, 1) per sample.

    ``alpha`` in [0.5, 1]; the paper searches {0.5, 0.6, 0.7, 0.8, 0.9} and uses 0.9 for graphs.
    """

    def __init__(self, alpha: float = 0.9, partners: int = 1) -> None:
        self.alpha = self.lower = _check_lower_bound("alpha", alpha)
        self.partners = check_partners(partners)

    def mix(self, x: Tensor, partner: Tensor, lam: Tensor) -> Tensor:
        return lam * x + (1.0 - lam) * partner

    def combine(self, others: Tensor, weights: Tensor) -> Tensor:
        """Σ_j w_j x̃_j: then λ0 x + (1 - λ0) Σ_j w_j x̃_j (Eq. 3 with k partners)."""
        return (weights * others).sum(0)

    def __repr__(self) -> str:
        return f"LinearMixup(alpha={self.alpha}{_partners_text(self.partners)})"


class GeometricMixup(_CoefficientMixup):
    """Geometric mixup noise, Eq. 5: x⁺ = x^λ ⊙ x̃^(1-λ) with λ ~ U(β, 1) per sample.

    Defined only for non-negative inputs: negative values raise ``ValueError``.
    """

    non_negative = True

    def __init__(self, beta: float = 0.9, partners: int = 1) -> None:
        self.beta = self.lower = _check_lower_bound("beta", beta)
        self.partners = check_partners(partners)

    def mix(self, x: Tensor, partner: Tensor, lam: Tensor) -> Tensor:
        """Eq. 5 on one thread on the CPU: torch's ``pow`` takes a vector path and a scalar one for a chunk's
        last elements, which differ in the last bit, and the chunks follow the thread count (1 and 2
        threads gave different views, fashion-mnist's DACL+; tests/core/test_views.py)."""
        with one_thread() if x.device.type == "cpu" else nullcontext():
            return x.pow(lam) * partner.pow(1.0 - lam)

    def combine(self, others: Tensor, weights: Tensor) -> Tensor:
        """Π_j x̃_j^w_j: then x^λ0 ⊙ Π_j x̃_j^((1 - λ0) w_j) (Eq. 5 with k partners); on one thread (``mix``)."""
        with one_thread() if others.device.type == "cpu" else nullcontext():
            return others.pow(weights).prod(0)

    def __repr__(self) -> str:
        return f"GeometricMixup(beta={self.beta}{_partners_text(self.partners)})"


class BinaryMixup(_PartnerMixup):
    """Binary mixup noise, Eq. 6: x⁺ = x ⊙ m + x̃ ⊙ (1-m), a fresh mask m per sample and view.

    Direction of ρ: here ``rho`` is the probability that a coordinate is taken from the partner,
    i.e. m ~ Bernoulli(1 - ρ). The paper writes "m ~ Bernoulli(ρ) with high ρ" yet searches ρ in
    {0.1, 0.3, 0.5}; read our way, every value of that grid keeps in expectation a share 1 - ρ >= 0.5
    of each view's coordinates from its own sample, so the view is at least as close to the sample
    as to the partner. ``rho`` must lie in [0, 0.5].
    """

    def __init__(self, rho: float = 0.3, partners: int = 1) -> None:
        self.partners = check_partners(partners)
        rho = float(rho)
        if not 0.0 <= rho <= 0.5:
            raise ValueError(
                "rho is the share of coordinates taken from the partner and must lie in [0, 0.5] "
                f"to keep each view closer to its own sample (the paper searches 0.1, 0.3, 0.5); got {rho}."
            )
        self.rho = rho

    def keep_mask(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        """m ~ Bernoulli(1 - ρ), elementwise: 1 keeps the sample's coordinate."""
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (u >= self.rho).to(x.dtype)

    def mix(self, x: Tensor, partner: Tensor, mask: Tensor) -> Tensor:
        return torch.lerp(partner, x, mask)

    def mix_coordinates(self, x: Tensor, partner: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Row i of ``x`` mixed with row i of ``partner`` under its own mask (one per row and coordinate);
        a block is kept with probability 1 - ρ."""
        keep = torch.full((x.shape[0], 1), 1.0 - self.rho, device=x.device, dtype=x.dtype)
        return self.mix(x, partner, self.keep_mask(x, generator)), keep

    def mix_coordinates_many(
        self, x: Tensor, others: Tensor, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Eq. 6 with k partners: each coordinate not kept comes from one partner, chosen uniformly."""
        k = others.shape[0]
        mask = self.keep_mask(x, generator)
        chosen = torch.randint(0, k, x.shape, generator=generator, device=x.device)
        taken = others.gather(0, chosen.unsqueeze(0)).squeeze(0)
        keep = torch.full((x.shape[0], 1), 1.0 - self.rho, device=x.device, dtype=x.dtype)
        weights = torch.full((k, x.shape[0], 1), 1.0 / k, device=x.device, dtype=x.dtype)
        return self.mix(x, taken, mask), keep, weights

    def __repr__(self) -> str:
        return f"BinaryMixup(rho={self.rho}{_partners_text(self.partners)})"


class GaussianNoise(_Noise):
    """Gaussian-noise baseline of Table 1: x⁺ = x + σε, ε ~ N(0, I), two independent draws."""

    def __init__(self, sigma: float = 0.1) -> None:
        sigma = float(sigma)
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}.")
        self.sigma = sigma

    def one_view(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.sigma * eps

    def grouped_view(self, x: Tensor, groups: Tensor, num_groups: int, generator: torch.Generator | None) -> Tensor:
        """Gaussian noise has no partner: every row gets its own noise."""
        return self.one_view(x, generator)

    def __repr__(self) -> str:
        return f"GaussianNoise(sigma={self.sigma})"


class ScarfCorruption(_Noise):
    """SCARF's view (Bahri et al., ICLR 2022): a random subset of ``round(fraction x D)`` of each
    row's D features (a fresh subset per row and view) is replaced by the same features of other
    rows, each feature's donor drawn uniformly from the batch's other rows: the features' empirical
    marginals. ``pair`` gives SCARF's (row, corrupted row), the anchor uncorrupted as in the paper."""

    def __init__(self, fraction: float = 0.6) -> None:
        fraction = float(fraction)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"the corruption fraction must lie in [0, 1] (SCARF uses 0.6), got {fraction}.")
        self.fraction = fraction

    def one_view(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        rows = x.reshape(n, -1)
        features = rows.shape[1]
        corrupted = round(self.fraction * features)
        # each row's corrupted features: the `corrupted` smallest of fresh uniform scores
        scores = torch.rand(rows.shape, generator=generator, device=x.device)
        ranks = scores.argsort(dim=1).argsort(dim=1)
        offsets = torch.randint(1, n, rows.shape, generator=generator, device=x.device)
        donors = (torch.arange(n, device=x.device).unsqueeze(1) + offsets) % n  # never the row itself
        return torch.where(ranks < corrupted, rows.gather(0, donors), rows).reshape(x.shape)

    def pair(self, x: Tensor, generator: torch.Generator | None = None, *, validate: bool = True) -> ViewPair:
        check_batch(x, values=validate)
        return x, self.one_view(x, generator)

    def __repr__(self) -> str:
        return f"ScarfCorruption(fraction={self.fraction})"


class MixupPlus(_Noise):
    """DACL+: per sample, one of linear (Eq. 3), geometric (Eq. 5) and binary (Eq. 6) mixup; a wider
    menu adds SCARF's corruption (``"scarf"``) and Gaussian noise (``"gaussian"``) as further types.

    In ``pair`` each sample draws its type uniformly from ``types`` once, and that type makes both of
    its views (a single view, ``noise(x, g)``, draws the types afresh);
    λ, masks and partners are drawn independently per view as in Algorithm 1. Each type mixes only
    its own rows (one batched call per type), so there is no Python loop over samples and no work
    is thrown away.
    Geometric mixup needs non-negative inputs; drop it from ``types`` for signed data.
    """

    TYPES = ("linear", "geometric", "binary", "scarf", "gaussian")
    MIXUPS = ("linear", "geometric", "binary")  # the paper's DACL+, the default

    def __init__(
        self,
        alpha: float = 0.9,
        beta: float | None = None,
        rho: float = 0.3,
        types: tuple[str, ...] = MIXUPS,
        partners: int = 1,
        sigma: float = 0.1,
        corruption: float = 0.6,
    ) -> None:
        unknown = [t for t in types if t not in self.TYPES]
        if unknown or not types:
            raise ValueError(f"types must be a non-empty subset of {self.TYPES}, got {types}.")
        self.types = tuple(types)
        self.partners = check_partners(partners)
        self.linear = LinearMixup(alpha, partners)
        self.geometric = GeometricMixup(alpha if beta is None else beta, partners)
        self.binary = BinaryMixup(rho, partners)
        self.scarf = ScarfCorruption(corruption)
        self.gaussian = GaussianNoise(sigma)

    def _type_view(self, name: str, x: Tensor, partners: Tensor, generator: torch.Generator | None) -> Tensor:
        """Every row of ``x`` viewed by type ``name``: a mixup with the given partner stacks, or a noise
        that draws its own (SCARF's donors, Gaussian noise)."""
        noise = getattr(self, name)
        if name in self.MIXUPS:
            return noise.mix_with_partners(x, partners, generator)
        return noise.one_view(x, generator)

    @property
    def blocks(self) -> Tensor | None:
        return self.linear.blocks

    def set_blocks(self, blocks: Tensor | None) -> None:
        """Mix one-hot blocks as units in each of the three types (see ``_PartnerMixup``)."""
        for noise in (self.linear, self.geometric, self.binary):
            noise.set_blocks(blocks)

    @property
    def non_negative(self) -> bool:
        """Whether inputs must be non-negative: geometric mixup (Eq. 5) is among the types."""
        return "geometric" in self.types

    def sample_types(self, n: int, generator: torch.Generator | None, device=None) -> Tensor:
        """Index into ``self.types`` for each sample, shape (n,)."""
        return torch.randint(0, len(self.types), (n,), generator=generator, device=device)

    def _one_view(self, x: Tensor, kinds: Tensor, generator: torch.Generator | None) -> Tensor:
        partners = self.linear.draw_partners(x, generator)  # (k, N, ...), shared by the three types
        if x.device.type != "cpu":
            return self._one_view_by_selection(x, partners, kinds, generator)
        view = torch.empty_like(x)
        for index, name in enumerate(self.types):  # one batched view per type, not a sample loop
            rows = (kinds == index).nonzero().squeeze(1)
            if name in self.MIXUPS:
                view[rows] = self._type_view(name, x[rows], partners[:, rows], generator)
            else:  # SCARF's donors come from the whole batch: view every row, keep the type's own
                view[rows] = self._type_view(name, x, partners, generator)[rows]
        return view

    def _one_view_by_selection(
        self, x: Tensor, partners: Tensor, kinds: Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """The same view with every type mixed over the whole batch and each row's own type kept.

        ``nonzero`` above must read the row counts back to the host, which stalls a GPU's queue;
        this form never does, and on a GPU the extra elementwise work costs less than the stall.
        """
        view = x
        for index, name in enumerate(self.types):
            mixed = self._type_view(name, x, partners, generator)
            view = torch.where((kinds == index).reshape((-1,) + (1,) * (x.dim() - 1)), mixed, view)
        return view

    def views_and_types(
        self, x: Tensor, generator: torch.Generator | None = None, *, validate: bool = True
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(view1, view2, kinds)``: the two views and each sample's type index into ``types``."""
        check_batch(x, non_negative=self.non_negative, values=validate)
        kinds = self.sample_types(x.shape[0], generator, x.device)
        return self._one_view(x, kinds, generator), self._one_view(x, kinds, generator), kinds

    def one_view(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        return self._one_view(x, self.sample_types(x.shape[0], generator, x.device), generator)

    def pair(self, x: Tensor, generator: torch.Generator | None = None, *, validate: bool = True) -> ViewPair:
        """The two views of ``x`` (N, ...), each sample's type shared by both; ``validate=False``
        skips the value checks (see ``check_batch``)."""
        view1, view2, _ = self.views_and_types(x, generator, validate=validate)
        return view1, view2

    def __repr__(self) -> str:
        return (
            f"MixupPlus(alpha={self.linear.alpha}, beta={self.geometric.beta}, "
            f"rho={self.binary.rho}, types={self.types}{_partners_text(self.partners)}"
            + (f", sigma={self.gaussian.sigma}" if "gaussian" in self.types else "")
            + (f", corruption={self.scarf.fraction}" if "scarf" in self.types else "")
            + ")"
        )
