"""The tables domain: rows of numbers (N, D) in memory, the paper's MLP encoder, the one engine.

``pretrain(X, config)`` is DACL on a table (Table 1 of Verma et al., ICML 2021); ``encoder=`` and
``views=`` plug in a user's own encoder and views, trained, checkpointed and resumed the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from dacl.config import PretrainConfig
from dacl.core.encoders import MLPEncoder, encoder_width
from dacl.core.runtime import autocast, resolve_device, resolve_precision
from dacl.core.views import check_blocks
from dacl.engine.domain import class_labels, model_encoder, read_model_state, refuse_if_too_big, with_weights
from dacl.engine.loop import Callback, PretrainResult, fit
from dacl.engine.sources import TensorSource
from dacl.methods import METHODS, Method, build_method
from dacl.tables.encoder import (
    CategoryEmbedding,
    ColumnEmbedding,
    PeriodicEmbedding,
    PiecewiseLinearEncoding,
    ResidualMLP,
    TabularEncoder,
    quantile_edges,
)

if TYPE_CHECKING:
    from dacl.tables.stream import TableStream

__all__ = ["build", "embed", "embedded_columns", "encode", "load_data", "load_model", "mix_blocks_as_units", "pretrain",
           "pretrain_files", "table_encoder"]  # fmt: skip


def table_encoder(
    config: PretrainConfig, in_features: int, numeric: Any = None, data: Tensor | None = None, categories: Any = None
) -> nn.Module:
    """The encoder ``config`` names for a table of ``in_features`` columns: the paper's MLP or the residual
    MLP (``table_encoder``), after a numeric embedding if ``numeric_embedding`` is set and a categorical
    one if ``categorical_embedding`` is. ``numeric`` (a bool per column; None: the columns outside
    ``categories``, or all) says which columns the numeric embedding takes, the others (one-hot categories)
    pass through; ``categories`` (a block id per column, -1 for numeric ones, as
    ``dacl.tables.preprocess.one_hot_blocks`` gives) says which one-hot columns make one categorical column;
    ``data`` (N, D) gives PLE its quantile bins (without it the bins are zeros, to be loaded)."""
    numeric_on, categories_on = config.numeric_embedding != "none", config.categorical_embedding > 0
    if config.mix_embeddings and not (numeric_on or categories_on):
        raise ValueError("mix_embeddings mixes the embedded columns: set numeric_embedding (ple or periodic) or "
                         "categorical_embedding.")  # fmt: skip
    if not (numeric_on or categories_on):
        return _table_body(config, in_features)
    if categories is not None:
        categories = check_blocks(categories, in_features)
    if categories_on and (categories is None or not bool((categories >= 0).any())):
        raise ValueError(
            f"categorical_embedding={config.categorical_embedding} embeds categorical columns, but "
            + ("no one-hot blocks were given (categories=, as dacl.tables.preprocess.one_hot_blocks gives)"
               if categories is None else "this table has none")
            + "; use categorical_embedding=0."
        )  # fmt: skip
    if numeric is None:
        numeric = categories < 0 if categories is not None else torch.ones(in_features, dtype=torch.bool)
    numeric = torch.as_tensor(numeric).bool()
    if numeric.shape != (in_features,):
        raise ValueError(
            f"numeric must name each of the {in_features} columns (a bool each), got {tuple(numeric.shape)}."
        )
    if numeric_on and not bool(numeric.any()):
        raise ValueError(
            f"numeric_embedding={config.numeric_embedding!r} embeds numeric columns, but this table has none "
            "(every column is a one-hot category); use numeric_embedding='none'."
        )
    inner: nn.Module | None = None
    count, size = int(numeric.sum()), config.embedding_size
    if config.numeric_embedding == "ple":
        edges = torch.zeros(count, size + 1) if data is None else quantile_edges(data[:, numeric], size)
        inner = PiecewiseLinearEncoding(edges)
    elif config.numeric_embedding == "periodic":
        inner = PeriodicEmbedding(count, size, config.embedding_scale)
    category_embedding = None
    if categories_on:
        if not bool((categories[~numeric] >= 0).all()):
            raise ValueError("every column that is not numeric must belong to a categorical column's one-hot block.")
        ids = torch.unique(categories[~numeric], return_inverse=True)[1]  # the categorical columns numbered 0..B-1
        category_embedding = CategoryEmbedding(ids, config.categorical_embedding)
    embedding = ColumnEmbedding(numeric, inner, category_embedding)
    return TabularEncoder(embedding, _table_body(config, embedding.out_features), config.mix_embeddings)


def embedded_columns(encoder: nn.Module) -> dict[str, list]:
    """What rebuilds an embedded table encoder (:func:`table_encoder`): the columns its numeric embedding
    takes and, with a categorical embedding, each column's category block; empty without embeddings."""
    embedding = getattr(encoder, "embedding", None)
    if not isinstance(embedding, ColumnEmbedding):
        return {}
    columns: dict[str, list] = {"numeric": [bool(v) for v in embedding.numeric.tolist()]}
    if embedding.categories is not None:
        categories = torch.full((embedding.in_features,), -1, dtype=torch.long)
        categories[~embedding.numeric.cpu()] = embedding.categories.blocks.cpu()
        columns["categories"] = categories.tolist()
    return columns


