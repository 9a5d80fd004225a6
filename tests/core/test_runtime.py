import pytest
import torch

import dacl.core.runtime as runtime
from dacl import PretrainConfig
from dacl.core.runtime import resolve_device, resolve_precision


def test_precision_auto_picks_bfloat16_only_where_matrix_units_make_it_pay(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: False)
    assert resolve_precision("auto", "cpu") == "float32"  # a CPU without AMX
    assert resolve_precision("bfloat16", "cpu") == "bfloat16"  # asked for: kept
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: True)
    assert resolve_precision("auto", "cpu") == "bfloat16"  # a CPU with AMX
    assert resolve_precision("float32", "cpu") == "float32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision("auto", "cuda") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_precision("auto", "cuda") == "float32"
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("fp16", "cpu")


def test_a_config_is_resolved_only_when_a_run_starts():
    # made on a machine without a GPU, a cuda config is valid: it may run or resume elsewhere
    config = PretrainConfig(device="cuda", precision="auto")
    assert (config.device, config.precision) == ("cuda", "auto")
    assert PretrainConfig.from_dict(config.to_dict()) == config
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu-7")


@pytest.mark.parametrize("order", ["dacl first", "torch multiplied first"])
def test_mkl_is_in_its_reproducible_mode_only_where_dacl_came_before_the_first_product(order):
    """MKL reads MKL_CBWR at its first product: ``import dacl`` first turns its strict mode on; a product
    before it leaves the mode off, and ``reproducible_products`` says so (the encoder cache then keys on
    the thread count)."""
    import subprocess
    import sys

    early = "import torch; torch.ones(4, 4) @ torch.ones(4, 4); " if order != "dacl first" else ""
    script = early + "import dacl; from dacl.core.runtime import reproducible_products; print(reproducible_products())"
    env = {k: v for k, v in __import__("os").environ.items() if k != "MKL_CBWR"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == str(order == "dacl first")
