"""The candidates: each fits on labelled rows, predicts probabilities or numbers, and matches a direct
computation where one exists."""

import numpy as np
import pytest
import torch

from dacl.core.encoders import MLPEncoder
from dacl.tables.semisupervised.candidates import (
    CLASSIFICATION,
    FINE_TUNE_DECAY,
    REGRESSION,
    Inputs,
    Projection,
    Settings,
    Task,
    default_setting,
    fine_tune,
    fine_tune_epochs,
    gbdt_leaf_size,
    shared_raw_fits,
    tuned_network,
)
from dacl.tables.semisupervised.registry import CANDIDATES
from oracles import cosine_knn_votes

SETTINGS = Settings(fine_tune_lrs=(1e-3,), fine_tune_epochs=(2, 4), gbdt_max_iter=10, self_train_base=("probe", "C=1"))


@pytest.fixture(scope="module")
def table():
    """120 labelled rows and 200 unlabelled ones (``Inputs.unlabelled``)."""
    rng = np.random.default_rng(0)
    X = rng.random((320, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int) + (X[:, 2] > 0.7)
    torch.manual_seed(0)
    encoder = MLPEncoder(6, 16, 2).eval()
    with torch.no_grad():
        features = encoder(torch.as_tensor(X)).numpy()
    pool = Inputs(X[120:], features[120:])
    return Inputs(X[:120], features[:120], encoder, Projection.fit(features, components=4), unlabelled=pool), y[:120]


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_every_candidate_gives_a_probability_row_per_sample_or_a_number(table, name):
    inputs, y = table
    for task, targets in ((Task("classification", 3), y), (Task("regression"), inputs.X[:, 0] * 3.0)):
        if CANDIDATES[name].classification_only and not task.is_classification:
            continue
        fitted = CANDIDATES[name].fit(inputs.take(np.arange(80)), targets[:80], task, SETTINGS)
        for model in fitted.values():
            out = model.predict(inputs.take(np.arange(80, 120)))
            if task.is_classification:
                assert out.shape == (40, 3) and np.allclose(out.sum(1), 1) and (out >= 0).all()
            else:
                assert out.shape == (40,) and np.isfinite(out).all()
        assert ("lr=" in next(iter(fitted))) == (name == "fine-tune")


def test_a_class_missing_from_the_training_rows_gets_probability_columns_all_the_same(table):
    inputs, y = table
    rows = np.flatnonzero(y < 2)  # class 2 absent
    for name in CANDIDATES:
        (model, *_) = CANDIDATES[name].fit(inputs.take(rows), y[rows], Task("classification", 3), SETTINGS).values()
        assert model.predict(inputs).shape == (120, 3), name


def test_knn_is_the_cosine_vote_of_a_direct_computation(table):
    inputs, y = table
    rows = np.arange(60)
    (model,) = CANDIDATES["knn"].fit(inputs.take(rows), y[rows], Task("classification", 3), SETTINGS).values()
    k = model.k
    assert k == min(10, int(np.bincount(y[rows]).min()))  # never more than the rarest class has rows
    expected = cosine_knn_votes(inputs.features[rows], y[rows], inputs.features[60:], k, 3)
    np.testing.assert_allclose(model.predict(inputs.take(np.arange(60, 120))), expected, atol=1e-6)


def test_fine_tuning_copies_the_encoder_and_each_snapshot_equals_a_shorter_run(table):
    inputs, y = table
    before = {k: v.clone() for k, v in inputs.encoder.state_dict().items()}
    task = Task("classification", 3)
    path = fine_tune(inputs.encoder, inputs.X, y, task, 1e-3, (2, 4), SETTINGS)
    short = fine_tune(inputs.encoder, inputs.X, y, task, 1e-3, (2,), SETTINGS)
    assert all(torch.equal(before[k], v) for k, v in inputs.encoder.state_dict().items())  # the original: untouched
    for name, value in short[2].state_dict().items():
        assert torch.equal(value, path[2].state_dict()[name])  # the 2-epoch snapshot of a 4-epoch run
    assert any(not torch.equal(path[4].state_dict()[k], v) for k, v in path[2].state_dict().items())


def test_fine_tuning_epochs_are_capped_by_steps_and_the_default_setting_is_the_largest():
    settings = Settings(fine_tune_epochs=(20, 50), fine_tune_max_steps=1000)
    assert fine_tune_epochs(settings, 1_000) == (20, 50)  # 4 steps an epoch
    assert fine_tune_epochs(settings, 60_000) == (4,)  # 235 steps an epoch: 1000 steps are 4 epochs, for both
    assert default_setting("fine-tune", settings, 1_000) == "lr=0.001, epochs=50"
    assert default_setting("probe", settings, 1_000) == "C=1"  # logistic regression at scikit-learn's C
    assert default_setting("probe", settings, 1_000, Task(REGRESSION)) == ""  # ridge: one setting
    assert default_setting("knn", settings, 1_000) == ""


def test_trees_leaf_size_follows_the_labelled_rows():
    classes = Task("classification", 3)
    assert gbdt_leaf_size(np.repeat([0, 1, 2], [2, 40, 40]), classes) == 1
    assert gbdt_leaf_size(np.repeat([0, 1], [100, 100]), classes) == 20
    assert gbdt_leaf_size(np.arange(60.0), Task("regression")) == 3


def test_the_projection_keeps_the_top_principal_components():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 3)) @ np.diag([5.0, 1.0, 0.1]) @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    projection = Projection.fit(features.astype(np.float32), components=2)
    components = projection.components
    np.testing.assert_allclose(components.T @ components, np.eye(2), atol=1e-5)
    explained = np.var(projection(features.astype(np.float32)), axis=0)
    assert explained[0] > explained[1] > 0.5 * np.var(features, axis=0).min()


