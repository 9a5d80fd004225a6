"""The same model on any thread count (``dacl.core.batchnorm``), what it costs: the estimators' pretraining (the
transformer ``DACL`` at its defaults, a 4 x 512 encoder, batch 512, DACL+, LARS, bf16 where the CPU has it) on
1 and on 2 threads, with dacl's BatchNorm on one thread (today) and with torch's own ``nn.BatchNorm1d`` kernels
(switched back in this process), side by side in one run, rounds alternating: seconds of each run
and whether the 1- and 2-thread encoders are the same bit for bit (docs/results/speed.md, "The same model
on any thread count"). ``--domain graphs``: the same for the graphs' pretraining (the paper's 4 x 512 GIN,
batch 128 graphs, float32) on a TU set, where only the projection head's BatchNorm is dacl's.

    python benchmarks/batchnorm_threads.py --data-dir ../shared/data
    python benchmarks/batchnorm_threads.py --domain graphs --dataset IMDB-BINARY --epochs 2 --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "fast_fit"  # beside the other fit timings


def table(dataset: str, data_dir: str | None) -> np.ndarray:
    """The dataset's training rows (a random 16,000 x 10 table where no data folder is given)."""
    if data_dir is None:
        return np.random.default_rng(0).normal(size=(16_000, 10)).astype(np.float32)
    from dacl.data import load_dataset

    return np.asarray(load_dataset(dataset, data_dir=data_dir).X_train, dtype=np.float32)


def pretrain(data, threads: int, epochs: int, one_thread: bool) -> tuple[float, str]:
    """Seconds of one pretraining run and the digest of its encoder's weights: the tables' estimators'
    pretraining on an array, the graphs' on a list of graphs."""
    import torch
    from torch import nn

    from dacl.core.batchnorm import OneThreadBatchNorm1d

    ours = OneThreadBatchNorm1d.forward
    if not one_thread:  # torch's own kernels in every BatchNorm that dacl builds with its own
        OneThreadBatchNorm1d.forward = nn.BatchNorm1d.forward
    try:
        started = time.perf_counter()
        with warnings.catch_warnings():  # short runs: "the warm-up takes most of the run" (speed, not a model)
            warnings.simplefilter("ignore", UserWarning)
            if isinstance(data, np.ndarray):
                from dacl import DACL

                encoder = DACL(random_state=0, n_jobs=threads, encoder_cache=False, epochs=epochs).fit(data).encoder_
            else:
                from dacl.graphs import graph_config, pretrain_graphs

                torch.set_num_threads(threads)
                config = graph_config(epochs=epochs, seed=0, device="cpu")
                encoder = pretrain_graphs(data, config, progress=False).model
        seconds = time.perf_counter() - started
    finally:
        OneThreadBatchNorm1d.forward = ours
    weights = b"".join(v.float().numpy().tobytes() for v in encoder.state_dict().values())
    return seconds, hashlib.sha256(weights).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", choices=("tables", "graphs"), default="tables")
    parser.add_argument("--dataset", default=None, help="magic (tables) or IMDB-BINARY (graphs) unless given")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    from dacl.core.runtime import cpu_kind

    if args.domain == "tables":
        args.dataset = args.dataset or "magic"
        X = table(args.dataset, args.data_dir)
    else:
        from dacl.graphs import load_tu

        args.dataset = args.dataset or "IMDB-BINARY"
        X = load_tu(args.dataset, data_dir=args.data_dir).graphs
    pretrain(X, 2, 1, True)  # warm-up: imports and first calls
    runs: dict[str, list] = {}
    for _ in range(args.repeats):
        for one_thread in (True, False):
            for threads in (1, 2):
                name = f"{'one-thread BatchNorm' if one_thread else 'nn.BatchNorm1d'}, {threads} thread(s)"
                runs.setdefault(name, []).append(pretrain(X, threads, args.epochs, one_thread))
                print(name, f"{runs[name][-1][0]:.2f} s", flush=True)
    named = args.data_dir or args.domain == "graphs"
    result = {"domain": args.domain, "dataset": args.dataset if named else "random 16,000 x 10", "rows": len(X),
              "epochs": args.epochs, "cpu": cpu_kind(), "runs": runs}  # fmt: skip
    for kind in ("one-thread BatchNorm", "nn.BatchNorm1d"):
        one, two = runs[f"{kind}, 1 thread(s)"], runs[f"{kind}, 2 thread(s)"]
        result[f"{kind}: the same encoder on 1 and 2 threads"] = all(a[1] == b[1] for a, b in zip(one, two))
    for threads in (1, 2):
        ours = [s for s, _ in runs[f"one-thread BatchNorm, {threads} thread(s)"]]
        torch_s = [s for s, _ in runs[f"nn.BatchNorm1d, {threads} thread(s)"]]
        result[f"time ratio on {threads} thread(s), one-thread BatchNorm / nn.BatchNorm1d"] = sum(ours) / sum(torch_s)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "batchnorm-threads.json" if args.domain == "tables" else "batchnorm-threads-graphs.json"
    (out / name).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
