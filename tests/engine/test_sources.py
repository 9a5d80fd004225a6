"""The in-memory source's even batches, and a run fitted to a time limit."""

import time

import pytest
import torch
from torch import nn

from dacl import PretrainConfig, fit
from dacl.engine.sources import TensorSource
from dacl.methods import Method


@pytest.mark.parametrize("rows", [2, 3, 100, 256, 257, 800, 1000, 1025])
def test_even_batches_cover_every_row_once_in_equal_sizes(rows):
    x = torch.arange(rows, dtype=torch.float32)[:, None]
    source = TensorSource(x, None, 256, even=True)
    batches = [b[:, 0] for b, _ in source.epoch(torch.Generator().manual_seed(0))]
    sizes = [len(b) for b in batches]
    assert len(batches) == len(source) == -(-rows // 256)  # as many steps as the batches of 256 would need
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 2  # no small last batch
    assert sorted(torch.cat(batches).tolist()) == list(range(rows))  # every row once
    assert source.samples == rows
    if rows == 800:
        assert sizes == [200] * 4


def test_even_batches_refuse_a_single_row_and_several_processes():
    with pytest.raises(ValueError, match="at least 2 rows"):
        TensorSource(torch.zeros(1, 3), None, 8, even=True)
    with pytest.raises(ValueError, match="one process"):
        TensorSource(torch.zeros(10, 3), None, 4, even=True).shard(0, 2)


class Slow(Method):
    """A linear fit whose every step takes at least ``seconds``."""

    def __init__(self, seconds: float):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.Linear(3, 1)
        self.seconds = seconds

    def loss(self, inputs, targets, generator):
        time.sleep(self.seconds)
        return ((self.encoder(inputs).squeeze(1) - targets) ** 2).mean()


def test_a_time_limit_shortens_the_run_and_fits_its_schedule_to_the_new_length():
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    config = PretrainConfig(epochs=50, batch_size=8, optimizer="adamw", lr=1e-2, warmup_epochs=1)  # 400 steps
    fit(Slow(0.0), TensorSource(x, x.sum(1), 8), config, progress=False, time_limit=0.5)  # the first call's start-up
    started = time.perf_counter()
    result = fit(Slow(0.01), TensorSource(x, x.sum(1), 8), config, progress=False, time_limit=2.0)
    seconds = time.perf_counter() - started
    assert seconds < 2.2  # within the limit, 10% slack
    assert result.shortened_to is not None and 20 <= result.steps == result.shortened_to < 400
    assert result.history[-1]["lr"] < 0.2 * config.lr  # the cosine decay ran to the end of the shorter run


def test_a_run_that_fits_its_time_limit_is_the_unlimited_run():
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    config = PretrainConfig(epochs=3, batch_size=8, optimizer="adamw", lr=1e-2, warmup_epochs=0)

    def weights(**kwargs):
        result = fit(Slow(0.0), TensorSource(x, x.sum(1), 8), config, progress=False, **kwargs)
        return result, result.model.encoder.weight.detach().clone()

    limited, w_limited = weights(time_limit=60.0)
    unlimited, w_unlimited = weights()
    assert limited.shortened_to is None and limited.steps == unlimited.steps == 24
    assert torch.equal(w_limited, w_unlimited)
    with pytest.raises(ValueError, match="time_limit"):
        weights(time_limit=0)
