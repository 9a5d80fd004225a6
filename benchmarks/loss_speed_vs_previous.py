"""Side-by-side timing of dacl's NT-Xent, forward and backward on the (2N, 128) projections: the
version that subtracted each row's maximum and divided, then scaled, the gradient in two passes
(commit d8bd0a3) against the installed one, at τ = 0.5 (the paper's grid is 0.1, 0.5, 1.0).

python benchmarks/loss_speed_vs_previous.py [--device cuda] [--previous FILE]   # from the repository root
"""

import argparse

import torch
from previous_version import load_previous

from dacl.core.losses import NTXentLoss
from dacl.studies.bench import _best_time

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--previous", default=None, help="the previous losses.py (default: from git)")
args = parser.parse_args()
device = args.device

PreviousNTXentLoss = load_previous("src/dacl/losses.py", "d8bd0a3", args.previous).NTXentLoss

for n in (1024, 4096):
    z = torch.randn(2 * n, 128, device=device, requires_grad=True)
    losses = {"previous": PreviousNTXentLoss(0.5), "now": NTXentLoss(0.5)}
    assert torch.allclose(losses["previous"](z[:n], z[n:]), losses["now"](z[:n], z[n:]), rtol=1e-5)
    times = {}
    for _ in range(3):  # alternate, keep the best of each: the machine's speed drifts
        for name, loss in losses.items():
            best = _best_time(lambda f=loss, a=z[:n], b=z[n:]: f(a, b).backward(), 5, device)
            times[name] = min(times.get(name, best), best)
    print(
        f"batch {n} ({2 * n} x {2 * n} similarities): previous {1000 * times['previous']:.1f} ms, "
        f"now {1000 * times['now']:.1f} ms, {times['previous'] / times['now']:.2f}x"
    )
