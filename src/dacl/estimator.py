"""scikit-learn estimator: DACL pretraining as a transformer (fit / transform / fit_transform).

Verma et al., "Towards Domain-Agnostic Contrastive Learning", ICML 2021.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from dacl.data.preprocess import check_no_infinite, make_preprocessor
from dacl.evaluate import encode
from dacl.train import PretrainConfig, pretrain

__all__ = ["DACL"]


class DACL(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Pretrain an encoder with DACL on a table and use its features.

    ``fit(X)`` fits the preprocessing (numeric columns imputed and scaled, categorical columns
    one-hot encoded), then pretrains an MLP encoder with ``method`` ("dacl+", "dacl", "dacl-geometric",
    "dacl-binary", "gaussian", "supervised" (needs y) or "none"); ``transform(X)`` returns the
    frozen encoder's features, shape (n_samples, width). Use it in a ``Pipeline`` before a linear
    classifier for the paper's linear evaluation protocol.

    The defaults are sized for a laptop (4 x 512 encoder); the paper's tabular set-up is
    ``depth=12, width=1024, batch_size=4096, epochs=1000``. See ``dacl.train.PretrainConfig`` for
    the meaning of each option.
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
        depth: int = 4,
        width: int = 512,
        head_depth: int = 3,
        projection_dim: int = 128,
        mix_at: int = 0,
        optimizer: str = "lars",
        lr: float = 0.1,
        weight_decay: float = 1e-6,
        warmup_epochs: float = 10.0,
        scale: str = "minmax",
        impute: bool = True,
        precision: str = "auto",
        device: str = "cpu",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.method = method
        self.epochs = epochs
        self.batch_size = batch_size
        self.temperature = temperature
        self.alpha = alpha
        self.beta = beta
        self.rho = rho
        self.sigma = sigma
        self.depth = depth
        self.width = width
        self.head_depth = head_depth
        self.projection_dim = projection_dim
        self.mix_at = mix_at
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.scale = scale
        self.impute = impute
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _config(self) -> PretrainConfig:
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        names = [
            "method", "epochs", "batch_size", "temperature", "alpha", "beta", "rho", "sigma", "depth",
            "width", "head_depth", "projection_dim", "mix_at", "optimizer", "lr", "weight_decay",
            "warmup_epochs", "precision", "device",
        ]  # fmt: skip
        return PretrainConfig(seed=seed, **{name: getattr(self, name) for name in names})

    def _validate(self, X, reset: bool):
        """Check X as scikit-learn does; DataFrames keep their column types for the preprocessor."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError("X has 0 samples; DACL needs at least 2.")
            check_no_infinite(X)
            if not self.impute and X.isna().to_numpy().any():
                raise ValueError("X contains missing values and impute=False; impute them or set impute=True.")
            return X
        X = validate_data(
            self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan" if self.impute else True
        )
        check_no_infinite(X)
        return X

    def fit(self, X, y=None):
        """Fit the preprocessing and pretrain the encoder on X (y is used by method='supervised' only)."""
        X = self._validate(X, reset=True)
        if X.shape[0] < 2:
            raise ValueError(f"DACL needs at least 2 samples to form a batch, got 1 sample (X shape {X.shape}).")
        config = self._config()
        self.preprocessor_ = make_preprocessor(X, self.scale, self.impute).fit(X)
        features = self.preprocessor_.transform(X).astype(np.float32)
        labels = None
        if config.method == "supervised":
            if y is None:
                raise ValueError("method='supervised' needs labels: call fit(X, y).")
            self.label_encoder_ = LabelEncoder().fit(y)
            labels = self.label_encoder_.transform(y)
        result = pretrain(features, config, labels, progress=self.verbose)
        self.model_ = result.model.cpu()
        self.encoder_ = self.model_.encoder
        self.history_ = result.history
        self._n_features_out = self.width
        return self

    def transform(self, X):
        """Encoder features h(x) of the preprocessed X, shape (n_samples, width), float32."""
        check_is_fitted(self, "encoder_")
        X = self._validate(X, reset=False)
        features = self.preprocessor_.transform(X).astype(np.float32)
        return encode(self.encoder_, features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.impute
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self.random_state is None
        return tags
