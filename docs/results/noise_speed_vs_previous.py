"""Side-by-side timing of DACL+ views (MixupPlus, both views of a batch of 784 features): the
version before each type mixed only its own rows (commit c989cd1) against the installed one.

python docs/results/noise_speed_vs_previous.py   # run from the repository root
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from dacl.bench import _best_time
from dacl.noise import MixupPlus

folder = Path(tempfile.mkdtemp())
source = subprocess.run(["git", "show", "c989cd1:src/dacl/noise.py"], capture_output=True, text=True, check=True)
(folder / "previous_noise.py").write_text(source.stdout)
sys.path.insert(0, str(folder))
from previous_noise import MixupPlus as PreviousMixupPlus  # noqa: E402

for n in (1024, 4096):
    x = torch.rand(n, 784)
    generator = torch.Generator().manual_seed(0)
    times = {name: _best_time(lambda m=m, x=x, g=generator: m(x, g), 7) for name, m in
             (("previous", PreviousMixupPlus()), ("now", MixupPlus()))}  # fmt: skip
    print(
        f"batch {n}: previous {1000 * times['previous']:.1f} ms, now {1000 * times['now']:.1f} ms, "
        f"{times['previous'] / times['now']:.2f}x"
    )
