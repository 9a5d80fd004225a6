import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from dacl import PretrainConfig, load_model, pretrain
from dacl.engine.checkpoint import CHECKPOINT_FILE, read_state
from helpers import Killed, kill_at

TINY = dict(depth=3, width=16, head_depth=2, projection_dim=8, epochs=4, batch_size=16, warmup_epochs=1)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((64, 10), dtype=np.float32), rng.integers(0, 3, 64)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("method", ["dacl", "dacl+", "dacl-geometric", "dacl-binary", "gaussian", "supervised"])
def test_seeded_runs_repeat_exactly(data, method):
    X, y = data
    config = PretrainConfig(method=method, **TINY)
    a = pretrain(X, config, y, progress=False)
    b = pretrain(X, config, y, progress=False)
    assert same(weights(a.model), weights(b.model))
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert len(a.history) == 4 and {"epoch", "loss", "lr", "seconds", "samples_per_s"} <= a.history[0].keys()
    c = pretrain(X, PretrainConfig(method=method, **{**TINY, "seed": 1}), y, progress=False)
    assert not same(weights(a.model), weights(c.model))


def test_training_lowers_the_contrastive_loss(data):
    X, _ = data
    result = pretrain(X, PretrainConfig(method="dacl", **{**TINY, "epochs": 30}), progress=False)
    assert result.history[-1]["loss"] < result.history[0]["loss"]


CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"))


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_resume_after_a_kill_reaches_the_same_weights(data, tmp_path, device):
    X, y = data
    config = PretrainConfig(method="dacl+", device=device, **{**TINY, "epochs": 6})
    unbroken = pretrain(X, config, progress=False)

    with pytest.raises(Killed):
        pretrain(X, config, checkpoint_dir=tmp_path, checkpoint_every=1, progress=False, callbacks=(kill_at(3),))
    assert read_state(tmp_path)["epoch"] == 2  # killed before epoch 3's checkpoint
    resumed = pretrain(X, config, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True, progress=False)
    if device == "cuda":  # GPU kernels need not repeat bit for bit
        a, b = weights(unbroken.model), weights(resumed.model)
        assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
        return
    assert same(weights(unbroken.model), weights(resumed.model))
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in unbroken.history]
    # the AdamW state (exp_avg, step) round-trips too
    config = PretrainConfig(method="dacl", optimizer="adamw", lr=1e-3, **{**TINY, "epochs": 4})
    unbroken = pretrain(X, config, progress=False)
    with pytest.raises(Killed):
        pretrain(
            X, config, checkpoint_dir=tmp_path / "adamw", checkpoint_every=1, progress=False, callbacks=(kill_at(3),)
        )
    resumed = pretrain(X, config, checkpoint_dir=tmp_path / "adamw", resume=True, progress=False)
    assert same(weights(unbroken.model), weights(resumed.model))


def test_resume_refuses_other_settings(data, tmp_path):
    X, _ = data
    pretrain(X, PretrainConfig(method="dacl", **TINY), checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="temperature"):
        pretrain(
            X,
            PretrainConfig(method="dacl", temperature=0.1, **TINY),
            checkpoint_dir=tmp_path,
            resume=True,
            progress=False,
        )


def test_checkpoint_is_safetensors_plus_json_and_loads_back(data, tmp_path):
    X, _ = data
    result = pretrain(
        X, PretrainConfig(method="dacl", **TINY), checkpoint_dir=tmp_path, progress=False, metadata={"data": "x"}
    )
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["checkpoint.json", CHECKPOINT_FILE]  # no temporary files left behind
    with safe_open(str(tmp_path / CHECKPOINT_FILE), framework="pt") as f:
        assert any(k.startswith("model.encoder.") for k in f.keys())
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    assert state["epoch"] == 4 and state["config"]["method"] == "dacl" and state["metadata"] == {"data": "x"}
    loaded = load_model(tmp_path)
    assert same(weights(loaded.model), weights(result.model))


