"""Methods: what a training run optimises. A method adds only its modules and its loss for one batch
(after solo-learn's ``methods/base.py``); the engine (``dacl.engine.fit``) does everything else.

Every method name lives in :data:`METHODS`, the one registry: the CLI, the config, the estimator,
the reproductions and the bench read their choices from it.

- :class:`Contrastive`: encoder h, projection head g, NT-Xent over the two views of every sample
  (Algorithm 1 of Verma et al., ICML 2021), with any pair maker as views and any encoder; the views
  act on the input (``mix_at = 0``) or, through the encoder's layer hook, after layer l (Eq. 4).
- :class:`Supervised`: the encoder and a linear classifier trained with cross-entropy (the paper's
  "full network supervised training" row).
- :class:`NoPretraining`: the randomly initialised encoder, never trained (the paper's baseline).
- :class:`InfoGraph`: the local-global mutual-information objective of Sun et al. (2020), on an
  encoder that also returns node representations (the GIN).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dacl.core.augment import SimCLRAugment
from dacl.core.encoders import MixAt, ProjectionHead, encoder_depth
from dacl.core.graph_views import GraphAugment
from dacl.core.infograph import InfoGraphLoss
from dacl.core.losses import NTXentLoss
from dacl.core.views import (
    BinaryMixup,
    Compose,
    GaussianNoise,
    GeometricMixup,
    LinearMixup,
    MixupPlus,
    PairMaker,
    ScarfCorruption,
    SummedPairs,
    as_pair_maker,
    check_batch,
)

__all__ = [
    "METHODS",
    "Contrastive",
    "InfoGraph",
    "Method",
    "MethodInfo",
    "MethodOptions",
    "NoPretraining",
    "Supervised",
    "batch_size_of",
    "build_method",
    "method_names",
    "mixes_blocks",
]


class MethodOptions(Protocol):
    """The options a method is built from: what :class:`dacl.config.PretrainConfig` holds (named here so
    that this module does not import the config, which reads the names of this registry)."""

    method: str
    alpha: float
    beta: float | None
    rho: float
    sigma: float
    corruption: float
    mixup_types: tuple[str, ...]
    mixup_partners: int
    mix_at: int
    projection_dim: int | None
    head_depth: int
    temperature: float
    crop_scale: float
    jitter_strength: float
    blur: str
    augment_ratio: float


def batch_size_of(inputs: Any) -> int:
    """Samples in a batch: ``num_graphs`` of a PyG batch, else the first dimension."""
    graphs = getattr(inputs, "num_graphs", None)
    return int(graphs) if graphs is not None else len(inputs)


class Method(nn.Module):
    """A trainable objective: ``encoder`` plus whatever the method adds, and ``loss`` for one batch.

    ``inputs`` is what the domain's batches hold (a tensor, a PyG batch), ``targets`` the labels or
    None; every random draw comes from ``generator``. ``trains = False`` skips training.
    """

    trains = True
    encoder: nn.Module

    def loss(self, inputs: Any, targets: Tensor | None, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def check_data(self, inputs: Any) -> None:
        """Checks of the whole data set run once before training (not per step: no host sync)."""

    def compiled(self) -> Method:
        """A shallow copy whose submodules run through ``torch.compile``, sharing the parameters,
        so that the original's ``state_dict`` (and every checkpoint) keeps its plain names."""
        clone = object.__new__(type(self))
        clone.__dict__ = dict(self.__dict__)
        clone._modules = {name: torch.compile(module) for name, module in self._modules.items()}
        return clone


