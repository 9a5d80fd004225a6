"""Fine-tuning as the few-label candidates do it (their own loop, ``candidates.fine_tune``) against the same
training through ``dacl.fit`` (the engine, method ``supervised``), side by side in one process, median of 3
each: a 4 x 512 encoder + linear head, AdamW lr 1e-3, batch 256, float32 (issue 21).

    python docs/results/fine_tune_engine.py
"""

from __future__ import annotations

import copy
import statistics
import time

import numpy as np
import torch
from torch import nn

from dacl import PretrainConfig, fit
from dacl.core.encoders import MLPEncoder
from dacl.engine.sources import TensorSource
from dacl.methods import Supervised
from dacl.semisupervised.candidates import Settings, Task, fine_tune


def seconds(run, *args, **kwargs) -> float:
    started = time.perf_counter()
    run(*args, **kwargs)
    return time.perf_counter() - started


def main() -> None:
    rng = np.random.default_rng(0)
    for rows, epochs in ((100, 50), (1000, 20)):
        X, y = rng.random((rows, 64), dtype=np.float32), rng.integers(0, 10, rows)
        encoder = MLPEncoder(64, 512, 4)
        config = PretrainConfig(method="supervised", optimizer="adamw", lr=1e-3, epochs=epochs,
                                batch_size=min(256, rows), warmup_epochs=0, schedule="constant", weight_decay=0.01,
                                precision="float32")  # fmt: skip
        own, engine = [], []
        for _ in range(3):
            own.append(seconds(fine_tune, encoder, X, y, Task("classification", 10), 1e-3, (epochs,), Settings()))
            method = Supervised(copy.deepcopy(encoder), nn.Linear(512, 10))
            source = TensorSource(torch.as_tensor(X), torch.as_tensor(y), config.batch_size)
            engine.append(seconds(fit, method, source, config, progress=False))
        a, b = statistics.median(own), statistics.median(engine)
        print(f"{rows} rows, {epochs} epochs: own loop {a:.3f} s, engine {b:.3f} s, engine/own {b / a:.2f}x")


if __name__ == "__main__":
    main()
