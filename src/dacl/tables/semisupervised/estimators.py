"""scikit-learn estimators for a table with some labelled rows: ``DACLClassifier`` and ``DACLRegressor``.

``fit(X, y)`` pretrains a DACL encoder (Verma et al., ICML 2021) on every row, labelled or not (and on
``X_unlabeled``), then chooses on the labelled rows only, by cross-validation, among models on the
frozen features, the fine-tuned encoder, the models a data scientist fits on the raw columns (logistic
regression or ridge, gradient-boosted trees) and those that use the unlabelled rows at choice time too
(label spreading, self-training), or the average of the best (``dacl.tables.semisupervised.selection``).
Unlabelled rows are marked as scikit-learn's semi-supervised estimators mark them: ``-1``
(``unlabeled_value``) or a missing value for classes, NaN for numbers.
"""

from __future__ import annotations

import inspect
import os
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import TransformerTags, check_random_state
from sklearn.utils._param_validation import Integral, Interval, Real, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from dacl.config import epochs_within, option_help, options
from dacl.core.distributed import alone, is_distributed, rank
from dacl.core.threads import resolve_threads, thread_limits
from dacl.tables.preprocess import LARGEST, column_names
from dacl.tables.pretrained_run import PretrainedRun, check_same_columns
from dacl.tables.semisupervised.candidates import (
    CLASSIFICATION,
    REGRESSION,
    Inputs,
    OutOfTime,
    Projection,
    Settings,
    Task,
    deadline,
)
from dacl.tables.semisupervised.options import MAX_STEPS, PRETRAINING_DEFAULTS, PRETRAINING_SHARE, SEMI_PARAMETERS
from dacl.tables.semisupervised.registry import CANDIDATES
from dacl.tables.semisupervised.selection import fit_chosen, predict_chosen, select
from dacl.tables.semisupervised.transductive import unlabelled_pool
from dacl.tables.train import encode
from dacl.tables.transformer import CONFIG_PARAMETERS, DACL, OWN_PARAMETERS, _choices, _constraint, validate_table

__all__ = ["DACLClassifier", "DACLRegressor", "capped_pretraining"]

# the pretraining options that make an encoder what it is (those of the runtime group only say where it runs)
ENCODER_OPTIONS = tuple(f.name for f in options() if f.name in CONFIG_PARAMETERS and f.metadata["group"] != "runtime")
ENCODER_PARAMETER = {
    "encoder": ("str, path, fitted DACL or None, default=None", "Fit on an encoder pretrained once instead of "
                "pretraining: the --out folder of a ``dacl pretrain`` run on a table (any number of processes or "
                "machines, streamed or in memory; ``dacl.tables.pretrained_run``) or a fitted ``dacl.DACL``. Its "
                "preprocessing and pretraining options are the model's; the table must have its columns (any "
                "order), and a pretraining parameter set here away from its default must be the encoder's. The "
                "model folder keeps a copy of the encoder: it predicts without the run."),
}
UNLABELED_PARAMETER = {
    "unlabeled_value": ("int, str or None, default=-1", "The label that marks an unlabelled row (as "
                        "scikit-learn's SelfTrainingClassifier); missing values (NaN, None) always do. Set "
                        "another value, or None, when -1 is a real class of your data."),
}  # fmt: skip


def capped_pretraining(values: dict, rows: int, max_steps: int | None = MAX_STEPS) -> dict:
    """Pretraining options for ``rows`` rows: ``epochs`` lowered so that the run takes at most
    ``max_steps`` steps, and then the warm-up to at most a third of the run (as Table 1's medium budget)."""
    values = {**PRETRAINING_DEFAULTS, **values}
    epochs = epochs_within(values["epochs"], max_steps, rows, values["batch_size"])
    if epochs < values["epochs"]:
        values["warmup_epochs"] = min(values["warmup_epochs"], epochs / 3)
    return {**values, "epochs": epochs}


# the pretraining options whose estimator parameter has another name: scikit-learn reads ``alpha`` as a
# penalty (its check_regressors_train sets alpha=0.01 on any regressor that has one), while ours is mixup's
# lambda ~ U(alpha, 1); the estimators call it ``mixup_alpha`` (the transformer DACL and the CLI keep alpha)
RENAMED = {"alpha": "mixup_alpha"}
DEPRECATED_ALPHA = ("alpha", "(deprecated: use mixup_alpha; removed in dacl 0.3) mixup's lower bound of lambda "
                    "where 0.5 <= alpha <= 1, with a FutureWarning; any other value is ignored with that warning, "
                    "as scikit-learn's penalty alpha, which these estimators do not have.")


def parameter_of(option: str) -> str:
    """The estimators' parameter for the pretraining option ``option``."""
    return RENAMED.get(option, option)


