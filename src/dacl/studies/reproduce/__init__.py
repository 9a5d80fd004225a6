"""Reproductions of the paper's tables, one module each."""

from dacl.studies.runs import PLACEMENT_OPTIONS, experiment_options, run_key, stored_run

__all__ = ["PLACEMENT_OPTIONS", "experiment_options", "run_key", "stored_run"]
