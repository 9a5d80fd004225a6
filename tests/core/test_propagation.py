"""Label spreading (dacl.core.propagation) against direct computations: the neighbours, the graph built
from a known part, and Zhou et al.'s closed form."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dacl.core.propagation import knn_graph, nearest, normalized_affinity, spread_labels
from oracles import label_spreading, nearest_rows


def _points(n=60, d=5, seed=0, unit=True):
    points = torch.as_tensor(np.random.default_rng(seed).normal(size=(n, d)), dtype=torch.float32)
    return F.normalize(points, dim=1) if unit else points


def test_nearest_rows_match_a_row_by_row_search_in_any_chunking():
    query, reference = _points(37, seed=1), _points(50, seed=2)
    expected = nearest_rows(query.numpy(), reference.numpy(), 7)
    for block in (2**24, 50 * 3):  # one chunk, or three query rows at a time
        distances, indices = nearest(query, reference, 7, block=block)
        np.testing.assert_array_equal(indices.numpy(), expected)
        direct = ((query[:, None] - reference[indices]) ** 2).sum(-1)
        torch.testing.assert_close(distances, direct, atol=1e-5, rtol=0)
    _, own = nearest(reference, reference, 5, skip_self=True)
    np.testing.assert_array_equal(own.numpy(), nearest_rows(reference.numpy(), reference.numpy(), 5, skip_self=True))


def test_a_graph_from_a_known_part_equals_the_graph_computed_whole():
    points = _points(80)
    whole = knn_graph(points, 6)
    known = nearest(points[30:], points[30:], 6, skip_self=True)  # the unlabelled rows' own neighbours, once
    joined = knn_graph(points, 6, known=known, known_from=30)
    np.testing.assert_array_equal(joined[1].numpy(), whole[1].numpy())
    torch.testing.assert_close(joined[0], whole[0])


@pytest.mark.parametrize("weighting", ["cosine", "binary"])
@pytest.mark.parametrize("alpha", [0.5, 0.9, 0.99])
def test_spreading_solves_zhou_et_als_closed_form(weighting, alpha):
    points = _points(70, seed=3)
    labels = np.random.default_rng(0).integers(0, 3, 70)
    labelled = np.zeros(70, dtype=bool)
    labelled[::6] = True
    targets = np.eye(3)[labels]
    expected, mass = label_spreading(points.numpy(), targets, labelled, 5, alpha, weighting)
    distances, indices = knn_graph(points, 5)
    spread, got_mass = spread_labels(distances, indices, torch.as_tensor(targets), torch.as_tensor(labelled),
                                     alpha=alpha, weighting=weighting, steps=200)  # fmt: skip
    reached = mass > 1e-8
    np.testing.assert_allclose(spread.numpy()[reached], expected[reached], atol=1e-3)
    np.testing.assert_allclose(spread.numpy().sum(1)[reached], 1, atol=1e-4)  # a class distribution per row
    scale = got_mass.numpy()[reached] / mass[reached]  # the indicator's spread, up to Zhou's factor (1 - α)
    np.testing.assert_allclose(scale, scale[0], rtol=1e-3)


@pytest.mark.parametrize("weighting", ["cosine", "binary"])
def test_one_affinity_serves_every_alpha_with_the_same_spread_as_its_own(weighting):
    points = _points(70, seed=4)
    labelled = torch.as_tensor(np.arange(70) % 5 == 0)
    targets = torch.as_tensor(np.eye(3)[np.arange(70) % 3])
    distances, indices = knn_graph(points, 5)
    shared = normalized_affinity(distances, indices, weighting)
    for alpha in (0.5, 0.99):
        alone = spread_labels(distances, indices, targets, labelled, alpha=alpha, weighting=weighting)
        given = spread_labels(distances, indices, targets, labelled, alpha=alpha, weighting=weighting, affinity=shared)
        for a, b in zip(alone, given):
            torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_a_spread_number_is_a_weighted_mean_of_the_known_ones_and_unreached_rows_say_so():
    near, far = _points(40, seed=4), _points(10, seed=5) + 100.0  # two clusters no edge joins
    points = torch.cat([near, far])
    values = torch.linspace(-2, 3, 50)[:, None]
    labelled = torch.zeros(50, dtype=torch.bool)
    labelled[:8] = True  # every label in the first cluster
    distances, indices = knn_graph(points, 5)
    spread, mass = spread_labels(distances, indices, values, labelled, alpha=0.9, weighting="binary", steps=100)
    assert (mass[40:] == 0).all() and (spread[40:] == 0).all() and (mass[:40] > 0).all()
    known = values[:8, 0]
    assert (spread[:40, 0] >= known.min() - 1e-4).all() and (spread[:40, 0] <= known.max() + 1e-4).all()
    expected, _ = label_spreading(points.numpy(), values.numpy(), labelled.numpy(), 5, 0.9, "binary")
    np.testing.assert_allclose(spread[:40].numpy(), expected[:40], atol=1e-3)


def test_alpha_outside_the_open_interval_is_refused():
    distances, indices = knn_graph(_points(10), 3)
    with pytest.raises(ValueError, match="alpha"):
        spread_labels(distances, indices, torch.zeros(10, 2), torch.ones(10, dtype=torch.bool), alpha=1.0)