def _parameters_doc(cls) -> str:
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}
    lines = []
    for f in options():
        if f.name in CONFIG_PARAMETERS:
            kind = f.metadata["kind"]
            name = parameter_of(f.name)
            lines += [f"    {name} : {kind.__name__ if isinstance(kind, type) else 'tuple of str'}",
                      f"        {option_help(f, defaults[name], _choices(f))}."]  # fmt: skip
    own = {**SEMI_PARAMETERS, **(UNLABELED_PARAMETER if "unlabeled_value" in defaults else {}), **ENCODER_PARAMETER,
           **OWN_PARAMETERS}
    for name, (kind, text) in own.items():
        lines += [f"    {name} : {kind}", f"        {text}"]
    lines += ["    alpha : float or None", f"        {DEPRECATED_ALPHA[1]}"]
    return "\n".join(lines) + "\n"


class _Clock:
    """A fit's phases timed (``timings_``) and its ``time_limit`` shared between them."""

    def __init__(self, limit: float | None) -> None:
        self.started = self.last = time.perf_counter()
        self.limit = limit
        self.deadline = None if limit is None else self.started + limit
        self.phases: dict[str, float] = {}

    def mark(self, phase: str, parts: dict[str, float] | None = None) -> None:
        """The time since the last mark counted to ``phase``, or as ``parts`` say (the rest to ``phase``)."""
        now = time.perf_counter()
        rest = now - self.last
        for name, seconds in (parts or {}).items():
            self.phases[name] = self.phases.get(name, 0.0) + seconds
            rest -= seconds
        self.phases[phase] = self.phases.get(phase, 0.0) + max(0.0, rest)
        self.last = now

    def left(self) -> float | None:
        return None if self.deadline is None else max(1e-3, self.deadline - time.perf_counter())

    def pretraining(self) -> float | None:
        """The pretraining's share of the time left (``PRETRAINING_SHARE``)."""
        left = self.left()
        return None if left is None else max(1e-3, PRETRAINING_SHARE * left)

    def timings(self) -> dict[str, float]:
        return {**self.phases, "total": time.perf_counter() - self.started}


