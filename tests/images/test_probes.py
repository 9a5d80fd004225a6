"""Evaluation of image encoders: the weighted k-NN against a direct computation; the augmented probe."""

import numpy as np
import pytest
import torch

from dacl.images import augmented_probe_accuracy, crop_and_flip
from dacl.images.probes import weighted_knn_accuracy
from dacl.images.resnet import ResNet


def direct_weighted_knn(train, train_y, test, test_y, k, temperature):
    """One query at a time, the textbook way: cosine similarities, the k largest, exp-weighted votes."""
    correct = 0
    for query, truth in zip(test, test_y):
        sims = np.array([q @ t / (np.linalg.norm(q) * np.linalg.norm(t)) for q, t in zip([query] * len(train), train)])
        nearest = np.argsort(-sims)[:k]
        votes = {}
        for i in nearest:
            votes[train_y[i]] = votes.get(train_y[i], 0.0) + np.exp(sims[i] / temperature)
        correct += max(votes, key=votes.get) == truth
    return correct / len(test)


@pytest.mark.parametrize("k", [1, 5, 40])
def test_weighted_knn_matches_the_direct_computation(k):
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(40, 6)), rng.normal(size=(25, 6))
    train_y, test_y = rng.integers(0, 3, 40), rng.integers(0, 3, 25)
    got = weighted_knn_accuracy(train, train_y, test, test_y, k=k, temperature=0.1, chunk=7)
    assert got == pytest.approx(direct_weighted_knn(train, train_y, test, test_y, k, 0.1))


def test_the_augmented_probe_learns_a_visible_difference_and_leaves_the_encoder():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(64) % 2
    dark = torch.randint(0, 60, (64, 3, 16, 16), generator=g, dtype=torch.uint8)
    images = torch.where(labels.view(-1, 1, 1, 1).bool(), 255 - dark, dark)  # class 1 bright, class 0 dark
    torch.manual_seed(0)
    encoder = ResNet("resnet18", "cifar", 1 / 16)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    accuracy = augmented_probe_accuracy(encoder, images[:48], labels[:48], images[48:], labels[48:], epochs=5,
                                        batch_size=16, precision="float32")  # fmt: skip
    assert accuracy >= 0.9
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # frozen, BN stats too
    augment = crop_and_flip()
    assert augment.jitter == 0 and augment.grayscale == 0 and augment.blur is False


def test_an_image_set_of_one_class_is_named_by_its_folder():
    import pytest
    import torch

    from dacl.images import scores_of_images
    from dacl.images.sets import ImageDataset

    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    one = torch.full((4,), 2)
    dataset = ImageDataset("toy", images, one, images, one, ["cat", "dog", "owl"], {})
    with pytest.raises(ValueError, match=r"the training images of toy hold 1 class \(owl\)"):  # was: ([2])
        scores_of_images(torch.nn.Flatten(), dataset)
