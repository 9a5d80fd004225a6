"""Several processes (gloo, CPU) against one: the same loss per epoch and the same weights, with the
views fixed so that the comparison checks the gradients (a world-size factor, a missing gather, BatchNorm
over a share instead of the global batch would all show); resume after a stop; bad configurations."""

import json
import os

import pytest
import torch
import torch.multiprocessing as mp

from distributed_worker import process, train


def spawn(tmp_path, task, world=2, name="run"):
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    init = tmp_path / f"init-{name}-{task}"
    mp.spawn(process, args=(world, str(init), str(out), task), nprocs=world, join=True)
    return out


def outcome(folder):
    return torch.load(folder / "weights.pt"), json.loads((folder / "history.json").read_text())


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    folder = tmp_path_factory.mktemp("single")
    train(folder)
    return outcome(folder)


def assert_same(two, one, atol=2e-5):
    (weights2, history2), (weights1, history1) = two, one
    assert [h["loss"] for h in history2] == pytest.approx([h["loss"] for h in history1], abs=1e-5)
    for name, value in weights1.items():
        torch.testing.assert_close(weights2[name].float(), value.float(), atol=atol, rtol=1e-4, msg=name)


def test_two_processes_with_half_batches_equal_one_process_with_the_global_batch(tmp_path, single):
    assert_same(outcome(spawn(tmp_path, "train")), single)
    # control: the comparison can fail. BatchNorm over each process's share gives other weights.
    weights, _ = outcome(spawn(tmp_path, "no-sync", name="nosync"))
    assert any(not torch.allclose(weights[k].float(), v.float(), atol=1e-4) for k, v in single[0].items())


def test_a_distributed_run_stopped_in_the_middle_resumes_exactly(tmp_path, single):
    out = spawn(tmp_path, "stop")
    saved = json.loads((out / "checkpoints" / "checkpoint.json").read_text())
    assert saved["epoch"] == 2 and not (out / "weights.pt").exists()
    spawn(tmp_path, "resume")
    assert_same(outcome(out), single)


def test_a_global_batch_that_the_processes_cannot_share_is_refused(tmp_path):
    with pytest.raises(Exception, match="not divisible by the 2 processes"):
        spawn(tmp_path, "odd-batch")


def test_one_process_is_unchanged_without_a_process_group():
    assert "WORLD_SIZE" not in os.environ or os.environ["WORLD_SIZE"] == "1"
    from dacl.core.distributed import is_distributed, rank, world_size

    assert (world_size(), rank(), is_distributed()) == (1, 0, False)


def test_images_streamed_images_and_graphs_train_in_two_processes(tmp_path):
    out = spawn(tmp_path, "domains")
    for domain in ("images", "image-stream", "graphs"):
        saved = json.loads((out / domain / "checkpoint.json").read_text())
        assert saved["epoch"] == 2 and all(h["loss"] == h["loss"] for h in saved["history"]), domain