class _SemiSupervised(BaseEstimator):
    """What the classifier and the regressor share: pretraining on every row, the choice, prediction."""

    _task_kind: str

    def _config_values(self) -> dict[str, Any]:
        """The pretraining options, by their config names, from the parameters (``RENAMED``); a deprecated
        ``alpha`` given in mixup's range stands for ``mixup_alpha`` (with a FutureWarning, as any ``alpha``)."""
        values = {name: getattr(self, parameter_of(name)) for name in CONFIG_PARAMETERS}
        if self.alpha is not None:
            usable = 0.5 <= self.alpha <= 1
            warnings.warn("alpha is deprecated (removed in dacl 0.3): mixup's lower bound of lambda is mixup_alpha. "
                          + (f"alpha={self.alpha} is used as mixup_alpha." if usable else
                             f"alpha={self.alpha} is not a mixup bound (0.5 to 1) and is ignored: these estimators "
                             "have no penalty alpha as scikit-learn's linear models do."),
                          FutureWarning, stacklevel=4)  # fmt: skip
            if usable:
                values["alpha"] = self.alpha
        return values

    def _fitted_with(self, threads: int) -> dict[str, Any]:
        """What a fit's numbers hang on besides the data (model.json's ``fitted_with``): the same seed, thread
        count and precision on the same CPU kind and torch give the same model bit for bit (tested)."""
        from dacl.core.runtime import numbers_depend_on

        where = numbers_depend_on(self.device, self.precision)
        return {"threads": int(threads), "precision": where["precision"],
                "random_state": self.random_state if isinstance(self.random_state, (int, type(None))) else "generator",
                "device": where["device"], "torch": where["torch"]}

    def _pretraining(self, rows: int, seed: int, threads: int | None = None) -> DACL:
        """The DACL transformer that pretrains the encoder (:func:`capped_pretraining`) on ``threads``
        threads (resolved once by the caller; default ``n_jobs``)."""
        values = capped_pretraining(self._config_values(), rows, self.max_steps)
        return DACL(**values, scale=self.scale, impute=self.impute, one_hot_mixing=self.one_hot_mixing,
                    random_state=seed, verbose=self.verbose, encoder_cache=self._cache(),
                    n_jobs=self.n_jobs if threads is None else threads)  # fmt: skip

    def _cache(self) -> bool | str:
        """The pretraining's ``encoder_cache``: off where no seed is set (no fit would repeat the run)."""
        return self.encoder_cache if isinstance(self.random_state, int | np.integer) else False

    def _given_encoder(self, columns: list[str]):
        """The pretraining ``encoder`` names (a run folder or a fitted DACL), checked against the table's
        ``columns`` and the pretraining parameters set away from their defaults."""
        given = self.encoder
        if isinstance(given, DACL):
            check_is_fitted(given, "encoder_")
            pretrained, where = given, "the fitted DACL given as encoder"
            names = [str(c) for c in getattr(given, "feature_names_in_", range(given.n_features_in_))]
        else:
            pretrained = given if isinstance(given, PretrainedRun) else PretrainedRun(given)
            where, names = f"the encoder {pretrained.folder}", pretrained.columns
        check_same_columns(names, columns, "the table", f"{where} was pretrained on {len(names)} columns")
        options = pretrained.pretraining_options()
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        differing = [f"{parameter_of(name)}={getattr(self, parameter_of(name))!r} (the encoder's: {options[name]!r})"
                     for name in ENCODER_OPTIONS if name in options
                     and getattr(self, parameter_of(name)) != defaults[parameter_of(name)]
                     and _differs(getattr(self, parameter_of(name)), options[name])]  # fmt: skip
        if differing:
            raise ValueError(f"{where} was pretrained with other options than those set here: "
                             f"{', '.join(differing[:5])}; leave them at their defaults (the encoder's are used), "
                             "or pretrain with these.")  # fmt: skip
        self.encoder_from_ = {"encoder": str(getattr(pretrained, "folder", "a fitted DACL")),
                              "columns": len(names)}  # fmt: skip
        return pretrained

    def _epoch_cap(self, rows: int) -> int | None:
        """``max_steps`` where one pass over ``rows`` rows is longer than it (the run is then one epoch of
        ``max_steps`` batches drawn from the whole table), else None: the cap holds on any table."""
        batch_size = self.batch_size
        return self.max_steps if self.max_steps is not None and rows // batch_size > self.max_steps else None

    def _inputs(self, X, reset: bool = False) -> Inputs:
        X = validate_table(self, X, reset=reset, impute=self.impute)
        raw = self.dacl_.preprocessed(X)
        features = encode(self.encoder_, raw, precision=self.precision)
        return Inputs(raw, features, self.encoder_, self.projection_, self.precision)

    def _settings(self, seed: int) -> Settings:
        return Settings(fine_tune_lrs=tuple(self.fine_tune_lrs), fine_tune_epochs=tuple(self.fine_tune_epochs),
                        logistic_cs=tuple(float(c) for c in self.logistic_cs), seed=seed)  # fmt: skip

    def _fit(self, X, targets: np.ndarray, labelled: np.ndarray, task: Task, X_unlabeled=None):
        """Pretrain on X (every row) and ``X_unlabeled``, then choose and fit on the labelled rows."""
        if X_unlabeled is not None:
            extra = validate_table(self, X_unlabeled, reset=False, impute=self.impute)
            if isinstance(X, pd.DataFrame) != isinstance(extra, pd.DataFrame):
                raise ValueError("X and X_unlabeled must both be DataFrames or both be arrays, with the same columns.")
            every = pd.concat([X, extra], ignore_index=True) if isinstance(X, pd.DataFrame) else np.vstack([X, extra])
        else:
            every = X
        unlabelled = len(every) - int(labelled.sum())
        if unlabelled < labelled.sum():
            warnings.warn(f"{int(labelled.sum())} labelled rows and only {unlabelled} unlabelled ones: pretraining "
                          "adds little over fitting on the labelled rows; pass more unlabelled rows "
                          "(X_unlabeled=, or rows of X marked unlabelled) where you have them.",
                          stacklevel=3)  # fmt: skip
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        threads = resolve_threads(self.n_jobs)
        self.fitted_with_ = self._fitted_with(threads)
        self.encoder_from_ = None  # _given_encoder says where a given encoder came from
        columns = column_names(X)
        with thread_limits(threads):
            if self.encoder is not None:  # pretrained once, elsewhere: its preprocessing and encoder
                self.dacl_ = self._given_encoder(columns)
                self._clock.mark("preprocessing")
            else:
                dacl = self._pretraining(len(every), seed, threads)
                self._clock.mark("preprocessing")
                self.dacl_ = dacl.fit(every, steps_per_epoch=self._epoch_cap(len(every)),
                                      time_limit=self._clock.pretraining())  # fmt: skip
                self._clock.mark("pretraining", self.dacl_.timings_)
            raw = self.dacl_.preprocessed(every)
        return self._choose(raw, np.flatnonzero(labelled), targets, task, seed, columns, unlabelled)

    def fit_files(self, files, label: str, *, ignore=(), buffer_rows: int = 262_144, sample_rows: int = 200_000):
        """``fit`` on Parquet (or CSV) files bigger than memory (a folder, a glob or a list; rows whose
        ``label`` cell is empty are the unlabelled ones): the encoder is pretrained on every row, streamed
        (``dacl.tables.stream``, preprocessing fitted on ``sample_rows`` rows spread over the files), then only
        the labelled rows are read into memory for the choice. ``ignore``: columns left out (an ID, a
        timestamp), as ``dacl fit --ignore``. The features' projection for k-NN is fitted on the labelled
        rows (in memory: on every row)."""
        from dacl.tables.stream import TableStream

        self._validate_params()
        _check_lists(self)
        self._clock = _Clock(self.time_limit)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        batch_size = self.batch_size
        stream = TableStream(files, batch_size, label=label, scale=self.scale, buffer_rows=buffer_rows,
                             sample_rows=sample_rows, ignore=tuple(ignore))  # fmt: skip
        X, y = stream.labelled_rows(label)
        X = validate_table(self, X, reset=True, impute=self.impute)
        labelled, targets, task = self._targets_of(y.to_numpy(), len(X))
        rows = np.flatnonzero(labelled)
        unlabelled = stream.rows - len(rows)
        if unlabelled < len(rows):
            warnings.warn(f"{len(rows)} labelled rows and only {unlabelled} unlabelled ones: pretraining adds little "
                          "over fitting on the labelled rows.", stacklevel=2)  # fmt: skip
        if self._epoch_cap(stream.rows):  # one epoch of max_steps batches drawn from all over the files
            stream = stream.with_steps_per_epoch(self.max_steps)
        self._clock.mark("preprocessing")
        threads = resolve_threads(self.n_jobs)
        self.fitted_with_ = self._fitted_with(threads)
        self.encoder_from_ = None  # _given_encoder says where a given encoder came from
        with thread_limits(threads):
            if self.encoder is not None:  # pretrained once, elsewhere: its preprocessing and encoder
                self.dacl_ = self._given_encoder(list(stream.columns))
            else:
                pretraining = self._pretraining(stream.rows, seed, threads)
                self.dacl_ = pretraining.fit_stream(stream, time_limit=self._clock.pretraining())
                self._clock.mark("pretraining")
            raw = self.dacl_.preprocessed(X)  # clipped as the stream clipped them
            sample = stream.unlabelled_sample(label, self._settings(seed).unlabelled_rows, seed)
            pool = (self.dacl_.preprocessed(validate_table(self, sample, reset=False, impute=self.impute))
                    if len(sample) else raw[:0])  # fmt: skip
        return self._choose(raw, rows, targets, task, seed, list(stream.columns), unlabelled, project_rows=rows,
                            pool=pool)  # fmt: skip

    def _choose(self, *args, **kwargs):
        """The choice after the pretraining (``_chosen``), in this process only (``alone``: its candidates
        train here); under torchrun every process pretrained its share and rank 0 alone chooses, the other
        ranks keeping the encoder only."""
        if is_distributed() and rank() != 0:
            self.encoder_, self.history_ = self.dacl_.encoder_, self.dacl_.history_
            return self
        with alone():
            return self._chosen(*args, **kwargs)

    def _chosen(self, raw, rows, targets, task, seed, columns, unlabelled, project_rows=None, pool=None):
        """Features of the preprocessed rows ``raw``; the choice and the fit on its labelled ``rows``, with a
        sample of the unlabelled rows (``Settings.unlabelled_rows``) for the candidates that use them: of
        ``raw``'s other rows, or ``pool`` (preprocessed rows given apart)."""
        self.encoder_ = self.dacl_.encoder_
        self.history_ = self.dacl_.history_
        clock = self._clock
        with thread_limits(resolve_threads(self.n_jobs)):  # sampled again: the machine may be busier now
            features = encode(self.encoder_, raw, precision=self.precision)  # bf16 where it pays, as in predict
            self.projection_ = Projection.fit(features if project_rows is None else features[project_rows], seed=seed)
            if pool is None:  # the unlabelled rows among raw's: a sample of them, drawn under the seed
                others = np.setdiff1d(np.arange(len(raw)), rows)
                pool = unlabelled_pool(others, seed, self._settings(seed).unlabelled_rows)
                pool_raw, pool_features = raw[pool], features[pool]
            else:  # given apart (streamed files: a sample read from them)
                pool_raw, pool_features = pool, encode(self.encoder_, pool, precision=self.precision)
            unlabelled_rows = Inputs(pool_raw, pool_features) if len(pool_raw) else None
            inputs = Inputs(raw[rows], features[rows], self.encoder_, self.projection_, self.precision,
                            unlabelled=unlabelled_rows)  # fmt: skip
            clock.mark("features")
            settings = self._settings(seed)
            try:
                selection = select(inputs, targets, task, tuple(self.candidates), settings, folds=self.cv,
                                   ensemble=self.ensemble, time_limit=clock.left(),
                                   progress=bool(self.verbose))  # fmt: skip
                clock.mark("choice")
                for note in selection.notes:
                    warnings.warn(f"cross-validation on the labelled rows: {note}.", stacklevel=3)
                with deadline(clock.deadline):
                    self.models_ = fit_chosen(inputs, targets, task, selection.choice.members, settings)
            except OutOfTime as error:  # the choice's own limit is what pretraining left: name the user's
                spent = clock.timings()
                raise ValueError(f"time_limit={self.time_limit:g} s is too short for any candidate ({error}): "
                                 f"pretraining took {spent.get('pretraining', 0):.1f} s of it and the features "
                                 f"{spent.get('features', 0):.1f} s; raise time_limit (dacl fit --time-limit), or "
                                 "leave it unset.") from None  # fmt: skip
            clock.mark("refit")
        self.selection_ = pd.DataFrame(selection.rows)
        self.chosen_ = {**selection.choice.to_dict(), "skipped": dict(selection.skipped)}
        self.timings_ = clock.timings()
        self.task_ = task
        self.columns_ = columns
        self.n_labelled_, self.n_unlabelled_ = len(rows), unlabelled
        return self

    def save(self, folder, *, label: str | None = None, overwrite: bool = False):
        """Write the fitted model to ``folder`` as data, not code (``dacl.tables.semisupervised.folder``): load it
        with ``dacl.load_predictor(folder)`` or ``dacl predict --model folder``."""
        from dacl.tables.semisupervised.folder import save_model

        check_is_fitted(self, "models_")
        return save_model(self, folder, label=label, overwrite=overwrite)

    def _predicted(self, X) -> np.ndarray:
        check_is_fitted(self, "models_")
        with thread_limits(resolve_threads(self.n_jobs)):
            return predict_chosen(self.models_, self._inputs(X))

    def fit_transform(self, X, y, X_unlabeled=None) -> np.ndarray:
        """``fit``, then the DACL features of X."""
        return self.fit(X, y, X_unlabeled=X_unlabeled).transform(X)

    def transform(self, X) -> np.ndarray:
        """The frozen DACL encoder's features of X, shape (n_samples, width), float32."""
        check_is_fitted(self, "models_")
        with thread_limits(resolve_threads(self.n_jobs)):
            return self._inputs(X).features

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.impute
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])  # transform: the DACL features
        tags.non_deterministic = self.random_state is None
        return tags


