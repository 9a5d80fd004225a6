"""Tables bigger than memory: Parquet files streamed row group by row group (CSV files file by
file), with a bounded shuffle buffer, through the preprocessing of ``dacl.tables.preprocess``, in one
process or many.

- **Preprocessing** is fitted on a sample (``sample_rows``, read from row groups spread evenly over
  the files), not on a pass over all the data: a pass costs a whole extra epoch of reading before
  training starts, and the median, minimum, maximum and categories of a few hundred thousand rows are
  those of the data for all practical purposes. Min-max scaled values outside the sample's range are
  clipped to [0, 1], so inputs stay non-negative for geometric mixup and DACL+.
- **Shuffling**: each epoch the process's row groups are read in a random order into a buffer of
  ``buffer_rows`` rows (plus one row group being added), the buffer is shuffled and batches are cut
  from it, keeping half of it to mix with the next row groups. Memory stays bounded whatever the data
  size; rows far apart in the files meet in a batch only through the row-group order.
- **Processes**: the row groups are split once between processes, balanced by rows, each process
  reading only its own; every process yields the same number of batches per epoch (that of the
  smallest share), so that collective operations stay in step. A row is read at most once per epoch;
  rows beyond the smallest share's whole batches wait for the next epoch's order.
- ``steps_per_epoch`` ends an epoch early (a checkpoint at most that many steps apart, for data
  whose pass takes hours): each epoch then reads the row groups in a fresh random order and stops
  after that many batches, so rows are sampled without replacement within an epoch, not once each.
- Reading and preprocessing run in a background thread one row group ahead of training. Numeric
  columns go from Arrow straight to one float32 array, imputed and scaled with the fitted statistics
  in place (:class:`NumericColumns`); only categorical columns pass through pandas and scikit-learn.
  On two cores the reader shares the CPU with training, so its cost per row is training's loss.
- CSV files have no row groups: a file is the unit read at once (memory: the buffer plus two files;
  split a large CSV into files, or convert it to Parquet), and their rows are counted by one pass of
  pyarrow's streaming reader when the source is made.
"""

from __future__ import annotations

import copy
import glob
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dacl.engine.sources import check_shardable
from dacl.tables.files import label_values
from dacl.tables.preprocess import LARGEST, check_scaled, make_preprocessor, normalized_table

__all__ = ["NumericColumns", "TableStream", "has_label", "table_files"]

SUFFIXES = (".parquet", ".csv")  # all files of a stream are one kind


def table_files(pattern: str | Path) -> list[Path]:
    """The Parquet or CSV files of a folder, a glob pattern (``'data/*.parquet'``) or one file, sorted."""
    path = Path(pattern)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
    elif any(ch in str(pattern) for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(pattern)))
    else:
        files = [path] if path.is_file() else []
    if not files:
        raise FileNotFoundError(
            f"no Parquet or CSV files at {pattern}: give a folder of .parquet (or .csv) files, a glob or a file."
        )
    kinds = {p.suffix.lower() for p in files}
    if len(kinds) > 1 or not kinds <= set(SUFFIXES):
        raise ValueError(f"the files at {pattern} must all be .parquet or all .csv, got {', '.join(sorted(kinds))}.")
    return files


@dataclass(frozen=True)
class _RowGroup:
    file: Path
    index: int
    rows: int


