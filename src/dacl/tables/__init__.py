"""The tables domain in one place: the encoders of a table (the paper's MLP, numeric embeddings, the
residual MLP), its readers (in memory and streamed), its preprocessing, the scikit-learn transformer
``DACL`` and the semi-supervised estimators (``semisupervised/``), through the one engine.

The verbs every domain shares: ``pretrain(X, config)``, ``load_model(folder)``, ``embed(model, X)``,
``load_data(name or file)``; ``pretrain_files`` streams Parquet/CSV files; ``read_table`` reads a CSV, Parquet
or NumPy file as features and labels.
"""

from typing import Any

from dacl.tables.train import (
    build,
    embed,
    embedded_columns,
    encode,
    load_data,
    load_model,
    mix_blocks_as_units,
    pretrain,
    pretrain_files,
    table_encoder,
)

__all__ = ["build", "embed", "embedded_columns", "encode", "load_data", "load_model", "mix_blocks_as_units", "pretrain",
           "pretrain_files", "read_table", "table_encoder"]  # fmt: skip


def __getattr__(name: str) -> Any:
    """``read_table`` on first use: ``import dacl.tables`` stays free of pandas (``dacl.pretrain`` is torch only)."""
    if name == "read_table":
        from dacl.tables.files import read_table

        return read_table
    raise AttributeError(f"module 'dacl.tables' has no attribute {name!r}")