def _semi_constraints(with_unlabeled: bool) -> dict:
    return {
        **{parameter_of(f.name): _constraint(f) for f in options() if f.name in CONFIG_PARAMETERS},
        "alpha": [Real, None],
        "max_steps": [Interval(Integral, 1, None, closed="left"), None],
        "candidates": [list, tuple],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "ensemble": ["boolean"],
        "fine_tune_lrs": [list, tuple],
        "fine_tune_epochs": [list, tuple],
        "logistic_cs": [list, tuple],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
        "scale": [StrOptions({"minmax", "standard"})],
        "impute": ["boolean"],
        "one_hot_mixing": [StrOptions({"coordinates", "blocks"})],
        "random_state": ["random_state"],
        "verbose": ["boolean", "verbose"],
        "encoder": [None, str, os.PathLike, DACL, PretrainedRun],
        "encoder_cache": ["boolean", str, os.PathLike],
        "n_jobs": [Integral, None],
        **({"unlabeled_value": [Integral, str, None]} if with_unlabeled else {}),
    }


def _check_lists(estimator) -> None:
    """The list parameters: known candidates, positive learning rates and epochs."""
    unknown = [c for c in estimator.candidates if c not in CANDIDATES]
    if unknown or not estimator.candidates or len(set(estimator.candidates)) != len(estimator.candidates):
        raise ValueError(f"candidates must be distinct names of {', '.join(CANDIDATES)}; got "
                         f"{list(estimator.candidates)}.")  # fmt: skip
    if not estimator.fine_tune_lrs or not all(isinstance(v, int | float) and v > 0 for v in estimator.fine_tune_lrs):
        raise ValueError(f"fine_tune_lrs must be positive numbers, got {list(estimator.fine_tune_lrs)}.")
    epochs = estimator.fine_tune_epochs
    if not epochs or not all(isinstance(v, Integral) and v >= 1 for v in epochs):
        raise ValueError(f"fine_tune_epochs must be whole numbers >= 1, got {list(epochs)}.")
    cs = estimator.logistic_cs
    if not cs or len(set(cs)) != len(cs) or not all(isinstance(v, int | float) and v > 0 for v in cs):
        raise ValueError(f"logistic_cs must be distinct positive numbers, got {list(cs)}.")


