"""A streamed image folder against the same images in memory (issue 23; docs/results/speed.md).

Writes ``--images`` generated JPEGs (``--side`` pixels square, 10 class folders; smooth random
pictures, not noise, so that they compress as photographs do) into ``--folder`` (not the
repository), then runs each measurement in a fresh process while this one samples the memory of that
process and of its children (the decoding workers) every 0.1 s:

- decode: the stream made (the folder listed), the per-epoch check of the folder timed, then
  ``ImageFolderStream.epoch`` alone (resize to ``--size``), ``--decode-batches`` batches of
  ``--batch``, with 0 (in the process), 1 and 2 workers: images/s;
- stream: ``dacl.images.pretrain_folder`` on the whole folder (listing, statistics of 2,048 images,
  2 epochs of ``--steps`` steps: ``steps_per_epoch``), ResNet-18 x0.25 at ``--size``, batch ``--batch``,
  DACL views; images/s of the second epoch;
- memory: the first ``--steps x --batch`` images decoded into one uint8 tensor, then
  ``dacl.images.pretrain_images`` with the same model and epochs; images/s of the second epoch.

Peak memory is reported as the largest sum over the process tree of RSS (shared pages counted in
every process that maps them) and of PSS (shared pages split between them: what the tree costs).

    python benchmarks/image_stream_bench.py --folder /tmp/dacl-images-100k --out docs/results/image-stream
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path


def _picture(seed: int, side: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    return coarse.resize((side, side), Image.Resampling.BICUBIC)


def _write_chunk(task: tuple[Path, int, int, int]) -> None:
    folder, start, stop, side = task
    for i in range(start, stop):
        path = folder / f"class-{i % 10}" / f"{i:06d}.jpg"
        if not path.is_file():
            _picture(i, side).save(path, quality=90)


def write_folder(folder: Path, images: int, side: int) -> float:
    from multiprocessing import Pool

    for c in range(10):
        (folder / f"class-{c}").mkdir(parents=True, exist_ok=True)
    if sum(1 for _ in folder.rglob("*.jpg")) >= images:
        return 0.0
    started = time.perf_counter()
    chunks = [(folder, s, min(s + 2000, images), side) for s in range(0, images, 2000)]
    with Pool(2) as pool:
        pool.map(_write_chunk, chunks)
    return time.perf_counter() - started


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                text = (task / "children").read_text().split()
                frontier += [int(c) for c in text]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return found


def _memory(pids: list[int]) -> tuple[int, int]:
    """Sums of RSS and PSS in bytes over ``pids`` (from smaps_rollup)."""
    rss = pss = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return rss, pss


def measured(args: list[str]) -> dict:
    """Run ``this script task ...`` in a fresh process, sampling its tree's memory; its JSON result."""
    process = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    peak = {"rss": 0, "pss": 0}

    def sample():
        while process.poll() is None:
            rss, pss = _memory(_tree(process.pid))
            peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)
            time.sleep(0.1)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, _ = process.communicate()
    watcher.join()
    if process.returncode:
        raise SystemExit(f"{args[0]} failed ({process.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "peak_rss_gib": peak["rss"] / 2**30, "peak_pss_gib": peak["pss"] / 2**30}


def _config(args):
    from dacl.images import image_config

    return image_config(method="dacl", architecture="resnet18", resnet_width=0.25, image_size=args.size,
                        batch_size=args.batch, epochs=2, warmup_epochs=0, lr=0.5, seed=0)  # fmt: skip


def task_decode(args) -> dict:
    from dacl.images.stream import ImageFolderStream

    started = time.perf_counter()
    stream = ImageFolderStream(args.folder, args.batch, image_size=args.size, workers=args.workers)
    made = time.perf_counter() - started
    started = time.perf_counter()
    stream.check_unchanged()
    listed = time.perf_counter() - started
    batches = stream.epoch()
    next(batches)  # the workers' start-up and first batch
    started = time.perf_counter()
    for _ in range(args.decode_batches):
        next(batches)
    seconds = time.perf_counter() - started
    batches.close()
    return {"images_per_s": args.decode_batches * args.batch / seconds, "workers": stream.workers,
            "construct_seconds": made, "check_seconds": listed}  # fmt: skip


def task_stream(args) -> dict:
    from dacl.images import pretrain_folder

    started = time.perf_counter()
    result = pretrain_folder(args.folder, _config(args), workers=args.workers, steps_per_epoch=args.steps,
                             progress=False)  # fmt: skip
    return {"images_per_s": result.history[-1]["samples_per_s"], "seconds": time.perf_counter() - started,
            "placement": result.placement}  # fmt: skip


def task_memory(args) -> dict:
    import torch

    from dacl.images import pretrain_images
    from dacl.images.stream import ImageFolderStream

    started = time.perf_counter()
    stream = ImageFolderStream(args.folder, args.batch, image_size=args.size, workers=args.workers)
    batches = [list(range(s, s + args.batch)) for s in range(0, args.steps * args.batch, args.batch)]
    images = torch.cat([b for b, _ in stream.decoded(batches)])
    decoded = time.perf_counter() - started
    result = pretrain_images(images, _config(args), progress=False)
    return {"images_per_s": result.history[-1]["samples_per_s"], "decode_seconds": decoded,
            "seconds": time.perf_counter() - started, "placement": result.placement}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", nargs="?", default="all", choices=["all", "decode", "stream", "memory"])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/dacl-images-100k"))
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--side", type=int, default=80, help="side of the generated JPEGs")
    parser.add_argument("--size", type=int, default=64, help="image_size: the side they are resized to")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8, help="steps an epoch (2 epochs)")
    parser.add_argument("--decode-batches", dest="decode_batches", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.task != "all":
        print(json.dumps({"decode": task_decode, "stream": task_stream, "memory": task_memory}[args.task](args)))
        return
    written = write_folder(args.folder, args.images, args.side)
    common = ["--folder", str(args.folder), "--size", str(args.size), "--batch", str(args.batch),
              "--steps", str(args.steps), "--decode-batches", str(args.decode_batches)]  # fmt: skip
    results = {"machine": platform.processor() or platform.machine(), "images": args.images, "side": args.side,
               "size": args.size, "batch": args.batch, "steps": args.steps, "write_seconds": written,
               "decode": {}}  # fmt: skip
    for workers in (0, 1, 2):
        results["decode"][workers] = measured(["decode", *common, "--workers", str(workers)])
        print("decode", workers, results["decode"][workers], flush=True)
    for task in ("stream", "memory"):
        results[task] = measured([task, *common])
        print(task, results[task], flush=True)
    results["stream_vs_memory"] = results["stream"]["images_per_s"] / results["memory"]["images_per_s"]
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "image-stream.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
