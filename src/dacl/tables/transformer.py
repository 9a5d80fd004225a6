"""scikit-learn estimator: DACL pretraining as a transformer (fit / transform / fit_transform).

Verma et al., "Towards Domain-Agnostic Contrastive Learning", ICML 2021.
"""

from __future__ import annotations

import inspect
import os
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Integral, Interval, Real, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from dacl.config import PretrainConfig, choices_of, option_help, options
from dacl.core.threads import resolve_threads, thread_limits
from dacl.methods import method_names, mixes_blocks
from dacl.tables.files import check_unique_columns
from dacl.tables.preprocess import (
    check_no_infinite,
    check_scaled,
    column_names,
    make_preprocessor,
    normalized_table,
    one_hot_blocks,
    warn_scaled_to_nothing,
)
from dacl.tables.train import encode, pretrain

__all__ = ["DACL", "validate_table"]

# The config's options that a table's estimator takes (those of the tables; the seed comes from
# random_state), and the estimator's own.
CONFIG_PARAMETERS = tuple(f.name for f in options("tables") if f.name != "seed")
OWN_PARAMETERS = {
    "scale": ("{'minmax', 'standard'}, default='minmax'", "How numeric columns are scaled; 'minmax' keeps "
              "them in [0, 1], which geometric mixup and DACL+ need."),
    "impute": ("bool, default=True", "Impute missing numeric values with the column median and missing "
               "categories with the most frequent one."),
    "one_hot_mixing": ("{'coordinates', 'blocks'}, default='coordinates'", "How the mixup methods mix a "
                       "categorical column's one-hot block: 'coordinates' as any other columns (Eqs. 3, 5, 6 "
                       "coordinate by coordinate, as the paper), 'blocks' as one unit (the sample's category with "
                       "probability λ, or 1 - ρ for binary mixup, else the partner's)."),
    "random_state": ("int, RandomState instance or None, default=None", "Seed of the weights, the views and "
                     "the batch order; pass an int for reproducible output across calls."),
    "verbose": ("bool, default=False", "Show a progress bar while pretraining."),
    "encoder_cache": ("bool or path, default=True", "Keep the pretrained encoder on disk under a digest of the "
                      "preprocessed rows, the options with the seed, and the threads, precision and machine kind "
                      "(``dacl.tables.encoder_cache``), and take it from there when the same pretraining is asked "
                      "again: the same encoder bit for bit, without the pretraining's time. True: the folder "
                      "``$DACL_CACHE`` (``off``: no cache), else ``~/.cache/dacl/encoders``; a path: that folder; "
                      "False: no cache. Runs with random_state=None, a time_limit that shortened them, or labels "
                      "(method='supervised') are not kept."),
    "n_jobs": ("int or None, default=None", "Threads for torch and for scikit-learn's OpenMP pools: None picks "
               "the cores this process may use (affinity, cgroup CPU quota) less those other processes keep busy; "
               "-1 every usable core; N exactly N (``dacl.core.threads``)."),
}  # fmt: skip


def _check_no_empty_columns(missing: np.ndarray, names: list) -> None:
    """Columns with no value at all cannot be imputed or scaled: name them."""
    empty = [str(name) for name, column in zip(names, missing.T) if len(column) and column.all()]
    if empty:
        raise ValueError(f"column(s) {', '.join(empty[:10])} of X hold only missing values; drop them before fitting.")


def validate_table(estimator, X, *, reset: bool, impute: bool):
    """Check X as scikit-learn does (``n_features_in_``, ``feature_names_in_`` set on ``estimator`` when
    ``reset``); DataFrames keep their column types for the preprocessor; infinite values, empty columns
    and (without ``impute``) missing values are refused with a message that says what to do."""
    if isinstance(X, pd.DataFrame):
        check_unique_columns(list(X.columns), "X")  # one name, one column: predict finds columns by name
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        X = normalized_table(X)  # booleans, dates and durations as numbers; mixed columns refused
        if X.shape[0] == 0:
            raise ValueError("X has 0 samples; DACL needs at least 2.")
        check_no_infinite(X)
        if not impute and X.isna().to_numpy().any():
            raise ValueError("X contains missing values and impute=False; impute them or set impute=True.")
        _check_no_empty_columns(X.isna().to_numpy(), list(X.columns))
        return X
    if not hasattr(X, "__array__") or getattr(X, "dtype", None) is None:
        kind = np.asarray(X, dtype=object)
        if any(isinstance(v, str) for v in kind.ravel()[:1000]):
            raise ValueError(
                "X holds text; pass a pandas DataFrame (text columns are then one-hot encoded) or numbers."
            )
    X = validate_data(
        estimator, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan" if impute else True
    )
    check_no_infinite(X)
    _check_no_empty_columns(np.isnan(X), list(range(X.shape[1])))
    return X