def _table_body(config: PretrainConfig, in_features: int) -> nn.Module:
    if config.table_encoder == "resnet":
        return ResidualMLP(in_features, config.width, config.depth)
    return MLPEncoder(in_features, config.width, config.depth)


def build(
    config: PretrainConfig,
    in_features: int,
    n_classes: int | None = None,
    *,
    encoder: nn.Module | None = None,
    views: Any = None,
    example: Tensor | None = None,
    numeric: Any = None,
    data: Tensor | None = None,
    categories: Any = None,
) -> Method:
    """The method ``config.method`` on the encoder ``config`` names (``table_encoder``; or on ``encoder``),
    initialised from ``config.seed`` without touching the global random state."""
    if encoder is None:
        check_memory(config, in_features)  # before the weights are allocated
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if encoder is None:
            encoder = table_encoder(config, in_features, numeric, data, categories)
        method = build_method(config, encoder, encoder_width(encoder, example), n_classes=n_classes, views=views)
    embedding = getattr(encoder, "embedding", None)
    signed = getattr(embedding, "categories", None) is not None and getattr(encoder, "mix_embeddings", False)
    if signed and getattr(getattr(method, "views", None), "non_negative", False):
        raise ValueError(
            f"mix_embeddings mixes the learned category embeddings, which have negative values that geometric "
            f"mixup (Eq. 5, in {method.views!r}) cannot mix: mix the raw columns (mix_embeddings=False), or use "
            "linear or binary mixup (method dacl, dacl-binary, or mixup_types without geometric)."
        )
    return method


def training_bytes(config: PretrainConfig, in_features: int) -> int:
    """About the memory a pretraining step of the encoder ``config`` names takes, in bytes (float32): the
    weights with their gradients and two optimiser buffers, the activations of the 2 views x batch rows at
    every layer, and the views' inputs with their mixup partners."""
    width, depth, batch = config.width, config.depth, config.batch_size
    embedded = in_features * (config.embedding_size if config.numeric_embedding != "none" else 1)
    embedded += in_features * config.categorical_embedding
    out = width if config.projection_dim is None else config.projection_dim
    weights = embedded * width + (depth - 1) * width * width + (config.head_depth - 1) * width * width + width * out
    activations = 2 * batch * width * (depth + config.head_depth) * 3
    inputs = batch * embedded * (2 + config.mixup_partners)
    return 4 * (4 * weights + activations + inputs)


def check_memory(config: PretrainConfig, in_features: int) -> None:
    """Refuse, before anything is allocated, a run whose encoder, batch and views need more memory than
    the device has free (options whose memory grows with their value: width, depth, batch size, the
    embeddings' sizes, mixup partners)."""
    embedding = config.embedding_size if config.numeric_embedding != "none" else 0
    refuse_if_too_big(training_bytes(config, in_features), config.device,
                      f"a {config.depth} x {config.width} encoder on {in_features} columns, batch {config.batch_size}, "
                      f"embedding size {embedding}, {config.mixup_partners} mixup partner(s)",
                      "--width, --depth, --batch-size or the embedding's size")  # fmt: skip


def mix_blocks_as_units(method: Method, config: PretrainConfig, blocks: Tensor) -> None:
    """Have ``method``'s mixup views mix the one-hot ``blocks`` as units (``_PartnerMixup``)."""
    views = getattr(method, "views", None)
    if not hasattr(views, "set_blocks"):
        raise ValueError(
            f"blocks are mixed as units only by the built-in mixup views (dacl, dacl+, linear, geometric, binary); "
            f"method {config.method!r} with views {views!r} has none."
        )
    if config.mix_at != 0:
        raise ValueError("one-hot blocks are input columns: mix them at the input (mix_at=0), not at a hidden layer.")
    views.set_blocks(blocks)


