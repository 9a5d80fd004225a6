"""Streaming Parquet: every row once per epoch, across processes without duplicates, a bounded buffer,
the preprocessing fitted on a sample, exact resume, and the errors of a bad set of files."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from dacl import PretrainConfig
from dacl.tables import pretrain_files
from dacl.tables.stream import TableStream


def write_files(folder, files=4, rows=400, group=100, seed=0):
    """Files whose column ``id`` numbers every row; ``kind`` is categorical; ``y`` a label."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for f in range(files):
        ids = np.arange(f * rows, (f + 1) * rows)
        frame = pd.DataFrame({"id": ids.astype(float), "x": rng.random(rows), "kind": rng.choice(["a", "b"], rows),
                              "y": ids % 3})  # fmt: skip
        pq.write_table(pa.Table.from_pandas(frame), folder / f"part-{f}.parquet", row_group_size=group)
    return files * rows


def ids_of(batch, total):
    return (batch[:, 0] * (total - 1)).round().long()  # min-max scaled ids back to integers


def test_every_row_once_per_epoch_shuffled_across_row_groups(tmp_path):
    total = write_files(tmp_path / "d")
    source = TableStream(str(tmp_path / "d" / "*.parquet"), 80, label="y", buffer_rows=300)
    assert (len(source), source.samples, source.rows) == (20, 1600, 1600)
    assert source.in_features == 4  # id, x and the two one-hot columns of kind; y left out
    batches = [b for b, _ in source.epoch(torch.Generator().manual_seed(0))]
    ids = torch.cat([ids_of(b, total) for b in batches])
    assert sorted(ids.tolist()) == list(range(total))
    groups = {int(i) // 100 for i in ids_of(batches[0], total)}
    assert len(groups) > 1  # a batch mixes row groups
    again = [b for b, _ in source.epoch(torch.Generator().manual_seed(0))]
    assert all(torch.equal(a, b) for a, b in zip(batches, again))  # the same seed, the same stream
    other = next(source.epoch(torch.Generator().manual_seed(1)))[0]
    assert not torch.equal(other, batches[0])


def test_processes_read_their_own_row_groups_and_together_every_row_once(tmp_path):
    total = write_files(tmp_path / "d")
    source = TableStream(tmp_path / "d", 80, label="y", buffer_rows=300)
    seen = []
    for rank in range(2):
        shard = source.shard(rank, 2)
        assert len(shard) == 20 and {g.file for g in shard.share} <= set(source.files)
        batches = [b for b, _ in shard.epoch(torch.Generator().manual_seed(5))]
        assert len(batches) == 20 and all(len(b) == 40 for b in batches)  # half of each global batch
        seen.append(torch.cat([ids_of(b, total) for b in batches]))
    assert not set(seen[0].tolist()) & set(seen[1].tolist())
    assert sorted(torch.cat(seen).tolist()) == list(range(total))
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        source.shard(0, 3)


def test_preprocessing_from_a_sample_clips_to_the_unit_range(tmp_path):
    write_files(tmp_path / "d", files=2)
    source = TableStream(tmp_path / "d", 50, label="y", sample_rows=100)  # ids of the sample: part of the range
    batches = torch.cat([b for b, _ in source.epoch(torch.Generator().manual_seed(0))])
    assert batches.min() >= 0 and batches.max() <= 1
    assert set(batches[:, 2:].sum(1).tolist()) == {1.0}  # one-hot kind


def test_bad_files_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Parquet or CSV files"):
        TableStream(str(tmp_path / "*.parquet"), 10)
    write_files(tmp_path / "d", files=1)
    with pytest.raises(ValueError, match="label column 'target'"):
        TableStream(tmp_path / "d", 10, label="target")
    with pytest.raises(ValueError, match="buffer_rows"):
        TableStream(tmp_path / "d", 64, buffer_rows=32)
    pq.write_table(pa.table({"other": [1.0, 2.0]}), tmp_path / "d" / "z.parquet")
    with pytest.raises(ValueError, match="same columns"):
        TableStream(tmp_path / "d", 10)
    with pytest.raises(FileNotFoundError, match="missing"):
        TableStream([tmp_path / "d" / "part-0.parquet", tmp_path / "gone.parquet"], 10)


def test_pretrain_files_trains_and_resumes_exactly(tmp_path):
    write_files(tmp_path / "d")
    config = PretrainConfig(method="dacl+", depth=2, width=16, head_depth=2, projection_dim=8, epochs=3,
                            batch_size=80, warmup_epochs=0, precision="float32")  # fmt: skip
    options = dict(label="y", buffer_rows=300, progress=False)
    unbroken = pretrain_files(tmp_path / "d", config, checkpoint_dir=tmp_path / "a", **options)
    assert len(unbroken.history) == 3 and unbroken.history[0]["samples_per_s"] > 0

    def stop(epoch, record, method):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain_files(tmp_path / "d", config, checkpoint_dir=tmp_path / "b", checkpoint_every=1, callbacks=(stop,),
                       **options)  # fmt: skip
    resumed = pretrain_files(tmp_path / "d", config, checkpoint_dir=tmp_path / "b", resume=True, **options)
    for (name, a), b in zip(unbroken.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="without labels"):
        pretrain_files(tmp_path / "d", PretrainConfig(method="supervised"), label="y")


def test_csv_files_stream_file_by_file(tmp_path):
    write_files(tmp_path / "p", files=3)
    (tmp_path / "c").mkdir()
    for path in sorted((tmp_path / "p").glob("*.parquet")):
        pq.read_table(path).to_pandas().to_csv(tmp_path / "c" / f"{path.stem}.csv", index=False)
    source = TableStream(tmp_path / "c", 60, label="y", buffer_rows=300)
    assert source.rows == 1200 and len(source.groups) == 3 and source.in_features == 4
    ids = torch.cat([ids_of(b, 1200) for b, _ in source.epoch(torch.Generator().manual_seed(0))])
    assert sorted(ids.tolist()) == list(range(1200))
    (tmp_path / "c" / "extra.parquet").write_bytes(b"")
    with pytest.raises(ValueError, match="all be .parquet or all .csv"):
        TableStream(tmp_path / "c", 60)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_numeric_columns_from_arrow_equal_scikit_learns_transform(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=500), "n": rng.integers(0, 9, 500).astype("int64"),
                          "kind": rng.choice(["u", "v", "w"], 500), "empty": np.nan})  # fmt: skip
    frame.loc[rng.choice(500, 60, replace=False), "a"] = np.nan
    (tmp_path / "d").mkdir()
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "d" / "part.parquet", row_group_size=128)
    for scale in ("minmax", "standard"):
        source = TableStream(tmp_path / "d", 32, scale=scale, sample_rows=200)
        table = pq.ParquetFile(tmp_path / "d" / "part.parquet").read_row_group(2)
        expected = source.preprocessor.transform(table.to_pandas()).astype(np.float32)
        if scale == "minmax":
            np.clip(expected, 0, 1, out=expected)
        got = source._load(source.groups[2]).numpy()
        assert source.numeric.names == ["a", "n"]  # the all-missing column is dropped, as the imputer does
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_steps_per_epoch_ends_an_epoch_early_with_distinct_rows(tmp_path):
    total = write_files(tmp_path / "d")
    source = TableStream(tmp_path / "d", 80, label="y", buffer_rows=300, steps_per_epoch=5)
    assert len(source) == 5 and len(source.shard(1, 2)) == 5
    epochs = [torch.cat([ids_of(b, total) for b, _ in source.epoch(torch.Generator().manual_seed(s))]) for s in (0, 1)]
    assert all(len(ids) == 400 and len(set(ids.tolist())) == 400 for ids in epochs)  # without replacement
    assert set(epochs[0].tolist()) != set(epochs[1].tolist())  # another epoch, other row groups first
    with pytest.raises(ValueError, match="steps_per_epoch"):
        TableStream(tmp_path / "d", 80, steps_per_epoch=0)


