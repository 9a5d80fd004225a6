"""Few labels: what a user with much unlabeled data and a few labelled rows gets from an encoder.

- :func:`label_subset`: the labelled rows of a label fraction, stratified, every class present,
  seeded by the draw; taken from the training split only.
- :func:`fine_tune`: the encoder and a linear classifier trained together on the labelled rows
  (a copy: the pretrained encoder is left as it was), and :func:`choose_fine_tuning`, which picks the
  learning rate and the number of epochs on a stratified validation part of the labelled rows, never
  on the test split.
- :func:`gbdt_accuracy`: gradient-boosted trees, what a data scientist tries first on the raw
  columns (optionally with the encoder's features beside them); logistic regression is
  ``dacl.evaluate.linear_probe_accuracy`` on the raw columns.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dacl.data.subsets import stratified_subset
from dacl.evaluate import check_classes, encode

__all__ = ["FINE_TUNE_BATCH", "choose_fine_tuning", "fine_tune", "fine_tuned_accuracy", "gbdt_accuracy", "label_subset"]


FINE_TUNE_BATCH = 256  # rows per fine-tuning step


def label_subset(y_train: Any, fraction: float, draw: int) -> np.ndarray:
    """Sorted indices of ``fraction`` of the training rows (at least one per class), stratified,
    different for each ``draw``."""
    if not 0 < fraction <= 1:
        raise ValueError(f"a label fraction must lie in (0, 1], got {fraction}.")
    y_train = np.asarray(y_train)
    classes = len(np.unique(y_train))
    size = max(classes, round(fraction * len(y_train)))
    return stratified_subset(y_train, size, seed=draw)


class _Classifier(nn.Module):
    def __init__(self, encoder: nn.Module, width: int, classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def fine_tune(
    encoder: nn.Module,
    X: Any,
    y: Any,
    *,
    epochs: int = 50,
    lr: float = 1e-3,
    batch_size: int = FINE_TUNE_BATCH,
    seed: int = 0,
) -> nn.Module:
    """A copy of ``encoder`` with a linear classifier, trained end to end with AdamW (cross-entropy)
    on the labelled rows ``X``, ``y`` (class indices); ``encoder`` itself is not changed."""
    check_classes(y)
    data = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.long)
    device = next(encoder.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tuned = copy.deepcopy(encoder)
        width = encode(tuned, data[:2]).shape[1]
        model = _Classifier(tuned, width, int(labels.max()) + 1).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    batch = max(2, min(batch_size, len(data)))
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data) - 1, batch):  # a last batch of 1 row would break BatchNorm
            index = order[start : start + batch]
            if len(index) < 2:
                continue
            loss = F.cross_entropy(model(data[index].to(device)), labels[index].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def fine_tuned_accuracy(model: nn.Module, X: Any, y: Any) -> float:
    device = next(model.parameters()).device
    logits = model(torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device))
    return float((logits.argmax(1).cpu().numpy() == np.asarray(y)).mean())


def choose_fine_tuning(
    encoder: nn.Module, X: Any, y: Any, lrs=(1e-4, 1e-3), epochs=(20, 50), seed: int = 0
) -> dict[str, float]:
    """The (lr, epochs) of the grid with the best accuracy on a stratified 20% of the labelled rows
    (at least one a class; the fine-tuning trains on the rest); with too few rows to hold some out,
    the grid's first."""
    X, y = np.asarray(X), np.asarray(y)
    counts = np.bincount(y)
    classes = int((counts > 0).sum())
    grid = list(itertools.product(lrs, epochs))
    held_out = max(classes, round(0.2 * len(y)))  # every class in the validation part
    if counts[counts > 0].min() < 2 or len(y) - held_out < classes:
        return {"lr": grid[0][0], "epochs": grid[0][1], "validated": False}
    from sklearn.model_selection import train_test_split

    fit, val = train_test_split(np.arange(len(y)), test_size=held_out, stratify=y, random_state=seed)
    scores = [(fine_tuned_accuracy(fine_tune(encoder, X[fit], y[fit], epochs=e, lr=lr, seed=seed), X[val], y[val]),
               -i) for i, (lr, e) in enumerate(grid)]  # fmt: skip
    lr, chosen = grid[-max(scores)[1]]
    return {"lr": lr, "epochs": chosen, "validated": True}


def gbdt_leaf_size(labels: Any, default: int = 20) -> int:
    """The trees' smallest leaf: scikit-learn's 20 rows, but at most half the rarest class's labelled
    rows. With 1% of a small table's labels (2 rows a class) a leaf of 20 rows allows no split at all,
    and every tree predicts the class prior: the baseline would lose for a reason no user would accept."""
    labels = np.asarray(labels)
    rarest = int(np.bincount(labels)[np.unique(labels)].min())
    return int(min(default, max(1, rarest // 2)))


def gbdt_accuracy(X_train: Any, y_train: Any, X_test: Any, y_test: Any, seed: int = 0) -> float:
    """scikit-learn's HistGradientBoostingClassifier with its defaults (early stopping on large data)
    except the smallest leaf, capped by :func:`gbdt_leaf_size` for few labels."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    check_classes(y_train)
    model = HistGradientBoostingClassifier(min_samples_leaf=gbdt_leaf_size(y_train), random_state=seed)
    model.fit(np.asarray(X_train), y_train)
    return float(model.score(np.asarray(X_test), y_test))