def _as_tensor(x: Any, name: str) -> Tensor:
    array = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be numeric; encode categorical columns first (dacl.DACL does this).")
    tensor = torch.as_tensor(array, dtype=torch.float32)
    if tensor.dim() != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {tuple(tensor.shape)}.")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite values; impute or drop them first.")
    return tensor


def pretrain(
    X: Any,
    config: PretrainConfig | None = None,
    y: Any = None,
    *,
    encoder: nn.Module | None = None,
    views: Any = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool = True,
    callbacks: tuple[Callback, ...] = (),
    metadata: dict[str, Any] | None = None,
    blocks: Any = None,
    numeric: Any = None,
    categories: Any = None,
    steps_per_epoch: int | None = None,
    time_limit: float | None = None,
) -> PretrainResult:
    """Train an encoder on ``X`` (N, D) with ``config.method`` and return it with its history.

    ``y`` (class indices 0..C-1) is needed only by ``method="supervised"``. ``encoder`` (any
    ``nn.Module`` from (N, D) to (N, width)) replaces the MLP; ``views`` (a view ``f(x, generator)``,
    a pair maker, or a tuple of two views) replaces the method's views. With ``checkpoint_dir`` a
    checkpoint is written every ``checkpoint_every`` epochs (0: only at the end) and at the end;
    ``resume=True`` continues from it, reaching the same weights as an unbroken run. ``metadata``
    (JSON-able) is stored in the checkpoint, e.g. where the data came from. ``blocks`` (one id per column:
    0, 1, ... for the columns of one categorical column's one-hot block, -1 for the others; as
    ``dacl.tables.preprocess.one_hot_blocks`` gives) makes the mixup views mix each block as one unit; pass
    the same blocks again to resume. ``numeric`` (a bool per column) names the columns a
    ``numeric_embedding`` embeds; by default the columns outside ``categories``, or all. ``categories``
    (block ids as ``blocks``; by default ``blocks``) names the one-hot columns a ``categorical_embedding``
    embeds, one embedding per block. ``steps_per_epoch``
    ends each epoch after that many batches (``dacl.engine.sources.TensorSource``). ``time_limit``
    (seconds) shortens the run to fit in it, its schedule fitted to the shorter run (``dacl.engine.fit``).
    """
    config = config or PretrainConfig()
    data = _as_tensor(X, "X")
    n, in_features = data.shape
    if n < 2:
        raise ValueError(f"X has 1 sample; pretraining needs at least 2 samples (got shape {tuple(data.shape)}).")
    labels, n_classes = class_labels(y, n, "y") if METHODS[config.method].kind == "supervised" else (None, None)
    blocks = check_blocks(blocks, in_features)
    categories = blocks if categories is None else check_blocks(categories, in_features)
    if numeric is None and categories is not None:
        numeric = categories < 0
    method = build(config, in_features, n_classes, encoder=encoder, views=views, example=data[:2],
                   numeric=numeric, data=data, categories=categories)  # fmt: skip
    if blocks is not None:
        if encoder is None and config.mix_embeddings:  # the views see the embedded columns
            blocks = method.encoder.embedding.embedded_blocks(blocks)
        mix_blocks_as_units(method, config, blocks)
    device = resolve_device(config.device)
    source = TensorSource(data, labels, config.batch_size, steps_per_epoch).to(device)
    if method.trains and config.epochs > 0:
        method.check_data(source.inputs)  # once, so that no step reads values back from the device
    state = {"domain": "tables", "in_features": in_features, "n_classes": n_classes, "metadata": metadata or {},
             "encoder": None if encoder is None else type(encoder).__qualname__}  # fmt: skip
    if encoder is None:
        state.update(embedded_columns(method.encoder))  # nothing without embeddings
    return fit(method, source, config, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
               resume=resume, progress=progress, callbacks=callbacks, state=state, time_limit=time_limit)  # fmt: skip


