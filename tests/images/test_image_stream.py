"""The streamed image folder: every file once a pass, exact placement of an epoch in the passes, shards
that make up the global batch, exact resume through the engine, and the folder's faults named."""

import os
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from dacl.images import image_config, load_image_model, pretrain_folder, pretrain_images
from dacl.images import stream as image_stream
from dacl.images.folder import list_image_folder, read_image_folder
from dacl.images.stream import ImageFolderStream, Pixels
from helpers import Killed, kill_at


def write_folder(root, count=12, side=8, classes=("cat", "dog"), seed=0):
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count // len(classes)):
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def tiny(**options):
    values = {"resnet_width": 1 / 16, "epochs": 3, "batch_size": 4, "lr": 0.1, "warmup_epochs": 0,
              "precision": "float32", "method": "dacl"}  # fmt: skip
    return image_config(**(values | options))


def test_a_pass_decodes_every_file_once_as_the_in_memory_reader_does(tmp_path):
    root = write_folder(tmp_path / "imgs")
    stream = ImageFolderStream(root, 4, workers=0, with_labels=True)
    assert len(stream) == 3 and stream.samples == 12 and stream.shape == (3, 8, 8)
    batches = list(stream.epoch())
    images = torch.cat([b.images for b, _ in batches])
    labels = torch.cat([y for _, y in batches])
    index = torch.cat([torch.tensor(b) for b in stream.batches(0)])
    assert sorted(index.tolist()) == list(range(12))  # each file once
    memory = read_image_folder(root, cache_dir=tmp_path / "cache")
    assert torch.equal(images, memory.images[index]) and torch.equal(labels, memory.labels[index])
    x = batches[0][0].to("cpu")
    assert x.dtype == torch.float32 and torch.equal(x, batches[0][0].images.float() / 255)


def test_epochs_of_some_steps_go_on_through_the_passes_and_shards_make_the_global_batch(tmp_path):
    root = write_folder(tmp_path / "imgs", count=10)
    stream = ImageFolderStream(root, 4, workers=0, steps_per_epoch=1, seed=3)
    assert stream.pass_steps == 2 and len(stream) == 1
    first, second = stream.order(0), stream.order(1)
    assert not torch.equal(first, second)
    assert stream.batches(0) == [first[:4].tolist()] and stream.batches(1) == [first[4:8].tolist()]
    assert stream.batches(2) == [second[:4].tolist()]  # the two left over wait for the next pass's order
    halves = [stream.shard(rank, 2).batches(5) for rank in (0, 1)]
    assert halves[0][0] + halves[1][0] == stream.batches(5)[0]
    with pytest.raises(ValueError, match="not divisible"):
        stream.shard(0, 3)


def test_the_workers_decode_what_the_main_process_does(tmp_path):
    root = write_folder(tmp_path / "imgs")
    inline = [b.images for b, _ in ImageFolderStream(root, 4, workers=0).epoch()]
    pooled = [b.images for b, _ in ImageFolderStream(root, 4, workers=2).epoch()]
    assert all(torch.equal(a, b) for a, b in zip(inline, pooled, strict=True))


