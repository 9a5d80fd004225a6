"""``dacl predict`` end to end, this code against an earlier one side by side, and the same models exported to
ONNX and run with onnxruntime alone (docs/results/speed.md, "Predictions: dacl predict and ONNX").

A 100,000 x 50 table (1% labelled, 2 classes) and three models fitted on it: the estimator's own choice at
its defaults (an ensemble), a probe alone and gradient-boosted trees alone (these two with 2 pretraining
epochs: what is measured is prediction). Each code fits its own folders (the earlier code keeps trees in
skops' format). Then, for each model, ``python -m dacl predict`` on the 100,000 rows (process start to file
written) ``--repeats`` times per code, alternating codes, the median kept, and today's also with the
folder's ONNX graph inside (``dacl export --model FOLDER``: ``dacl predict`` runs it through onnxruntime);
``python -X importtime`` of each code's predict, summed by top-level package; ``dacl export`` and
``examples/predict_onnx.py`` (onnxruntime, no torch) on the same rows, and their outputs against ``dacl predict
--precision float32 --proba``.

    git worktree add /tmp/dacl-previous f000911
    python benchmarks/predict_speed.py --previous /tmp/dacl-previous --out docs/results/predict-speed

Issue 44 (label spreading's graph in the folder): ``git worktree add /tmp/dacl-before-44 80ad5db`` and
``--previous /tmp/dacl-before-44 --out docs/results/predict-speed/issue-44``; the ``spread`` model (only today's
code fits it) is timed against the earlier code's ``chosen``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MODELS = {  # name -> dacl fit's extra flags
    "chosen": [],
    "probe": ["--candidates", "probe", "--epochs", "2"],
    "trees": ["--candidates", "gbdt-raw", "--epochs", "2"],
    # label spreading's graph (issue 44; 1,000 labelled + 4,096 unlabelled rows): only today's code has it, and
    # its predictions are timed against the earlier code's own choice ("chosen")
    "spread": ["--candidates", "spread", "--epochs", "2"],
}
EARLIER = {"spread": "chosen"}  # a model the earlier code cannot fit -> the earlier model it is compared with


def environment(source: Path) -> dict[str, str]:
    """The environment that imports dacl from ``source`` (a checkout's src/)."""
    return {**os.environ, "PYTHONPATH": str(source)}


def run(args: list[str], source: Path, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=environment(source), cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds, done


def make_table(work: Path) -> None:
    from sklearn.datasets import make_classification

    if (work / "table.csv").exists():
        return
    X, y = make_classification(n_samples=100_000, n_features=50, n_informative=20, n_redundant=10, n_classes=2,
                               random_state=0)  # fmt: skip
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(50)])
    label = np.where(np.random.default_rng(0).random(len(y)) < 0.01, y, -1).astype(float)
    label[label < 0] = np.nan
    frame.assign(target=label).to_csv(work / "table.csv", index=False)
    frame.to_csv(work / "new.csv", index=False)


def import_seconds(stderr: str) -> dict[str, float]:
    """``-X importtime``'s self times summed by top-level package, seconds, largest first."""
    totals: Counter = Counter()
    for line in stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            totals[found.group(2).split(".")[0]] += int(found.group(1)) / 1e6
    return {name: round(seconds, 2) for name, seconds in totals.most_common(8)} | {
        "all": round(sum(totals.values()), 2)}


IN_PROCESS = """
import json, sys, time
import pandas as pd
from dacl import load_predictor
from dacl.tables.train import encode
frame = pd.read_csv("new.csv")
out, outputs = {}, {}
for precision in (None, "float32"):
    predictor = load_predictor(sys.argv[1], precision=precision)
    predictor.predict(frame.head(1000))  # first calls pay one-time costs
    started = time.perf_counter()
    outputs[precision] = predictor.predict_proba(frame)
    out[f"predict_{precision or 'as_fitted'}"] = round(time.perf_counter() - started, 2)
fitted, single = outputs[None], outputs["float32"]
out["as_fitted_vs_float32"] = {"max_probability_difference": float(abs(fitted - single).max()),
                               "labels_differing": float((fitted.argmax(1) != single.argmax(1)).mean())}
raw = predictor.preprocessing.transform(frame)
for precision in ("auto", "float32"):
    encode(predictor.encoder, raw[:5000], precision=precision)
    started = time.perf_counter()
    encode(predictor.encoder, raw, precision=precision)
    out[f"encoder_pass_{precision}"] = round(time.perf_counter() - started, 2)
print(json.dumps(out))
"""

TEARDOWN = "import time; import torch, pandas" + "; import os; os._exit(0)"


