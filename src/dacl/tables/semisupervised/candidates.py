"""The models a semi-supervised dacl estimator chooses between, each fitted on labelled rows only.

On the frozen encoder (pretrained on every row, labelled or not; Verma et al., ICML 2021):
- ``probe``: a linear head on the encoder's features (Sec. 5's linear evaluation protocol; softmax
  for classes, ridge for a number, its penalty chosen by leave-one-out error; ``dacl.core.linear``);
- ``knn``: a cosine k-nearest-neighbour vote (classes) or mean (numbers) on the features;
- ``fine-tune``: a copy of the encoder and a linear head trained end to end (AdamW), its learning
  rate and epochs part of the choice.
On the raw (preprocessed) columns, what a data scientist fits without dacl:
- ``linear-raw``: logistic regression (classes) or ridge (numbers, its penalty chosen by leave-one-out);
- ``gbdt-raw``: scikit-learn's histogram gradient-boosted trees;
- ``gbdt-raw+features``: the trees on the raw columns and the encoder's features side by side.

The registry that names them (with the candidates that also use the unlabelled rows) is
``dacl.tables.semisupervised.registry``. Every candidate's ``fit`` returns its *settings* (one, or for
fine-tuning one per (lr, epochs)), each a fitted model whose ``predict`` gives class probabilities (n, C)
or predictions (n,), so that cross-validation scores every setting of one training run
(``dacl.tables.semisupervised.selection``).
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dacl.core.linear import LinearHead, fit_ridge, fit_softmax
from dacl.core.threads import one_thread

__all__ = [
    "OutOfTime",
    "deadline",
    "seconds_left",
    "Inputs",
    "Projection",
    "Settings",
    "Task",
    "default_setting",
    "fit_fine_tuned",
    "fit_knn",
    "gbdt_leaf_size",
    "linear_family",
    "refit_fine_tuned",
    "shared_between_encoders",
    "shared_raw_fits",
    "trees_family",
]

CLASSIFICATION, REGRESSION = "classification", "regression"


class OutOfTime(Exception):
    """A fit that could not end before the deadline (``time_limit`` of the estimators)."""


_deadline: ContextVar[float | None] = ContextVar("dacl_fit_deadline", default=None)


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Within it, fits that can stop early (fine-tuning) end by ``at`` (a ``time.perf_counter()`` value;
    None: no deadline)."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_left() -> float | None:
    """Seconds to the deadline set by :func:`deadline`, None without one."""
    at = _deadline.get()
    return None if at is None else at - time.perf_counter()


@dataclass(frozen=True)
class Task:
    """``classification`` with ``classes`` classes (labels 0..classes-1), or ``regression`` of a
    target standardized by ``(y - mean) / scale`` during fitting."""

    kind: str
    classes: int = 0

    @property
    def is_classification(self) -> bool:
        return self.kind == CLASSIFICATION


FINE_TUNE_DECAY = 0.01  # AdamW's default weight decay, on the fine-tuned network's weights

TREE_FEATURES = 32  # principal components of the DACL features that the trees see beside the raw columns


@dataclass
class Projection:
    """The top principal components of the encoder's features, fitted on every row (labelled or not):
    what ``gbdt-raw+features`` adds to the raw columns. Trees split one column at a time, and 512 dense
    features cost them ten times the raw columns' time on a few hundred rows for no measured gain."""

    mean: np.ndarray  # (W,)
    components: np.ndarray  # (W, K)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) @ self.components).astype(np.float32)

    @classmethod
    def fit(cls, features: np.ndarray, components: int = TREE_FEATURES, max_rows: int = 20_000, seed: int = 0
            ) -> Projection:  # fmt: skip
        rows = np.asarray(features, dtype=np.float32)
        if len(rows) > max_rows:
            rows = rows[np.random.default_rng(seed).choice(len(rows), max_rows, replace=False)]
        mean = rows.mean(0)
        with one_thread():  # LAPACK's SVD splits its sums by thread even in MKL's strict mode (1 vs 2: 1.6e-5 apart)
            _, _, vh = torch.linalg.svd(torch.as_tensor(rows - mean), full_matrices=False)
        return cls(mean, vh[: min(components, vh.shape[0])].T.contiguous().numpy())


