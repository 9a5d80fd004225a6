"""A ``dacl pretrain`` run on a table, read back as the estimators' pretraining: its encoder and the
preprocessing its checkpoint records, so that ``DACLClassifier(encoder=RUN)`` / ``dacl fit --encoder RUN``
choose on an encoder pretrained once (on any number of processes or machines, streamed or in memory).

The checkpoint is read as data (``dacl.engine.checkpoint``: JSON and safetensors); the preprocessing is the
run's own (``dacl.tables.saved_preprocessing``), applied to a table by column name, so a table whose columns
differ from the run's is refused with the names that differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from dacl.config import PretrainConfig
from dacl.tables.saved_preprocessing import SavedPreprocessing

__all__ = ["PretrainedRun", "check_same_columns"]


class PretrainedRun:
    """The encoder of the ``dacl pretrain`` run in ``folder`` and its preprocessing, with the interface of a
    fitted ``dacl.DACL`` that the estimators read: ``preprocessed``, ``encoder_``, ``history_``,
    ``saved_preprocessing``, ``pretraining_options``."""

    def __init__(self, folder: str | Path) -> None:
        from dacl.engine.checkpoint import read_state
        from dacl.tables.train import load_model

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ValueError(f"encoder {folder} is not a folder; give the --out folder of a dacl pretrain run.")
        state = read_state(self.folder)
        if state.get("domain", "tables") != "tables":
            raise ValueError(f"encoder {folder} is a run on {state.get('domain')}, not on a table.")
        if state.get("encoder"):
            raise ValueError(f"encoder {folder} was pretrained with your own encoder ({state['encoder']}); the "
                             "estimators rebuild dacl's encoders only.")  # fmt: skip
        metadata = state.get("metadata") or {}
        if "preprocessing" not in metadata:
            raise ValueError(f"encoder {folder} records no preprocessing of its table (a run on a registered dataset, "
                             "or by an earlier dacl); pretrain on your table file with this dacl: dacl pretrain "
                             "--data FILE --out RUN.")  # fmt: skip
        recorded = dict(metadata["preprocessing"])
        if "files" in metadata:  # a streamed run clips min-max values beyond its sample's range, as the stream did
            recorded["clip"] = metadata.get("scale", "minmax") == "minmax"
        self.preprocessing = SavedPreprocessing.from_dict(recorded)
        if self.preprocessing.width != state.get("in_features"):
            raise ValueError(f"encoder {folder}: its preprocessing gives {self.preprocessing.width} columns but its "
                             f"encoder takes {state.get('in_features')}; the run is damaged.")  # fmt: skip
        result = load_model(self.folder)
        self.config: PretrainConfig = result.config
        self.encoder_: nn.Module = result.encoder.eval()
        self.history_ = list(result.history)
        self.clip_ = self.preprocessing.clip
        self.rows_ = metadata.get("rows")

    @property
    def columns(self) -> list[str]:
        return self.preprocessing.columns

    def preprocessed(self, X: Any, what: str = "X") -> np.ndarray:
        """The encoder's inputs for a table: the run's preprocessing, by column name."""
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X), columns=self._names(X))
        return self.preprocessing.transform(frame, what)

    def _names(self, X: Any) -> list[str]:
        width = np.shape(X)[1]
        return self.columns if width == len(self.columns) else [str(i) for i in range(width)]

    def saved_preprocessing(self, columns: list[str]) -> SavedPreprocessing:
        return self.preprocessing

    def pretraining_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.to_dict().items() if k != "seed"}


def check_same_columns(run_columns: list[str], given: list[str], what: str, run: str) -> None:
    """A table fitted on a given encoder has exactly the run's columns (in any order): name those missing
    and those the encoder never saw."""
    missing = [c for c in run_columns if c not in given]
    extra = [c for c in given if c not in run_columns]
    if missing or extra:
        said = []
        if missing:
            said.append(f"lacks {', '.join(map(repr, missing[:10]))}" + (" ..." if len(missing) > 10 else ""))
        if extra:
            said.append(f"has {', '.join(map(repr, extra[:10]))}" + (" ..." if len(extra) > 10 else "")
                        + " that the encoder was not pretrained on")  # fmt: skip
        raise ValueError(f"{what} {' and '.join(said)} ({run}); give the table the encoder was pretrained on "
                         "(dacl fit --ignore drops columns), or pretrain on this one.")  # fmt: skip
