"""Ridge's penalty: fixed (alpha = 1, before) against chosen by leave-one-out error (now), for the
regressor's probe on the DACL features and for ridge on the raw columns (docs/results/tabular_encoders.md).

    python benchmarks/ridge_penalty.py --data-dir ../shared/data

For each regression table, the encoder study's `plain` encoder (DACL+, the `small` budget; pretrained
once and kept in docs/results/tabular_encoders/plain/encoders/) gives the features; on each of the first
3 label draws at 1% and 10% of the labels both heads are fitted on the labelled rows both ways and
scored by R² on the test split. Only the penalty differs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"  # the results beside their pages

OUT = RESULTS / "tabular_encoders" / "plain"


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(1 - np.square(truth - predicted).sum() / np.square(truth - truth.mean()).sum())


def measure(dataset: str, data_dir: str | None, fractions=(0.01, 0.1), draws: int = 3) -> list[dict]:
    import torch

    from dacl.core.linear import RIDGE_ALPHAS, fit_ridge, ridge_leave_one_out, standardization
    from dacl.data import load_dataset
    from dacl.data.subsets import label_subset
    from dacl.studies.experiment import prepare_features
    from dacl.studies.label_study import study_encoder
    from dacl.tables import encode

    features = prepare_features(load_dataset(dataset, data_dir=data_dir))
    X, y, X_test, y_test = features.X_train, features.y_train, features.X_test, features.y_test
    encoder, config, _ = study_encoder(dataset, features, OUT)  # the encoder study's finals: small, DACL+
    inputs = {"probe": (encode(encoder, X, precision=config.precision),
                        encode(encoder, X_test, precision=config.precision)),
              "ridge on the raw columns": (np.asarray(X, np.float32), np.asarray(X_test, np.float32))}  # fmt: skip
    results = []
    for fraction in fractions:
        for draw in range(draws):
            rows = label_subset(y, fraction, draw, regression=True)
            target = torch.as_tensor(y[rows], dtype=torch.float64)
            for head, (train, test) in inputs.items():
                x = torch.as_tensor(np.ascontiguousarray(train[rows]))
                mean, std = standardization(x)
                errors = ridge_leave_one_out(((x - mean) / std).double(), target - target.mean(), RIDGE_ALPHAS)
                chosen = RIDGE_ALPHAS[int(errors.argmin())]
                scores = {}
                for name, alpha in (("alpha=1", 1.0), ("leave-one-out", None)):
                    model = fit_ridge(x, target, alpha=alpha)
                    scores[name] = _r2(y_test, model(torch.as_tensor(test)).numpy()[:, 0].astype(np.float64))
                results.append({"dataset": dataset, "fraction": fraction, "draw": draw, "labelled": len(rows),
                                "head": head, "features": x.shape[1], "alpha": chosen, **scores})  # fmt: skip
                print(results[-1], flush=True)
    return results


def table(results: list[dict]) -> str:
    lines = ["| dataset | labels | labelled rows | head | inputs | R² alpha = 1 | R² leave-one-out | chosen alpha |",
             "|---|---:|---:|---|---:|---:|---:|---|"]  # fmt: skip
    keys = dict.fromkeys((r["dataset"], r["fraction"], r["head"]) for r in results)
    for dataset, fraction, head in keys:
        found = [r for r in results if (r["dataset"], r["fraction"], r["head"]) == (dataset, fraction, head)]
        fixed, chosen = ([100 * r[k] for r in found] for k in ("alpha=1", "leave-one-out"))
        alphas = ", ".join(f"{r['alpha']:.3g}" for r in found)
        lines.append(f"| {dataset} | {100 * fraction:g}% | {found[0]['labelled']} | {head} | {found[0]['features']} | "
                     f"{np.mean(fixed):.1f} ± {np.std(fixed):.1f} | {np.mean(chosen):.1f} ± {np.std(chosen):.1f} | "
                     f"{alphas} |")  # fmt: skip
    return "\n".join(lines) + "\n\nTest R² x 100, mean ± std over the first 3 label draws; the chosen alpha per draw.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="wine-quality,california-housing")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    results = [r for d in args.datasets.split(",") for r in measure(d.strip(), args.data_dir)]
    print(table(results))


if __name__ == "__main__":
    main()