def has_label(column):
    """Arrow's mask of the cells that hold a label: not null, not NaN (a float column written from NumPy
    keeps NaN as a value, not as null) and not the empty string (pyarrow reads an empty CSV cell of a text
    column as ""); as pandas reads the same file into memory, where all three are missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = pc.is_valid(column)
    if pa.types.is_floating(column.type):
        keep = pc.and_(keep, pc.invert(pc.fill_null(pc.is_nan(column), True)))
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        keep = pc.and_(keep, pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(column), ""), False))
    return keep


class TableStream:
    """Shuffled batches of ``batch_size`` preprocessed rows streamed from Parquet (or CSV) files (a
    source of :func:`dacl.engine.fit`; ``shard`` splits the row groups between processes). ``label`` and
    the ``ignore`` columns (an ID, a timestamp) are left out of the rows."""

    def __init__(
        self,
        files: str | Path | list,
        batch_size: int,
        *,
        label: str | None = None,
        scale: str = "minmax",
        buffer_rows: int = 262_144,
        sample_rows: int = 200_000,
        steps_per_epoch: int | None = None,
        ignore: tuple[str, ...] = (),
    ) -> None:
        self.files = table_files(files) if isinstance(files, str | Path) else [Path(f) for f in files]
        missing = [str(f) for f in self.files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"file(s) missing: {', '.join(missing[:3])}; every process needs them all.")
        self.csv = self.files[0].suffix.lower() == ".csv"
        self.groups: list[_RowGroup] = []
        schema = None
        for file in self.files:
            file_schema, groups = _csv_units(file) if self.csv else _parquet_units(file)
            if schema is None:
                schema = file_schema
            else:
                _check_same_columns(schema, file_schema, self.files[0], file)
            self.groups += groups
        unknown = [name for name in ignore if name not in schema.names]
        if unknown:
            raise ValueError(f"--ignore names column(s) {', '.join(map(repr, unknown))} that {self.files[0]} does "
                             f"not have (columns: {', '.join(schema.names)}).")  # fmt: skip
        if label is not None and label in ignore:
            raise ValueError(f"the label column {label!r} cannot be ignored; leave it out of --ignore.")
        self.columns = [name for name in schema.names if name != label and name not in ignore]
        self.label = label
        import pyarrow as pa

        temporal = [f.name for f in schema if pa.types.is_temporal(f.type) and f.name in self.columns]
        if temporal:
            raise ValueError(
                f"column(s) {', '.join(map(repr, temporal))} of {self.files[0]} hold dates or times, which a stream "
                "does not convert; write them as numbers (e.g. days since a date) or drop them, or read the table "
                "into memory (dates become days since 1970 there)."
            )
        if label is not None and label not in schema.names:
            raise ValueError(f"label column {label!r} is not in {self.files[0]} (columns: {', '.join(schema.names)}).")
        self.rows = sum(g.rows for g in self.groups)
        if buffer_rows < batch_size:
            raise ValueError(f"buffer_rows ({buffer_rows}) must hold at least one batch ({batch_size} rows).")
        if steps_per_epoch is not None and steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive number of steps, got {steps_per_epoch}.")
        self.batch_size, self.buffer_rows, self.scale = batch_size, buffer_rows, scale
        self.steps_per_epoch = steps_per_epoch
        self.preprocessor = self._fit(sample_rows)
        fitted = {name: (pipeline, positions) for name, pipeline, positions in self.preprocessor.transformers_}
        self.numeric = NumericColumns.from_fitted(*fitted["numeric"], self.columns) if "numeric" in fitted else None
        self.categorical = fitted.get("categorical")  # (pipeline, positions) or None
        self.in_features = int(self._load(self.groups[0], limit=1).shape[1])
        self.rank, self.world = 0, 1
        self._assign()

    def _fit(self, sample_rows: int):
        """The preprocessing fitted on row groups spread evenly over the data, up to ``sample_rows`` rows."""
        import pandas as pd

        wanted = min(len(self.groups), -(-sample_rows * len(self.groups) // max(self.rows, 1)))
        spread = np.unique(np.linspace(0, len(self.groups) - 1, num=max(wanted, 1)).round().astype(int))
        parts = [self._read(self.groups[i]) for i in spread]
        sample = normalized_table(pd.concat(parts, ignore_index=True).iloc[:sample_rows], str(self.files[0]))
        return make_preprocessor(sample, self.scale).fit(sample)

    def _read(self, group: _RowGroup):
        return self._read_arrow(group).to_pandas()

    def _read_arrow(self, group: _RowGroup, columns: list[str] | None = None):
        """One unit (a Parquet row group, a CSV file) as an Arrow table of ``columns`` (default: the stream's)."""
        columns = self.columns if columns is None else columns
        if self.csv:
            import pyarrow as pa
            import pyarrow.csv as pv

            text = {self.label: pa.string()} if self.label in columns else {}  # the label as written (label_values)
            return pv.read_csv(group.file, convert_options=pv.ConvertOptions(include_columns=columns,
                                                                            column_types=text))  # fmt: skip
        import pyarrow.parquet as pq

        return pq.ParquetFile(group.file).read_row_group(group.index, columns=columns)

    def _load(self, group: _RowGroup, limit: int | None = None) -> Tensor:
        table = self._read_arrow(group)
        if limit is not None:
            table = table.slice(0, limit)
        values = self.numeric.transform(table, clip=self.scale == "minmax") if self.numeric else None
        rest = self._categorical_values(table)
        values = rest if values is None else values if rest is None else np.hstack([values, rest])
        if self.scale == "minmax":
            np.clip(values, 0.0, 1.0, out=values)  # values beyond the sample's range
        return torch.from_numpy(values)

    def _categorical_values(self, table) -> np.ndarray | None:
        """The categorical columns of ``table`` through the fitted scikit-learn pipeline (pandas)."""
        if not self.categorical:
            return None
        pipeline, positions = self.categorical
        frame = table.select([self.columns[i] for i in positions]).to_pandas()
        return pipeline.transform(frame).astype(np.float32)

    def labelled_rows(self, label: str):
        """The rows whose ``label`` cell is not empty, read row group by row group (only they are kept), as a
        DataFrame of the stream's columns and the label (for ``dacl fit`` on files bigger than memory)."""
        import pandas as pd

        if label is None or label != self.label:
            raise ValueError(f"label column {label!r} is not in the stream's files as its label ({self.label!r}); "
                             "make the stream with label=COLUMN and read the rows with a label by it.")  # fmt: skip
        parts = []
        for group in self.groups:
            table = self._read_arrow(group, [*self.columns, label])
            parts.append(table.filter(has_label(table[label])).to_pandas())
        frame = pd.concat(parts, ignore_index=True)
        labels = label_values(frame[label].to_numpy(dtype=object))  # one rule with the in-memory reader
        keep = np.array([v is not None for v in labels], dtype=bool)  # numbers: NaN written as text is no label
        labels = labels[keep]
        if len(labels) and not any(isinstance(v, str) for v in labels):  # numbers; whole ones as integers,
            numbers = labels.astype(np.float64)  # as pandas gives a column of them in memory
            labels = numbers.astype(np.int64) if np.all(numbers == np.round(numbers)) else numbers
        return frame.loc[keep, self.columns].reset_index(drop=True), pd.Series(labels, name=label)

    def unlabelled_sample(self, label: str, size: int, seed: int = 0):
        """At most ``size`` rows whose ``label`` cell is empty, spread over the files: each row group gives
        its share (in proportion to its rows), drawn under ``seed``; a DataFrame of the stream's columns. Only
        the sampled rows are kept in memory (for the choice's candidates that use unlabelled rows)."""
        import pandas as pd
        import pyarrow.compute as pc

        if label is None or label != self.label:
            raise ValueError(f"label column {label!r} is not in the stream's files as its label ({self.label!r}).")
        # each group's unlabelled rows, from the label column alone
        counts = [int(pc.sum(pc.invert(has_label(self._read_arrow(g, [label])[label]))).as_py() or 0)
                  for g in self.groups]  # fmt: skip
        share = min(1.0, size / max(sum(counts), 1))
        rng = np.random.default_rng(seed)
        parts = []
        for group, count in zip(self.groups, counts):
            if count == 0:
                continue
            table = self._read_arrow(group, [*self.columns, label])
            table = table.filter(pc.invert(has_label(table[label])))
            take = min(table.num_rows, int(np.ceil(share * table.num_rows)))
            if take:
                rows = np.sort(rng.choice(table.num_rows, take, replace=False))
                parts.append(table.take(rows).select(self.columns).to_pandas())
        if not parts:
            return pd.DataFrame(columns=self.columns)
        frame = pd.concat(parts, ignore_index=True)
        if len(frame) > size:
            frame = frame.iloc[np.sort(rng.choice(len(frame), size, replace=False))].reset_index(drop=True)
        return frame

    def _assign(self) -> None:
        """Row groups to processes, balanced by rows (largest first to the lightest share)."""
        shares: list[list[_RowGroup]] = [[] for _ in range(self.world)]
        rows = [0] * self.world
        for group in sorted(self.groups, key=lambda g: (-g.rows, str(g.file), g.index)):
            lightest = rows.index(min(rows))
            shares[lightest].append(group)
            rows[lightest] += group.rows
        self.share = shares[self.rank]
        if self.world > len(self.groups):
            files = ", ".join(map(str, self.files[:3]))
            raise ValueError(
                f"{self.world} processes share {len(self.groups)} row group(s) of {files}: "
                "each process reads whole row groups, so some would have none; write the files with more row groups "
                "(pyarrow.parquet.write_table(..., row_group_size=N)), or split them, or use fewer processes."
            )
        self.local = check_shardable(self.batch_size, self.world)
        self.steps = min(rows) // self.local
        if self.steps_per_epoch is not None:
            self.steps = min(self.steps, self.steps_per_epoch)
        self.samples = self.steps * self.batch_size

    def __len__(self) -> int:
        return self.steps

    def with_steps_per_epoch(self, steps: int) -> TableStream:
        """This stream with epochs of at most ``steps`` batches (as ``steps_per_epoch``)."""
        if steps < 1:
            raise ValueError(f"steps_per_epoch must be a positive number of steps, got {steps}.")
        capped = copy.copy(self)
        capped.steps_per_epoch = steps
        capped._assign()
        return capped

    def shard(self, rank: int, world: int) -> TableStream:
        """Process ``rank`` of ``world``: its own row groups and its share of every batch."""
        shard = copy.copy(self)
        shard.rank, shard.world = rank, world
        shard._assign()
        return shard

    def _chunks(self, groups: list[_RowGroup]):
        """Preprocessed row groups in order, read one ahead in a background thread."""
        with ThreadPoolExecutor(1) as pool:
            pending = deque(pool.submit(self._load, g) for g in groups[:2])
            for following in groups[2:] + [None]:
                chunk = pending.popleft().result()
                if following is not None:
                    pending.append(pool.submit(self._load, following))
                yield chunk
            while pending:
                yield pending.popleft().result()

    def epoch(self, generator: torch.Generator) -> Any:
        # one draw from the run's generator (equal in every process) seeds this process's stream, so
        # a resumed run reads the same order without saving the reader's state
        seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
        local = torch.Generator().manual_seed(seed + self.rank)
        order = torch.randperm(len(self.share), generator=local).tolist()
        buffer = torch.empty(0, self.in_features)
        emitted = 0
        chunks = self._chunks([self.share[i] for i in order])
        done = False
        while emitted < self.steps:
            while len(buffer) < self.buffer_rows and not done:
                chunk = next(chunks, None)
                done = chunk is None
                if chunk is not None:
                    buffer = torch.cat([buffer, chunk])
            buffer = buffer[torch.randperm(len(buffer), generator=local)]
            keep = 0 if done else max(0, min(self.buffer_rows // 2, len(buffer) - self.local))
            usable = max(len(buffer) - keep, 0) // self.local * self.local
            if usable == 0 and done:
                break
            for start in range(0, usable, self.local):
                if emitted == self.steps:
                    break
                yield buffer[start : start + self.local], None
                emitted += 1
            buffer = buffer[usable:]
        chunks.close()


def _check_same_columns(first, other, first_file: Path, file: Path) -> None:
    """Files of one stream need the same columns, in any order; a column may be integer in one file and
    floating in another (both numbers). Anything else is refused, naming the differing columns."""
    import pyarrow as pa

    def kind(t):
        return "number" if pa.types.is_integer(t) or pa.types.is_floating(t) else str(t)

    a, b = {f.name: kind(f.type) for f in first}, {f.name: kind(f.type) for f in other}
    lacks, adds = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    differ = sorted(n for n in set(a) & set(b) if a[n] != b[n])
    if lacks or adds or differ:
        types = ", ".join(f"{n} ({b[n]}, not {a[n]})" for n in differ)
        parts = [f"lacks {lacks}" if lacks else "", f"adds {adds}" if adds else "",
                 f"has other types for {types}" if differ else ""]  # fmt: skip
        raise ValueError(f"{file} {'; '.join(p for p in parts if p)} against {first_file}; every file of a stream "
                         "needs the same columns (in any order).")  # fmt: skip


class NumericColumns:
    """The fitted numeric part of ``dacl.tables.preprocess.make_preprocessor`` (median imputation, then
    min-max or standard scaling) applied to Arrow columns without pandas: NaN replaced by the medians,
    then ``x * scale + offset`` in float64, checked against the network's bound (``check_scaled``), cast to
    float32. Equal to scikit-learn's transform to float32 rounding (tests/test_stream.py)."""

    def __init__(self, names: list[str], medians: np.ndarray | None, scale: np.ndarray, offset: np.ndarray):
        self.names = names
        self.medians = None if medians is None else medians.astype(np.float64)
        self.scale, self.offset = scale.astype(np.float64), offset.astype(np.float64)

    @classmethod
    def from_fitted(cls, pipeline, positions: list[int], columns: list[str]) -> NumericColumns:
        """From the fitted numeric pipeline of the ColumnTransformer and its columns' positions."""
        steps = dict(pipeline.steps)
        names = [columns[i] for i in positions]
        medians = steps["impute"].statistics_ if "impute" in steps else None
        if medians is not None and np.isnan(medians).any():  # empty in the sample: the imputer drops them
            kept = ~np.isnan(medians)
            names, medians = [n for n, k in zip(names, kept) if k], medians[kept]
        scaler = steps["scale"]
        if hasattr(scaler, "data_min_"):  # MinMaxScaler: x * scale_ + min_
            scale, offset = scaler.scale_, scaler.min_
        else:  # StandardScaler: (x - mean_) / scale_
            scale = 1.0 / scaler.scale_
            offset = -scaler.mean_ * scale
        return cls(names, medians, scale, offset)

    def transform(self, table, clip: bool = False) -> np.ndarray:
        """The scaled float32 columns of an Arrow ``table``; ``clip``: min-max values beyond the sample's
        range clipped to [0, 1] (in float64, before the check: a clipped value is never too large)."""
        values = np.empty((table.num_rows, len(self.names)), dtype=np.float32)
        for j, name in enumerate(self.names):
            column = table.column(name)
            if column.null_count or column.type == "bool":  # booleans as 0/1, as normalized_table makes them
                column = column.cast("float64")
            numbers = column.to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                huge = np.abs(numbers) > LARGEST  # inf included: float32 would make them inf, training NaN
            if huge.any():
                raise ValueError(f"column {name!r} of the streamed table holds {numbers[huge][0]:.3g}, too large to "
                                 f"scale (the limit: {LARGEST:.0e} in magnitude); replace it (NaN is imputed) or "
                                 "divide the column by a power of ten first.")  # fmt: skip
            if self.medians is not None:
                numbers = np.where(np.isnan(numbers), self.medians[j], numbers)
            scaled = numbers * self.scale[j] + self.offset[j]  # in float64, then cast: no digit lost before
            if clip:
                np.clip(scaled, 0.0, 1.0, out=scaled)
            check_scaled(scaled[:, None], [name], "the streamed table", numbers[:, None])  # issue 45, class 4
            values[:, j] = scaled
        return values


def _parquet_units(file: Path):
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(file)
    except Exception as error:  # pyarrow's ArrowInvalid: not a Parquet file, or a damaged one
        raise ValueError(f"cannot read {file} as Parquet: {error}") from None
    return meta.schema_arrow, [
        _RowGroup(file, i, meta.metadata.row_group(i).num_rows) for i in range(meta.num_row_groups)
    ]


def _csv_units(file: Path):
    """A CSV file's schema and its rows, counted by one streaming pass (one unit: the file)."""
    import pyarrow.csv as pv

    try:
        reader = pv.open_csv(file)
        rows = sum(batch.num_rows for batch in reader)
    except Exception as error:  # pyarrow's ArrowInvalid and friends: a file that is not CSV
        raise ValueError(f"cannot read {file} as CSV: {error}") from None
    return reader.schema, [_RowGroup(file, 0, rows)]