def _differs(given: Any, recorded: Any) -> bool:
    """Whether a parameter's value differs from the one an encoder's record gives (a tuple read back as a list)."""
    if isinstance(given, list | tuple) and isinstance(recorded, list | tuple):
        return list(given) != list(recorded)
    return given != recorded


def _no_labelled_rows(what: str) -> ValueError:
    return ValueError(f"y has no labelled row ({what}); label at least two rows of each class (or two numbers) "
                      "to fit on, the rest may stay unlabelled.")  # fmt: skip


class DACLClassifier(ClassifierMixin, _SemiSupervised):
    """A classifier for a table whose rows are mostly unlabelled (Verma et al., ICML 2021, as a product).

        ``fit(X, y)``: rows whose label is ``unlabeled_value`` (-1) or missing are unlabelled; every row
        of X (and of ``X_unlabeled``) pretrains the DACL encoder; the model is then chosen on the labelled
        rows only by stratified cross-validation (``selection_``, ``chosen_``) and refitted on all of them.

        Parameters
        ----------
    {parameters}
        Attributes
        ----------
        classes_ : ndarray
            The classes seen among the labelled rows.
        selection_ : pandas.DataFrame
            Each candidate setting's mean held-out accuracy (``cv_accuracy``, ``cv_std``), fitting time, and
            which was chosen.
        chosen_ : dict
            The chosen model (a candidate, or ``ensemble`` of two or three), its members and why; ``skipped``: the
            candidates left out to keep within ``time_limit``, and why.
        dacl_ : dacl.DACL
            The preprocessing and the pretrained encoder.
        n_labelled_, n_unlabelled_ : int
            Rows with and without a label that were used.
        timings_ : dict
            Seconds of ``fit`` per phase: preprocessing, pretraining, features, choice (each candidate's
            in ``selection_``), refit, and the total.
    """

    _task_kind = CLASSIFICATION

    def __init__(
        self,
        method: str = "dacl+",
        epochs: int = 50,
        batch_size: int = 512,
        temperature: float = 0.5,
        mixup_alpha: float = 0.9,
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
        lr: float = 0.5,
        weight_decay: float = 1e-6,
        momentum: float = 0.9,
        warmup_epochs: float = 5.0,
        schedule: str = "cosine",
        precision: str = "auto",
        device: str = "cpu",
        compile: bool = False,
        sync_batchnorm: bool = True,
        max_steps: int | None = MAX_STEPS,
        candidates: tuple[str, ...] = tuple(CANDIDATES),
        cv: int = 5,
        ensemble: bool = True,
        fine_tune_lrs: tuple[float, ...] = (1e-4, 1e-3),
        fine_tune_epochs: tuple[int, ...] = (20, 50),
        logistic_cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0),
        time_limit: float | None = None,
        unlabeled_value: int | str | None = -1,
        scale: str = "minmax",
        impute: bool = True,
        one_hot_mixing: str = "coordinates",
        random_state: int | None = None,
        verbose: bool = False,
        encoder: str | None = None,
        encoder_cache: bool | str = True,
        n_jobs: int | None = None,
        alpha: float | None = None,
    ) -> None:
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _labels(self, y, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(labelled mask, labelled rows' labels) of y, with its checks."""
        if y is None:
            raise ValueError("DACLClassifier requires y to be passed, but the target y is None; mark unlabelled "
                             "rows with -1 or a missing value.")  # fmt: skip
        y = column_or_1d(as_written(y), warn=True)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} labels but X has {n} rows; give one label (or -1) per row.")
        series = pd.Series(y, dtype=object)
        unlabelled = series.isna().to_numpy().copy()
        if self.unlabeled_value is not None:
            unlabelled |= series.isin([self.unlabeled_value]).to_numpy()
        labelled = ~unlabelled
        if not labelled.any():
            raise _no_labelled_rows(f"every label is missing or {self.unlabeled_value!r}")
        values = y[labelled]
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind in ("mixed", "mixed-integer", "mixed-integer-float"):
            examples = list(dict.fromkeys(map(repr, values[:1000])))[:4]
            raise ValueError(f"the labels mix numbers and text ({', '.join(examples)}, ...); make them one type "
                             "(all text, or all numbers) before fitting.")  # fmt: skip
        if values.dtype == object:  # one type (checked above): text, or numbers held as objects
            values = values.astype({"string": str, "integer": np.int64, "floating": np.float64,
                                    "boolean": bool}.get(kind, object))  # fmt: skip
        if np.issubdtype(values.dtype, np.floating) and np.isinf(values).any():
            raise ValueError("y contains infinity; a class label must be a finite number or a text.")
        check_classification_targets(values)
        return labelled, values

    def fit(self, X, y, X_unlabeled=None):
        """Pretrain on every row of X (and ``X_unlabeled``), then choose and fit on the labelled rows."""
        self._validate_params()
        _check_lists(self)
        self._clock = _Clock(self.time_limit)
        X = validate_table(self, X, reset=True, impute=self.impute)
        if len(X) < 2:
            raise ValueError(f"DACLClassifier needs at least 2 samples, got 1 sample (X shape {np.shape(X)}).")
        labelled, targets, task = self._targets_of(y, len(X))
        return self._fit(X, targets, labelled, task, X_unlabeled)

    def _targets_of(self, y, n: int) -> tuple[np.ndarray, np.ndarray, Task]:
        """(labelled mask, class indices of the labelled rows, task) of y; sets ``classes_``."""
        labelled, values = self._labels(y, n)
        self.label_encoder_ = LabelEncoder().fit(values)
        self.classes_ = self.label_encoder_.classes_
        if len(self.classes_) < 2:
            hint = ""
            if self.unlabeled_value is not None and (~labelled).any():
                value = self.unlabeled_value
                hint = (f" Rows labelled {value!r} count as unlabelled (unlabeled_value={value!r}); if that is "
                        "a class of yours, pass unlabeled_value=None.")  # fmt: skip
            only = self.classes_[0].item() if isinstance(self.classes_[0], np.generic) else self.classes_[0]
            raise ValueError(f"the labelled rows hold only 1 class ({only!r}); a classifier needs at "
                             f"least 2 classes among the labelled rows.{hint}")  # fmt: skip
        return labelled, self.label_encoder_.transform(values), Task(CLASSIFICATION, len(self.classes_))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self._predicted(X)

    def predict(self, X) -> np.ndarray:
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on the rows of ``y`` that have a label: rows marked unlabelled (a missing value or
        ``unlabeled_value``), as ``fit`` reads them, are left out, never counted as wrong answers (so
        ``cross_val_score(model, X, y)`` on semi-supervised ``y`` scores the labelled rows of each fold)."""
        return super().score(*_labelled_rows(X, y, sample_weight, self.unlabeled_value))


class DACLRegressor(RegressorMixin, _SemiSupervised):
    """A regressor for a table whose rows mostly have no target (Verma et al., ICML 2021, as a product).

        ``fit(X, y)``: rows whose target is NaN are unlabelled; every row of X (and of ``X_unlabeled``)
        pretrains the DACL encoder; the model is then chosen on the labelled rows only by k-fold
        cross-validation of its mean squared error (``selection_``: R² and RMSE; ``chosen_``) and refitted
        on all of them.

        Parameters
        ----------
    {parameters}
        Attributes
        ----------
        selection_ : pandas.DataFrame
            Each candidate setting's mean held-out R² (``cv_r2``, ``cv_std``) and RMSE, fitting time, and
            which was chosen.
        chosen_ : dict
            The chosen model (a candidate, or ``ensemble`` of two or three), its members and why; ``skipped``: the
            candidates left out to keep within ``time_limit``, and why.
        dacl_ : dacl.DACL
            The preprocessing and the pretrained encoder.
        n_labelled_, n_unlabelled_ : int
            Rows with and without a target that were used.
        timings_ : dict
            Seconds of ``fit`` per phase: preprocessing, pretraining, features, choice (each candidate's
            in ``selection_``), refit, and the total.
    """

    _task_kind = REGRESSION

    def __init__(
        self,
        method: str = "dacl+",
        epochs: int = 50,
        batch_size: int = 512,
        temperature: float = 0.5,
        mixup_alpha: float = 0.9,
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
        lr: float = 0.5,
        weight_decay: float = 1e-6,
        momentum: float = 0.9,
        warmup_epochs: float = 5.0,
        schedule: str = "cosine",
        precision: str = "auto",
        device: str = "cpu",
        compile: bool = False,
        sync_batchnorm: bool = True,
        max_steps: int | None = MAX_STEPS,
        candidates: tuple[str, ...] = tuple(CANDIDATES),
        cv: int = 5,
        ensemble: bool = True,
        fine_tune_lrs: tuple[float, ...] = (1e-4, 1e-3),
        fine_tune_epochs: tuple[int, ...] = (20, 50),
        logistic_cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0),
        time_limit: float | None = None,
        scale: str = "minmax",
        impute: bool = True,
        one_hot_mixing: str = "coordinates",
        random_state: int | None = None,
        verbose: bool = False,
        encoder: str | None = None,
        encoder_cache: bool | str = True,
        n_jobs: int | None = None,
        alpha: float | None = None,
    ) -> None:
        for name, value in locals().items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _targets(self, y, n: int) -> tuple[np.ndarray, np.ndarray]:
        if y is None:
            raise ValueError("DACLRegressor requires y to be passed, but the target y is None; mark rows without "
                             "a target with NaN.")  # fmt: skip
        y = column_or_1d(as_written(y), warn=True)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} targets but X has {n} rows; give one number (or NaN) per row.")
        try:
            values = pd.to_numeric(pd.Series(y, dtype=object if y.dtype == object else None)).to_numpy(np.float64)
        except (ValueError, TypeError):
            text = [repr(v) for v in y[:1000] if isinstance(v, str)][:3]
            raise ValueError(f"DACLRegressor needs numeric targets, but y holds text ({', '.join(text)}); use "
                             "DACLClassifier for classes, or convert the column to numbers.") from None  # fmt: skip
        with np.errstate(invalid="ignore"):
            huge = np.abs(values) > LARGEST
        if huge.any():
            kind = "infinity" if np.isinf(values).any() else f"values too large to scale ({values[huge][0]:.3g})"
            raise ValueError(f"y contains {kind}; give finite targets below {LARGEST:.0e} in magnitude (NaN marks a "
                             "row without one).")  # fmt: skip
        labelled = ~np.isnan(values)
        if not labelled.any():
            raise _no_labelled_rows("every target is NaN")
        return labelled, values[labelled]

    def fit(self, X, y, X_unlabeled=None):
        """Pretrain on every row of X (and ``X_unlabeled``), then choose and fit on the rows with a target."""
        self._validate_params()
        _check_lists(self)
        self._clock = _Clock(self.time_limit)
        X = validate_table(self, X, reset=True, impute=self.impute)
        if len(X) < 2:
            raise ValueError(f"DACLRegressor needs at least 2 samples, got 1 sample (X shape {np.shape(X)}).")
        labelled, values, task = self._targets_of(y, len(X))
        return self._fit(X, values, labelled, task, X_unlabeled)

    def _targets_of(self, y, n: int) -> tuple[np.ndarray, np.ndarray, Task]:
        """(labelled mask, targets of the labelled rows, task) of y, with its checks."""
        labelled, values = self._targets(y, n)
        if labelled.sum() < 2:
            raise ValueError(f"y has {int(labelled.sum())} row with a target; a regressor needs at least 2.")
        return labelled, values, Task(REGRESSION)

    def predict(self, X) -> np.ndarray:
        return self._predicted(X)

    def score(self, X, y, sample_weight=None) -> float:
        """R² on the rows of ``y`` that have a target: rows whose target is missing (unlabelled, as ``fit``
        reads them) are left out."""
        return super().score(*_labelled_rows(X, y, sample_weight, None))


def as_written(y):
    """Labels or targets held in pandas (a Series, a one-column DataFrame, an array), nullable and categorical
    dtypes included, as a numpy array of their values as written: Int64 gives ints, boolean bools, string
    text, a categorical its categories' values, and every missing value (pd.NA, NaN, None) None. Anything
    else is returned as it is."""
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    if not isinstance(y, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        return y
    series = pd.Series(y)
    if not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        return series.to_numpy()
    values = series.astype(object)
    return values.where(series.notna(), None).to_numpy(dtype=object)


def _labelled_rows(X, y, sample_weight, marker) -> tuple:
    """(X, y, sample_weight) of the rows whose ``y`` is neither missing nor ``marker``; ValueError if none."""
    y = column_or_1d(as_written(y), warn=True)
    series = pd.Series(y, dtype=object)
    keep = series.notna().to_numpy().copy()
    if marker is not None:
        keep &= ~series.isin([marker]).to_numpy()
    if not keep.any():
        marks = "a missing value" + (f" or {marker!r}" if marker is not None else "")
        raise ValueError(f"y has no labelled row to score: every value is {marks}, which mark unlabelled rows.")
    if len(keep) != _num_rows(X):
        raise ValueError(f"y has {len(keep)} values but X has {_num_rows(X)} rows; give one per row.")
    rows = np.flatnonzero(keep)
    X = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
    values = pd.Series(np.asarray(y)[rows]).infer_objects().to_numpy()
    weights = None if sample_weight is None else np.asarray(sample_weight)[rows]
    return X, values, weights


def _num_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


for _cls, _unlabeled in ((DACLClassifier, True), (DACLRegressor, False)):
    _cls.__doc__ = _cls.__doc__.replace("{parameters}\n", _parameters_doc(_cls))
    _cls._parameter_constraints = _semi_constraints(_unlabeled)
