"""The tables domain in one place: the encoders of a table (the paper's MLP, numeric embeddings, the
residual MLP), its readers (in memory and streamed), its preprocessing, the scikit-learn transformer
``DACL`` and the semi-supervised estimators (``semisupervised/``), through the one engine.

The verbs every domain shares: ``pretrain(X, config)``, ``load_model(folder)``, ``embed(model, X)``,
``load_data(name or file)``; ``pretrain_files`` streams Parquet/CSV files; ``read_table`` reads a CSV, Parquet
or NumPy file as features and labels. The names load on first use: what reads a table or a model folder's
record (``dacl predict`` through onnxruntime) never imports torch.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    **{name: "dacl.tables.train" for name in ("build", "embed", "embedded_columns", "encode", "load_data", "load_model",
                                              "mix_blocks_as_units", "pretrain", "pretrain_files", "table_encoder")},
    "read_table": "dacl.tables.files",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dacl.tables' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return __all__
