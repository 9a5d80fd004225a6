"""The one training loop, through a method and a source written here: what a user adding either gets."""

import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

import dacl
import dacl.engine.loop as loop
from dacl import PretrainConfig, fit
from dacl.engine.checkpoint import read_state
from dacl.engine.sources import TensorSource
from dacl.methods import Method

CONFIG = dict(epochs=3, batch_size=8, optimizer="adamw", lr=1e-2, warmup_epochs=0)


class Regression(Method):
    """A user's method: fit a linear map, the loss computed here, everything else the engine's."""

    def __init__(self, poison: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.Linear(4, 1)
        self.poison = poison

    def loss(self, inputs, targets, generator):
        loss = ((self.encoder(inputs).squeeze(1) - targets) ** 2).mean()
        return loss * float("nan") if self.poison else loss


class Rows:
    """A user's source: batches in an order drawn from the run's generator."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.samples = len(self) * batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def epoch(self, generator):
        order = torch.randperm(len(self.x), generator=generator)
        for start in range(0, self.samples, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.x[index], self.y[index]


@pytest.fixture
def rows():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 4, generator=g)
    return x, x @ torch.tensor([1.0, -2.0, 0.5, 3.0])


def test_a_users_method_and_source_train_with_history_and_callbacks(rows):
    seen = []
    result = fit(Regression(), Rows(*rows, 8), PretrainConfig(**CONFIG), progress=False,
                 callbacks=(lambda epoch, record, method: seen.append((epoch, method.training)),))  # fmt: skip
    assert [h["epoch"] for h in result.history] == [1, 2, 3] and result.history[-1]["loss"] < result.history[0]["loss"]
    assert seen == [(1, True), (2, True), (3, True)] and not result.model.training
    assert result.history[0]["samples_per_s"] > 0 and result.history[0]["lr"] == pytest.approx(1e-2, rel=0.2)
    same = fit(Regression(), TensorSource(*rows, 8), PretrainConfig(**CONFIG), progress=False)
    assert [h["loss"] for h in same.history] == [h["loss"] for h in result.history]  # the same order, seeded


def test_a_nan_loss_stops_the_run_with_advice(rows):
    with pytest.raises(FloatingPointError, match="lower lr"):
        fit(Regression(poison=True), TensorSource(*rows, 8), PretrainConfig(**CONFIG), progress=False)


def test_no_value_is_read_back_from_the_device_within_an_epoch(rows, monkeypatch):
    calls = []
    item = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: calls.append(1) or item(self))
    # LARS (torch's Adam reads its CPU step counter, which is no device read)
    fit(Regression(), TensorSource(*rows, 8), PretrainConfig(**{**CONFIG, "optimizer": "lars"}), progress=False)
    assert len(calls) == CONFIG["epochs"]  # one read of the summed loss per epoch, none per step
    calls.clear()
    dacl.pretrain(rows[0].abs(), PretrainConfig(method="dacl", depth=2, width=8, **{**CONFIG, "optimizer": "lars"}),
                  progress=False)  # fmt: skip
    assert len(calls) == CONFIG["epochs"]


def test_a_run_resumes_on_a_machine_where_auto_means_another_precision(rows, tmp_path, monkeypatch):
    config = PretrainConfig(**{**CONFIG, "precision": "auto"})
    monkeypatch.setattr(loop, "resolve_precision", lambda precision, device: "float32")
    fit(Regression(), TensorSource(*rows, 8), config, checkpoint_dir=tmp_path, checkpoint_every=1, progress=False)
    assert read_state(tmp_path)["config"]["precision"] == "auto"  # the config as written
    assert read_state(tmp_path)["resolved"]["precision"] == "float32"  # what the run used
    longer = PretrainConfig(**{**CONFIG, "precision": "auto"})
    monkeypatch.setattr(loop, "resolve_precision", lambda precision, device: "bfloat16")
    with pytest.warns(UserWarning, match="trained in float32 in bfloat16"):
        fit(Regression(), TensorSource(*rows, 8), longer, checkpoint_dir=tmp_path, resume=True, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same precision: no warning
        monkeypatch.setattr(loop, "resolve_precision", lambda precision, device: "float32")
        fit(Regression(), TensorSource(*rows, 8), longer, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_import_dacl_loads_neither_pandas_nor_scikit_learn():
    code = (
        "import sys, dacl; from dacl import pretrain, PretrainConfig, LinearMixup, fit; "
        "print(sorted(m for m in ('pandas', 'sklearn', 'matplotlib', 'torch_geometric') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_warm_up_over_half_the_run_is_warned_about(rows):
    with pytest.warns(UserWarning, match="warm-up .5 epochs. takes"):
        fit(Regression(), TensorSource(*rows, 8), PretrainConfig(**{**CONFIG, "warmup_epochs": 5}), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(Regression(), TensorSource(*rows, 8), PretrainConfig(**{**CONFIG, "warmup_epochs": 1}), progress=False)


def test_images_through_the_same_engine_with_mixup_of_pixels_and_of_feature_maps():
    from dacl.core.views import LinearMixup
    from dacl.images.resnet import resnet
    from dacl.methods import build_method

    images = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    for mix_at in (0, 2):
        torch.manual_seed(0)
        encoder = resnet("resnet18", "cifar")
        config = PretrainConfig(method="dacl", epochs=2, batch_size=8, head_depth=2, projection_dim=16, mix_at=mix_at,
                                precision="float32", warmup_epochs=0)  # fmt: skip
        method = build_method(config, encoder, encoder.out_features, views=LinearMixup(0.8))
        before = {k: v.clone() for k, v in method.state_dict().items()}
        result = fit(method, TensorSource(images, None, 8), config, progress=False)
        assert len(result.history) == 2 and torch.isfinite(torch.tensor(result.history[-1]["loss"]))
        assert any(not torch.equal(before[k], v) for k, v in method.state_dict().items())


def test_steps_per_epoch_ends_an_epoch_of_a_tensor_source_early_with_distinct_rows():
    inputs = torch.arange(100.0).reshape(50, 2)
    source = TensorSource(inputs, None, 8, steps_per_epoch=3)
    assert len(source) == 3 and len(TensorSource(inputs, None, 8)) == 6
    batches = [batch for batch, _ in source.epoch(torch.Generator().manual_seed(0))]
    rows = torch.cat(batches)[:, 0]
    assert len(batches) == 3 and len(rows) == 24 and len(rows.unique()) == 24  # without replacement
    assert len(TensorSource(inputs, None, 8, steps_per_epoch=99)) == 6  # never more than one pass
    with pytest.raises(ValueError, match="positive"):
        TensorSource(inputs, None, 8, steps_per_epoch=0)
