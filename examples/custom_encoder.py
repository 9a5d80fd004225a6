"""A user's own encoder (a small transformer over a table's columns) and a user's own view (cells
dropped at random, then linear mixup), trained by dacl's engine, checkpointed, resumable after a
kill, reloaded and evaluated with the linear probe. Run: python examples/custom_encoder.py
(the same code as in the README)."""

import torch
from sklearn.datasets import load_digits
from torch import nn

from dacl import Compose, LinearMixup, PretrainConfig, load_model, pretrain
from dacl.evaluate import linear_probe_accuracy
from dacl.tables import encode


class ColumnTransformer(nn.Module):  # your encoder: every column a token
    def __init__(self, columns: int, width: int = 32) -> None:
        super().__init__()
        self.value = nn.Parameter(0.1 * torch.randn(columns, width))
        self.column = nn.Parameter(torch.zeros(columns, width))
        layer = nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=2 * width, dropout=0.0, batch_first=True)
        self.blocks, self.out_features = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x.unsqueeze(-1) * self.value + self.column).mean(dim=1)


def drop_cells(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:  # your view
    return x * (torch.rand(x.shape, generator=generator, device=x.device) > 0.1)


X, y = load_digits(return_X_y=True)
X = X / 16
config = PretrainConfig(method="dacl", epochs=30, batch_size=128, optimizer="adamw", lr=1e-3, warmup_epochs=1)
views = Compose(drop_cells, LinearMixup(0.9))  # an augmentation of yours, then mixup (Eq. 3)
run = dict(checkpoint_dir="runs/custom", checkpoint_every=1, resume=True)  # killed? run it again: it continues
pretrain(X[:1400], config, encoder=ColumnTransformer(64), views=views, **run)
encoder = load_model("runs/custom", encoder=ColumnTransformer(64)).encoder
print(linear_probe_accuracy(encode(encoder, X[:1400]), y[:1400], encode(encoder, X[1400:]), y[1400:]))