def test_a_streamed_checkpoint_is_evaluated_with_its_own_preprocessing_on_its_folder(tmp_path, capsys):
    """The stream fitted its preprocessing on a sample of every file; evaluating on one file must reuse it
    (was: refitted on the evaluation split, so the encoder saw other numbers than in training)."""
    from dacl.cli import main
    from dacl.engine.checkpoint import read_state
    from dacl.tables.saved_preprocessing import SavedPreprocessing

    write_files(tmp_path / "parts")
    out = tmp_path / "enc"
    args = ["pretrain", "--data", str(tmp_path / "parts"), "--label", "y", "--depth", "1", "--width", "8",
            "--epochs", "1", "--batch-size", "64", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    saved = SavedPreprocessing.from_dict(read_state(out)["metadata"]["preprocessing"])
    assert saved.columns == ["id", "x", "kind"] and saved.numeric[0]["scale"] == pytest.approx(1 / 1599)
    # the folder it was trained on is accepted as --data (read into memory for the probe)
    assert main(["evaluate", "--checkpoint", str(out), "--data", str(tmp_path / "parts"), "--label", "y",
                 "--out", str(tmp_path / "scores")]) == 0  # fmt: skip
    # one file of it: its ids scaled by the stream's range (0..1599), not refitted to this file's (0..399)
    from dacl.data import load_dataset
    from dacl.studies.experiment import prepare_features

    one = load_dataset(tmp_path / "parts" / "part-0.parquet", label="y")
    features = prepare_features(one, saved=saved)
    assert features.X_train[:, 0].max() <= 400 / 1599 + 1e-6
    assert main(["evaluate", "--checkpoint", str(out), "--data", str(tmp_path / "parts" / "part-0.parquet"),
                 "--label", "y"]) == 0  # fmt: skip


def test_a_stream_takes_boolean_columns_and_names_date_columns(tmp_path):
    frame = pd.DataFrame({"x": np.arange(200.0), "flag": np.arange(200) % 2 == 0})
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "a.parquet", row_group_size=50)
    stream = TableStream([tmp_path / "a.parquet"], batch_size=32)
    batch, _ = next(iter(stream.epoch(torch.Generator().manual_seed(0))))
    assert set(batch[:, 1].tolist()) <= {0.0, 1.0}
    dated = frame.assign(when=pd.date_range("2020-01-01", periods=200))
    pq.write_table(pa.Table.from_pandas(dated), tmp_path / "b.parquet")
    with pytest.raises(ValueError, match="'when' of .* hold dates or times"):
        TableStream([tmp_path / "b.parquet"], batch_size=32)


