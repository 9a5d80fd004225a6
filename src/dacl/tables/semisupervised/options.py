"""The semi-supervised estimators' own options and defaults, in a module that imports nothing heavy:
the CLI builds its flags from it without loading scikit-learn."""

from __future__ import annotations

__all__ = [
    "CANDIDATE_NAMES",
    "MAX_STEPS",
    "PRETRAINING_DEFAULTS",
    "PRETRAINING_SHARE",
    "SEMI_DEFAULTS",
    "SEMI_PARAMETERS",
    "UNLABELLED_CANDIDATES",
]

# The candidates, in the order of dacl.tables.semisupervised.registry.CANDIDATES (tested to agree).
# the candidates that use the unlabelled rows at choice time (Candidate.uses_unlabelled; tested to agree)
UNLABELLED_CANDIDATES = ("spread", "spread-raw", "self-train")
CANDIDATE_NAMES = ("probe", "knn", "fine-tune", "linear-raw", "gbdt-raw", "gbdt-raw+features", "spread", "spread-raw",
                   "self-train")

# The pretraining the estimators default to: the label study's ``small`` budget (docs/results/labels.md),
# where DACL pays off with few labels: a 4 x 512 encoder, batch 512, LARS lr 0.5, 50 epochs but at most
# ``MAX_STEPS`` steps, warm-up 5 epochs but at most a third of the run. 500 steps since issue 34 (1,500
# before): on 14 cells of the label study the encoder's probe scored 0.14 point below 1,500 steps' and the
# estimator 0.9 above, at a third of the pretraining (docs/results/speed.md, "The semi-supervised fit"); a
# 4 x 256 encoder was 1.7 points below on the probe (6 on mnist-test at 1%) and was not taken.
PRETRAINING_DEFAULTS = {"depth": 4, "width": 512, "batch_size": 512, "lr": 0.5, "epochs": 50, "warmup_epochs": 5.0}
MAX_STEPS = 500

SEMI_DEFAULTS = {"max_steps": MAX_STEPS, "candidates": CANDIDATE_NAMES, "cv": 5, "ensemble": True,
                 "fine_tune_lrs": (1e-4, 1e-3), "fine_tune_epochs": (20, 50),
                 "logistic_cs": (0.01, 0.1, 1.0, 10.0), "time_limit": None}  # fmt: skip
PRETRAINING_SHARE = 0.5  # of a time limit, the most that pretraining may take (the choice and refit the rest)
SEMI_PARAMETERS = {
    "max_steps": ("int or None, default=500", "Most pretraining steps: ``epochs`` is lowered on large tables "
                  "(and the warm-up to at most a third of the run), and where one pass is longer, the run is one "
                  "epoch of ``max_steps`` batches drawn from the whole table; None keeps ``epochs``."),
    "candidates": ("tuple of str, default=all", "The models to choose between: 'probe' (a linear head on the "
                   "frozen DACL features), 'knn' (cosine k-nearest neighbours on them), 'fine-tune' (the encoder "
                   "and a linear head trained end to end), 'linear-raw' (logistic regression or ridge on the raw "
                   "columns), 'gbdt-raw' (gradient-boosted trees on the raw columns), 'gbdt-raw+features' (the "
                   "trees on the raw columns and the DACL features' top principal components); and three that "
                   "use the unlabelled rows at choice time too: 'spread' (label spreading over the DACL "
                   "features' k-NN graph), 'spread-raw' (the same on the raw columns), 'self-train' (the best "
                   "cheap candidate refitted with its confident predictions on the unlabelled rows; classes "
                   "only)."),
    "cv": ("int, default=5", "Folds of the cross-validation on the labelled rows (fewer where the rarest class "
           "has fewer rows; repeated 3 times under 300 labelled rows, the candidates far behind after the first "
           "repeat not fitted again; at most 3 from 1,000; one 80/20 split from 10,000)."),
    "ensemble": ("bool, default=True", "Also score the average of the best candidates' probabilities or "
                 "predictions (the two best, and a third within one standard error of the best), and choose it "
                 "unless the best candidate alone scores over 1 point higher; False: the best candidate alone."),
    "fine_tune_lrs": ("tuple of float, default=(1e-4, 1e-3)", "Fine-tuning learning rates (AdamW) to choose from."),
    "fine_tune_epochs": ("tuple of int, default=(20, 50)", "Fine-tuning epochs to choose from (each capped at "
                         "1,000 steps of 256 rows)."),
    "logistic_cs": ("tuple of float, default=(0.01, 0.1, 1.0, 10.0)", "Inverse penalties C of logistic regression "
                    "(the probe and linear-raw on classes) to choose from; (1.0,) fixes scikit-learn's default. "
                    "Ridge (numbers) chooses its penalty by leave-one-out error."),
    "time_limit": ("float or None, default=None", "Seconds the whole fit may take (10% slack), as AutoGluon's "
                   "time_limit: pretraining is shortened to at most half of it (its schedule fitted to the shorter "
                   "run), the choice cross-validates the cheap candidates first and leaves out those whose folds "
                   "would not fit (``chosen_['skipped']``), keeping time to refit the best. None: no limit."),
}  # fmt: skip
