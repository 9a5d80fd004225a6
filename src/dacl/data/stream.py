"""Tables bigger than memory: Parquet files streamed row group by row group (CSV files file by
file), with a bounded shuffle buffer, through the preprocessing of ``dacl.data.preprocess``, in one
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
- Reading and preprocessing run in a background thread one row group ahead of training.
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

from dacl.data.preprocess import make_preprocessor
from dacl.engine.sources import check_shardable

__all__ = ["TableStream", "table_files"]

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


class TableStream:
    """Shuffled batches of ``batch_size`` preprocessed rows streamed from Parquet (or CSV) files (a
    source of :func:`dacl.engine.fit`; ``shard`` splits the row groups between processes)."""

    def __init__(
        self,
        files: str | Path | list,
        batch_size: int,
        *,
        label: str | None = None,
        scale: str = "minmax",
        buffer_rows: int = 262_144,
        sample_rows: int = 200_000,
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
            elif not file_schema.equals(schema):
                raise ValueError(f"{file} has other columns than {self.files[0]}; every file needs the same columns.")
            self.groups += groups
        self.columns = [name for name in schema.names if name != label]
        if label is not None and label not in schema.names:
            raise ValueError(f"label column {label!r} is not in {self.files[0]} (columns: {', '.join(schema.names)}).")
        self.rows = sum(g.rows for g in self.groups)
        if buffer_rows < batch_size:
            raise ValueError(f"buffer_rows ({buffer_rows}) must hold at least one batch ({batch_size} rows).")
        self.batch_size, self.buffer_rows, self.scale = batch_size, buffer_rows, scale
        self.preprocessor = self._fit(sample_rows)
        self.in_features = int(self._load(self.groups[0], limit=1).shape[1])
        self.rank, self.world = 0, 1
        self._assign()

    def _fit(self, sample_rows: int):
        """The preprocessing fitted on row groups spread evenly over the data, up to ``sample_rows`` rows."""
        import pandas as pd

        wanted = min(len(self.groups), -(-sample_rows * len(self.groups) // max(self.rows, 1)))
        spread = np.unique(np.linspace(0, len(self.groups) - 1, num=max(wanted, 1)).round().astype(int))
        parts = [self._read(self.groups[i]) for i in spread]
        sample = pd.concat(parts, ignore_index=True).iloc[:sample_rows]
        return make_preprocessor(sample, self.scale).fit(sample)

    def _read(self, group: _RowGroup):
        if self.csv:
            import pyarrow.csv as pv

            options = pv.ConvertOptions(include_columns=self.columns)
            return pv.read_csv(group.file, convert_options=options).to_pandas()
        import pyarrow.parquet as pq

        return pq.ParquetFile(group.file).read_row_group(group.index, columns=self.columns).to_pandas()

    def _load(self, group: _RowGroup, limit: int | None = None) -> Tensor:
        frame = self._read(group)
        values = self.preprocessor.transform(frame if limit is None else frame.iloc[:limit]).astype(np.float32)
        if self.scale == "minmax":
            np.clip(values, 0.0, 1.0, out=values)  # values beyond the sample's range
        return torch.from_numpy(values)

    def _assign(self) -> None:
        """Row groups to processes, balanced by rows (largest first to the lightest share)."""
        shares: list[list[_RowGroup]] = [[] for _ in range(self.world)]
        rows = [0] * self.world
        for group in sorted(self.groups, key=lambda g: (-g.rows, str(g.file), g.index)):
            lightest = rows.index(min(rows))
            shares[lightest].append(group)
            rows[lightest] += group.rows
        self.share = shares[self.rank]
        self.local = check_shardable(self.batch_size, self.world)
        self.steps = min(rows) // self.local
        self.samples = self.steps * self.batch_size

    def __len__(self) -> int:
        return self.steps

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


def _parquet_units(file: Path):
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(file)
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