def _choices(f) -> tuple[str, ...] | None:
    return method_names("tables", trainable=True) if f.name == "method" else choices_of(f)


def _constraint(f) -> list:
    """A config option's allowed values in scikit-learn's parameter-validation terms."""
    m = f.metadata
    choices = _choices(f)
    if m["kind"] == "str-tuple":
        allowed: list = [list, tuple]
    elif choices:
        allowed = [StrOptions(set(choices))]
    elif m["kind"] is bool:
        allowed = ["boolean"]
    elif m["kind"] is str:
        allowed = [str]
    else:
        left = m["low"] is not None and not m["low_open"]
        right = m["high"] is not None and not m["high_open"]
        closed = {(True, True): "both", (True, False): "left", (False, True): "right", (False, False): "neither"}
        number = Integral if m["kind"] is int else Real
        allowed = [Interval(number, m["low"], m["high"], closed=closed[(left, right)])]
    return allowed + ([None] if m["optional"] else [])


def _parameters_doc() -> str:
    """The numpydoc Parameters section, from the config's option help and the estimator's own."""
    defaults = {name: p.default for name, p in inspect.signature(DACL.__init__).parameters.items()}
    lines = []
    for f in options():
        if f.name in CONFIG_PARAMETERS:
            kind = f.metadata["kind"]
            lines += [f"    {f.name} : {kind.__name__ if isinstance(kind, type) else 'tuple of str'}",
                      f"        {option_help(f, defaults[f.name], _choices(f))}."]  # fmt: skip
    for name, (kind, text) in OWN_PARAMETERS.items():
        lines += [f"    {name} : {kind}", f"        {text}"]
    return "\n".join(lines) + "\n"


