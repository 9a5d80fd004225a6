"""Speed of the few-label product on this machine (docs/results/speed.md, "Few labels"):

1. the linear probe: ``dacl.core.linear.fit_softmax`` (L-BFGS, float32, torch) against scikit-learn's
   ``LogisticRegression`` (float64 L-BFGS), side by side in one run, on the features of Table 1's
   set-up: the paper's 12 x 1024 encoder (DACL+, pretrained ``--steps`` steps on Fashion-MNIST), probe
   fitted on 48,000 training rows (Table 1's split) and scored on the 10,000 test rows;
2. ``dacl fit`` on a 100,000 x 50 table with 1% of the rows labelled, at the estimator's defaults, and
   ``dacl predict`` on its 100,000 rows (both as a user runs them: subprocesses, CSV in and out, Python's
   start-up and imports included), and ``Predictor.predict`` on the same rows in a running process.

    python benchmarks/semi_speed.py --data-dir ../shared/data --out docs/results/semi-speed
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch


def probe_speed(data_dir: str, steps: int) -> dict:
    from dacl import PretrainConfig
    from dacl.data import load_dataset
    from dacl.evaluate import linear_probe_accuracy
    from dacl.studies.experiment import prepare_features
    from dacl.tables import encode, pretrain

    features = prepare_features(load_dataset("fashion-mnist", data_dir=data_dir))
    train = features.X_train[:48_000]
    epochs = max(1, steps * 1024 // 60_000)
    config = PretrainConfig(method="dacl+", depth=12, width=1024, batch_size=1024, epochs=epochs, lr=0.5,
                            warmup_epochs=0.0)  # fmt: skip
    started = time.perf_counter()
    encoder = pretrain(features.X_train, config, progress=False).encoder
    pretraining = time.perf_counter() - started
    train_features, test_features = encode(encoder, train), encode(encoder, features.X_test)
    y, y_test = features.y_train[:48_000], features.y_test
    rows = {}
    for solver in ("torch", "sklearn", "torch"):  # torch twice: the first call pays torch's start-up
        started = time.perf_counter()
        accuracy = linear_probe_accuracy(train_features, y, test_features, y_test, solver=solver)
        rows[solver] = {"accuracy": accuracy, "seconds": time.perf_counter() - started}
    return {"features": list(train_features.shape), "pretraining_epochs": config.epochs,
            "pretraining_seconds": pretraining, "probe": rows,
            "speed_ratio": rows["sklearn"]["seconds"] / rows["torch"]["seconds"],
            "accuracy_gap_points": 100 * (rows["torch"]["accuracy"] - rows["sklearn"]["accuracy"])}  # fmt: skip


def fit_predict_speed(out: Path) -> dict:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=100_000, n_features=50, n_informative=20, n_redundant=10, n_classes=2,
                               random_state=0)  # fmt: skip
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(50)])
    label = np.where(np.random.default_rng(0).random(len(y)) < 0.01, y, -1).astype(float)
    label[label < 0] = np.nan  # empty cells: the unlabelled rows
    table, new = out / "table.csv", out / "new.csv"
    frame.assign(target=label).to_csv(table, index=False)
    frame.to_csv(new, index=False)
    model, predictions = out / "model", out / "predictions.csv"
    timings = {}
    for name, command in (
        ("fit", ["fit", "--data", str(table), "--label", "target", "--out", str(model), "--overwrite", "--quiet"]),
        ("predict", ["predict", "--model", str(model), "--data", str(new), "--out", str(predictions),
                     "--overwrite"]),
    ):  # fmt: skip
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dacl", *command], check=True)
        timings[name] = time.perf_counter() - started
    predicted = pd.read_csv(predictions)["target"].to_numpy()
    state = json.loads((model / "model.json").read_text())
    from dacl import load_predictor

    predictor = load_predictor(model)
    predictor.predict(frame.head(1000))  # warm-up: first calls pay one-time costs
    started = time.perf_counter()
    in_process = predictor.predict(frame)
    timings["predict_in_process"] = time.perf_counter() - started
    assert (in_process == predicted).all()
    for path in (table, new, predictions):
        path.unlink()
    return {"rows": 100_000, "columns": 50, "labelled": int(np.isfinite(label).sum()), "fit_seconds": timings["fit"],
            "predict_seconds": timings["predict"], "predict_in_process_seconds": timings["predict_in_process"],
            "chosen": state["chosen"]["model"],
            "accuracy_on_all_rows": float((predicted == y).mean())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="semi-speed")
    parser.add_argument("--steps", type=int, default=240, help="pretraining steps of the 12 x 1024 encoder")
    parser.add_argument("--skip-probe", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    if not args.skip_probe:
        report["probe"] = probe_speed(args.data_dir, args.steps)
        print(json.dumps(report["probe"], indent=2), flush=True)
    report["fit_predict"] = fit_predict_speed(out)
    print(json.dumps(report["fit_predict"], indent=2))
    (out / "semi-speed.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