def test_files_with_the_same_columns_in_another_order_or_integer_for_float_stream_together(tmp_path):
    first = pd.DataFrame({"x": np.arange(100.0), "kind": ["a", "b"] * 50})
    second = pd.DataFrame({"kind": ["b", "a"] * 50, "x": np.arange(100, 200)})  # reordered, int64 not double
    pq.write_table(pa.Table.from_pandas(first), tmp_path / "a.parquet")
    pq.write_table(pa.Table.from_pandas(second), tmp_path / "b.parquet")
    stream = TableStream([tmp_path / "a.parquet", tmp_path / "b.parquet"], batch_size=50)  # was: "has other columns"
    rows = torch.cat([b for b, _ in stream.epoch(torch.Generator().manual_seed(0))])
    assert rows.shape == (200, 3) and torch.isclose(rows[:, 0].sort().values, torch.linspace(0, 1, 200)).all()
    third = pd.DataFrame({"x": ["1"] * 100, "size": np.ones(100)})
    pq.write_table(pa.Table.from_pandas(third), tmp_path / "c.parquet")
    with pytest.raises(
        ValueError, match=r"lacks \['kind'\]; adds \['size'\]; has other types for x \(\w*string, not number"
    ):
        TableStream([tmp_path / "a.parquet", tmp_path / "c.parquet"], batch_size=50)


def test_more_processes_than_row_groups_says_so(tmp_path):
    write_files(tmp_path / "one", files=1, rows=400, group=400)  # one row group
    stream = TableStream(tmp_path / "one", batch_size=64)
    with pytest.raises(ValueError, match="2 processes share 1 row group"):  # was: "lower batch_size"
        stream.shard(1, 2)