class DACL(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Pretrain an encoder with DACL on a table and use its features.

        ``fit(X)`` fits the preprocessing (numeric columns imputed and scaled, categorical columns
        one-hot encoded), then pretrains an MLP encoder with ``method``; ``transform(X)`` returns the
        frozen encoder's features, shape (n_samples, width). Use it in a ``Pipeline`` before a linear
        classifier for the paper's linear evaluation protocol (Verma et al., ICML 2021).

        The defaults are sized for a laptop (4 x 512 encoder); the paper's tabular set-up is
        ``depth=12, width=1024, batch_size=4096, epochs=1000``. Every option of
        :class:`dacl.PretrainConfig` that applies to tables is a parameter (the seed is ``random_state``).

        Parameters
        ----------
    {parameters}
        Attributes
        ----------
        preprocessor_ : sklearn ColumnTransformer
            The fitted scaling, imputation and one-hot encoding.
        model_ : dacl.methods.Method
            The trained method (encoder and head), on the CPU.
        encoder_ : torch.nn.Module
            The encoder whose features ``transform`` returns.
        history_ : list of dict
            Loss, learning rate and speed per epoch.
        pretraining_steps_ : int
            Steps taken (fewer than planned where a ``time_limit`` shortened the run).
        timings_ : dict
            Seconds of ``fit`` spent preprocessing and pretraining.
        n_features_in_ : int
            Number of columns seen in ``fit``.
    """

    def __init__(
        self,
        method: str = "dacl+",
        epochs: int = 100,
        batch_size: int = 256,
        temperature: float = 0.5,
        alpha: float = 0.9,
        beta: float | None = None,
        rho: float = 0.3,
        sigma: float = 0.1,
        corruption: float = 0.6,
        mixup_types: tuple[str, ...] = ("linear", "geometric", "binary"),
        mixup_partners: int = 1,
        mix_at: int = 0,
        depth: int = 4,
        width: int = 512,
        table_encoder: str = "mlp",
        numeric_embedding: str = "none",
        embedding_size: int = 16,
        embedding_scale: float = 1.0,
        categorical_embedding: int = 0,
        mix_embeddings: bool = False,
        head_depth: int = 3,
        projection_dim: int | None = 128,
        optimizer: str = "lars",
        lr: float = 0.1,
        weight_decay: float = 1e-6,
        momentum: float = 0.9,
        warmup_epochs: float = 10.0,
        schedule: str = "cosine",
        precision: str = "auto",
        device: str = "cpu",
        compile: bool = False,
        sync_batchnorm: bool = True,
        scale: str = "minmax",
        impute: bool = True,
        one_hot_mixing: str = "coordinates",
        random_state: int | None = None,
        verbose: bool = False,
        encoder_cache: bool | str = True,
        n_jobs: int | None = None,
    ) -> None:
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _config(self) -> PretrainConfig:
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return PretrainConfig(seed=seed, **{name: getattr(self, name) for name in CONFIG_PARAMETERS})

    def _validate(self, X, reset: bool):
        return validate_table(self, X, reset=reset, impute=self.impute)

    def fit(self, X, y=None, *, steps_per_epoch: int | None = None, time_limit: float | None = None,
            checkpoint_dir=None, checkpoint_every: int = 0, resume: bool = False, metadata: dict | None = None):
        """Fit the preprocessing and pretrain the encoder on X (y is used by method='supervised' only);
        ``steps_per_epoch`` ends each epoch after that many batches (a cap on a long pass); ``time_limit``
        (seconds) shortens the pretraining to fit in it (``dacl.engine.fit``). With ``checkpoint_dir`` the run
        writes checkpoints there (``checkpoint_every`` epochs; ``resume`` continues one) that also record the
        fitted preprocessing and the column names, with ``metadata``: ``dacl.tables.pretrained_run`` reads
        the run back for the estimators' ``encoder=`` (the encoder cache is not used then)."""
        self._validate_params()
        X = self._validate(X, reset=True)
        if X.shape[0] < 2:
            raise ValueError(f"DACL needs at least 2 samples to form a batch, got 1 sample (X shape {X.shape}).")
        run = {"checkpoint_dir": checkpoint_dir, "checkpoint_every": checkpoint_every, "resume": resume,
               "metadata": metadata} if checkpoint_dir is not None else None  # fmt: skip
        with thread_limits(resolve_threads(self.n_jobs)):
            return self._fit(X, y, steps_per_epoch, time_limit, run)

    def _fit(self, X, y, steps_per_epoch: int | None, time_limit: float | None, run: dict | None = None):
        started = time.perf_counter()
        config = self._config()
        self.preprocessor_ = make_preprocessor(X, self.scale, self.impute).fit(X)
        self.clip_ = False  # fitted on every row: they lie in the scaled range
        features = self.preprocessed(X)
        positions, names = self._numeric_columns(X)
        if positions:
            raw = _columns_at(X, positions)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column is refused before
                scaled = features[:, : len(positions)].astype(np.float64)
                warn_scaled_to_nothing(np.nanmax(raw, 0) - np.nanmin(raw, 0), scaled.max(0) - scaled.min(0), names,
                                       config.precision)  # fmt: skip
        labels = None
        if config.method == "supervised":
            if y is None:
                raise ValueError("method='supervised' needs labels: call fit(X, y).")
            self.label_encoder_ = LabelEncoder().fit(y)
            labels = self.label_encoder_.transform(y)
        # the one-hot blocks: which columns the embeddings take, and (one_hot_mixing) the units mixed
        categories = one_hot_blocks(self.preprocessor_)
        blocks = categories if self.one_hot_mixing == "blocks" and mixes_blocks(config) else None
        prepared = time.perf_counter()
        result, self.from_cache_ = self._pretrained(X, features, config, labels, steps_per_epoch, time_limit, run,
                                                    blocks=blocks, categories=categories)  # fmt: skip
        self.timings_ = {"preprocessing": prepared - started, "pretraining": time.perf_counter() - prepared}
        return self._trained(result)

    def _pretrained(self, X, features, config, labels, steps_per_epoch, time_limit, run, **blocks):
        """(``pretrain`` on the preprocessed rows, whether its encoder came from the cache): a run kept in a
        folder (``run``) records the preprocessing and the columns with it; otherwise the cache
        (``encoder_cache``; ``dacl.tables.encoder_cache.pretrain_cached``) serves the runs with a seed and
        no labels."""
        from dacl.tables.encoder_cache import cache_folder, pretrain_cached

        options = {"progress": self.verbose, "steps_per_epoch": steps_per_epoch, "time_limit": time_limit, **blocks}
        if run is not None:
            recorded = {**(run["metadata"] or {}), "rows": int(X.shape[0]),
                        "preprocessing": self.saved_preprocessing(column_names(X)).to_dict()}  # fmt: skip
            return pretrain(features, config, labels, **options, **{**run, "metadata": recorded}), False
        if labels is None and isinstance(self.random_state, Integral):
            return pretrain_cached(cache_folder(self.encoder_cache), features, config, **options)
        return pretrain(features, config, labels, **options), False

    def fit_stream(self, stream, *, time_limit: float | None = None):
        """Pretrain the encoder on a ``dacl.tables.stream.TableStream`` (files bigger than memory), whose
        preprocessing, fitted on a sample of the files, becomes this transformer's: ``transform`` then
        takes DataFrames with the stream's columns. Cut at the same batch size as the config."""
        from dacl.tables.train import pretrain_files

        self._validate_params()
        if self.one_hot_mixing == "blocks":
            raise ValueError("one_hot_mixing='blocks' needs the table in memory; streamed files mix coordinates.")
        with thread_limits(resolve_threads(self.n_jobs)):
            result = pretrain_files(stream, self._config(), progress=self.verbose, time_limit=time_limit)
        self.preprocessor_ = stream.preprocessor
        self.clip_ = self.scale == "minmax"  # the stream clips values beyond its sample's range
        self.n_features_in_ = len(stream.columns)
        self.feature_names_in_ = np.array(stream.columns, dtype=object)
        return self._trained(result)

    def _trained(self, result):
        """The pretraining's model, encoder and history kept (``fit`` and ``fit_stream``)."""
        self.model_ = result.model.cpu()
        self.encoder_ = self.model_.encoder
        self.history_ = result.history
        self.pretraining_steps_ = result.steps
        self._n_features_out = self.width
        return self

    def transform(self, X):
        """Encoder features h(x) of the preprocessed X, shape (n_samples, width), float32."""
        check_is_fitted(self, "encoder_")
        X = self._validate(X, reset=False)
        with thread_limits(resolve_threads(self.n_jobs)):
            return encode(self.encoder_, self.preprocessed(X))

    def preprocessed(self, X) -> np.ndarray:
        """The encoder's inputs for a validated table X: the fitted preprocessing, float32, and min-max
        values clipped to [0, 1] where the encoder was pretrained on a stream, which clips them
        (``dacl.tables.stream``): one path for the rows the encoder trained on and every later row."""
        scaled = self.preprocessor_.transform(X)
        if getattr(self, "clip_", False):
            np.clip(scaled, 0.0, 1.0, out=scaled)
        else:  # issue 45, class 4: numbers the network's dtype cannot carry are named, not made NaN
            positions, names = self._numeric_columns(X)
            given = X.iloc if isinstance(X, pd.DataFrame) else np.asarray(X)  # one cell read, for the message
            check_scaled(scaled[:, : len(positions)], names, "X", lambda row, j: float(given[row, positions[j]]))
        return scaled.astype(np.float32)

    def saved_preprocessing(self, columns: list[str]):
        """The fitted preprocessing as data (``dacl.tables.saved_preprocessing``) for the column names
        ``columns`` (those of the table it was fitted on, in order)."""
        from dacl.tables.saved_preprocessing import SavedPreprocessing

        return SavedPreprocessing.from_fitted(self.preprocessor_, columns, clip=self.clip_)

    def pretraining_options(self) -> dict:
        """The pretraining's options (the config without its seed), as a model folder records them."""
        return {k: v for k, v in self._config().to_dict().items() if k != "seed"}

    def _numeric_columns(self, X) -> tuple[list[int], list]:
        """The positions in a validated X of the numeric columns, in the order the preprocessing puts them
        first, and their names."""
        positions = next((list(c) for name, _, c in self.preprocessor_.transformers_ if name == "numeric"), [])
        return positions, ([X.columns[i] for i in positions] if isinstance(X, pd.DataFrame) else positions)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.impute
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self.random_state is None
        return tags


def _columns_at(X, positions: list[int]) -> np.ndarray:
    """The columns of a validated X at ``positions``, as float64 (N, K)."""
    if isinstance(X, pd.DataFrame):
        return X.iloc[:, positions].to_numpy(dtype=np.float64)
    return np.asarray(X, dtype=np.float64)[:, positions]


DACL.__doc__ = DACL.__doc__.replace("{parameters}\n", _parameters_doc())
DACL._parameter_constraints = {
    **{f.name: _constraint(f) for f in options() if f.name in CONFIG_PARAMETERS},
    "scale": [StrOptions({"minmax", "standard"})],
    "impute": ["boolean"],
    "one_hot_mixing": [StrOptions({"coordinates", "blocks"})],
    "random_state": ["random_state"],
    "verbose": ["boolean", "verbose"],
    "encoder_cache": ["boolean", str, os.PathLike],
    "n_jobs": [Integral, None],
}
