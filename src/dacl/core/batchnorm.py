"""BatchNorm whose training numbers do not depend on the thread count: with MKL's reproducible mode, the
same seed gave the same encoder on 1 thread and on 2 in the cases tested (more threads were not measured
here; in bf16 oneDNN's products still split some sums by thread, by shape: docs/guide/tables.md).

On the CPU, torch's BatchNorm over ``(N, C)`` rows (the tabular MLPs, the GIN) sums the batch in one
partial sum per thread and then adds the partial sums: on 2 threads the statistics and the gradients
differ from those on 1 in their last bits, and a few hundred steps of training turn that into another
encoder, as another seed would (with tens of labels, another model and a test score a few points away).
:class:`OneThreadBatchNorm1d` runs torch's own kernels, forward and backward, on one thread: the same
numbers as ``nn.BatchNorm1d`` on one thread, whatever the thread count around it. dacl's MLP encoder, its
projection heads and the tables' ResNet are built with it; ``one_thread_batchnorm(module)`` converts your own
encoder. The GIN keeps torch's: its message passing sums over threads too, so one-thread BatchNorm would
cost time there (1.18x on 2 threads, measured) and fix nothing. The rest of the work (the matrix products)
keeps every thread; with ``MKL_CBWR`` set (``import dacl`` sets it: ``dacl/__init__``)
MKL's float32 products too sum in an order that does not depend on it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from dacl.core.threads import one_thread

__all__ = ["OneThreadBatchNorm1d", "one_thread_batchnorm"]


class _BatchNormOnOneThread(torch.autograd.Function):
    """Training-mode batch normalisation (torch's ``native_batch_norm`` and its backward) on one thread."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                running_var: Tensor | None, momentum: float, eps: float) -> Tensor:  # fmt: skip
        with one_thread():
            out, mean, invstd = torch.native_batch_norm(x, weight, bias, running_mean, running_var, True, momentum, eps)
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.eps = eps
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        x, weight, mean, invstd = ctx.saved_tensors
        wanted = [ctx.needs_input_grad[0], weight is not None and ctx.needs_input_grad[1],
                  ctx.needs_input_grad[2]]  # fmt: skip
        with one_thread():
            dx, dweight, dbias = torch.ops.aten.native_batch_norm_backward(
                grad.contiguous(), x, weight, None, None, mean, invstd, True, ctx.eps, wanted
            )
        return dx, dweight, dbias, None, None, None, None


class OneThreadBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` whose training steps run on one thread (the module docstring says why); in eval
    mode, or on a GPU, it is ``nn.BatchNorm1d``. Its parameters, buffers and state dict are the same."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or x.device.type != "cpu":
            return super().forward(x)
        self._check_input_dim(x)
        if x.numel() <= x.shape[1]:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {tuple(x.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        running_mean = running_var = None
        if self.track_running_stats:  # as nn.BatchNorm1d: the buffers are updated only where tracked
            running_mean, running_var = self.running_mean, self.running_var
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
                if self.momentum is None:  # a cumulative average
                    factor = 1.0 / float(self.num_batches_tracked)
        return _BatchNormOnOneThread.apply(x, self.weight, self.bias, running_mean, running_var, factor, self.eps)


def one_thread_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every ``nn.BatchNorm1d`` (not a subclass of it) made a :class:`OneThreadBatchNorm1d`
    in place: the same parameters and buffers (the same tensors), now of the new class."""
    for child in module.modules():
        if type(child) is nn.BatchNorm1d:
            child.__class__ = OneThreadBatchNorm1d
    return module
