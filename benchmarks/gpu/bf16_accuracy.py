"""Linear-probe accuracy of bfloat16 against float32 pretraining on the demo data (digits).

The demo's set-up (``dacl.cli.DEMO_CONFIG``: 4 x 256 encoder, 100 epochs, batch 256, lr 0.5) for
DACL and DACL+, several seeds each, the same seeds at both precisions; also the pretraining
samples/s of each. The question it answers: is bf16 within 0.5 points of float32?

    python benchmarks/gpu/bf16_accuracy.py --device cuda --seeds 5 --out bf16_accuracy.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics

from dacl.cli import DEMO_CONFIG
from dacl.config import PretrainConfig
from dacl.core.runtime import device_name
from dacl.data import load_dataset
from dacl.studies.experiment import prepare_features, run_method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", default="dacl,dacl+")
    parser.add_argument("--epochs", type=int, default=DEMO_CONFIG["epochs"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    features = prepare_features(load_dataset("digits"))
    base = PretrainConfig(**{**DEMO_CONFIG, "epochs": args.epochs}, device=args.device)
    runs = []
    for method in args.methods.split(","):
        for precision in ("float32", "bfloat16"):
            for seed in range(args.seeds):
                config = dataclasses.replace(base, precision=precision, seed=seed)
                row, history = run_method(method, features, config)
                speed = statistics.median(h["samples_per_s"] for h in history[1:])
                runs.append({"method": method, "precision": precision, "seed": seed, "accuracy": row["accuracy"],
                             "samples_per_s": speed, "seconds": row["seconds"]})  # fmt: skip
                print(runs[-1], flush=True)
    summary = {}
    for method in args.methods.split(","):
        by = {p: [r for r in runs if r["method"] == method and r["precision"] == p] for p in ("float32", "bfloat16")}
        accuracy = {p: [r["accuracy"] for r in rows] for p, rows in by.items()}
        differences = [b - f for f, b in zip(accuracy["float32"], accuracy["bfloat16"])]
        summary[method] = {
            **{f"{p}_mean": statistics.mean(a) for p, a in accuracy.items()},
            **{f"{p}_std": statistics.pstdev(a) for p, a in accuracy.items()},
            "mean_difference_bf16_minus_fp32": statistics.mean(differences),
            "speed_ratio_bf16_over_fp32": statistics.median(r["samples_per_s"] for r in by["bfloat16"])
            / statistics.median(r["samples_per_s"] for r in by["float32"]),
        }
    report = {"runs": runs, "summary": summary, "device_name": device_name(args.device), "config": base.to_dict()}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