@dataclass
class Inputs:
    """What the candidates see of some rows: the raw preprocessed columns ``X`` (N, D), the frozen
    encoder's ``features`` (N, W), the ``encoder`` itself (for fine-tuning), and the features'
    ``projection`` for the trees. ``unlabelled``: rows without a label (a sample of them, at most
    ``Settings.unlabelled_rows``) that the candidates which use unlabelled rows may see at choice time; the
    same for every subset ``take`` makes of the labelled rows, so that a fold's held-out rows are never in
    it."""

    X: np.ndarray
    features: np.ndarray
    encoder: nn.Module | None = None
    projection: Projection | None = None
    precision: str = "float32"  # of the fine-tuned network's forward pass, as the features were computed
    unlabelled: Inputs | None = None
    # what is computed once on the unlabelled rows for every fold (their k-NN graph in each space)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def take(self, rows: np.ndarray) -> Inputs:
        return replace(self, X=self.X[rows], features=self.features[rows], cache={})

    def joined(self, other: Inputs) -> Inputs:
        """These rows followed by ``other``'s (the unlabelled rows that self-training labels)."""
        return replace(self, X=np.concatenate([self.X, other.X]), features=np.concatenate([self.features,
                       other.features]), cache={})  # fmt: skip

    def __len__(self) -> int:
        return len(self.X)


@dataclass
class Settings:
    """The fine-tuning grid and the seed of every fit."""

    fine_tune_lrs: tuple[float, ...] = (1e-4, 1e-3)
    fine_tune_epochs: tuple[int, ...] = (20, 50)
    fine_tune_max_steps: int | None = 1000  # larger labelled sets get fewer epochs
    fine_tune_batch: int = 256  # rows a step, about: each epoch in ceil(rows / 256) even batches
    # logistic regression's inverse penalties (the probe and linear-raw on classes), one setting each, chosen
    # by cross-validation like fine-tuning's grid; (1.0,) is the one fixed C = 1 of the cells stored before
    # 2026-12-02. Ridge (numbers) chooses its penalty by leave-one-out error instead.
    logistic_cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    knn_k: int = 10
    gbdt_max_iter: int = 100  # scikit-learn's default boosting iterations (fewer in smoke tests)
    # the unlabelled rows the choice's candidates see (a sample drawn under the seed): they bound the graph, a
    # spread model's folder (its rows' features and labels) and a new row's neighbour search. 8,192: on
    # mnist-test at 1% (8,000 rows) label spreading on the raw columns scored 90.0-90.5% with all the rows
    # against 86.5-88.3% with 4,096 (2 draws; docs/results/labels.md)
    unlabelled_rows: int = 8192
    # label spreading (``spread``, ``spread-raw``): its alphas, one setting each (with and without class-mass
    # normalization for classes), and the neighbours of the graph and of a new row
    spread_alphas: tuple[float, ...] = (0.9, 0.99)
    spread_k: int = 10
    # self-training: pseudo-labels of the unlabelled rows whose top probability reaches the threshold, at most
    # self_train_rows of them (the most confident; None: all), for self_train_rounds rounds. One round of
    # 1,024: the choice's self-training took a third to a half of the time of two rounds of every confident
    # row (up to 8,192) on letter at 10% and spambase, adult, magic, scoring as well (docs/results/labels.md,
    # "What the second use of the unlabelled rows costs")
    self_train_threshold: float = 0.9
    self_train_rounds: int = 1
    self_train_rows: int | None = 1024
    # the (candidate, setting) that ``self-train`` trains: set by the choice (its best cheap candidate)
    self_train_base: tuple[str, str] | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.self_train_rows is not None and self.self_train_rows < 1:
            raise ValueError(f"self_train_rows is a positive number of rows or None, got {self.self_train_rows!r}.")
        if self.self_train_rounds < 1:
            raise ValueError(f"self_train_rounds is at least 1, got {self.self_train_rounds!r}.")
        if not self.spread_alphas or not all(isinstance(a, float | int) and 0 < a < 1 for a in self.spread_alphas):
            raise ValueError(f"spread_alphas are numbers in (0, 1), got {self.spread_alphas!r}.")
        cs = tuple(self.logistic_cs)
        if not cs or len(set(cs)) != len(cs) or not all(isinstance(c, (int, float)) and c > 0 for c in cs):
            raise ValueError(
                f"logistic_cs are distinct positive numbers (inverse penalties), got {self.logistic_cs!r}."
            )


def _tensor(array: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32, device=device)


