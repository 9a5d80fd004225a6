"""Side-by-side timing of DACL+ views (MixupPlus, both views of a batch of 784 features): the
version before each type mixed only its own rows (commit c989cd1) against the installed one.

python benchmarks/noise_speed_vs_previous.py   # run from the repository root
"""

import argparse

import torch
from previous_version import load_previous

from dacl.core.views import MixupPlus
from dacl.studies.bench import _best_time

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

PreviousMixupPlus = load_previous("src/dacl/noise.py", "c989cd1").MixupPlus

for n in (1024, 4096):
    x = torch.rand(n, 784)
    generator = torch.Generator().manual_seed(0)
    times = {name: _best_time(lambda f=f, x=x, g=generator: f(x, g), 7) for name, f in
             (("previous", PreviousMixupPlus()), ("now", MixupPlus().pair))}  # fmt: skip
    print(
        f"batch {n}: previous {1000 * times['previous']:.1f} ms, now {1000 * times['now']:.1f} ms, "
        f"{times['previous'] / times['now']:.2f}x"
    )