def test_a_streamed_run_resumes_exactly_and_matches_its_statistics(tmp_path):
    root = write_folder(tmp_path / "imgs", count=12)
    config = tiny()
    unbroken = pretrain_folder(root, config, workers=0, steps_per_epoch=2, checkpoint_dir=tmp_path / "a",
                               progress=False)  # fmt: skip
    with pytest.raises(Killed):
        pretrain_folder(root, config, workers=0, steps_per_epoch=2, checkpoint_dir=tmp_path / "b", checkpoint_every=1,
                        progress=False, callbacks=(kill_at(2),))  # fmt: skip
    resumed = pretrain_folder(root, config, workers=0, steps_per_epoch=2, checkpoint_dir=tmp_path / "b", resume=True,
                              progress=False)  # fmt: skip
    assert len(resumed.history) == 3
    for (name, a), b in zip(unbroken.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    loaded = load_image_model(tmp_path / "b")
    images = read_image_folder(root, cache_dir=tmp_path / "cache").images
    expected = (images.double() / 255).mean((0, 2, 3))
    assert loaded.encoder.mean.flatten().tolist() == pytest.approx(expected.tolist())


def test_a_streamed_run_trains_as_the_same_images_in_memory(tmp_path):
    """Streamed (whole passes) and in memory differ only in their batch order: both train to a finite
    loss, and the encoder's statistics agree."""
    root = write_folder(tmp_path / "imgs", count=12)
    streamed = pretrain_folder(root, tiny(epochs=2), workers=0, progress=False)
    memory = pretrain_images(read_image_folder(root, cache_dir=tmp_path / "c").images, tiny(epochs=2), progress=False)
    assert len(streamed.history) == len(memory.history) == 2
    assert all(np.isfinite(h["loss"]) for h in streamed.history)
    torch.testing.assert_close(streamed.encoder.mean, memory.encoder.mean)


def test_supervised_streams_carry_labels_and_sizes_are_resized(tmp_path):
    root = write_folder(tmp_path / "imgs", count=8, side=12)
    write_folder(tmp_path / "imgs", count=4, side=20, classes=("cat", "dog"), seed=1)  # overwrites 0-1 at 20 x 20
    with pytest.raises(ValueError, match="give image_size"):
        list(ImageFolderStream(root, 4, workers=0).epoch())
    result = pretrain_folder(root, tiny(method="supervised", image_size=10, epochs=1), workers=0, progress=False)
    assert [m for m in result.model.head.modules() if isinstance(m, torch.nn.Linear)][-1].out_features == 2


def test_a_removed_file_stops_the_next_epoch_and_an_added_one_is_named(tmp_path):
    root = write_folder(tmp_path / "imgs")
    stream = ImageFolderStream(root, 4, workers=0)
    list(stream.epoch())
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(root / "cat" / "new.png")
    with pytest.warns(UserWarning, match=r"1 image\(s\) were added"):
        list(stream.epoch())
    (root / "dog" / "0.png").unlink()
    with pytest.raises(FileNotFoundError, match="removed during the run"):
        next(stream.epoch())


def _dies_on_poison(path, mode, size=None):
    if path.name == "poison.png":
        os.kill(os.getpid(), signal.SIGKILL)
    return _decode(path, mode, size)


_decode = image_stream.decode_image


def test_a_dying_worker_stops_the_run_naming_its_file(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "imgs", count=8)
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(root / "cat" / "poison.png")
    monkeypatch.setattr(image_stream, "decode_image", _dies_on_poison)  # the forked workers inherit it
    stream = ImageFolderStream(root, 9, workers=1)
    with pytest.raises(RuntimeError, match="worker died .* while decoding .*poison.png"):
        list(stream.epoch())


def test_a_broken_file_is_named(tmp_path):
    root = write_folder(tmp_path / "imgs", count=8)
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    stream = ImageFolderStream(root, 9, workers=0)
    with pytest.raises(ValueError, match="cannot decode .*broken.jpg"):
        list(stream.epoch())


def test_bad_stream_settings_are_named(tmp_path):
    root = write_folder(tmp_path / "imgs")
    with pytest.raises(ValueError, match="larger than the 12 images"):
        ImageFolderStream(root, 13)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        ImageFolderStream(root, 4, steps_per_epoch=0)
    with pytest.raises(FileNotFoundError, match="no such image folder"):
        ImageFolderStream(tmp_path / "none", 4)
    assert isinstance(Pixels(torch.zeros(2, 1, 2, 2, dtype=torch.uint8)).to("cpu"), torch.Tensor)
    assert len(list_image_folder(root)[1]) == 12


def test_pretrain_streams_a_folder_from_the_command_line_on_its_training_split(tmp_path, capsys, monkeypatch):
    from dacl.cli import main
    from dacl.cli import pretrain as command
    from dacl.images.sets import training_files

    root = write_folder(tmp_path / "set", count=20, side=12)
    flags = ["pretrain", "--domain", "images", "--data", str(root), "--image-size", "8", "--method", "dacl",
             "--resnet-width", "0.0625", "--epochs", "1", "--batch-size", "4", "--warmup-epochs", "0",
             "--quiet"]  # fmt: skip
    assert main([*flags, "--stream", "--image-workers", "0", "--out", str(tmp_path / "a")]) == 0
    assert "(streamed)" in capsys.readouterr().out
    state = load_image_model(tmp_path / "a")
    assert state.encoder.mean.numel() == 3
    _, files = training_files(root)
    assert len(files) == 16  # the same 80% that the in-memory path trains on
    # chosen without --stream when the decoded images would not fit a quarter of memory
    monkeypatch.setattr(command, "_memory_bytes", lambda: 4 * 16 * 3 * 8 * 8 - 4)
    assert main([*flags, "--out", str(tmp_path / "b")]) == 0
    assert "(streamed)" in capsys.readouterr().out
    monkeypatch.undo()
    assert main([*flags, "--out", str(tmp_path / "c")]) == 0
    assert "(streamed)" not in capsys.readouterr().out
    assert main([*flags, "--image-workers", "2", "--out", str(tmp_path / "d")]) != 0
    assert "--image-workers apply to a streamed image folder only (--stream)" in capsys.readouterr().err
    assert (
        main(["pretrain", "--domain", "images", "--data", "fashion-mnist", "--stream", "--out", str(tmp_path / "e")])
        != 0
    )
    assert "is a dataset held in memory" in capsys.readouterr().err


def test_a_streamed_checkpoint_is_evaluated_batch_by_batch_as_in_memory(tmp_path, capsys):
    from dacl.cli import main
    from dacl.images import embed_folder, embed_images, scores_of_image_folder, scores_of_images
    from dacl.images.sets import load_image_dataset

    root = write_folder(tmp_path / "set", count=20, side=8)
    model = pretrain_folder(root, tiny(epochs=1), workers=0, checkpoint_dir=tmp_path / "run", progress=False)
    memory = load_image_dataset(root, cache_dir=tmp_path / "cache")
    features, labels = embed_folder(model, root, workers=1, batch_size=3)  # every file, in the listing's order
    memory_all = read_image_folder(root, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(features, embed_images(model, memory_all.images))
    assert labels.tolist() == memory_all.labels.tolist()
    assert scores_of_image_folder(model, root, workers=0) == pytest.approx(scores_of_images(model, memory))
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "scores")]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_a_broken_file_decoded_in_a_worker_is_named_in_the_workers_words(tmp_path):
    """Issue 36, class 8: the worker's message only, not torch's "Caught ValueError in DataLoader worker
    process 0. Original Traceback ..." around it."""
    root = write_folder(tmp_path / "imgs", count=8)
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    stream = ImageFolderStream(root, 9, workers=1)
    with pytest.raises(ValueError, match="cannot decode .*broken.jpg") as caught:
        list(stream.epoch())
    assert "DataLoader worker" not in str(caught.value) and "Traceback" not in str(caught.value)
