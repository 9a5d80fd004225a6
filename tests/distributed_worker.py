"""Processes of the distributed tests (an importable module: torch.multiprocessing spawns them)."""

import json
import os
from pathlib import Path

import torch

from dacl.engine.sources import TensorSource


class FixedViews:
    """Views that are a fixed function of each row (no random draw): the rows of a process's share get
    exactly the views that the same rows get in one process, so a comparison checks the gradients."""

    def __init__(self, features: int) -> None:
        g = torch.Generator().manual_seed(123)
        self.scale = 0.5 + torch.rand(2, features, generator=g)
        self.shift = 0.1 * torch.randn(2, features, generator=g)

    def pair(self, x, generator=None, *, validate=True):
        return x * self.scale[0] + self.shift[0], x * self.scale[1] + self.shift[1]


class Stop(Exception):
    """Stands for every process of a run stopped at once."""


class StoppingSource(TensorSource):
    """Batches of rows that stop (in every process) when epoch ``stop_after + 1`` begins."""

    def __init__(self, inputs, batch_size, stop_after=None):
        super().__init__(inputs, None, batch_size)
        self.stop_after, self.started = stop_after, 0

    def epoch(self, generator):
        self.started += 1
        if self.stop_after is not None and self.started > self.stop_after:
            raise Stop
        yield from super().epoch(generator)


def data(rows: int = 32, features: int = 6) -> torch.Tensor:
    return torch.rand(rows, features, generator=torch.Generator().manual_seed(7))


def config(**changes):
    from dacl import PretrainConfig

    values = {"method": "dacl", "depth": 3, "width": 16, "head_depth": 2, "projection_dim": 8, "epochs": 4,
              "batch_size": 16, "lr": 0.5, "warmup_epochs": 0, "precision": "float32", "seed": 3}  # fmt: skip
    return PretrainConfig(**(values | changes))


def train(out: Path, resume: bool = False, stop_after: int | None = None, **changes) -> None:
    """The engine on 32 rows, batch 16 (two steps an epoch), fixed views; rank 0 writes the weights and history."""
    from dacl.engine.loop import fit
    from dacl.tables import build

    x, cfg = data(), config(**changes)
    method = build(cfg, x.shape[1], views=FixedViews(x.shape[1]), example=x[:2])
    try:
        result = fit(method, StoppingSource(x, cfg.batch_size, stop_after), cfg, checkpoint_dir=out / "checkpoints",
                     checkpoint_every=1, resume=resume, progress=False)  # fmt: skip
    except Stop:
        return
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save({k: v.clone() for k, v in result.model.state_dict().items()}, out / "weights.pt")
        (out / "history.json").write_text(json.dumps(result.history))


def other_domains(out: Path) -> None:
    """Images (SimCLR+DACL on a ResNet) and graphs (DACL on a GIN) for two epochs each, checkpointed."""
    from torch_geometric.data import Data

    from dacl.graphs import graph_config, pretrain_graphs
    from dacl.images import image_config, pretrain_images

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (32, 3, 8, 8), generator=g, dtype=torch.uint8)
    config = image_config(method="simclr+dacl", resnet_width=1 / 16, epochs=2, batch_size=16, warmup_epochs=0,
                          precision="float32")  # fmt: skip
    pretrain_images(images, config, checkpoint_dir=out / "images", progress=False)
    from PIL import Image

    from dacl.images import pretrain_folder

    folder = out / f"folder-{os.environ['RANK']}"  # each process its copy of the same images
    for i, image in enumerate(images):
        (folder / str(i % 2)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / str(i % 2) / f"{i}.png")
    pretrain_folder(folder, config, workers=0, checkpoint_dir=out / "image-stream", progress=False)
    graphs = []
    for i in range(24):
        n = 3 + i % 4
        edges = torch.randint(0, n, (2, 2 * n), generator=g)
        graphs.append(Data(x=torch.rand(n, 5, generator=g), edge_index=edges, y=torch.tensor([i % 2])))
    pretrain_graphs(graphs, graph_config(width=8, depth=2, epochs=2, batch_size=8), checkpoint_dir=out / "graphs",
                    progress=False)  # fmt: skip


def process(index: int, world: int, init_file: str, out: str, task: str) -> None:
    """Entry point of one spawned process: join a gloo group of ``world`` processes and run ``task``."""
    import torch.distributed as dist

    os.environ.update({"RANK": str(index), "WORLD_SIZE": str(world), "LOCAL_RANK": str(index)})
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=index, world_size=world)
    try:
        tasks = {"train": {}, "stop": {"stop_after": 2}, "resume": {"resume": True},
                 "no-sync": {"sync_batchnorm": False}, "odd-batch": {"batch_size": 15}}  # fmt: skip
        if task == "domains":
            other_domains(Path(out))
        else:
            train(Path(out), **tasks[task])
    finally:
        dist.destroy_process_group()