def pretrain_files(
    files: str | Path | list | TableStream,
    config: PretrainConfig | None = None,
    *,
    label: str | None = None,
    scale: str = "minmax",
    buffer_rows: int = 262_144,
    steps_per_epoch: int | None = None,
    encoder: nn.Module | None = None,
    views: Any = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool = True,
    callbacks: tuple[Callback, ...] = (),
    time_limit: float | None = None,
) -> PretrainResult:
    """``pretrain`` on Parquet (or CSV) files too big for memory (a folder, a glob or a list of files),
    streamed row group by row group through a shuffle buffer of ``buffer_rows`` rows (``dacl.tables.stream``);
    ``label`` names a column to leave out; ``steps_per_epoch`` ends an epoch (and its checkpoint) after that
    many steps, for data whose whole pass is too long between checkpoints. In a process group each
    process reads its own row groups. ``files`` may be a ``TableStream`` already made (its settings then
    stand for ``label``, ``scale``, ``buffer_rows`` and ``steps_per_epoch``). ``time_limit`` as ``pretrain``'s."""
    from dacl.tables.stream import TableStream

    config = config or PretrainConfig()
    if METHODS[config.method].kind == "supervised":
        raise ValueError("streamed files train without labels; method 'supervised' needs pretrain(X, config, y).")
    if config.numeric_embedding == "ple" and encoder is None:
        raise ValueError(
            "numeric_embedding='ple' takes its bins from the columns' quantiles, which a stream does not have "
            "before it is read; use numeric_embedding='periodic' (no bins) or pretrain on a table in memory."
        )
    source = files if isinstance(files, TableStream) else TableStream(
        files, config.batch_size, label=label, scale=scale, buffer_rows=buffer_rows, steps_per_epoch=steps_per_epoch
    )  # fmt: skip
    if source.batch_size != config.batch_size:
        raise ValueError(f"the stream cuts batches of {source.batch_size} rows but batch_size is {config.batch_size}.")
    categories = None
    if encoder is None:  # the one-hot blocks: a numeric embedding leaves them alone, as pretrain's does
        from dacl.tables.preprocess import one_hot_blocks

        categories = one_hot_blocks(source.preprocessor)
    method = build(config, source.in_features, encoder=encoder, views=views,
                   example=torch.zeros(2, source.in_features), categories=categories)  # fmt: skip
    from dacl.tables.saved_preprocessing import SavedPreprocessing

    # the stream's fitted preprocessing, so that its encoder is evaluated on data preprocessed the same way
    saved = SavedPreprocessing.from_fitted(source.preprocessor, source.columns).to_dict()
    state = {"domain": "tables", "in_features": source.in_features, "n_classes": None,
             "metadata": {"files": [str(f) for f in source.files], "rows": source.rows, "label": label,
                          "preprocessing": saved, "scale": scale},
             "encoder": None if encoder is None else type(encoder).__qualname__}  # fmt: skip
    if encoder is None:
        state.update(embedded_columns(method.encoder))  # nothing without embeddings
    return fit(method, source, config, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
               resume=resume, progress=progress, callbacks=callbacks, state=state, time_limit=time_limit)  # fmt: skip


def load_model(checkpoint_dir: str | Path, encoder: nn.Module | None = None) -> PretrainResult:
    """Rebuild a trained model from a checkpoint folder (JSON config + safetensors weights); a run
    made with a user's own encoder needs a fresh instance of it as ``encoder``."""
    state, config = read_model_state(checkpoint_dir, "tables", encoder)
    method = build(config, state["in_features"], state["n_classes"], encoder=encoder,
                   example=torch.zeros(2, state["in_features"]), numeric=state.get("numeric"),
                   categories=state.get("categories"))  # fmt: skip
    return with_weights(checkpoint_dir, method, config, state)


@torch.no_grad()
def embed(
    model: nn.Module | PretrainResult,
    X: Any,
    batch_size: int = 4096,
    device: str | torch.device | None = None,
    precision: str | None = None,
) -> np.ndarray:
    """Features h(x) of the frozen encoder (eval mode: BatchNorm uses its running statistics) for the rows
    ``X`` (N, D), as float32 numpy; ``model`` is a trained model (``pretrain``'s or ``load_model``'s result)
    or an encoder. ``precision``: default the model's ("auto" runs under bf16 autocast where that pays: a
    CPU with AMX or AVX512-BF16; with AMX about 2.7x faster on 100,000 x 50 rows through a 4 x 512 MLP,
    docs/results/speed.md), float32 for a bare encoder."""
    encoder, precision = model_encoder(model, precision)
    was_training = encoder.training
    encoder.eval()
    device = torch.device(device) if device is not None else next(encoder.parameters()).device
    data = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    with autocast(device, resolve_precision(precision, device)):
        parts = [encoder(data[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(data), batch_size)]
    encoder.train(was_training)
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)


def load_data(name_or_path: str | Path, **options: Any):
    """A table by registered name or from a file (``dacl.data.load_dataset``): the domain's loader."""
    from dacl.data import load_dataset

    return load_dataset(name_or_path, **options)


def encode(
    encoder: nn.Module,
    X: Any,
    batch_size: int = 4096,
    device: str | torch.device | None = None,
    precision: str = "float32",
) -> np.ndarray:
    """Features h(x) of the frozen ``encoder`` on the rows ``X``, as float32 (``embed`` with a module)."""
    return embed(encoder, X, batch_size=batch_size, device=device, precision=precision)
