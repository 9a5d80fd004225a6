"""The options of a pretraining run, each defined once: name, default, group, help, choices, range.

The CLI's flags, the config files (flat keys or ``[model]``/``[method]``/``[optimisation]``/
``[runtime]`` sections), the scikit-learn estimator's parameters and the reproductions' budgets are
all made from :class:`PretrainConfig`'s fields and their metadata. Device and precision stay as
written (``"auto"``, ``"cuda"``) and are resolved when a run starts (``dacl.engine.fit``), so a
config made on one machine loads and resumes on another.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from dacl.methods import method_names

__all__ = ["GROUPS", "PretrainConfig", "epochs_within", "option_help", "options"]

GROUPS = ("method", "model", "optimisation", "runtime")
DOMAINS = ("tables", "images", "graphs")
MIXUP_TYPES = ("linear", "geometric", "binary")
VIEW_TYPES = (*MIXUP_TYPES, "scarf", "gaussian")  # DACL+'s wider menu (sigma, corruption: their options)
TABLE_ENCODERS = ("mlp", "resnet")
NUMERIC_EMBEDDINGS = ("none", "ple", "periodic")


def _option(default: Any, group: str, help: str, kind: type | str, *, choices=None, low=None, high=None,
            low_open: bool = False, high_open: bool = False, optional: bool = False,
            domains: tuple[str, ...] = DOMAINS) -> Any:  # fmt: skip
    """A field with the metadata that the CLI, the checks and the docs read; ``domains``: the
    domains the option applies to (the tables' estimator takes only the tables' options)."""
    metadata = {"group": group, "help": help, "kind": kind, "choices": choices, "low": low, "high": high,
                "low_open": low_open, "high_open": high_open, "optional": optional, "domains": domains}  # fmt: skip
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run. Defaults are the paper's tabular set-up
    (12 x 1024 encoder, 3-layer head to 128, LARS with warm-up and cosine decay) except the batch
    size (the paper: 4096) and the number of epochs (the paper: 1000). ``dacl.graphs.graph_config``
    gives the paper's graph set-up."""

    # method
    method: str = _option("dacl+", "method", "what to train", str, choices=lambda: method_names(trainable=True))
    temperature: float = _option(0.5, "method", "NT-Xent temperature τ", float, low=0, low_open=True)
    alpha: float = _option(0.9, "method", "λ ~ U(α, 1) of linear mixup (Eq. 3)", float, low=0.5, high=1)
    beta: float | None = _option(None, "method", "λ ~ U(β, 1) of geometric mixup (Eq. 5); none: α", float,
                                 low=0.5, high=1, optional=True)  # fmt: skip
    rho: float = _option(0.3, "method", "share of coordinates taken from the partner in binary mixup (Eq. 6)",
                         float, low=0, high=0.5)  # fmt: skip
    sigma: float = _option(0.1, "method", "standard deviation of the Gaussian-noise views", float, low=0,
                           low_open=True)  # fmt: skip
    corruption: float = _option(0.6, "method", "share of a row's features SCARF replaces with other rows' values",
                                float, low=0, high=1)  # fmt: skip
    mixup_types: tuple[str, ...] = _option(MIXUP_TYPES, "method", "the views DACL+ draws from, one per sample "
                                           "(scarf and gaussian widen the paper's three mixups)", "str-tuple",
                                           choices=lambda: VIEW_TYPES)  # fmt: skip
    mixup_partners: int = _option(1, "method", "k partners per view: multi-sample mixup (1: the paper's two-sample "
                                  "mixup)", int, low=1)  # fmt: skip
    mix_at: int = _option(0, "method", "mix after encoder layer l (0: the input; -1: the encoder's output; Eq. 4)",
                          int, low=-1)  # fmt: skip
    crop_scale: float = _option(0.08, "method", "SimCLR: smallest share of the image a random crop keeps", float,
                                low=0, high=1, low_open=True, domains=("images",))  # fmt: skip
    jitter_strength: float = _option(0.5, "method", "SimCLR: colour jitter strength s (0.5 CIFAR, 1.0 ImageNet)",
                                     float, low=0, high=1.25, domains=("images",))  # fmt: skip
    blur: str = _option("auto", "method", "SimCLR: Gaussian blur (auto: on for images larger than 32 x 32)", str,
                        choices=lambda: ("auto", "on", "off"), domains=("images",))  # fmt: skip
    augment_ratio: float = _option(0.2, "method", "GraphCL: share of a graph's nodes or edges a view drops, "
                                   "perturbs, masks or leaves out of the subgraph (You et al., 2020)", float, low=0,
                                   high=1, high_open=True, domains=("graphs",))  # fmt: skip
    # model
    depth: int = _option(12, "model", "encoder layers (MLP, GIN)", int, low=1, domains=("tables", "graphs"))
    width: int = _option(1024, "model", "encoder width per layer (MLP, GIN)", int, low=1, domains=("tables", "graphs"))
    table_encoder: str = _option("mlp", "model", "tables: mlp (the paper's Linear-BatchNorm-ReLU stack) or resnet "
                                 "(Gorishniy et al. 2021's residual MLP)", str, choices=lambda: TABLE_ENCODERS,
                                 domains=("tables",))  # fmt: skip
    numeric_embedding: str = _option("none", "model", "tables: numeric columns embedded before the encoder: ple "
                                     "(piecewise-linear, quantile bins) or periodic (PLR; Gorishniy et al. 2022)",
                                     str, choices=lambda: NUMERIC_EMBEDDINGS, domains=("tables",))  # fmt: skip
    embedding_size: int = _option(16, "model", "tables: bins (ple) or output width (periodic) per numeric column",
                                  int, low=2, domains=("tables",))  # fmt: skip
    embedding_scale: float = _option(1.0, "model", "tables: σ of the periodic embedding's initial frequencies "
                                     "(columns scaled to [0, 1])", float, low=0, low_open=True,
                                     domains=("tables",))  # fmt: skip
    categorical_embedding: int = _option(0, "model", "tables: width of a learned embedding per categorical column "
                                         "(one row per category; 0: its one-hot columns enter the encoder)", int,
                                         low=0, domains=("tables",))  # fmt: skip
    mix_embeddings: bool = _option(False, "method", "tables: mix the embedded columns (Eq. 4 at the embedding) "
                                   "instead of the raw columns", bool, domains=("tables",))  # fmt: skip
    pooling: str = _option("sum", "model", "graph pooling of the GIN", str, choices=lambda: ("sum", "mean", "max"),
                           domains=("graphs",))  # fmt: skip
    image_size: int | None = _option(None, "model", "side images are resized to (shorter side, then the centre "
                                     "square) when decoded; none: a folder's images must share one size", int,
                                     low=1, optional=True, domains=("images",))  # fmt: skip
    architecture: str = _option("resnet18", "model", "image encoder", str,
                                choices=lambda: ("resnet18", "resnet34", "resnet50"), domains=("images",))  # fmt: skip
    resnet_width: float = _option(1.0, "model", "ResNet width multiplier (the paper: ResNet-50 (4x))", float,
                                  low=1 / 64, domains=("images",))  # fmt: skip
    stem: str = _option("auto", "model", "ResNet stem (auto: cifar for images up to 64 x 64, else imagenet)", str,
                        choices=lambda: ("auto", "cifar", "imagenet"), domains=("images",))  # fmt: skip
    head_depth: int = _option(3, "model", "projection head layers", int, low=1)
    projection_dim: int | None = _option(128, "model", "projection output width (none: the encoder's width)", int,
                                         low=1, optional=True)  # fmt: skip
    # optimisation
    epochs: int = _option(100, "optimisation", "passes over the data", int, low=0)
    batch_size: int = _option(256, "optimisation", "samples per step (mixup partners come from the batch)", int,
                              low=2)  # fmt: skip
    optimizer: str = _option("lars", "optimisation", "optimiser", str, choices=lambda: ("lars", "adamw", "adam"))
    lr: float = _option(0.1, "optimisation", "peak learning rate", float, low=0, low_open=True)
    weight_decay: float = _option(1e-6, "optimisation", "weight decay (not on biases or BatchNorm)", float, low=0)
    momentum: float = _option(0.9, "optimisation", "LARS momentum", float, low=0, high=1, high_open=True)
    warmup_epochs: float = _option(10.0, "optimisation", "linear warm-up epochs (clamped to the run; a warning "
                                   "when it takes over half of it)", float, low=0)  # fmt: skip
    schedule: str = _option("cosine", "optimisation", "learning rate after warm-up", str,
                            choices=lambda: ("cosine", "constant"))  # fmt: skip
    # runtime
    precision: str = _option("auto", "runtime",
                             "auto: bfloat16 on a bf16 CUDA GPU or a CPU with AMX or AVX512-BF16, else float32",
                             str, choices=lambda: ("auto", "float32", "bfloat16"))  # fmt: skip
    device: str = _option("cpu", "runtime", "cpu, cuda, cuda:N or auto", str)
    compile: bool = _option(False, "runtime", "the training step through torch.compile", bool)
    sync_batchnorm: bool = _option(True, "runtime", "several processes: BatchNorm statistics of the "
                                   "global batch (as SimCLR and the paper); false: each process's share",
                                   bool)  # fmt: skip
    seed: int = _option(0, "runtime", "seed of the weights, the views and the batch order", int, low=0)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _checked(f, getattr(self, f.name)))

    def to_dict(self, nested: bool = False) -> dict[str, Any]:
        """The options as JSON-able values, flat or in their groups."""
        flat = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        flat = {name: list(v) if isinstance(v, tuple) else v for name, v in flat.items()}
        if not nested:
            return flat
        return {g: {f.name: flat[f.name] for f in dataclasses.fields(self) if f.metadata["group"] == g} for g in GROUPS}

    @classmethod
    def from_dict(cls, values: dict[str, Any], **defaults: Any) -> PretrainConfig:
        """A config from flat keys or group sections (``{"model": {"depth": 4}}``), over ``defaults``."""
        flat = dict(defaults)
        for key, value in values.items():
            key = str(key).replace("-", "_")
            if key in GROUPS and isinstance(value, dict):
                flat.update({str(k).replace("-", "_"): v for k, v in value.items()})
            else:
                flat[key] = value
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(flat) - names)
        if unknown:
            raise ValueError(f"unknown pretraining option(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}.")
        return cls(**flat)


