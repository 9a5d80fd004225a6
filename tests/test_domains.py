"""One shape for every domain: tables, images and graphs offer the same four verbs with the same keywords,
and each trains, checkpoints, reloads and embeds with a user's own encoder and views."""

import inspect

import numpy as np
import pytest
import torch
from torch import nn

import dacl.graphs as graphs_domain
import dacl.images as images_domain
import dacl.tables as tables_domain
from dacl import PretrainConfig
from dacl.images import image_config

DOMAINS = {"tables": tables_domain, "images": images_domain, "graphs": graphs_domain}
SHARED_KEYWORDS = ("encoder", "views", "checkpoint_dir", "checkpoint_every", "resume", "progress", "callbacks",
                   "metadata")  # fmt: skip


@pytest.mark.parametrize("name", DOMAINS)
def test_every_domain_offers_the_four_verbs_with_the_same_keywords(name):
    domain = DOMAINS[name]
    for verb in ("pretrain", "load_model", "embed", "load_data"):
        assert callable(getattr(domain, verb)), (name, verb)
    pretrain = inspect.signature(domain.pretrain).parameters
    assert list(pretrain)[:3] in (["X", "config", "y"], ["images", "config", "labels"], ["graphs", "config", "labels"])
    assert all(pretrain[k].kind is inspect.Parameter.KEYWORD_ONLY for k in SHARED_KEYWORDS), name
    assert pretrain["progress"].default is True
    assert list(inspect.signature(domain.load_model).parameters) == ["checkpoint_dir", "encoder"]


def round_trip(domain, data, config, encoder, make_encoder, views, tmp_path):
    result = domain.pretrain(data, config, encoder=encoder, views=views, checkpoint_dir=tmp_path, progress=False)
    assert np.isfinite(result.history[-1]["loss"])
    with pytest.raises(ValueError, match="user's encoder"):
        domain.load_model(tmp_path)
    loaded = domain.load_model(tmp_path, encoder=make_encoder())
    a, b = domain.embed(result, data), domain.embed(loaded, data)
    assert np.allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    return result


class TinyCNN(nn.Module):
    out_features = 6

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, 6))  # fmt: skip

    def forward(self, x):
        return self.net(x)


def test_a_users_cnn_and_view_train_reload_and_embed_as_images(tmp_path):
    images = torch.randint(0, 256, (24, 3, 8, 8), dtype=torch.uint8)
    seen = []

    def brighter(x, generator):
        seen.append(x.dtype)
        return (x + 0.1 * torch.rand(x.shape, generator=generator)).clamp(0, 1)

    config = image_config(method="dacl", epochs=2, batch_size=8, warmup_epochs=0, head_depth=2, projection_dim=4)
    round_trip(images_domain, images, config, TinyCNN(), TinyCNN, brighter, tmp_path)
    assert seen and all(d == torch.float32 for d in seen)  # the views see float images in [0, 1]


class TinyGCN(nn.Module):
    """A user's graph encoder: two GCN layers and mean pooling (torch_geometric's own layers)."""

    out_features = 8

    def __init__(self, features=3):
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.first, self.second = GCNConv(features, 8), GCNConv(8, 8)

    def forward(self, batch):
        from torch_geometric.nn import global_mean_pool

        h = torch.relu(self.first(batch.x, batch.edge_index))
        return global_mean_pool(self.second(h, batch.edge_index), batch.batch)


def test_a_users_gnn_and_view_train_reload_and_embed_as_graphs(tmp_path):
    from torch_geometric.data import Data

    g = torch.Generator().manual_seed(0)
    data = [Data(x=torch.rand(5, 3, generator=g), edge_index=torch.randint(0, 5, (2, 8), generator=g))
            for _ in range(16)]  # fmt: skip
    config = graphs_domain.graph_config(epochs=2, batch_size=8, width=8)
    result = round_trip(graphs_domain, data, config, TinyGCN(), TinyGCN, None, tmp_path)
    assert result.model.mixes_output  # mix_at=-1 on an encoder without the layer hook: its output mixed
    with pytest.raises(ValueError, match="without labels"):
        graphs_domain.pretrain(data, config, [0] * 16, progress=False)


def test_a_users_mlp_trains_reloads_and_embeds_as_a_table(tmp_path):
    X = np.random.default_rng(0).random((32, 5), dtype=np.float32)

    def make():
        return nn.Sequential(nn.Linear(5, 7), nn.ReLU())

    config = PretrainConfig(method="dacl", epochs=2, batch_size=8, warmup_epochs=0, head_depth=2, projection_dim=4)
    round_trip(tables_domain, X, config, make(), make, lambda x, g: x.roll(1, 0) * 0.1 + 0.9 * x, tmp_path)
    with pytest.raises(ValueError, match="dacl.images.load_model"):
        images = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8)
        cfg = image_config(method="none", epochs=0)
        images_domain.pretrain(images, cfg, checkpoint_dir=tmp_path / "img", progress=False)
        tables_domain.load_model(tmp_path / "img")
