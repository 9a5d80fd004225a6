"""OneThreadBatchNorm1d: nn.BatchNorm1d's numbers, and the same ones on any thread count; dacl's encoders are
built with it, and the estimator gives the same model on 1 thread and on 2 (issue 44: a choice that does not
flip on the thread count)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from dacl.core.batchnorm import OneThreadBatchNorm1d, one_thread_batchnorm

ROOT = Path(__file__).resolve().parents[2]


def _step(module: nn.Module, x: torch.Tensor, grad: torch.Tensor, precision=None):
    """Output, gradients of the input, weight and bias, and the buffers after one training forward and backward."""
    x = x.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
        out = module(x)
    out.backward(grad.to(out.dtype))
    grads = [x.grad] + ([module.weight.grad, module.bias.grad] if module.affine else [])
    buffers = [b.clone() for b in module.buffers()]
    return out.detach(), grads, buffers


def _pair(**options):
    torch.manual_seed(0)
    native = nn.BatchNorm1d(512, **options)
    if native.affine:
        with torch.no_grad():
            native.weight.uniform_(0.5, 1.5)
            native.bias.normal_()
    ours = OneThreadBatchNorm1d(512, **options)
    ours.load_state_dict(native.state_dict())
    return native, ours


def _data(shape=(1024, 512), dtype=torch.float32):
    generator = torch.Generator().manual_seed(1)
    x = (torch.randn(*shape, generator=generator) * 3 + 1).to(dtype)
    return x, torch.randn(*shape, generator=generator).to(dtype)


@pytest.mark.parametrize("options", [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False}])
def test_it_computes_nn_batchnorm1d_on_one_thread(options, threads):
    """On one thread the oracle is torch's own nn.BatchNorm1d: the output, the three gradients, the running
    statistics (exponential or cumulative) and the step count, over three steps."""
    threads(1)
    native, ours = _pair(**options)
    x, grad = _data()
    for step in range(3):
        expected, ours_out = _step(native, x + step, grad), _step(ours, x + step, grad)
        torch.testing.assert_close(ours_out[0], expected[0], rtol=0, atol=0)
        for got, want in zip(ours_out[1], expected[1], strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        for got, want in zip(ours_out[2], expected[2], strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        for module in (native, ours):
            for p in module.parameters():
                p.grad = None
    native.eval(), ours.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), native(x), rtol=0, atol=0)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_its_training_numbers_are_the_same_on_one_and_two_threads(precision, threads):
    """Bit for bit, under bf16 autocast too, on a batch large enough for torch to split it over threads
    (1024 x 512: nn.BatchNorm1d's own kernels then differ in their last bits)."""
    results = []
    for count in (1, 2):
        threads(count)
        _, ours = _pair()
        x, grad = _data()
        results.append(_step(ours, x, grad, precision))
    (out1, grads1, buffers1), (out2, grads2, buffers2) = results
    assert torch.equal(out1, out2)
    assert all(torch.equal(a, b) for a, b in zip(grads1, grads2, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(buffers1, buffers2, strict=True))


def test_the_swap_keeps_the_tensors_and_leaves_other_norms_alone():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Sequential(nn.BatchNorm1d(4)), nn.BatchNorm2d(4))
    weight, mean = model[1].weight, model[1].running_mean
    keys = list(model.state_dict())
    assert one_thread_batchnorm(model) is model
    assert type(model[1]) is OneThreadBatchNorm1d and type(model[2][0]) is OneThreadBatchNorm1d
    assert type(model[3]) is nn.BatchNorm2d
    assert model[1].weight is weight and model[1].running_mean is mean and list(model.state_dict()) == keys


def test_dacls_encoders_and_heads_are_built_with_it_and_the_gin_keeps_torchs():
    from dacl.core.encoders import MLPEncoder, ProjectionHead
    from dacl.graphs.gin import GINEncoder
    from dacl.tables.encoder import ResidualMLP

    def norms(module):
        return {type(m) for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}

    assert norms(MLPEncoder(5, 8, 2)) == norms(ProjectionHead(8, 8, 4)) == {OneThreadBatchNorm1d}
    assert norms(ResidualMLP(5, 8, 2)) == {OneThreadBatchNorm1d}
    assert norms(GINEncoder(3, 8, 2)) == {nn.BatchNorm1d}


def test_a_batch_of_one_row_is_refused_as_by_nn_batchnorm1d():
    module = OneThreadBatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        module(torch.zeros(1, 3))


FIT_ON_THREADS = textwrap.dedent("""
    import hashlib, json, sys
    import numpy as np
    import dacl  # first: dacl sets MKL's reproducible mode before torch computes anything
    from dacl import DACLClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 12)).astype(np.float32)
    y = np.where(X[:, 0] + X[:, 1] * X[:, 2] > 0, "a", "b").astype(object)
    y[40:] = None
    model = DACLClassifier(random_state=0, n_jobs=int(sys.argv[1]), epochs=3, batch_size=512, width=256, depth=2,
                           projection_dim=64, fine_tune_epochs=(3,), fine_tune_lrs=(1e-3,), cv=2,
                           candidates=("probe", "fine-tune", "spread", "gbdt-raw+features"), encoder_cache=False)
    model.fit(X, y)
    weights = hashlib.sha256(b"".join(v.float().numpy().tobytes() for v in model.encoder_.state_dict().values()))
    print(json.dumps({"encoder": weights.hexdigest(), "chosen": model.chosen_["model"],
                      "scores": model.selection_["cv_accuracy"].round(12).tolist(),
                      "proba": hashlib.sha256(model.predict_proba(X).tobytes()).hexdigest(),
                      "mkl": __import__("os").environ.get("MKL_CBWR")}))
""")


def test_the_estimator_gives_the_same_model_on_one_and_two_threads(tmp_path):
    """The default pipeline (pretraining in bf16 where the CPU has it, the choice, fine-tuning) on 1 and on 2
    threads, each in a fresh process as a user runs it: the same encoder, scores, choice and probabilities
    (with torch's BatchNorm kernels in the encoder's place it fails: checked)."""
    script = tmp_path / "fit.py"
    script.write_text(FIT_ON_THREADS)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("MKL_CBWR", None)
    runs = []
    for count in (1, 2):
        done = subprocess.run([sys.executable, str(script), str(count)], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert runs[0]["mkl"] == "AUTO,STRICT"
    assert runs[0] == runs[1]
