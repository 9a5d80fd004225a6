"""Predict with a dacl model exported to ONNX, with onnxruntime, NumPy and pandas alone: torch, scikit-learn
and dacl are not imported (nor needed: ``pip install onnxruntime pandas`` is enough where this runs).

    dacl fit --data table.csv --label income --out model/
    dacl export --model model/ --out model.onnx
    python examples/predict_onnx.py model.onnx new.csv predictions.csv

The graph takes one input per column, named as the column: numbers as float64 (an empty cell is NaN: imputed
as in the fit), text as strings (an empty cell is ""). Its outputs: ``label`` and ``probabilities`` (classes)
or ``prediction`` (numbers).
"""

import sys

import numpy as np
import onnxruntime
import pandas as pd


def graph_inputs(session: onnxruntime.InferenceSession, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each column the graph names, as the (N, 1) array of its type."""
    feeds = {}
    for node in session.get_inputs():
        column = frame[node.name]
        if node.type == "tensor(string)":
            text = column.astype(object).where(column.notna(), "").map(str)
            feeds[node.name] = text.to_numpy(dtype=object).reshape(-1, 1)
        else:
            feeds[node.name] = pd.to_numeric(column).to_numpy(dtype=np.float64).reshape(-1, 1)
    return feeds


ROWS_PER_RUN = 1024  # a k-NN graph compares each row with every stored row: in chunks, 2-5x faster than at once


def run(session: onnxruntime.InferenceSession, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The graph's outputs for every row, ``ROWS_PER_RUN`` rows a run (memory stays bounded)."""
    rows = len(next(iter(feeds.values())))
    if rows <= ROWS_PER_RUN:
        return session.run(None, feeds)
    parts = [session.run(None, {name: value[start : start + ROWS_PER_RUN] for name, value in feeds.items()})
             for start in range(0, rows, ROWS_PER_RUN)]  # fmt: skip
    return [np.concatenate([part[i] for part in parts]) for i in range(len(parts[0]))]


def main(model: str, data: str, out: str) -> None:
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    frame = pd.read_csv(data)
    outputs = run(session, graph_inputs(session, frame))
    names = [o.name for o in session.get_outputs()]
    table = pd.DataFrame({names[0]: outputs[0]})
    if len(outputs) > 1:  # the probability of each class, in the order of the model's classes
        for index in range(outputs[1].shape[1]):
            table[f"proba_{index}"] = outputs[1][:, index]
    table.to_csv(out, index=False)
    print(f"{len(table)} predictions written to {out}; torch imported: {'torch' in sys.modules}")


if __name__ == "__main__":
    main(*(sys.argv[1:4] if len(sys.argv) >= 4 else ("model.onnx", "new.csv", "predictions.csv")))
