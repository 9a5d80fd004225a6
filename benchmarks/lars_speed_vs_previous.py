"""Side-by-side timing of one LARS step on the paper's tabular model (12 x 1024 encoder, 3-layer
head, 14.6M parameters, random gradients): the version that made two parameter-sized tensors
every step (commit 5e38514) against the installed one, which forms the update in kept buffers.

python benchmarks/lars_speed_vs_previous.py [--device cuda] [--previous FILE]   # from the repository root
"""

import argparse

import torch
from previous_version import load_previous

from dacl.config import PretrainConfig
from dacl.core.optim import build_optimizer, parameter_groups
from dacl.studies.bench import _best_time
from dacl.tables import build

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--previous", default=None, help="the previous optim.py (default: from git)")
args = parser.parse_args()

PreviousLARS = load_previous("src/dacl/optim.py", "5e38514", args.previous).LARS

model = build(PretrainConfig(), 784).to(args.device)
for p in model.parameters():
    p.grad = torch.randn_like(p)
optimizers = {
    "previous": PreviousLARS(parameter_groups(model, 1e-6), lr=0.1, momentum=0.9, weight_decay=1e-6),
    "now": build_optimizer(model, "lars", 0.1, 1e-6),
}
times: dict[str, float] = {}
for _ in range(3):  # alternate, keep the best of each: the machine's speed drifts
    for name, optimizer in optimizers.items():
        best = _best_time(optimizer.step, 5, args.device)
        times[name] = min(times.get(name, best), best)
print(
    f"LARS step, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters on {args.device}: "
    f"previous {1000 * times['previous']:.1f} ms, now {1000 * times['now']:.1f} ms, "
    f"{times['previous'] / times['now']:.2f}x"
)