def test_labelled_rows_leave_out_null_nan_and_empty_text_labels_as_pandas_does(tmp_path):
    """A float label column written from NumPy keeps NaN as a value (not null); pyarrow reads an empty CSV
    cell of a text column as "": neither is a label, as in memory (pandas reads all three as missing)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=200).astype(np.float32)
    number = np.where(np.arange(200) % 4 == 0, 1.0, np.nan)  # 50 labelled rows
    number[1] = None
    pq.write_table(pa.table({"x": x, "y": number}), tmp_path / "numbers.parquet", row_group_size=64)
    assert pq.read_table(tmp_path / "numbers.parquet")["y"].null_count == 0  # NaN stays a value here
    X, y = TableStream([tmp_path / "numbers.parquet"], 16, label="y").labelled_rows("y")
    assert len(X) == len(y) == 50 and list(X.columns) == ["x"] and (y == 1.0).all()
    text = np.where(np.arange(200) % 5 == 0, "yes", "")
    text[3] = " "
    (tmp_path / "csv").mkdir()
    pd.DataFrame({"x": x, "y": text}).to_csv(tmp_path / "csv" / "part.csv", index=False)
    X, y = TableStream(tmp_path / "csv", 16, label="y").labelled_rows("y")
    in_memory = pd.read_csv(tmp_path / "csv" / "part.csv", skipinitialspace=True)["y"]
    assert len(y) == 40 == in_memory.notna().sum() and set(y) == {"yes"}


def test_a_streamed_numeric_embedding_embeds_only_the_numeric_columns(tmp_path):
    # as pretrain on a table in memory and the estimators: kind's one-hot columns enter the MLP as they are
    write_files(tmp_path / "d")
    config = PretrainConfig(method="dacl+", depth=1, width=8, head_depth=1, projection_dim=4, epochs=1,
                            batch_size=80, warmup_epochs=0, precision="float32", numeric_embedding="periodic",
                            embedding_size=4)  # fmt: skip
    result = pretrain_files(tmp_path / "d", config, label="y", buffer_rows=300, progress=False)
    embedding = result.encoder.embedding
    assert embedding.numeric.tolist() == [True, True, False, False]  # id, x; kind=a, kind=b
    assert embedding.out_features == 2 * 4 + 2  # two columns x embedding_size (PLR), then the one-hot pair


def test_a_streamed_value_too_large_to_scale_is_refused_naming_the_column():
    """float32 would make 1e308 infinite and the training NaN: refused as at fit (issue 36, class 3)."""
    import pyarrow as pa

    from dacl.tables.stream import NumericColumns

    columns = NumericColumns(["a", "b"], None, np.ones(2), np.zeros(2))
    assert columns.transform(pa.table({"a": [1.0, 2.0], "b": [3.0, 4.0]})).shape == (2, 2)
    with pytest.raises(ValueError, match="column 'b' of the streamed table holds 1e.308, too large to scale"):
        columns.transform(pa.table({"a": [1.0, 2.0], "b": [3.0, 1e308]}))


def test_streamed_columns_are_scaled_in_float64_and_checked_before_the_cast():
    """Issue 45, class 4: a column around 1e8 that varies by units kept its variation only if scaled before
    the float32 cast (float32's step at 1e8 is 8); a value past the network's bound is named; min-max
    values are clipped first (in float64), so a huge one is 1, never infinite."""
    from dacl.tables.stream import NumericColumns

    offset = 1e8 + np.arange(10.0)
    columns = NumericColumns(["a"], None, np.array([1 / 9]), np.array([-1e8 / 9]))
    scaled = columns.transform(pa.table({"a": offset}))[:, 0]
    np.testing.assert_allclose(scaled, np.arange(10) / 9, atol=1e-6)  # ten values, not one or two
    with pytest.raises(ValueError, match=r"column 'a' of the streamed table holds 1e\+20 at row 1"):
        columns.transform(pa.table({"a": [1e8, 1e20]}))
    assert columns.transform(pa.table({"a": [1e8, 1e20]}), clip=True)[1, 0] == 1.0
