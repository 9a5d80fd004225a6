"""TU graph-classification datasets through torch_geometric's ``TUDataset``.

Raw files are read from a local folder holding ``NAME/raw/`` (offline) or downloaded by
torch_geometric from the TU Dortmund server; the canonical files of the datasets we benchmark are
checked against their sha256. Node features are the one-hot node labels where a dataset has
them, else the one-hot node degree with degrees at or above ``degree_cap`` sharing the last column.
Graph labels are mapped to 0..C-1 whatever their raw values (REDDIT-BINARY writes 0 and 2).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dacl.data.download import ChecksumError, data_home, file_digest, files_fingerprint

__all__ = ["GraphDataset", "TU_SHA256", "load_tu"]

# sha256 of the canonical TU files (REDDIT-BINARY is left out: its copy in this project's benchmark
# folder is rebuilt from another format and so cannot vouch for the canonical download).
TU_SHA256 = {
    "MUTAG": {
        "A": "d9656ca7493f3445d737c711710bb36fd432dddd1c0ea32e1d4713c86ebd28e2",
        "graph_indicator": "7d520a4d6c7961c0cdeabe076d8fe27e795b6d373485c9a2b744987e560a2056",
        "graph_labels": "a1518ea39ba3426bd42f57396b9c4baffe68e9adc718caeeab0119c6591a5f2c",
        "node_labels": "678f429965490e84dd27713017538c995fc05d1621beac910848b600015ee863",
    },
    "PTC_MR": {
        "A": "f79523ff94dfbef539e5602a8ac1931a50a2800f33fa1d30e5e31725289b5202",
        "graph_indicator": "d52754f3cbc54e29324f884b4c17200c16e06db0c499afae300b4fa1bb6d794b",
        "graph_labels": "64210accbe4c6c027535b1294e0da652b1f539667f7a2d4bf5121dcd8b00a224",
        "node_labels": "cc50d1e1c5f4c98b2100cf50c5ddd88ff28b419a9180d531046b75ce22983235",
    },
    "IMDB-BINARY": {
        "A": "23c8964bab82f81469271186d721131714a265d0ca8c44ae048118da1d0c4092",
        "graph_indicator": "415cc3ba25b8c647dcf34d3de034f675ee070616f3b803be939cb26773489f26",
        "graph_labels": "63a44411fd6342b9c4429828c16e144a2a11ef5244e25bb60f0ffa8b3ee2ffce",
    },
    "IMDB-MULTI": {
        "A": "fb538b23758d78df199272301e57dc74ad5754d6c3d79d5ed0a343193ddf4ec6",
        "graph_indicator": "0274532a0e47dad9cdd21c08995c2265e43040a2c2a3b36c62fdb790994571d3",
        "graph_labels": "613c2357b6b996f6f04b91697a99da87774820f9d08bf22813992f4c7afda855",
    },
}


@dataclass
class GraphDataset:
    """Graphs (``torch_geometric.data.Data`` with ``x``, ``edge_index``, ``y`` in 0..C-1) and facts."""

    name: str
    graphs: list
    num_features: int
    num_classes: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> torch.Tensor:
        return torch.cat([g.y for g in self.graphs])

    def digest(self) -> str:
        """SHA-256 of the graphs themselves (node features, edges, labels), so that results stored for one
        copy of a dataset are never taken for another of the same name."""
        import hashlib

        digest = hashlib.sha256()
        for graph in self.graphs:
            for tensor in (graph.x, graph.edge_index, graph.y):
                digest.update(str(tuple(tensor.shape)).encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"GraphDataset({self.name!r}, graphs={len(self.graphs)}, features={self.num_features}, " \
               f"classes={self.num_classes})"  # fmt: skip


def _find_raw(name: str, data_dir: str | Path | None) -> Path | None:
    if data_dir is None:
        return None
    for root in (Path(data_dir), Path(data_dir) / "TU"):
        if (root / name / "raw" / f"{name}_A.txt").is_file():
            return root / name / "raw"
    return None


def _verify(name: str, raw: Path) -> None:
    for suffix, expected in TU_SHA256.get(name, {}).items():
        path = raw / f"{name}_{suffix}.txt"
        if file_digest(path, "sha256") != expected:
            raise ChecksumError(f"{path} does not match the published dataset (sha256); delete {raw.parent} and retry.")


def load_tu(
    name: str, data_dir: str | Path | None = None, cache_dir: str | Path | None = None, degree_cap: int = 64
) -> GraphDataset:
    """A TU dataset: raw files from ``data_dir`` (a folder holding ``NAME/raw/``, or ``TU/NAME/raw/``)
    if there, else downloaded; processed into ``cache_dir`` (default: the dacl data folder's ``TU/``)."""
    from torch_geometric.datasets import TUDataset

    root = data_home(cache_dir) / "TU"
    source = _find_raw(name, data_dir)
    if source is not None and source.resolve() != (root / name / "raw").resolve():
        files = [(p, "") for p in sorted(source.iterdir()) if p.is_file()]
        root = root / f"from-{files_fingerprint(source, files, length=16)}"  # never another folder's graphs
    target = root / name / "raw"
    if source is not None and source.resolve() != target.resolve() and not (target / f"{name}_A.txt").is_file():
        target.mkdir(parents=True, exist_ok=True)
        for path in source.iterdir():
            shutil.copy2(path, target / path.name)
    try:
        dataset = TUDataset(str(root), name)
    except OSError as error:
        raise FileNotFoundError(
            f"could not read or download TU dataset {name!r} ({error}); offline, pass a folder holding "
            f"{name}/raw/ as data_dir (--data-dir)."
        ) from error
    _verify(name, target)
    labels = dataset.y
    classes, remapped = torch.unique(labels, return_inverse=True)
    graphs = []
    has_features = dataset.num_node_features > 0
    for index in range(len(dataset)):
        graph = dataset[index]
        graph.y = remapped[index : index + 1]
        if not has_features:
            degree = torch.bincount(graph.edge_index[0], minlength=graph.num_nodes).clamp(max=degree_cap)
            graph.x = torch.nn.functional.one_hot(degree, degree_cap + 1).float()
        graphs.append(graph)
    features = graphs[0].x.shape[1]
    raw_labels = sorted({line.strip() for line in (target / f"{name}_graph_labels.txt").read_text().split()})
    info = {
        "node_features": "one-hot node labels" if has_features else f"one-hot degree, capped at {degree_cap}",
        "raw_labels": raw_labels,
        "source": str(source or target),
    }
    return GraphDataset(name, graphs, features, len(classes), info)