def _as_output(task: Task, raw: torch.Tensor) -> np.ndarray:
    """Probabilities from logits (classes) or the prediction column (numbers), as float64 NumPy."""
    if task.is_classification:
        return torch.softmax(raw.float(), dim=1).cpu().double().numpy()
    return raw.float().reshape(-1).cpu().double().numpy()


# --- linear heads: the probe on the features, the linear model on the raw columns ---------------------


@dataclass
class LinearModel:
    """A :class:`dacl.core.linear.LinearHead` on one input (``features`` or ``X``)."""

    task: Task
    head: LinearHead
    source: str  # "features" or "X"

    def predict(self, inputs: Inputs) -> np.ndarray:
        return _as_output(self.task, self.head(_tensor(getattr(inputs, self.source))))


def logistic_setting(c: float, settings: Settings) -> str:
    """The name of logistic regression's setting ``C=c``; "" where ``settings`` has one C (as before)."""
    return "" if len(settings.logistic_cs) == 1 else f"C={c:g}"


def linear_family(source: str) -> tuple[Callable[..., dict[str, Any]], Callable[..., Any]]:
    """``fit`` and ``refit`` of ridge (numbers; its penalty by leave-one-out, one setting "") or logistic
    regression (classes; one setting per ``Settings.logistic_cs``) on ``inputs.features`` (the probe) or
    ``inputs.X`` (the raw columns)."""

    def on_cpu(head: LinearHead) -> LinearHead:
        return LinearHead(*(t.cpu() for t in (head.mean, head.std, head.weight, head.bias)))

    def fit(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings) -> dict[str, Any]:
        x = _tensor(getattr(inputs, source), settings.device)
        if not task.is_classification:
            return {"": LinearModel(task, on_cpu(fit_ridge(x, torch.as_tensor(y, dtype=torch.float64))), source)}
        labels = torch.as_tensor(y)
        heads = {c: on_cpu(fit_softmax(x, labels, task.classes, C=c)) for c in settings.logistic_cs}
        return {logistic_setting(c, settings): LinearModel(task, head, source) for c, head in heads.items()}

    def refit(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings, setting: str) -> Any:
        if task.is_classification and setting:  # only the chosen C
            return fit(inputs, y, task, replace(settings, logistic_cs=(float(setting.removeprefix("C=")),)))[""]
        return fit(inputs, y, task, settings)[setting]

    return fit, refit


# --- k nearest neighbours on the features ------------------------------------------------------------


def _neighbours(y: np.ndarray, task: Task, k: int) -> int:
    """k, but never more than the rarest class has labelled rows (10 neighbours would outvote the one
    right row of a class with one label), nor more than there are rows."""
    if task.is_classification:
        counts = np.bincount(y, minlength=task.classes)
        k = min(k, int(counts[counts > 0].min()))
    return max(1, min(k, len(y)))