def epochs_within(epochs: int, max_steps: int | None, n_train: int, batch_size: int) -> int:
    """``epochs``, lowered so that a run takes at most ``max_steps`` steps of ``n_train // batch_size``."""
    if max_steps is None:
        return epochs
    steps_per_epoch = max(1, n_train // batch_size)
    return max(1, min(epochs, -(-max_steps // steps_per_epoch)))


def options(domain: str | None = None) -> tuple[dataclasses.Field, ...]:
    """The fields of :class:`PretrainConfig` (those that apply to ``domain``), in their order."""
    return tuple(f for f in dataclasses.fields(PretrainConfig) if domain is None or domain in f.metadata["domains"])


def choices_of(f: dataclasses.Field) -> tuple[str, ...] | None:
    choices = f.metadata["choices"]
    return tuple(choices()) if callable(choices) else None


def range_text(f: dataclasses.Field) -> str:
    """The allowed range of a numeric option, e.g. ``[0.5, 1]`` or ``> 0``."""
    m = f.metadata
    low, high = m["low"], m["high"]
    if low is not None and high is not None:
        return f"{'(' if m['low_open'] else '['}{low}, {high}{')' if m['high_open'] else ']'}"
    if low is not None:
        return f"{'>' if m['low_open'] else '>='} {low}"
    return ""


def option_help(f: dataclasses.Field, default: Any = dataclasses.MISSING, choices: Any = None) -> str:
    """One line: what the option is, its choices or range, and its default (or ``default``)."""
    parts = [f.metadata["help"]]
    choices = choices or choices_of(f)
    if choices:
        parts.append("choices: " + ", ".join(choices))
    elif range_text(f):
        parts.append("range " + range_text(f))
    if default is dataclasses.MISSING:
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    parts.append(f"default {','.join(default) if isinstance(default, tuple) else default}")
    return "; ".join(parts)


def checked_option(f: dataclasses.Field, value: Any) -> Any:
    """``value`` as the option ``f`` takes it (its type, choices and range), or ValueError saying why."""
    return _checked(f, value)


def _checked(f: dataclasses.Field, value: Any) -> Any:
    """``value`` converted to the option's type and checked against its choices and range."""
    m = f.metadata
    kind, name = m["kind"], f.name
    if value is None:
        if m["optional"]:
            return None
        raise ValueError(f"option {name} needs a value ({option_help(f)}).")
    if kind == "str-tuple":
        if isinstance(value, str):
            value = tuple(t.strip() for t in value.split(",") if t.strip())
        if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
            raise ValueError(f"option {name} must be a non-empty list of names, got {value!r}.")
        value = tuple(value)
        unknown = [v for v in value if v not in choices_of(f)]
        if unknown:
            raise ValueError(f"option {name}: unknown {', '.join(unknown)}; choose from {', '.join(choices_of(f))}.")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"option {name} must be true or false, got {value!r}.")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"option {name} must be a text, got {type(value).__name__} {value!r}.")
        choices = choices_of(f)
        if choices and value not in choices:
            raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}.")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"option {name} must be a number, got {type(value).__name__} {value!r}.")
    if kind is int:
        if float(value) != int(value):
            raise ValueError(f"option {name} must be a whole number, got {value!r}.")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"option {name} must be finite, got {value!r}.")
    low, high = m["low"], m["high"]
    if (low is not None and (value < low or (m["low_open"] and value == low))) or (
        high is not None and (value > high or (m["high_open"] and value == high))
    ):
        raise ValueError(f"option {name} must lie in {range_text(f)}, got {value!r} ({m['help']}).")
    return value
