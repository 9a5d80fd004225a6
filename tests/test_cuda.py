"""The GPU path: skipped where there is no CUDA GPU (CI has none); run on a lent GPU machine with
``python -m pytest -q tests/test_cuda.py tests/tables/test_tables_train.py -k cuda`` (the resume test in
test_tables.py runs on each device). The CPU suite covers the same code on the CPU."""

import numpy as np
import pytest
import torch

from dacl import PretrainConfig, pretrain
from dacl.cli import main
from dacl.studies.bench import BenchSetup, run_bench

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY = dict(depth=3, width=16, head_depth=2, projection_dim=8, epochs=4, batch_size=16, warmup_epochs=1)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((64, 10), dtype=np.float32), rng.integers(0, 3, 64)


def close(a, b, atol=1e-5):
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol) for k in a)


def weights(model):
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("method", ["dacl", "dacl+", "gaussian", "supervised"])
def test_seeded_cuda_runs_repeat(data, method):
    X, y = data
    config = PretrainConfig(method=method, device="cuda", **TINY)
    a, b = pretrain(X, config, y, progress=False), pretrain(X, config, y, progress=False)
    assert next(a.model.parameters()).is_cuda
    assert close(weights(a.model), weights(b.model))
    assert np.isfinite(a.history[-1]["loss"])


@pytest.mark.parametrize("compile", [False, True])
def test_cuda_bfloat16_and_compile(data, compile):
    X, _ = data
    result = pretrain(X, PretrainConfig(method="dacl+", device="cuda", precision="bfloat16", compile=compile, **TINY),
                      progress=False)  # fmt: skip
    assert np.isfinite(result.history[-1]["loss"])


def test_precision_auto_is_bfloat16_on_a_gpu_with_it():
    """The config keeps "auto" (so a run resumes on another machine); the run resolves it."""
    from dacl.core.runtime import resolve_precision

    expected = "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    assert PretrainConfig(device="cuda").precision == "auto"
    assert resolve_precision("auto", "cuda") == expected


def test_cuda_bench_on_a_tiny_model(tmp_path):
    setup = BenchSetup(in_features=16, width=32, depth=2, steps=2, repeats=1, device="cuda")
    row = run_bench(tmp_path, setup, batch_sizes=(32,), precisions=("float32", "bfloat16"), roofline_size=256)["rows"]
    assert all(r["samples_per_s"] > 0 and r["peak_device_mb"] > 0 for r in row)


def test_cli_compare_on_cuda(tmp_path, capsys):
    options = ["--depth", "2", "--width", "32", "--epochs", "2", "--device", "cuda", "--precision", "bfloat16"]
    assert main(["compare", "--data", "digits", "--methods", "dacl,supervised", *options, "--out", str(tmp_path),
                 "--quiet"]) == 0  # fmt: skip
    assert "dacl" in capsys.readouterr().out