def test_hidden_mixup_and_bfloat16_run(data):
    X, _ = data
    for mix_at in (1, 3):
        result = pretrain(X, PretrainConfig(method="dacl+", mix_at=mix_at, **TINY), progress=False)
        assert np.isfinite(result.history[-1]["loss"])
    result = pretrain(X, PretrainConfig(method="dacl", precision="bfloat16", **TINY), progress=False)
    assert np.isfinite(result.history[-1]["loss"])


def test_no_pretraining_returns_the_random_encoder(data):
    X, _ = data
    result = pretrain(X, PretrainConfig(method="none", **TINY), progress=False)
    assert result.history == [] and not result.model.training


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "byol"}, "unknown method"),
        ({"batch_size": 1}, "batch_size"),
        ({"mix_at": -2}, "mix_at"),
        ({"precision": "fp8"}, "precision"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PretrainConfig(**{**TINY, **kwargs})


def test_bad_data_raises(data):
    X, y = data
    config = PretrainConfig(method="dacl", **TINY)
    with pytest.raises(ValueError, match="1 sample"):
        pretrain(X[:1], config, progress=False)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        pretrain(bad, config, progress=False)
    with pytest.raises(ValueError, match="2-D"):
        pretrain(X[0], config, progress=False)
    with pytest.raises(ValueError, match="needs labels"):
        pretrain(X, PretrainConfig(method="supervised", **TINY), progress=False)
    with pytest.raises(ValueError, match="shape"):
        pretrain(X, PretrainConfig(method="supervised", **TINY), y[:10], progress=False)
    with pytest.raises(ValueError, match="whole class indices"):  # was floored to 0, 1, 2 without a word
        pretrain(X, PretrainConfig(method="supervised", **TINY), y + 0.5, progress=False)
    with pytest.raises(ValueError, match="LabelEncoder"):
        pretrain(X, PretrainConfig(method="supervised", **TINY), y.astype(str), progress=False)
    assert pretrain(X, PretrainConfig(method="supervised", **{**TINY, "epochs": 1}), y.astype(float),
                    progress=False).history  # whole numbers as floats are class indices  # fmt: skip
    with pytest.raises(ValueError, match="non-negative"):
        pretrain(X - 0.5, PretrainConfig(method="dacl+", **TINY), progress=False)


@pytest.mark.slow
def test_torch_compile_matches_eager_and_keeps_checkpoint_names(data, tmp_path):
    X, _ = data
    # float32: compiled kernels round differently, which bf16 (the default on AMX CPUs) magnifies
    eager = pretrain(X, PretrainConfig(method="dacl", precision="float32", **TINY), progress=False)
    compiled = pretrain(X, PretrainConfig(method="dacl", precision="float32", compile=True, **TINY),
                        checkpoint_dir=tmp_path, progress=False)  # fmt: skip
    for key, value in weights(eager.model).items():
        assert torch.allclose(value, weights(compiled.model)[key], atol=1e-4), key
    assert set(weights(load_model(tmp_path).model)) == set(weights(eager.model))


class Columns(torch.nn.Module):
    """A user's encoder: no hooks, no depth; only out_features. The user seeds its weights."""

    out_features = 12

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(10, 12), torch.nn.Tanh())

    def forward(self, x):
        return self.net(x)


def test_a_users_encoder_and_view_train_checkpoint_resume_and_load(data, tmp_path):
    X, _ = data

    def jitter(x, generator):
        return x + 0.05 * torch.randn(x.shape, generator=generator)

    config = PretrainConfig(method="dacl", **{**TINY, "epochs": 4})
    unbroken = pretrain(X, config, encoder=Columns(), views=jitter, progress=False)
    assert isinstance(unbroken.encoder, Columns) and unbroken.history[-1]["loss"] < unbroken.history[0]["loss"] + 1

    with pytest.raises(Killed):
        pretrain(X, config, encoder=Columns(), views=jitter, checkpoint_dir=tmp_path, checkpoint_every=1,
                 callbacks=(kill_at(2),), progress=False)  # fmt: skip
    resumed = pretrain(X, config, encoder=Columns(), views=jitter, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert same(weights(unbroken.model), weights(resumed.model))
    loaded = load_model(tmp_path, encoder=Columns())
    assert same(weights(loaded.encoder), weights(resumed.encoder))
    with pytest.raises(ValueError, match="user's encoder"):
        load_model(tmp_path)
    # the views differ from the registry's: the weights do too
    assert not same(weights(pretrain(X, config, encoder=Columns(), progress=False).model), weights(unbroken.model))


def test_resume_with_weights_that_do_not_fit_names_the_difference(data, tmp_path):
    X, _ = data
    pretrain(X, PretrainConfig(method="dacl", **TINY), encoder=Columns(), checkpoint_dir=tmp_path, progress=False)

    class Wider(Columns):
        out_features = 12

        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(10, 12), torch.nn.Tanh(), torch.nn.Linear(12, 12))

    with pytest.raises(ValueError, match="do not fit this model"):
        pretrain(X, PretrainConfig(method="dacl", **TINY), encoder=Wider(), checkpoint_dir=tmp_path, resume=True,
                 progress=False)  # fmt: skip