def test_knn_chunks_its_queries_by_the_labelled_rows_and_predicts_the_same():
    """Memory stays bounded (a chunk holds at most ``similarities`` similarities) with equal predictions."""
    from dacl.tables.semisupervised.candidates import Inputs, NearestNeighbours

    rng = np.random.default_rng(0)
    labelled = rng.normal(size=(300, 8)).astype(np.float32)
    labelled /= np.linalg.norm(labelled, axis=1, keepdims=True)
    model = NearestNeighbours(Task("classification", 3), labelled, rng.integers(0, 3, 300), k=5)
    queries = Inputs(np.zeros((50, 1), np.float32), rng.normal(size=(50, 8)).astype(np.float32))
    whole = model.predict(queries)
    assert np.array_equal(model.predict(queries, similarities=600), whole)  # chunks of 2 queries
    assert np.array_equal(model.predict(queries, similarities=1), whole)  # never fewer than 1
    assert whole.shape == (50, 3) and np.allclose(whole.sum(1), 1)


def test_shared_raw_fits_fit_the_raw_columns_models_once_and_predict_as_a_new_fit(table):
    inputs, y = table
    rows, held = np.arange(80), inputs.take(np.arange(80, 120))
    task = Task("classification", 3)
    fresh = {n: CANDIDATES[n].fit(inputs.take(rows), y[rows], task, SETTINGS) for n in ("gbdt-raw", "linear-raw")}
    other_features = Inputs(inputs.X, inputs.features[:, ::-1].copy(), inputs.encoder, inputs.projection)
    with shared_raw_fits():
        for name in ("gbdt-raw", "linear-raw"):
            first = CANDIDATES[name].fit(inputs.take(rows), y[rows], task, SETTINGS)
            again = CANDIDATES[name].fit(other_features.take(rows), y[rows], task, SETTINGS)  # another encoder
            assert again is first  # the raw columns' models do not look at the features
            for setting in first:  # the trees' one setting, logistic regression's one per C
                assert np.array_equal(first[setting].predict(held), fresh[name][setting].predict(held))
            assert CANDIDATES[name].fit(inputs.take(rows[1:]), y[rows[1:]], task, SETTINGS) is not first
            assert (
                CANDIDATES[name].fit(inputs.take(rows), y[rows], task, Settings(seed=1, gbdt_max_iter=10)) is not first
            )
        probe = CANDIDATES["probe"].fit(inputs.take(rows), y[rows], task, SETTINGS)
        assert CANDIDATES["probe"].fit(inputs.take(rows), y[rows], task, SETTINGS) is not probe  # not shared
    assert CANDIDATES["gbdt-raw"].fit(inputs.take(rows), y[rows], task, SETTINGS) is not first  # only within


