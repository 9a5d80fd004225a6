"""Fine-tuning through the engine (issue 34): every fold's network trained one after the other (what
``dacl.tables.semisupervised.candidates.fine_tune`` does, one ``dacl.fit`` each) against all folds' networks as one
batched model (``torch.func.stack_module_state`` + ``vmap`` over the stacked weights, one AdamW over them,
each network's BatchNorm over its own rows), side by side in one process, median of 3: a 4 x 512 encoder
and a linear head, the cross-validation of the label study's 1% cells (15 folds x 2 learning rates: 30
networks) and of a 10% cell (3 folds x 2: 6 networks on ~1,000 rows, batches of 256), float32 and bf16.

    python benchmarks/fine_tune_engine.py
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from dacl.core.encoders import MLPEncoder
from dacl.core.runtime import autocast


class Network(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(512, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def one_after_another(networks, x, y, steps: int, precision: str) -> None:
    optimizers = [torch.optim.AdamW(n.parameters(), lr=1e-3) for n in networks]
    for _ in range(steps):
        for network, optimizer, xi, yi in zip(networks, optimizers, x, y):
            with autocast(torch.device("cpu"), precision):
                loss = F.cross_entropy(network(xi).float(), yi)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def batched(networks, x, y, steps: int, precision: str) -> None:
    params, buffers = stack_module_state(networks)
    base = copy.deepcopy(networks[0]).to("meta")
    optimizer = torch.optim.AdamW(list(params.values()), lr=1e-3)

    def forward(p, b, xi):
        return functional_call(base, (p, b), (xi,))

    for _ in range(steps):
        with autocast(torch.device("cpu"), precision):
            logits = vmap(forward)(params, buffers, x).float()
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(len(networks), -1)
        optimizer.zero_grad(set_to_none=True)
        loss.mean(1).sum().backward()  # each network's own mean loss: its own gradient
        optimizer.step()


def main() -> None:
    torch.manual_seed(0)
    for models, rows, steps in ((30, 120, 20), (6, 256, 20)):
        encoder = MLPEncoder(64, 512, 4)
        x, y = torch.rand(models, rows, 64), torch.randint(0, 10, (models, rows))
        for precision in ("float32", "bfloat16"):
            times = {"one after another": [], "batched (vmap)": []}
            failed = ""
            for _ in range(3):
                for name, run in (("one after another", one_after_another), ("batched (vmap)", batched)):
                    networks = [Network(copy.deepcopy(encoder)) for _ in range(models)]
                    started = time.perf_counter()
                    try:
                        run(networks, x, y, steps, precision)
                    except RuntimeError as error:  # BatchNorm under vmap and bf16 autocast (torch 2.13)
                        failed = str(error).splitlines()[0]
                        continue
                    times[name].append((time.perf_counter() - started) / steps)
            a = statistics.median(times["one after another"])
            if failed:
                print(f"{models} networks x {rows} rows, {precision}: one after another {1000 * a:.0f} ms a step of "
                      f"all; batched fails: {failed}", flush=True)
                continue
            b = statistics.median(times["batched (vmap)"])
            print(f"{models} networks x {rows} rows, {precision}: one after another {1000 * a:.0f} ms a step of "
                  f"all, batched {1000 * b:.0f} ms; batched/sequential {b / a:.2f}x", flush=True)


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
