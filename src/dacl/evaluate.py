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

__all__ = ["PROTOCOLS", "SVM_CS", "check_classes", "cv_folds", "knn_accuracy", "linear_cv_accuracy",
           "linear_probe_accuracy", "svm_cv_accuracy"]

# the graph protocols: the paper's linear classifier (Table 4), or the SVM that InfoGraph, GraphCL and GraphMAE
# report (their numbers are read beside dacl's only under it)
PROTOCOLS = ("linear", "svm")
SVM_CS = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3)


def check_classes(labels: Any, what: str = "the training labels", names: Any = None) -> None:
    """An accuracy needs at least two classes to mean anything: raise ``ValueError`` otherwise, naming
    the class (by ``names[index]`` where the labels are indices into names, e.g. image folders)."""
    classes = np.unique(np.asarray(labels))
    if len(classes) < 2:
        shown = [names[int(c)] for c in classes] if names is not None else classes.tolist()
        raise ValueError(
            f"{what} hold {len(classes)} class ({', '.join(map(str, shown))}); an evaluation needs at least 2. "
            "Take a stratified subset or more data."
        )


def linear_probe_accuracy(
    train_features: np.ndarray,
    y_train: np.ndarray,
    test_features: np.ndarray,
    y_test: np.ndarray,
    C: float = 1.0,
    max_iter: int = 1000,
    solver: str = "torch",
) -> float:
    """Test accuracy of a multinomial logistic regression on standardized features.

    ``solver="torch"`` (default): ``dacl.core.linear.fit_softmax``, L-BFGS in float32 (several times
    faster on large feature matrices, the same objective); ``"sklearn"``: scikit-learn's float64
    ``LogisticRegression`` (the probe of the results stored before it, kept for comparison)."""
    check_classes(y_train)
    if solver == "sklearn":
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
        probe.fit(train_features, y_train)
        return float(probe.score(test_features, y_test))
    if solver != "torch":
        raise ValueError(f"unknown solver {solver!r}; choose torch or sklearn.")
    from dacl.core.linear import fit_softmax

    classes, y_index = np.unique(np.asarray(y_train), return_inverse=True)
    head = fit_softmax(torch.as_tensor(np.asarray(train_features, dtype=np.float32)), torch.as_tensor(y_index),
                       len(classes), C=C, max_iter=max_iter)  # fmt: skip
    predicted = classes[head(torch.as_tensor(np.asarray(test_features, dtype=np.float32))).argmax(1).numpy()]
    return float((predicted == np.asarray(y_test)).mean())


def knn_accuracy(
    train_features: np.ndarray, y_train: np.ndarray, test_features: np.ndarray, y_test: np.ndarray, k: int = 10
) -> float:
    """Test accuracy of a k-nearest-neighbour vote under cosine distance: a training-free figure."""
    check_classes(y_train)
    knn = KNeighborsClassifier(n_neighbors=min(k, len(train_features)), metric="cosine")
    knn.fit(train_features, y_train)
    return float(knn.score(test_features, y_test))


def cv_folds(labels: Any, folds: int = 10, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices of stratified ``folds``-fold cross-validation, shuffled under ``seed``: the
    outer folds of both graph protocols (each class spread evenly over the folds)."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def linear_cv_accuracy(
    features: Any, labels: Any, folds: int = 10, steps: int = 100, lr: float = 0.01, seed: int = 0
) -> float:
    """Mean test accuracy of a linear classifier over stratified ``folds``-fold cross-validation.

    The graph protocol of the paper (after InfoGraph): features standardized with each fold's
    training statistics, a softmax classifier trained with ``steps`` full-batch Adam updates.
    All folds train at once as one batched problem.
    """
    check_classes(labels, "the labels")
    X = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    n, d = X.shape
    classes = int(y.max()) + 1
    train_mask = torch.zeros(folds, n, dtype=torch.bool)
    for fold, (train_index, _) in enumerate(cv_folds(y.numpy(), folds, seed)):
        train_mask[fold, torch.as_tensor(train_index)] = True
    weight = train_mask.float().unsqueeze(2)  # (F, N, 1)
    count = weight.sum(1, keepdim=True)
    mean = (weight * X).sum(1, keepdim=True) / count
    std = ((weight * (X - mean) ** 2).sum(1, keepdim=True) / count).sqrt().clamp(min=1e-6)
    Z = (X - mean) / std  # (F, N, D)
    generator = torch.Generator().manual_seed(seed)
    W = (torch.randn(folds, d, classes, generator=generator) * 0.01).requires_grad_(True)
    b = torch.zeros(folds, 1, classes, requires_grad=True)
    optimizer = torch.optim.Adam([W, b], lr=lr)
    targets = y.expand(folds, n)
    for _ in range(steps):
        logits = torch.bmm(Z, W) + b
        losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        loss = (losses * train_mask).sum() / train_mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        correct = ((torch.bmm(Z, W) + b).argmax(2) == targets) & ~train_mask
        per_fold = correct.sum(1).float() / (~train_mask).sum(1).float()
    return float(per_fold.mean())


def svm_cv_accuracy(
    features: Any, labels: Any, folds: int = 10, seed: int = 0, cs: tuple[float, ...] = SVM_CS, inner_folds: int = 5
) -> float:
    """Mean test accuracy of an SVM over stratified ``folds``-fold cross-validation, its C chosen in each
    training fold by an inner stratified ``inner_folds``-fold search over ``cs``: the protocol that InfoGraph
    (Sun et al., 2020), GraphCL (You et al., 2020) and GraphMAE (Hou et al., 2022) report, scikit-learn's
    ``SVC`` (RBF kernel) on the embeddings as they are. Both splits are shuffled under ``seed``."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    check_classes(labels, "the labels")
    X, y = np.asarray(features, dtype=np.float64), np.asarray(labels)
    accuracies = []
    for train, test in cv_folds(y, folds, seed):
        inner = cv_folds(y[train], max(min(inner_folds, int(np.bincount(y[train]).min())), 2), seed)
        search = GridSearchCV(SVC(), {"C": list(cs)}, cv=inner, scoring="accuracy").fit(X[train], y[train])
        accuracies.append(float((search.predict(X[test]) == y[test]).mean()))
    return float(np.mean(accuracies))


def __getattr__(name: str) -> Any:
    from dacl._aliases import moved_name

    return moved_name(__name__, name)