def test_fine_tuning_is_adamw_on_the_labelled_rows_as_a_direct_computation(table):
    """One epoch of one even batch (60 rows <= 256) through the engine equals one AdamW step written out:
    cross-entropy of the copied encoder and head, weight decay on the weights only."""
    inputs, y = table
    rows = np.arange(60)
    task = Task("classification", 3)
    (tuned,) = fine_tune(inputs.encoder, inputs.X[rows], y[rows], task, 1e-3, (1,), SETTINGS).values()
    network = tuned_network(inputs.encoder, task, SETTINGS.seed).train()
    decayed = [p for p in network.parameters() if p.ndim > 1]
    exempt = [p for p in network.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": FINE_TUNE_DECAY},
                                   {"params": exempt, "weight_decay": 0.0}], lr=1e-3)  # fmt: skip
    logits = network(torch.as_tensor(inputs.X[rows]))
    torch.nn.functional.cross_entropy(logits, torch.as_tensor(y[rows])).backward()
    optimizer.step()
    for name, value in network.state_dict().items():
        torch.testing.assert_close(tuned.state_dict()[name], value, rtol=1e-4, atol=1e-5, msg=name)


def test_logistic_regression_has_a_setting_per_c_and_one_fixed_c_is_the_old_single_setting():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(np.int64)
    inputs, task = Inputs(X, X * 2), Task(CLASSIFICATION, 2)
    for name in ("probe", "linear-raw"):
        fitted = CANDIDATES[name].fit(inputs, y, task, Settings(logistic_cs=(0.1, 1.0)))
        assert sorted(fitted) == ["C=0.1", "C=1"]
        # the final refit fits the chosen C alone, and gives that setting's model
        alone = CANDIDATES[name].fit_setting(inputs, y, task, Settings(logistic_cs=(0.1, 1.0)), "C=0.1")
        assert torch.equal(alone.head.weight, fitted["C=0.1"].head.weight)
        # a stronger penalty, smaller weights: the settings differ
        assert fitted["C=0.1"].head.weight.norm() < fitted["C=1"].head.weight.norm()
        # one C: the one setting "" of the cells stored before C was chosen, the same model as C=1
        (old,) = CANDIDATES[name].fit(inputs, y, task, Settings(logistic_cs=(1.0,))).items()
        assert old[0] == "" and torch.equal(old[1].head.weight, fitted["C=1"].head.weight)
    with pytest.raises(ValueError, match="logistic_cs"):
        Settings(logistic_cs=(1.0, -1.0))


@pytest.mark.parametrize("wrong", [{"self_train_rows": 0}, {"self_train_rounds": 0}])
def test_self_training_settings_out_of_range_are_refused(wrong):
    with pytest.raises(ValueError, match=next(iter(wrong))):
        Settings(**wrong)
    assert Settings(self_train_rows=None).self_train_rows is None  # every confident row, as before


def test_the_projection_is_the_same_on_one_and_two_threads(threads):
    """LAPACK's SVD splits its sums by thread even in MKL's strict mode (the components 1.6e-5 apart on 1
    and 2 threads before it ran on one): the trees' projected features must not depend on the count."""
    rng = np.random.default_rng(0)
    features = (rng.normal(size=(20000, 512)) @ rng.normal(size=(512, 512)) * 0.05).astype(np.float32)
    fitted = []
    for count in (1, 2):
        threads(count)
        fitted.append(Projection.fit(features, seed=0))
    assert np.array_equal(fitted[0].mean, fitted[1].mean)
    assert np.array_equal(fitted[0].components, fitted[1].components)
