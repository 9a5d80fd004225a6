"""Fault trials: kill -9 a pretraining run at random moments (and while it writes a checkpoint),
resume it until it finishes, and compare its final weights with those of an unbroken run.

``python tests/fault_trials.py --trials 10 --domain tables`` prints the counts; the slow tests
(tests/engine/test_faults.py) run a few.
Each run is a child process (``python -c``) that pretrains with a checkpoint every epoch and
``resume=True``, so the same command continues after any kill, as a user's would.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["RUNS", "trial"]

# The child programs, one per domain: seeded, checkpointing every epoch, resuming when told to.
RUNS = {
    "tables": """
import sys, torch
from sklearn.datasets import load_digits
from dacl import PretrainConfig, pretrain
torch.set_num_threads(1)
X = load_digits().data / 16
config = PretrainConfig(method="dacl+", depth=4, width=256, epochs=30, batch_size=128, lr=0.5, precision="float32")
pretrain(X, config, checkpoint_dir=sys.argv[1], checkpoint_every=1, resume=True, progress=False)
""",
    "graphs": """
import sys, torch
from torch_geometric.data import Data
from dacl.graphs import graph_config, pretrain_graphs
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
graphs = [Data(x=torch.rand(n, 6, generator=g), edge_index=torch.randint(0, n, (2, 3 * n), generator=g))
          for n in [5 + i % 20 for i in range(300)]]
config = graph_config(method="dacl", width=64, depth=3, epochs=30, batch_size=32)
pretrain_graphs(graphs, config, checkpoint_dir=sys.argv[1], checkpoint_every=1, resume=True)
""",
    "images": """
import sys, torch
from dacl.images import image_config, pretrain
torch.set_num_threads(1)
images = torch.randint(0, 256, (512, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
config = image_config(method="simclr", resnet_width=0.0625, epochs=30, batch_size=64, precision="float32")
pretrain(images, config, checkpoint_dir=sys.argv[1], checkpoint_every=1, resume=True, progress=False)
""",
    # a folder of 512 PNGs (written once, the same for every run) streamed by one decoding worker
    "image-stream": """
import sys, tempfile, torch
from pathlib import Path
from PIL import Image
from dacl.images import image_config, pretrain_folder
torch.set_num_threads(1)
folder = Path(tempfile.gettempdir()) / "dacl-fault-image-folder"
if not (folder / "done").is_file():
    images = torch.randint(0, 256, (512, 16, 16, 3), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    for i, image in enumerate(images):
        (folder / str(i % 4)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.numpy()).save(folder / str(i % 4) / f"{i}.png")
    (folder / "done").write_text("")
config = image_config(method="simclr", resnet_width=0.0625, epochs=30, batch_size=64, precision="float32")
pretrain_folder(folder, config, workers=1, steps_per_epoch=4, checkpoint_dir=sys.argv[1], checkpoint_every=1,
                resume=True, progress=False)
""",
}


def _run(domain: str, folder: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUNS[domain], str(folder)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    from dacl.engine.checkpoint import find_checkpoint

    return {k: v for k, v in load_file(str(find_checkpoint(folder))).items() if k.startswith("model.")}


def _kill_during_a_write(process: subprocess.Popen, folder: Path, deadline: float) -> bool:
    """Poll for a checkpoint's temporary file and kill the run while it exists; True if caught."""
    while time.monotonic() < deadline and process.poll() is None:
        if any(folder.glob(".checkpoint.safetensors.*.tmp")):
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
    return False


def trial(domain: str, reference: dict, seed: int, kills: int = 2, low: float = 1.0, high: float = 8.0) -> dict:
    """One trial: ``kills`` kill -9s (the first while a checkpoint is being written, if caught within
    ``high`` seconds; the others at random moments in [low, high] s), then runs to the end."""
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="dacl-fault-"))
    record = {"seed": seed, "kills": [], "identical": False}
    for index in range(kills):
        process = _run(domain, folder)
        if index == 0:
            caught = _kill_during_a_write(process, folder, time.monotonic() + high)
            record["kills"].append("during a checkpoint write" if caught else "not caught in a write")
        else:
            moment = rng.uniform(low, high)
            try:
                process.wait(timeout=moment)
                record["kills"].append(f"finished before {moment:.1f} s")
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                record["kills"].append(f"at {moment:.1f} s")
    final = _run(domain, folder)
    _, error = final.communicate()
    if final.returncode != 0:
        record["error"] = error.decode()[-500:]
        return record
    weights = _weights(folder)
    record["identical"] = weights.keys() == reference.keys() and all((weights[k] == reference[k]).all()
                                                                      for k in weights)  # fmt: skip
    record["leftovers"] = sorted(p.name for p in folder.glob(".*.tmp"))
    return record


def reference_weights(domain: str) -> dict:
    """The final weights of an unbroken run."""
    folder = Path(tempfile.mkdtemp(prefix="dacl-unbroken-"))
    process = _run(domain, folder)
    _, error = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(error.decode()[-2000:])
    return _weights(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description="kill -9 trials: resumed runs against an unbroken one")
    parser.add_argument("--domain", choices=sorted(RUNS), default="tables")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--kills", type=int, default=2, help="kills per trial (the first during a write)")
    parser.add_argument("--high", type=float, default=8.0, help="latest kill moment, seconds")
    args = parser.parse_args()
    reference = reference_weights(args.domain)
    results = [trial(args.domain, reference, seed, args.kills, high=args.high) for seed in range(args.trials)]
    for r in results:
        leftovers = "; leftovers " + ", ".join(r["leftovers"]) if r.get("leftovers") else ""
        print(
            f"trial {r['seed']}: kills {', '.join(r['kills'])}; identical {r['identical']}{leftovers}",
            r.get("error", ""),
        )
    writes = sum(r["kills"][0] == "during a checkpoint write" for r in results)
    print(f"{args.domain}: {sum(r['identical'] for r in results)} of {len(results)} identical bit for bit "
          f"({writes} killed during a checkpoint write)")  # fmt: skip


if __name__ == "__main__":
    main()
