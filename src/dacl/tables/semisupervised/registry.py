"""The candidates a semi-supervised dacl estimator chooses between, by name: the one registry.

The models that see the labelled rows only live in ``dacl.tables.semisupervised.candidates``; those that
also use the unlabelled rows at choice time (label spreading, self-training) in
``dacl.tables.semisupervised.transductive``. This module builds on both, so neither imports the other's
registry: self-training is handed the registry's lookup of its base candidate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from dacl.tables.semisupervised.candidates import (
    TREE_FEATURES,
    Inputs,
    Settings,
    Task,
    fit_fine_tuned,
    fit_knn,
    linear_family,
    refit_fine_tuned,
    shared_between_encoders,
    trees_family,
)
from dacl.tables.semisupervised.transductive import (
    fit_self_trained,
    fit_spread_features,
    fit_spread_raw,
    refit_self_trained,
)

__all__ = ["CANDIDATES", "Candidate", "fitted_key"]


@dataclass(frozen=True)
class Candidate:
    """One model family: ``fit(inputs, y, task, settings)`` returns its fitted settings by name;
    ``refit`` (where given) fits one named setting alone (fine-tuning: only that run)."""

    name: str
    description: str
    fit: Callable[..., dict[str, Any]]
    uses_encoder: bool
    refit: Callable[..., Any] | None = field(default=None)
    uses_unlabelled: bool = False  # sees ``Inputs.unlabelled`` (left out where there are none)
    classification_only: bool = False

    def fit_setting(self, inputs: Inputs, y: np.ndarray, task: Task, settings: Settings, setting: str) -> Any:
        """One setting fitted on these rows, or the model fitted before on the same rows, labels and
        settings (``remember``): the fits are seeded, so it is the model a new fit gives (self-training
        starts from its base's fit of the same fold; the refit of a chosen ensemble fits a member that is
        also self-training's base once)."""
        key = fitted_key(self.name, setting, y, settings)
        if key not in inputs.cache:
            if self.refit is not None:
                self.remember(inputs, y, settings, {setting: self.refit(inputs, y, task, settings, setting)})
            else:
                self.remember(inputs, y, settings, self.fit(inputs, y, task, settings))
        return inputs.cache[key]

    def remember(self, inputs: Inputs, y: np.ndarray, settings: Settings, fitted: dict[str, Any]) -> None:
        """Keep ``fitted`` (this candidate's settings fitted on ``inputs``, ``y``) for :meth:`fit_setting`."""
        for setting, model in fitted.items():
            inputs.cache[fitted_key(self.name, setting, y, settings)] = model


def fitted_key(candidate: str, setting: str, y: np.ndarray, settings: Settings) -> tuple[str, ...]:
    """What a fit of one setting depends on besides the rows: the candidate, the setting, the labels and
    the settings (but the base of self-training, which only self-training reads)."""
    labels = hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()
    return ("fitted", candidate, setting, labels, repr(replace(settings, self_train_base=None)))


def _setting_fit(candidate: str) -> Callable[..., Any]:
    """``fit_setting`` of the candidate registered under that name, looked up when self-training runs."""
    return CANDIDATES[candidate].fit_setting


_PROBE, _LINEAR_RAW = linear_family("features"), linear_family("X")
CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate("probe", "linear head on the frozen DACL features", _PROBE[0], True, _PROBE[1]),
        Candidate("knn", "k-nearest neighbours (cosine) on the frozen DACL features", fit_knn, True),
        Candidate("fine-tune", "the DACL encoder and a linear head trained end to end", fit_fine_tuned, True,
                  refit_fine_tuned),
        Candidate("linear-raw", "logistic regression (classes) or ridge (numbers) on the raw columns",
                  shared_between_encoders("linear-raw", _LINEAR_RAW[0]), False, _LINEAR_RAW[1]),
        Candidate("gbdt-raw", "gradient-boosted trees on the raw columns",
                  shared_between_encoders("gbdt-raw", trees_family(False)), False),
        Candidate("gbdt-raw+features", "gradient-boosted trees on the raw columns and the DACL features' top "
                  f"{TREE_FEATURES} principal components",
                  trees_family(True), True),
        Candidate("spread", "label spreading over the DACL features' k-NN graph of the labelled and unlabelled "
                  "rows", fit_spread_features, True, uses_unlabelled=True),
        Candidate("spread-raw", "label spreading over the raw columns' k-NN graph of the labelled and unlabelled "
                  "rows", fit_spread_raw, False, uses_unlabelled=True),
        Candidate("self-train", "self-training: the choice's best cheap candidate refitted with its confident "
                  "predictions on the unlabelled rows", partial(fit_self_trained, base_fit=_setting_fit), True,
                  partial(refit_self_trained, base_fit=_setting_fit), uses_unlabelled=True,
                  classification_only=True),
    )
}  # fmt: skip