def floor(today: Path, work: Path) -> dict[str, float]:
    """Python with torch and pandas imported, leaving normally and leaving without teardown (``os._exit``)."""
    plain = [run(["-c", "import torch, pandas"], today, work)[0] for _ in range(3)]
    quick = [run(["-c", TEARDOWN], today, work)[0] for _ in range(3)]
    return {"import_torch_pandas_seconds": round(statistics.median(plain), 2),
            "same_with_os_exit_seconds": round(statistics.median(quick), 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--previous", required=True, help="a checkout of the earlier code (git worktree)")
    parser.add_argument("--out", default="docs/results/predict-speed")
    parser.add_argument("--work", default="/tmp/dacl-predict-speed", help="tables and model folders (~400 MB)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    codes = {"previous": Path(args.previous).resolve() / "src", "today": ROOT / "src"}
    make_table(work)
    for code, source in codes.items():
        for name, flags in MODELS.items():
            if code == "previous" and name in EARLIER:
                continue
            folder = work / f"{code}-{name}"
            if not (folder / "model.json").exists():
                seconds, _ = run(["-m", "dacl", "fit", "--data", "table.csv", "--label", "target", "--out", folder.name,
                                  "--quiet", "--overwrite", *flags], source, work)  # fmt: skip
                print(f"fit {code} {name}: {seconds:.0f} s", flush=True)
    report: dict = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "rows": 100_000,
                    "columns": 50, "repeats": args.repeats, "models": {}}  # fmt: skip
    for name in MODELS:  # today's folder with its ONNX graph inside: dacl predict runs it through onnxruntime
        graph = work / f"today-{name}-graph"
        if not (graph / "model.onnx").exists():
            shutil.rmtree(graph, ignore_errors=True)
            shutil.copytree(work / f"today-{name}", graph)
            run(["-m", "dacl", "export", "--model", graph.name], codes["today"], work)
    runs = {"previous": ("previous", ""), "today": ("today", ""), "today_graph": ("today", "-graph")}
    for name in MODELS:
        seconds: dict[str, list[float]] = {code: [] for code in runs}
        for _ in range(args.repeats):
            for code, (source, suffix) in runs.items():
                model = EARLIER.get(name, name) if source == "previous" else name
                took, _ = run(["-m", "dacl", "predict", "--model", f"{source}-{model}{suffix}", "--data", "new.csv",
                               "--out", f"{code}-{name}.csv", "--overwrite"], codes[source], work)  # fmt: skip
                seconds[code].append(took)
        imports = {code: import_seconds(run(["-X", "importtime", "-m", "dacl", "predict", "--model",
                                             f"{code}-{EARLIER.get(name, name) if code == 'previous' else name}",
                                             "--data", "new.csv", "--out", f"{code}-{name}.csv", "--overwrite"],
                                            source, work)[1].stderr) for code, source in codes.items()}  # fmt: skip
        state = json.loads((work / f"today-{name}" / "model.json").read_text())
        row = {"chosen": state["chosen"]["model"],
               "members": [m["candidate"] for m in state["chosen"]["members"]],
               "predict_seconds": {c: round(statistics.median(s), 2) for c, s in seconds.items()},
               "all_seconds": {c: [round(x, 2) for x in s] for c, s in seconds.items()},
               "imports": imports}  # fmt: skip
        row["speed_up"] = {code: round(row["predict_seconds"]["previous"] / row["predict_seconds"][code], 2)
                           for code in ("today", "today_graph")}  # fmt: skip
        today = codes["today"]
        run(["-m", "dacl", "predict", "--model", f"today-{name}", "--data", "new.csv", "--out", "float32.csv",
             "--overwrite", "--proba", "--precision", "float32"], today, work)  # fmt: skip
        took, _ = run(["-m", "dacl", "export", "--model", f"today-{name}", "--out", f"{name}.onnx", "--overwrite"],
                      today, work)  # fmt: skip
        row["export_seconds"] = round(took, 2)
        example = str(ROOT / "examples" / "predict_onnx.py")
        onnx = [run([example, f"{name}.onnx", "new.csv", "onnx.csv"], today, work)[0] for _ in range(args.repeats)]
        row["onnxruntime_seconds"] = round(statistics.median(onnx), 2)
        ours, theirs = pd.read_csv(work / "float32.csv"), pd.read_csv(work / "onnx.csv")
        probabilities = ours[[c for c in ours.columns if c.startswith("proba_")]].to_numpy()
        difference = np.abs(theirs[["proba_0", "proba_1"]].to_numpy() - probabilities).max(1)
        row["onnx_vs_float32"] = {"labels_equal": float((ours["target"] == theirs["label"]).mean()),
                                  "max_probability_difference": float(difference.max()),
                                  "rows_over_1e-4": int((difference > 1e-4).sum())}  # fmt: skip
        row["in_process"] = json.loads(run(["-c", IN_PROCESS, f"today-{name}"], today, work)[1].stdout)
        report["models"][name] = row
        print(json.dumps({name: row}, indent=1), flush=True)
    report["floor"] = floor(codes["today"], work)
    print(json.dumps(report["floor"]))
    (out / "predict-speed.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
