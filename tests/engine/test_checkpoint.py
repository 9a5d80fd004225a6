"""Checkpoints: atomic, code-free, checked before they are trusted, the previous one kept."""

import numpy as np
import pytest
import torch

from dacl import PretrainConfig, load_model, pretrain
from dacl.engine.checkpoint import CHECKPOINT_FILE, PREVIOUS_FILE, DamagedCheckpoint, find_checkpoint, read_state
from helpers import Killed, kill_at

TINY = dict(depth=2, width=16, head_depth=2, projection_dim=8, batch_size=16, warmup_epochs=1)


@pytest.fixture
def X():
    return np.random.default_rng(0).random((64, 10), dtype=np.float32)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_the_previous_checkpoint_is_kept_beside_the_newest(X, tmp_path):
    pretrain(X, PretrainConfig(method="dacl", epochs=3, **TINY), checkpoint_dir=tmp_path, checkpoint_every=1,
             progress=False)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", PREVIOUS_FILE, CHECKPOINT_FILE]
    assert read_state(tmp_path)["epoch"] == 3 and read_state(tmp_path / PREVIOUS_FILE)["epoch"] == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_resume_after_a_damaged_newest_checkpoint_continues_from_the_previous(X, tmp_path, damage):
    config = PretrainConfig(method="dacl+", epochs=5, **TINY)
    unbroken = pretrain(X, config, progress=False)
    with pytest.raises(Killed):
        pretrain(X, config, checkpoint_dir=tmp_path, checkpoint_every=1, callbacks=(kill_at(3),), progress=False)
    newest = tmp_path / CHECKPOINT_FILE
    if damage == "truncate":  # a disk that filled up, a copy cut short
        newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    elif damage == "garbage":
        newest.write_bytes(b"\x00" * 100)
    else:  # a crash between moving the newest aside and writing the next one
        newest.unlink()
    (tmp_path / ".checkpoint.safetensors.abc.tmp").write_bytes(b"half a write")  # a kill during a write
    with pytest.warns(UserWarning, match="using the previous one"):
        resumed = pretrain(X, config, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True, progress=False)
    for key, value in weights(unbroken.model).items():  # epoch 2's checkpoint, then epochs 3-5 again: the same run
        assert torch.equal(value, weights(resumed.model)[key]), key
    assert not list(tmp_path.glob(".*.tmp"))  # leftovers removed


def test_a_damaged_checkpoint_with_no_previous_is_reported_as_damaged(X, tmp_path):
    pretrain(X, PretrainConfig(method="dacl", epochs=1, **TINY), checkpoint_dir=tmp_path, progress=False)
    newest = tmp_path / CHECKPOINT_FILE
    newest.write_bytes(newest.read_bytes()[:-10])
    with pytest.raises(DamagedCheckpoint, match="damaged.*cut short"):
        load_model(tmp_path)
    with pytest.raises(DamagedCheckpoint, match="damaged"):
        pretrain(X, PretrainConfig(method="dacl", epochs=2, **TINY), checkpoint_dir=tmp_path, resume=True,
                 progress=False)  # fmt: skip
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        find_checkpoint(tmp_path / "elsewhere")


def test_loading_compares_settings_before_any_tensor(X, tmp_path, monkeypatch):
    pretrain(X, PretrainConfig(method="dacl", epochs=1, **TINY), checkpoint_dir=tmp_path, progress=False)
    import dacl.engine.loop

    def no_tensors(*args, **kwargs):
        raise AssertionError("a tensor was read before the settings were compared")

    monkeypatch.setattr(dacl.engine.loop, "load_checkpoint", no_tensors)
    with pytest.raises(ValueError, match="other settings.*width"):
        pretrain(X, PretrainConfig(method="dacl", epochs=2, **{**TINY, "width": 32}), checkpoint_dir=tmp_path,
                 resume=True, progress=False)  # fmt: skip
