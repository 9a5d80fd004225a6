"""Does a warm-up longer than a short run hurt? Digits (the demo's split), 5-epoch runs, 3 seeds:
the default 10-epoch warm-up (the whole run is warm-up, the learning rate ends at its peak) against
a warm-up clamped to a tenth of the run (0.5 epochs, then cosine decay). Supervised with the
estimator's defaults (4 x 512, LARS lr 0.1) and DACL+ with the demo's (4 x 256, lr 0.5).

python benchmarks/warmup_short_runs.py
"""

import argparse
import warnings

import numpy as np

from dacl import PretrainConfig
from dacl.data import load_dataset
from dacl.studies.experiment import prepare_features, run_method

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

warnings.simplefilter("ignore")  # the engine warns about the long warm-up: that is the point here
features = prepare_features(load_dataset("digits"))
setups = {"supervised": dict(depth=4, width=512, lr=0.1), "dacl+": dict(depth=4, width=256, lr=0.5)}
for method, model in setups.items():
    for warmup in (10.0, 0.5):
        accuracies = [run_method(method, features, PretrainConfig(epochs=5, batch_size=256, warmup_epochs=warmup,
                                                                  seed=seed, **model))[0]["accuracy"]
                      for seed in range(3)]  # fmt: skip
        mean, std = 100 * np.mean(accuracies), 100 * np.std(accuracies)
        each = ", ".join(f"{100 * a:.1f}" for a in accuracies)
        print(f"{method}, 5 epochs, warm-up {warmup:g}: {mean:.1f} ± {std:.1f} ({each})")
