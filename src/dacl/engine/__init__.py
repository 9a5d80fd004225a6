"""The engine: one training loop for every domain and every user's model (``fit``), its batch
sources and its checkpoints."""

from dacl.engine.loop import Callback, PretrainResult, fit
from dacl.engine.sources import BatchSource, TensorSource

__all__ = ["BatchSource", "Callback", "PretrainResult", "TensorSource", "fit"]