class Contrastive(Method):
    """NT-Xent on the projections of two views of every sample (Algorithm 1, lines 4-21).

    ``mix_at = 0`` makes the views of the input batch and sends both through ``encoder`` as one
    batch of 2N, so any encoder works; so does ``mix_at = -1`` (the encoder's output, Eq. 4 on the
    representation), which needs no hook. ``mix_at = l > 0`` (hidden mixup, Eq. 4; -1 for the output)
    passes a hook to the encoder that replaces the rows after layer l by both views stacked: the
    layers before l run once. Set-valued inputs (graph nodes) are mixed per sample through the
    views' ``grouped_pair``. ``SummedPairs`` views (SimCLR+DACL) give one NT-Xent per pair maker,
    each on its own pass of 2N views through the encoder, summed.
    """

    def __init__(
        self, encoder: nn.Module, head: nn.Module, views: PairMaker, temperature: float = 0.5, mix_at: int = 0
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.views = views if isinstance(views, SummedPairs) else as_pair_maker(views)
        self.criterion = NTXentLoss(temperature, gather_distributed=True)  # global negatives (no-op in one process)
        depth = encoder_depth(encoder)
        has_hook = "hook" in inspect.signature(encoder.forward).parameters
        # the encoder's output is mixed after the encoder has run: any encoder, with or without the hook
        self.mixes_output = (mix_at == -1 and (depth is None or not has_hook)) or (
            depth is not None and mix_at == depth and not has_hook
        )
        if mix_at < 0 and not self.mixes_output:
            if depth is None:
                raise ValueError(
                    f"mix_at={mix_at} counts from the encoder's output, but {type(encoder).__name__} has no depth."
                )
            mix_at = depth + 1 + mix_at
        if (mix_at < 0 and not self.mixes_output) or (depth is not None and mix_at > depth):
            raise ValueError(
                f"mix_at must lie in [0, depth={depth}] (or -1: the encoder's output); 0 mixes the input, "
                "l the representation after encoder layer l (hidden mixup, Eq. 4)."
            )
        if mix_at > 0 and not has_hook and not self.mixes_output:
            raise ValueError(
                f"mix_at={mix_at} mixes inside the encoder, but {type(encoder).__name__}.forward takes no hook=: "
                "implement the layer hook of dacl.core.encoders, or mix the input (mix_at=0)."
            )
        signed = depth is not None and 0 < mix_at < depth and getattr(encoder, "signed_hidden_layers", False)
        if signed and getattr(self.views, "non_negative", False):
            raise ValueError(
                f"{type(encoder).__name__}'s layers 1..{depth - 1} are a residual stream with negative values, "
                f"which geometric mixup (Eq. 5, in {self.views!r}) cannot mix: mix at 0 or at the output "
                f"(mix_at={depth}), or use linear or binary mixup (method dacl, dacl-binary, or mixup_types)."
            )
        makers = self.views.pair_makers if isinstance(self.views, SummedPairs) else (self.views,)
        graph_views = any(getattr(m, "graph_views", False) for m in makers)  # GraphCL's act on the input graphs
        if mix_at != 0 and isinstance(self.views, SummedPairs) and not graph_views:
            raise ValueError(f"summed views ({self.views!r}) act on the input only: set mix_at=0.")
        self.mix_at = mix_at

    def forward(self, x: Any) -> Tensor:
        return self.head(self.encoder(x))

    @property
    def mixes_raw_input(self) -> bool:
        """Whether the views are made of the input batch itself: ``mix_at = 0`` and an encoder that does
        not embed its input first (``mixes_embedded_input``, e.g. a table's numeric embedding)."""
        return self.mix_at == 0 and not getattr(self.encoder, "mixes_embedded_input", False)

    def check_data(self, inputs: Any) -> None:
        if self.mix_at == 0 and isinstance(inputs, Tensor):
            # hidden layers are ReLU/BatchNorm outputs: only the input's values are known before training
            check_batch(inputs, non_negative=self.mixes_raw_input and getattr(self.views, "non_negative", False),
                        what="X")  # fmt: skip

    def _stack_views(
        self, views: PairMaker, generator: torch.Generator, n: int
    ) -> Callable[[Tensor, Tensor | None], Tensor]:
        """Both views of the rows ``h`` stacked (2N rows); grouped rows belong to ``n`` samples."""

        def stack(h: Tensor, groups: Tensor | None) -> Tensor:
            if groups is None:
                view1, view2 = views.pair(h, generator, validate=False)
            else:
                grouped = getattr(views, "grouped_pair", None)
                if grouped is None:
                    raise ValueError(f"views {views!r} cannot mix set-valued samples (graph nodes).")
                view1, view2 = grouped(h, groups, n, generator)
            return torch.cat([view1, view2])

        return stack

    def loss(self, inputs: Any, targets: Tensor | None, generator: torch.Generator) -> Tensor:
        n = batch_size_of(inputs)
        if isinstance(self.views, SummedPairs):  # SimCLR+DACL, GraphCL+DACL: one NT-Xent per pair maker, summed
            return sum(self._pair_loss(p, inputs, generator, n) for p in self.views.pair_makers)
        return self._pair_loss(self.views, inputs, generator, n)

    def _pair_loss(self, views: PairMaker, inputs: Any, generator: torch.Generator, n: int) -> Tensor:
        """NT-Xent of the two views that ``views`` makes of ``inputs``: of the input batch (a tensor, or the
        graphs for GraphCL's augmentations), or of a hidden representation (``mix_at``, Eq. 4)."""
        if getattr(views, "graph_views", False):  # GraphCL: each augmented batch of graphs through the encoder
            first, second = views.pair(inputs, generator, validate=False)
            return self.criterion(self.head(self.encoder(first)), self.head(self.encoder(second)))
        if isinstance(inputs, Tensor) and (self.mixes_raw_input or isinstance(self.views, SummedPairs)):
            return self._input_views_loss(views, inputs, generator, n)
        stack = self._stack_views(views, generator, n)
        if self.mixes_output:  # an encoder without the layer hook: its output (N, width), mixed as rows
            h = stack(self.encoder(inputs), None)
        else:
            h = self.encoder(inputs, hook=MixAt(self.mix_at, stack))
        z = self.head(h)
        return self.criterion(z[:n], z[n:])

    def _input_views_loss(self, views: PairMaker, inputs: Tensor, generator: torch.Generator, n: int) -> Tensor:
        """NT-Xent of two views of the input, both through the encoder as one batch of 2N."""
        # the data were checked once before training, so no per-step check stalls a GPU
        view1, view2 = views.pair(inputs, generator, validate=False)
        z = self.head(self.encoder(torch.cat([view1, view2])))
        return self.criterion(z[:n], z[n:])


class Supervised(Method):
    """The encoder and a linear head, trained with cross-entropy on class labels, or (``regression``) with
    the squared error of its one output against numeric targets (the few-label estimators' fine-tuning
    standardizes them first)."""

    def __init__(self, encoder: nn.Module, classifier: nn.Module, *, regression: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = classifier
        self.regression = regression

    def forward(self, x: Any) -> Tensor:
        return self.head(self.encoder(x))

    def loss(self, inputs: Any, targets: Tensor | None, generator: torch.Generator) -> Tensor:
        if targets is None:
            raise ValueError("method 'supervised' needs labels: pass y.")
        if self.regression:
            return F.mse_loss(self(inputs).float().squeeze(1), targets.float())
        return F.cross_entropy(self(inputs).float(), targets)


class NoPretraining(Method):
    """The paper's No-Pretraining row: the encoder as initialised."""

    trains = False

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: Any) -> Tensor:
        return self.encoder(x)


class InfoGraph(Method):
    """InfoGraph (Sun et al., 2020): node and graph representations of one encoder scored by two
    discriminators, the Jensen-Shannon MI estimate maximised. The encoder's ``forward(batch,
    return_nodes=True)`` gives (graphs, nodes); the batch's ``batch`` vector maps nodes to graphs."""

    def __init__(self, encoder: nn.Module, width: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = InfoGraphLoss(width)

    def forward(self, x: Any) -> Tensor:
        return self.encoder(x)

    def loss(self, inputs: Any, targets: Tensor | None, generator: torch.Generator) -> Tensor:
        graphs, nodes = self.encoder(inputs, return_nodes=True)
        return self.head(graphs, nodes, inputs.batch)


@dataclass(frozen=True)
class MethodInfo:
    """One entry of the registry: how the method is built and where it applies."""

    kind: str  # "contrastive", "supervised", "none", "infograph" or "raw"
    help: str
    domains: tuple[str, ...] = ("tables", "images", "graphs")
    views: Callable[[MethodOptions], PairMaker] | None = None


def _beta(config: MethodOptions) -> float:
    return config.alpha if config.beta is None else config.beta


def _mixup_plus(config: MethodOptions) -> MixupPlus:
    return MixupPlus(config.alpha, _beta(config), config.rho, config.mixup_types, config.mixup_partners,
                     sigma=config.sigma, corruption=config.corruption)  # fmt: skip


def _augment(config: MethodOptions) -> SimCLRAugment:
    """SimCLR's augmentations at the config's crop scale, jitter strength and blur setting."""
    blur = {"auto": None, "on": True, "off": False}[config.blur]
    return SimCLRAugment((config.crop_scale, 1.0), jitter_strength=config.jitter_strength, blur=blur)


METHODS: dict[str, MethodInfo] = {
    "dacl": MethodInfo("contrastive", "DACL, linear mixup (Eq. 3)",
                       views=lambda c: LinearMixup(c.alpha, c.mixup_partners)),
    "dacl-geometric": MethodInfo("contrastive", "geometric mixup (Eq. 5, inputs >= 0)", ("tables", "images"),
                                 views=lambda c: GeometricMixup(_beta(c), c.mixup_partners)),
    "dacl-binary": MethodInfo("contrastive", "binary mixup (Eq. 6)", ("tables", "images"),
                              views=lambda c: BinaryMixup(c.rho, c.mixup_partners)),
    "dacl+": MethodInfo("contrastive", "DACL+: one of the mixups per sample", views=_mixup_plus),
    "dacl+scarf": MethodInfo("contrastive", "DACL+'s mixup, then SCARF's corruption (views composed)", ("tables",),
                             views=lambda c: Compose(_mixup_plus(c), ScarfCorruption(c.corruption))),
    "gaussian": MethodInfo("contrastive", "Gaussian-noise views (baseline)", views=lambda c: GaussianNoise(c.sigma)),
    "scarf": MethodInfo("contrastive", "SCARF (Bahri et al., 2022): features from other rows", ("tables",),
                        views=lambda c: ScarfCorruption(c.corruption)),
    "simclr": MethodInfo("contrastive", "SimCLR (Chen et al., 2020): crop, flip, colour, blur", ("images",),
                         views=_augment),
    "simclr+dacl": MethodInfo("contrastive", "SimCLR's loss plus DACL's (linear mixup) loss, summed", ("images",),
                              views=lambda c: SummedPairs(_augment(c), LinearMixup(c.alpha, c.mixup_partners))),
    "supervised": MethodInfo("supervised", "full network supervised training (needs labels)", ("tables", "images")),
    "none": MethodInfo("none", "No-Pretraining: the random encoder"),
    "infograph": MethodInfo("infograph", "InfoGraph (Sun et al., 2020), graphs only", ("graphs",)),
    "graphcl": MethodInfo("contrastive", "GraphCL (You et al., 2020): node dropping, edge perturbation, attribute "
                          "masking, subgraph, one per graph", ("graphs",),
                          views=lambda c: GraphAugment(c.augment_ratio)),
    "graphcl+dacl": MethodInfo("contrastive", "GraphCL's loss plus DACL's (linear mixup of the graph "
                               "representation) loss, summed", ("graphs",),
                               views=lambda c: SummedPairs(GraphAugment(c.augment_ratio),
                                                           LinearMixup(c.alpha, c.mixup_partners))),
    "raw": MethodInfo("raw", "no encoder: the probe on the input features", ("tables",)),
}  # fmt: skip


def method_names(domain: str | None = None, *, trainable: bool = False) -> tuple[str, ...]:
    """Registered names, those of one domain, or only those that build an encoder (not ``raw``)."""
    return tuple(
        name
        for name, info in METHODS.items()
        if (domain is None or domain in info.domains) and not (trainable and info.kind == "raw")
    )


def mixes_blocks(config: MethodOptions) -> bool:
    """Whether ``config.method``'s own views can mix one-hot blocks as units (the mixups, at the input)."""
    info = METHODS.get(config.method)
    return (
        info is not None and info.views is not None and config.mix_at == 0 and hasattr(info.views(config), "set_blocks")
    )


def build_method(
    config: MethodOptions,
    encoder: nn.Module,
    width: int,
    *,
    n_classes: int | None = None,
    views: Any = None,
) -> Method:
    """The method ``config.method`` around ``encoder`` (output ``width``); ``views`` replaces the
    registry's views of a contrastive method (a pair maker, a view, or a tuple of two views)."""
    info = METHODS.get(config.method)
    if info is None or info.kind == "raw":
        raise ValueError(f"unknown method {config.method!r}; choose one of {', '.join(method_names(trainable=True))}.")
    if info.kind == "contrastive":
        out = width if config.projection_dim is None else config.projection_dim
        head = ProjectionHead(width, width, out, config.head_depth)
        chosen = info.views(config) if views is None else views
        return Contrastive(encoder, head, chosen, config.temperature, config.mix_at)
    if views is not None:
        raise ValueError(f"method {config.method!r} takes no views; views are for contrastive methods.")
    if info.kind == "supervised":
        if n_classes is None or n_classes < 2:
            raise ValueError("method 'supervised' needs labels y with at least 2 classes.")
        return Supervised(encoder, nn.Linear(width, n_classes))
    if info.kind == "infograph":
        return InfoGraph(encoder, width)
    return NoPretraining(encoder)
