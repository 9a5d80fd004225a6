"""Issue 46: the encoder cache: a repeated fit takes its encoder from the cache and gives the same model bit
for bit; the key is what the pretraining depends on; a damaged or foreign entry is refused and replaced."""

import json
import warnings

import numpy as np
import pytest
import torch

from dacl import DACL, DACLClassifier
from dacl.core.runtime import reproducible_products
from dacl.tables.encoder_cache import RECORD, WEIGHTS, cache_folder

TINY = dict(epochs=3, depth=1, width=16, projection_dim=8, batch_size=64, warmup_epochs=0.0, random_state=0,
            n_jobs=1)  # fmt: skip
CHOICE = dict(candidates=("probe", "knn", "linear-raw"), fine_tune_epochs=(2,), fine_tune_lrs=(1e-3,))


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def entries(root):
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_a_second_fit_with_other_labels_and_folds_takes_the_cached_encoder_and_gives_the_same_model(table, tmp_path):
    X, y = table
    cache = tmp_path / "cache"
    first_labels = np.where(np.arange(len(y)) < 60, y, -1)
    first = DACLClassifier(**TINY, **CHOICE, cv=2, encoder_cache=str(cache)).fit(X, first_labels)
    assert not first.dacl_.from_cache_ and len(entries(cache)) == 1
    other_labels = np.where(np.arange(len(y)) % 4 == 0, y, -1)  # other rows labelled, other folds
    again = DACLClassifier(**TINY, **CHOICE, cv=3, encoder_cache=str(cache)).fit(X, other_labels)
    fresh = DACLClassifier(**TINY, **CHOICE, cv=3, encoder_cache=False).fit(X, other_labels)
    assert again.dacl_.from_cache_ and not fresh.dacl_.from_cache_
    assert again.timings_["pretraining"] < fresh.timings_["pretraining"]
    for name, tensor in fresh.encoder_.state_dict().items():
        assert np.array_equal(tensor.numpy(), again.encoder_.state_dict()[name].numpy()), name
    assert np.array_equal(again.predict_proba(X), fresh.predict_proba(X))
    losses = [(epoch["loss"], epoch["lr"]) for epoch in again.history_]
    assert losses == [(epoch["loss"], epoch["lr"]) for epoch in fresh.history_] and len(entries(cache)) == 1


@pytest.mark.parametrize("change", ["a row", "an option", "the seed", "the threads", "MKL's mode"])
def test_the_key_is_what_the_pretraining_depends_on(table, tmp_path, change, monkeypatch):
    X, _ = table
    cache = tmp_path / "cache"
    assert reproducible_products()  # dacl was imported before torch computed (conftest)
    DACL(**TINY, encoder_cache=str(cache)).fit(X)
    options, rows = dict(TINY), X.copy()
    if change == "a row":
        rows[7, 2] += 1e-3
    elif change == "an option":
        options["temperature"] = 0.2
    elif change == "the seed":
        options["random_state"] = 1
    elif change == "the threads":
        options["n_jobs"] = 2
    else:  # a process where torch multiplied before dacl was imported: other sums, another entry
        monkeypatch.setattr("dacl.core.runtime.reproducible_products", lambda: False)
    other = DACL(**options, encoder_cache=str(cache)).fit(rows)
    assert not other.from_cache_ and len(entries(cache)) == 2
    assert DACL(**options, encoder_cache=str(cache)).fit(rows).from_cache_  # and that one is kept too


@pytest.mark.parametrize("encoder", [dict(), dict(numeric_embedding="periodic"), dict(numeric_embedding="ple"),
                                     dict(table_encoder="resnet")])
@pytest.mark.parametrize("width, batch", [(256, 512), (512, 256)])
def test_in_float32_the_encoders_pretrain_to_the_same_weights_on_one_and_two_threads(encoder, width, batch):
    """Widths and batches where torch's BatchNorm and MKL's products split their sums by thread (in bf16,
    oneDNN's still do at 512 x 256): the same weights with dacl.core.batchnorm and MKL's strict mode."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1024, 12)).astype(np.float32)
    options = dict(epochs=2, depth=2, width=width, projection_dim=64, batch_size=batch, warmup_epochs=0.0,
                   random_state=0, encoder_cache=False, precision="float32", **encoder)  # fmt: skip
    assert reproducible_products()
    one, two = (DACL(**options, n_jobs=n).fit(X) for n in (1, 2))
    weights = two.encoder_.state_dict()
    assert all(torch.equal(tensor, weights[name]) for name, tensor in one.encoder_.state_dict().items())


def test_no_seed_a_shortened_run_or_the_cache_turned_off_keeps_nothing(table, tmp_path, monkeypatch):
    X, _ = table
    cache = tmp_path / "cache"
    DACL(**{**TINY, "random_state": None}, encoder_cache=str(cache)).fit(X)
    DACL(**{**TINY, "epochs": 400}, encoder_cache=str(cache)).fit(X, time_limit=0.5)
    assert entries(cache) == []
    monkeypatch.setenv("DACL_CACHE", str(cache))
    assert cache_folder(True) == cache and cache_folder(False) is None
    DACL(**TINY).fit(X)  # the default: $DACL_CACHE
    assert len(entries(cache)) == 1
    monkeypatch.setenv("DACL_CACHE", "off")
    assert cache_folder(True) is None
    monkeypatch.delenv("DACL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder(True) == tmp_path / "xdg" / "dacl" / "encoders"


@pytest.mark.parametrize("damage", ["bit flip", "truncated", "other key", "link", "not json", "folder"])
def test_a_damaged_or_foreign_entry_is_refused_and_replaced(table, tmp_path, damage):
    X, _ = table
    cache = tmp_path / "cache"
    reference = DACL(**TINY, encoder_cache=str(cache)).fit(X)
    (entry,) = [cache / name for name in entries(cache)]
    weights, record = entry / WEIGHTS, entry / RECORD
    if damage == "bit flip":
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0x10
        weights.write_bytes(bytes(data))
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "other key":
        values = json.loads(record.read_text())
        record.write_text(json.dumps({**values, "key": "0" * 64}))
    elif damage == "link":  # the weights through a link: never followed
        outside = tmp_path / "outside.safetensors"
        outside.write_bytes(weights.read_bytes())
        weights.unlink()
        weights.symlink_to(outside)
    elif damage == "not json":
        record.write_bytes(b"\x00" * 10)
    else:
        weights.unlink()
        weights.mkdir()
    with pytest.warns(UserWarning, match="cache entry .* is refused"):
        again = DACL(**TINY, encoder_cache=str(cache)).fit(X)
    assert not again.from_cache_
    assert np.array_equal(again.transform(X), reference.transform(X))
    if damage != "folder":  # replaced by the fresh run: the next fit takes it
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            assert DACL(**TINY, encoder_cache=str(cache)).fit(X).from_cache_


def test_a_cache_that_cannot_be_written_costs_a_warning_not_the_fit(table, tmp_path):
    X, _ = table
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.warns(UserWarning, match="could not be kept in the cache"):
        model = DACL(**TINY, encoder_cache=str(blocked)).fit(X)
    assert model.transform(X[:2]).shape == (2, 16)
