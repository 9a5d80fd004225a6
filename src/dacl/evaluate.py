"""Linear evaluation protocol and k-NN accuracy on frozen encoder features.

The paper evaluates a representation by training a linear classifier on the frozen encoder's
output, the projection head thrown away (Verma et al., ICML 2021, Sec. 5; as in SimCLR).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

__all__ = ["encode", "knn_accuracy", "linear_probe_accuracy"]


@torch.no_grad()
def encode(encoder: nn.Module, X: Any, batch_size: int = 4096, device: str | torch.device | None = None) -> np.ndarray:
    """Features h(x) of the frozen encoder (eval mode: BatchNorm uses its running statistics)."""
    was_training = encoder.training
    encoder.eval()
    if device is None:
        device = next(encoder.parameters()).device
    data = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    parts = [encoder(data[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(data), batch_size)]
    encoder.train(was_training)
    return torch.cat(parts).numpy()


def linear_probe_accuracy(
    train_features: np.ndarray,
    y_train: np.ndarray,
    test_features: np.ndarray,
    y_test: np.ndarray,
    C: float = 1.0,
    max_iter: int = 1000,
) -> float:
    """Test accuracy of a multinomial logistic regression on standardized features."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    probe.fit(train_features, y_train)
    return float(probe.score(test_features, y_test))


def knn_accuracy(
    train_features: np.ndarray, y_train: np.ndarray, test_features: np.ndarray, y_test: np.ndarray, k: int = 10
) -> float:
    """Test accuracy of a k-nearest-neighbour vote under cosine distance: a training-free figure."""
    knn = KNeighborsClassifier(n_neighbors=min(k, len(train_features)), metric="cosine")
    knn.fit(train_features, y_train)
    return float(knn.score(test_features, y_test))
