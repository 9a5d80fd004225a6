"""Linear evaluation of a frozen image encoder with augmented training images (Table 2's protocol
for the SimCLR rows: random crop and flip while the linear classifier trains; the domain-agnostic
rows are probed on plain images, ``dacl.evaluate.linear_probe_accuracy`` on ``embed_images``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dacl.core.augment import SimCLRAugment
from dacl.core.runtime import autocast, resolve_precision
from dacl.evaluate import check_classes, linear_probe_accuracy
from dacl.images.train import check_images, embed_images

__all__ = [
    "augmented_probe_accuracy",
    "crop_and_flip",
    "embed_folder",
    "scores_of_image_folder",
    "scores_of_images",
    "weighted_knn_accuracy",
]


@torch.no_grad()
def weighted_knn_accuracy(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    k: int = 200,
    temperature: float = 0.1,
    chunk: int = 1024,
) -> float:
    """Accuracy of the weighted k-NN vote that self-supervised image work monitors (Wu et al., 2018,
    as in lightly's and solo-learn's benchmarks): cosine similarities to the ``k`` nearest training
    features, each neighbour voting for its class with weight exp(similarity / ``temperature``)."""
    check_classes(train_labels)
    bank = F.normalize(torch.as_tensor(np.asarray(train_features), dtype=torch.float32), dim=1)
    queries = F.normalize(torch.as_tensor(np.asarray(test_features), dtype=torch.float32), dim=1)
    labels = torch.as_tensor(np.asarray(train_labels), dtype=torch.long)
    truth = torch.as_tensor(np.asarray(test_labels), dtype=torch.long)
    classes = int(max(labels.max(), truth.max())) + 1
    k = min(k, len(bank))
    correct = 0
    for start in range(0, len(queries), chunk):
        similarity, index = (queries[start : start + chunk] @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(index), classes).scatter_add_(1, labels[index], (similarity / temperature).exp())
        correct += int((votes.argmax(1) == truth[start : start + chunk]).sum())
    return correct / len(queries)


def crop_and_flip() -> SimCLRAugment:
    """Random resized crop and horizontal flip, no colour change: the probe's training augmentation."""
    return SimCLRAugment(jitter=0.0, grayscale=0.0, blur=False)


def augmented_probe_accuracy(
    encoder: nn.Module,
    train_images: Any,
    train_labels: Any,
    test_images: Any,
    test_labels: Any,
    *,
    epochs: int = 20,
    batch_size: int = 512,
    lr: float = 0.1,
    seed: int = 0,
    precision: str = "auto",
) -> float:
    """Test accuracy of a linear classifier on the frozen encoder, trained for ``epochs`` epochs of
    SGD (momentum 0.9, cosine decay, no weight decay) on freshly cropped and flipped training images
    each epoch, features standardised with the plain training images' statistics."""
    check_classes(train_labels)
    train_images, test_images = check_images(train_images, "train_images"), check_images(test_images, "test_images")
    device = next(encoder.parameters()).device
    precision = resolve_precision(precision, device)
    plain = torch.from_numpy(embed_images(encoder, train_images))
    mean, std = plain.mean(0), plain.std(0).clamp_min(1e-6)
    labels = torch.as_tensor(np.asarray(train_labels), dtype=torch.long, device=device)
    classes = int(labels.max()) + 1
    probe = nn.Linear(plain.shape[1], classes).to(device)
    optimizer = torch.optim.SGD(probe.parameters(), lr=lr, momentum=0.9)
    steps = epochs * -(-len(train_images) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator(device=device).manual_seed(seed)
    augment = crop_and_flip()
    mean, std = mean.to(device), std.to(device)
    was_training = encoder.training
    encoder.eval()
    for _ in range(epochs):
        order = torch.randperm(len(train_images), generator=generator, device=device)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = train_images[index.cpu()].to(device).float().div_(255)
            with torch.no_grad(), autocast(device, precision):
                features = encoder(augment(batch, generator)).float()
            loss = F.cross_entropy(probe((features - mean) / std), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    encoder.train(was_training)
    test = (torch.from_numpy(embed_images(encoder, test_images)).to(device) - mean) / std
    with torch.no_grad():
        predicted = probe(test).argmax(1).cpu().numpy()
    return float((predicted == np.asarray(test_labels)).mean())


def scores_of_images(model, dataset) -> dict[str, float]:
    """A trained image model scored on an image dataset's test split (``dacl evaluate``): the linear
    probe on plain images and the weighted k-NN (k = 200, τ = 0.1) on the frozen features."""
    check_classes(dataset.train_labels.numpy(), f"the training images of {dataset.name}", names=dataset.classes)
    check_classes(dataset.test_labels.numpy(), f"the test images of {dataset.name}", names=dataset.classes)
    train = embed_images(model, dataset.train_images)
    test = embed_images(model, dataset.test_images)
    y_train, y_test = dataset.train_labels.numpy(), dataset.test_labels.numpy()
    return {"accuracy": linear_probe_accuracy(train, y_train, test, y_test),
            "knn_accuracy": weighted_knn_accuracy(train, y_train, test, y_test)}  # fmt: skip


def embed_folder(
    model,
    root,
    files: list | None = None,
    *,
    image_size: int | None = None,
    workers: int | None = None,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of the frozen encoder and the class indices of the images of a folder (``files`` of it,
    or all), decoded batch by batch by worker processes (``dacl.images.stream``): a folder bigger
    than memory is embedded without holding its images."""
    from dacl.images.stream import ImageFolderStream

    stream = ImageFolderStream(root, 1, files=files, image_size=image_size, workers=workers)
    features, labels = [], []
    for images, classes in stream.in_order(batch_size):
        features.append(embed_images(model, images, batch_size=batch_size))
        labels.append(classes.numpy())
    return np.concatenate(features), np.concatenate(labels)


def scores_of_image_folder(model, folder, *, workers: int | None = None) -> dict[str, float]:
    """:func:`scores_of_images` for a model trained on a streamed folder: its training and test parts
    (``dacl.images.sets.split_files``) embedded batch by batch, never held as images."""
    from dacl.images.sets import split_files

    parts = split_files(folder)
    size = model.config.image_size
    (train, y_train), (test, y_test) = (embed_folder(model, *parts[p], image_size=size, workers=workers)
                                        for p in ("train", "test"))  # fmt: skip
    check_classes(y_train, f"the training images of {folder}")
    check_classes(y_test, f"the test images of {folder}")
    return {"accuracy": linear_probe_accuracy(train, y_train, test, y_test),
            "knn_accuracy": weighted_knn_accuracy(train, y_train, test, y_test)}  # fmt: skip
