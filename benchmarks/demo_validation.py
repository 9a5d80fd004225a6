"""The demo's learning rate and noise chosen on a validation split of digits' training set, never its test
set: each method of the grid pretrained and scored by the linear probe on the held-out quarter.

python benchmarks/demo_validation.py > docs/results/demo-validation.txt   # the choice behind dacl demo's lr 0.5
"""

import argparse
import dataclasses
import time

from sklearn.model_selection import train_test_split

from dacl.config import PretrainConfig
from dacl.data import load_dataset
from dacl.data.dataset import Dataset
from dacl.studies.experiment import prepare_features, run_method

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

ds = load_dataset("digits")
Xtr, Xva, ytr, yva = train_test_split(ds.X_train, ds.y_train, test_size=0.2, stratify=ds.y_train, random_state=0)
f = prepare_features(Dataset("digits-val", Xtr, ytr, Xva, yva))
base = PretrainConfig(depth=4, width=256, epochs=100, batch_size=256)
grid = [("gaussian", dict(sigma=s, lr=lr)) for s in (0.05, 0.1, 0.3) for lr in (0.1, 0.5)]
grid += [("dacl", dict(alpha=a, lr=lr)) for a in (0.5, 0.7, 0.9) for lr in (0.1, 0.5)]
grid += [("dacl+", dict(alpha=a, rho=r, lr=0.5)) for a in (0.5, 0.7, 0.9) for r in (0.3, 0.5)]
for m, kw in grid:
    t = time.time()
    row, h = run_method(m, f, dataclasses.replace(base, **kw))
    print(m, kw, f"val_acc={row['accuracy']:.4f} knn={row['knn_accuracy']:.4f} {time.time() - t:.1f}s", flush=True)