@dataclass
class NearestNeighbours:
    """A vote (class shares) or mean of the ``k`` reference rows nearest each query: by cosine similarity
    on the features (``source="features"``, reference rows of unit length), or by Euclidean distance on
    the raw columns (``source="X"``). ``targets``: the reference rows' classes (n,), their class
    distributions (n, C) (a spread graph's, ``dacl.tables.semisupervised.transductive``), or numbers (n,)."""

    task: Task
    features: np.ndarray  # the reference rows: unit-length features, or raw columns
    targets: np.ndarray
    k: int
    source: str = "features"  # "features" (cosine) or "X" (Euclidean)

    def values(self) -> torch.Tensor:
        """What each reference row votes: one-hot of its class, its class distribution, or its number."""
        targets = torch.as_tensor(self.targets)
        if self.task.is_classification and targets.ndim == 1:
            return F.one_hot(targets.long(), self.task.classes).double()
        return targets.double()

    def predict(self, inputs: Inputs, similarities: int = 2**21) -> np.ndarray:
        """Queries in chunks of at most ``similarities`` query x reference-row similarities (8 MB of
        float32, the size of ``dacl.core.propagation.nearest``), so memory stays bounded however many rows
        are referenced."""
        reference = torch.as_tensor(self.features)
        values = self.values()
        squares = (reference * reference).sum(1)
        parts = []
        batch_size = max(1, similarities // max(len(reference), 1))
        for start in range(0, len(inputs), batch_size):
            if self.source == "features":
                query = F.normalize(_tensor(inputs.features[start : start + batch_size]), dim=1)
                nearest = (query @ reference.T).topk(self.k, dim=1).indices
            else:
                query = _tensor(inputs.X[start : start + batch_size])
                distances = (query * query).sum(1, keepdim=True) - 2 * query @ reference.T + squares
                nearest = distances.topk(self.k, dim=1, largest=False).indices
            parts.append(values[nearest].mean(1))
        empty = torch.zeros((0, self.task.classes) if self.task.is_classification else (0,), dtype=torch.float64)
        return torch.cat(parts).numpy() if parts else empty.numpy()


def fit_knn(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings) -> dict[str, Any]:
    features = F.normalize(_tensor(inputs.features), dim=1).numpy()
    targets = np.asarray(y, dtype=np.int64 if task.is_classification else np.float64)
    return {"": NearestNeighbours(task, features, targets, _neighbours(y, task, settings.knn_k))}


# --- fine-tuning: the encoder and a linear head trained end to end -------------------------------------


class TunedNetwork(nn.Module):
    """A copy of the pretrained encoder with a linear output layer (C logits, or one prediction of the
    standardized target, returned as ``target_mean + target_scale * output``)."""

    def __init__(self, encoder: nn.Module, width: int, outputs: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(width, outputs)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_scale", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


@dataclass
class FineTuned:
    task: Task
    network: TunedNetwork

    @torch.no_grad()
    def predict(self, inputs: Inputs, batch_size: int = 8192) -> np.ndarray:
        from dacl.core.runtime import autocast, resolve_precision

        network = self.network.eval()
        device = next(network.parameters()).device
        with autocast(device, resolve_precision(inputs.precision, device)):
            parts = [network(_tensor(inputs.X[s : s + batch_size], device)).float()
                     for s in range(0, len(inputs), batch_size)]  # fmt: skip
        raw = torch.cat(parts) if parts else torch.zeros(0, network.head.out_features)
        if not self.task.is_classification:
            raw = network.target_mean + network.target_scale * raw
        return _as_output(self.task, raw)


def fine_tune_epochs(settings: Settings, rows: int) -> tuple[int, ...]:
    """The grid's epochs, each lowered so that one run on ``rows`` rows takes at most
    ``fine_tune_max_steps`` steps (larger labelled sets get fewer epochs)."""
    if settings.fine_tune_max_steps is None:
        return tuple(sorted(set(settings.fine_tune_epochs)))
    steps_per_epoch = max(1, -(-rows // settings.fine_tune_batch))
    cap = max(1, settings.fine_tune_max_steps // steps_per_epoch)
    return tuple(sorted({min(e, cap) for e in settings.fine_tune_epochs}))


def tuned_network(encoder: nn.Module, task: Task, seed: int) -> TunedNetwork:
    """A fresh copy of ``encoder`` with a new linear head, initialised under ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        copied = copy.deepcopy(encoder)
        device = next(copied.parameters()).device
        was_training = copied.training
        with torch.no_grad():
            width = copied.eval()(torch.zeros(2, _in_features(copied), device=device)).shape[1]
        copied.train(was_training)
        return TunedNetwork(copied, width, task.classes if task.is_classification else 1).to(device)


def _in_features(encoder: nn.Module) -> int:
    """The encoder's ``in_features`` (the MLPs and the embedded encoders say), else its first Linear's."""
    width = getattr(encoder, "in_features", None)
    if isinstance(width, int) and width > 0:
        return width
    for module in encoder.modules():
        if isinstance(module, nn.Linear):
            return module.in_features
    raise ValueError(f"cannot tell the input width of {type(encoder).__name__}; fine-tuning needs a Linear layer.")


def fine_tune(
    encoder: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    task: Task,
    lr: float,
    epochs: tuple[int, ...],
    settings: Settings,
    precision: str = "float32",
    shorter: bool = False,
) -> dict[int, TunedNetwork]:
    """Train a copy of ``encoder`` with a linear head on (X, y) for ``max(epochs)`` epochs through the one
    training loop (``dacl.engine.fit``, method ``supervised``: cross-entropy, or squared error on the
    standardized target): AdamW at the constant rate ``lr`` (weight decay ``FINE_TUNE_DECAY`` on the
    weights, none on biases and BatchNorm), every epoch cut into even batches of about
    ``settings.fine_tune_batch`` rows, in ``precision`` (bf16 autocast where the features are). Returns a
    copy of the network after each epoch count in ``epochs``. ``encoder`` itself is not changed. Under a
    :func:`deadline` the run ends by it: a run it would cut short raises :class:`OutOfTime`, unless
    ``shorter`` (a refit that must give a model): then the network where it stopped stands for the epoch
    counts not reached."""
    from dacl.config import PretrainConfig
    from dacl.engine import fit
    from dacl.engine.sources import TensorSource
    from dacl.methods import Supervised

    network = tuned_network(encoder, task, settings.seed)
    device = next(network.parameters()).device
    data = _tensor(X, device)
    if task.is_classification:
        targets = torch.as_tensor(y, dtype=torch.long, device=device)
    else:
        values = torch.as_tensor(y, dtype=torch.float64)
        scale = float(values.std(unbiased=False)) if len(values) > 1 else 1.0
        network.target_mean.fill_(float(values.mean()))
        network.target_scale.fill_(scale if scale > 0 else 1.0)
        targets = ((values - values.mean()) / network.target_scale.double().cpu()).float().to(device)
    method = Supervised(network.encoder, network.head, regression=not task.is_classification)
    source = TensorSource(data, targets, settings.fine_tune_batch, even=True)
    config = PretrainConfig(method="supervised", optimizer="adamw", lr=lr, weight_decay=FINE_TUNE_DECAY,
                            epochs=max(epochs), batch_size=settings.fine_tune_batch, warmup_epochs=0.0,
                            schedule="constant", precision=precision, device=str(device),
                            seed=settings.seed)  # fmt: skip
    wanted, kept = set(epochs), {}

    def keep(epoch: int, record: dict, trained: nn.Module) -> None:
        if epoch in wanted:
            kept[epoch] = copy.deepcopy(network).eval()

    left = seconds_left()
    if left is not None and left <= 0 and not shorter:
        raise OutOfTime("no time left to fine-tune")
    result = fit(method, source, config, progress=False, callbacks=(keep,),
                 time_limit=None if left is None else max(left, 1e-3))  # fmt: skip
    network.eval()
    if result.shortened_to is not None:
        if not shorter:
            raise OutOfTime(f"fine-tuning stopped for time after {result.steps} steps")
        kept.update({e: copy.deepcopy(network) for e in wanted if e not in kept})
    return kept


def fit_fine_tuned(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings) -> dict[str, Any]:
    if inputs.encoder is None:
        raise ValueError("fine-tuning needs the pretrained encoder.")
    grid = fine_tune_epochs(settings, len(y))
    fitted = {}
    for lr in settings.fine_tune_lrs:
        runs = fine_tune(inputs.encoder, inputs.X, y, task, lr, grid, settings, inputs.precision)
        for epochs, network in runs.items():
            fitted[f"lr={lr:g}, epochs={epochs}"] = FineTuned(task, network)
    return fitted


def fine_tune_setting(name: str) -> tuple[float, int]:
    """(lr, epochs) of a fine-tuning setting's name, ``"lr=0.001, epochs=20"``."""
    parts = dict(part.strip().split("=") for part in name.split(","))
    return float(parts["lr"]), int(parts["epochs"])


def default_setting(candidate: str, settings: Settings, rows: int, task: Task | None = None) -> str:
    """The setting used where none could be cross-validated: fine-tuning at the grid's largest learning
    rate and epochs; logistic regression (classes) at the C of its grid nearest 1 (scikit-learn's
    default); label spreading at its largest alpha (class-mass normalized for classes); the others have
    one setting, named ""."""
    if candidate in ("probe", "linear-raw") and (task is None or task.is_classification):
        return logistic_setting(min(settings.logistic_cs, key=lambda c: abs(math.log(c))), settings)
    if candidate in ("spread", "spread-raw"):  # the largest alpha, as Iscen et al.'s 0.99
        balanced = ", balanced" if task is None or task.is_classification else ""
        return f"alpha={max(settings.spread_alphas):g}{balanced}"
    if candidate != "fine-tune":
        return ""
    return f"lr={max(settings.fine_tune_lrs):g}, epochs={max(fine_tune_epochs(settings, rows))}"


def refit_fine_tuned(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings, setting: str) -> Any:
    lr, epochs = fine_tune_setting(setting)
    (network,) = fine_tune(inputs.encoder, inputs.X, y, task, lr, (epochs,), settings, inputs.precision,
                           shorter=True).values()
    return FineTuned(task, network)


# --- gradient-boosted trees ----------------------------------------------------------------------------


def gbdt_leaf_size(y: np.ndarray, task: Task, default: int = 20) -> int:
    """The trees' smallest leaf: scikit-learn's 20 rows, but at most half the rarest class's labelled
    rows (classes), or a twentieth of the labelled rows (numbers). With 2 rows a class a leaf of 20 rows
    allows no split at all, and every tree would predict the prior: a baseline no user would accept."""
    if task.is_classification:
        counts = np.bincount(y)
        return int(min(default, max(1, int(counts[counts > 0].min()) // 2)))
    return int(min(default, max(1, len(y) // 20)))


SINGLE_THREAD_BELOW = 50_000  # cells (rows x columns) under which the trees run on one OpenMP thread


def _tree_threads(rows: int, columns: int):
    """One OpenMP thread for the trees on fewer than ``SINGLE_THREAD_BELOW`` cells, where the threads'
    start-up costs as much as they save (640 x 20, 2 classes: 0.13-0.17 s on one thread, 0.14-0.15 on two);
    above, the fit's thread count (``dacl.core.threads``: 1 where other processes keep the cores busy, where
    two threads once ran a 135-row fit 40x slower than one): 640 x 784 pixels, 10 classes, 15.8-16.3 s on one
    thread and 10.9-11.0 on two (docs/results/speed.md)."""
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="openmp") if rows * columns < SINGLE_THREAD_BELOW else nullcontext()


@dataclass
class Trees:
    task: Task
    model: Any  # a fitted HistGradientBoostingClassifier / Regressor
    projection: Projection | None  # of the DACL features, beside the raw columns; None: the raw columns only

    def inputs(self, inputs: Inputs) -> np.ndarray:
        return inputs.X if self.projection is None else np.hstack([inputs.X, self.projection(inputs.features)])

    def predict(self, inputs: Inputs) -> np.ndarray:
        x = self.inputs(inputs)
        with _tree_threads(*x.shape):
            if not self.task.is_classification:
                return self.model.predict(x).astype(np.float64)
            probabilities = np.zeros((len(x), self.task.classes))
            probabilities[:, self.model.classes_] = self.model.predict_proba(x)
        return probabilities


def trees_family(with_features: bool) -> Callable[..., dict[str, Any]]:
    def fit(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings) -> dict[str, Any]:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        kind = HistGradientBoostingClassifier if task.is_classification else HistGradientBoostingRegressor
        model = kind(
            min_samples_leaf=gbdt_leaf_size(y, task), max_iter=settings.gbdt_max_iter, random_state=settings.seed
        )
        projection = None
        if with_features:
            projection = inputs.projection or Projection.fit(inputs.features, seed=settings.seed)
        trees = Trees(task, model, projection)
        x = trees.inputs(inputs)
        with _tree_threads(*x.shape):
            model.fit(x, y)
        return {"": trees}

    return fit


# --- fits of the raw columns' models, shared between encoders ------------------------------------------

_shared_raw_fits: dict[str, dict[str, Any]] | None = None


@contextmanager
def shared_raw_fits() -> Iterator[None]:
    """Within it, a candidate that does not use the encoder (the raw columns' models) fitted again on the
    same rows, labels, task and settings returns the models of the first fit: a study of several
    encoders on the same label draws fits the trees and the linear model once per fold. Their fits are
    seeded (``Settings.seed``), so the kept models are what a new fit gives; the seconds a study records
    for a kept fit are those of the look-up."""
    global _shared_raw_fits
    previous, _shared_raw_fits = _shared_raw_fits, {}
    try:
        yield
    finally:
        _shared_raw_fits = previous


def shared_between_encoders(name: str, fit: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def shared(inputs: Inputs, y: np.ndarray, task: Task, settings: Settings) -> dict[str, Any]:
        if _shared_raw_fits is None:
            return fit(inputs, y, task, settings)
        digest = hashlib.sha256(repr((name, task, settings, inputs.X.shape, inputs.X.dtype)).encode())
        digest.update(np.ascontiguousarray(inputs.X).tobytes())
        digest.update(np.ascontiguousarray(y).tobytes())
        key = digest.hexdigest()
        if key not in _shared_raw_fits:
            _shared_raw_fits[key] = fit(inputs, y, task, settings)
        return _shared_raw_fits[key]

    return shared