def test_pretrain_with_one_hot_blocks_mixes_them_as_units_and_rejects_views_without_blocks():
    import torch

    from dacl import PretrainConfig, pretrain

    X = torch.cat([torch.rand(64, 2), torch.nn.functional.one_hot(torch.arange(64) % 3, 3).float()], dim=1)
    blocks = [-1, -1, 0, 0, 0]
    config = PretrainConfig(method="dacl+", depth=2, width=16, batch_size=32, epochs=1, warmup_epochs=0)
    result = pretrain(X, config, blocks=blocks, progress=False)
    assert result.model.views.blocks.tolist() == blocks
    numeric_only = pretrain(X, config, blocks=[-1] * 5, progress=False)
    assert numeric_only.model.views.blocks is None  # no block: coordinate-wise as usual
    with pytest.raises(ValueError, match="only by the built-in mixup views"):
        pretrain(X, PretrainConfig(method="scarf", depth=2, width=16, batch_size=32, epochs=1), blocks=blocks)
    with pytest.raises(ValueError, match="mix them at the input"):
        pretrain(X, PretrainConfig(method="dacl", depth=2, width=16, batch_size=32, epochs=1, mix_at=1), blocks=blocks)
    with pytest.raises(ValueError, match="one block id"):
        pretrain(X, config, blocks=[0, 0])


def test_an_encoder_trained_on_float64_rows_embeds_float64_rows():
    X = np.random.default_rng(0).random((64, 5))  # float64, as numpy makes them
    for options in ({}, {"table_encoder": "resnet"}, {"numeric_embedding": "ple"}):
        result = pretrain(X, PretrainConfig(**{**TINY, "epochs": 1}, **options), progress=False)
        encoder = result.encoder.eval()
        out = encoder(torch.as_tensor(X))  # was: a dtype error in the first Linear
        assert out.dtype == torch.float32 and torch.allclose(out, encoder(torch.as_tensor(X, dtype=torch.float32)))


def test_a_run_too_big_for_the_memory_is_refused_before_anything_is_allocated():
    """Issue 36, class 6: options whose memory grows with their value (width, depth, batch, embedding
    size, partners) are checked against the free memory up front, with the estimate in the message."""
    import time

    from dacl import PretrainConfig
    from dacl.tables.train import training_bytes

    small = PretrainConfig(depth=2, width=16, batch_size=8, epochs=1)
    assert training_bytes(small, 10) < 2**20
    huge = PretrainConfig(depth=12, width=2**20, batch_size=4096, epochs=1)
    assert training_bytes(huge, 10) > 2**40  # 12 x 2^20 squared weights, four copies
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"needs about [\d.]+ GiB \(a 12 x 1048576 encoder.*lower --width"):
        pretrain(np.random.default_rng(0).random((64, 10)), huge)
    assert time.perf_counter() - started < 5  # refused, not attempted
    many = PretrainConfig(depth=2, width=16, batch_size=4096, numeric_embedding="ple", embedding_size=10**6,
                          epochs=1)  # fmt: skip
    with pytest.raises(ValueError, match="embedding size 1000000"):
        pretrain(np.random.default_rng(0).random((64, 10)), many)
