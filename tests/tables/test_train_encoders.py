"""The tables' encoder options (issue 20): numeric embeddings, the residual MLP, multi-sample mixup,
views composed; each trains, repeats under a seed, resumes exactly, loads back, and the runs stored
before these options keep their keys."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save

from dacl import DACL, DACLClassifier, PretrainConfig, load_model, load_predictor, pretrain
from dacl.engine.checkpoint import CHECKPOINT_FILE
from dacl.studies.runs import experiment_options, run_key
from helpers import Killed, kill_at

TINY = dict(depth=2, width=16, head_depth=2, projection_dim=8, epochs=4, batch_size=16, warmup_epochs=1)
VARIANTS = [
    dict(numeric_embedding="ple"),
    dict(numeric_embedding="periodic", embedding_size=4),
    dict(numeric_embedding="ple", mix_embeddings=True),
    dict(numeric_embedding="periodic", mix_embeddings=True, table_encoder="resnet"),
    dict(table_encoder="resnet"),
    dict(table_encoder="resnet", mix_at=1, method="dacl"),
    dict(mixup_partners=3),
    dict(method="dacl", mixup_partners=2),
    dict(method="dacl+scarf"),
]


@pytest.fixture
def X():
    return np.random.default_rng(0).random((64, 6), dtype=np.float32)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("options", VARIANTS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_every_variant_repeats_resumes_exactly_and_loads_back(X, tmp_path, options):
    config = PretrainConfig(**{**TINY, **options})
    unbroken = pretrain(X, config, progress=False)
    again = pretrain(X, config, progress=False)
    assert same(weights(unbroken.model), weights(again.model))
    assert np.isfinite([h["loss"] for h in unbroken.history]).all()
    with pytest.raises(Killed):
        pretrain(X, config, checkpoint_dir=tmp_path, checkpoint_every=1, progress=False, callbacks=(kill_at(3),))
    resumed = pretrain(X, config, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True, progress=False)
    assert same(weights(unbroken.model), weights(resumed.model))
    loaded = load_model(tmp_path).model.encoder
    rows = torch.as_tensor(X[:8])
    assert torch.equal(loaded(rows), resumed.model.eval().encoder(rows))


def test_the_options_change_the_model_and_the_defaults_change_nothing(X):
    base = pretrain(X, PretrainConfig(**TINY), progress=False)
    explicit = PretrainConfig(**TINY, mixup_partners=1, numeric_embedding="none", table_encoder="mlp")
    assert same(weights(base.model), weights(pretrain(X, explicit, progress=False).model))
    for options in VARIANTS:
        other = pretrain(X, PretrainConfig(**{**TINY, **options}), progress=False)
        assert [h["loss"] for h in other.history] != [h["loss"] for h in base.history], options


def test_runs_stored_before_the_options_keep_their_keys():
    """Keys computed with the config of the commit before these options (69951b5): the stored Table 1,
    Table 2, Table 4 and label-study runs are found again."""
    assert run_key(experiment_options(PretrainConfig())) == "b919a15bdd10a238"
    labels = PretrainConfig(method="dacl", depth=4, width=512, batch_size=512, lr=0.5, epochs=13, warmup_epochs=5.0,
                            seed=3)  # fmt: skip
    assert run_key(experiment_options(labels)) == "30538a07b459fe3c"
    table1 = PretrainConfig(method="scarf", depth=12, width=1024, batch_size=4096, epochs=1000, mix_at=2)
    assert run_key(experiment_options(table1)) == "29906749d4643a05"
    assert run_key(experiment_options(PretrainConfig(mixup_partners=2))) != "b919a15bdd10a238"
    assert run_key(experiment_options(PretrainConfig(numeric_embedding="ple"))) != run_key(
        experiment_options(PretrainConfig(numeric_embedding="ple", embedding_size=8))
    )


def test_a_checkpoint_written_before_the_options_resumes(X, tmp_path):
    config = PretrainConfig(**{**TINY, "epochs": 4})
    unbroken = pretrain(X, config, progress=False)
    with pytest.raises(Killed):
        pretrain(X, config, checkpoint_dir=tmp_path, checkpoint_every=1, progress=False, callbacks=(kill_at(2),))
    path = tmp_path / CHECKPOINT_FILE
    with safe_open(path, "pt") as file:  # rewrite the checkpoint as the code before the options wrote it
        tensors = {name: file.get_tensor(name) for name in file.keys()}
        state = json.loads(file.metadata()["dacl_state"])
    for name in ("mixup_partners", "table_encoder", "numeric_embedding", "embedding_size", "embedding_scale",
                 "mix_embeddings"):  # fmt: skip
        del state["config"][name]
    path.write_bytes(save(tensors, metadata={"dacl_state": json.dumps(state)}))
    (tmp_path / "checkpoint.json").write_text(json.dumps(state))
    resumed = pretrain(X, config, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True, progress=False)
    assert same(weights(unbroken.model), weights(resumed.model))


def test_mixing_embeddings_makes_the_views_of_the_embedded_columns(X):
    seen = []

    def view(x, generator):
        seen.append(x.shape[1])
        return x + 0.01 * torch.randn(x.shape, generator=generator)

    for mix, width in ((False, 6), (True, 6 * 8)):
        seen.clear()
        config = PretrainConfig(**{**TINY, "epochs": 1}, numeric_embedding="ple", embedding_size=8,
                                mix_embeddings=mix)  # fmt: skip
        pretrain(X, config, views=view, progress=False)
        assert set(seen) == {width}


def test_bad_combinations_are_refused_with_what_to_do(X, tmp_path):
    with pytest.raises(ValueError, match="set numeric_embedding"):
        pretrain(X, PretrainConfig(**TINY, mix_embeddings=True), progress=False)
    with pytest.raises(ValueError, match="none"):
        pretrain(X, PretrainConfig(**TINY, numeric_embedding="ple"), numeric=np.zeros(6, bool), progress=False)
    with pytest.raises(ValueError, match="residual stream"):
        pretrain(X, PretrainConfig(**TINY, table_encoder="resnet", mix_at=1), progress=False)
    with pytest.raises(ValueError, match="mixup_partners"):
        PretrainConfig(mixup_partners=0)
    with pytest.raises(ValueError, match="numeric_embedding"):
        PretrainConfig(numeric_embedding="bins")
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(6)])
    frame.to_parquet(tmp_path / "rows.parquet")
    from dacl.tables import pretrain_files

    with pytest.raises(ValueError, match="periodic"):
        pretrain_files(tmp_path / "rows.parquet", PretrainConfig(**TINY, numeric_embedding="ple"), progress=False)


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(2)
    n = 160
    frame = pd.DataFrame({"size": rng.normal(size=n), "count": rng.integers(0, 9, n),
                          "city": rng.choice(["paris", "lyon", "nice"], n)})  # fmt: skip
    labels = np.where(frame["size"] + (frame["city"] == "nice") > 0.3, 1, 0)
    return frame, labels


def test_the_estimators_embed_only_numeric_columns_and_save_and_load_the_embedding(table, tmp_path):
    frame, _ = table
    dacl = DACL(epochs=2, depth=1, width=8, batch_size=32, warmup_epochs=0.0, numeric_embedding="ple",
                embedding_size=4, one_hot_mixing="blocks", mix_embeddings=True, random_state=0).fit(frame)  # fmt: skip
    assert dacl.encoder_.embedding.numeric.tolist() == [True, True, False, False, False]
    assert dacl.transform(frame).shape == (160, 8)
    _classifier_saves_and_loads(table, tmp_path, numeric_embedding="periodic", embedding_size=4,
                                table_encoder="resnet")  # fmt: skip


def _classifier_saves_and_loads(table, folder, **options):
    """A DACLClassifier with ``options`` fitted on 100 labelled rows of ``table`` predicts as its saved model."""
    frame, labels = table
    y = labels.copy()
    y[100:] = -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = DACLClassifier(epochs=2, depth=1, width=8, projection_dim=4, batch_size=32, warmup_epochs=0.0,
                               candidates=("probe", "fine-tune"), fine_tune_epochs=(2,), fine_tune_lrs=(1e-3,), cv=2,
                               random_state=0, **options).fit(frame, y)  # fmt: skip
    model.save(folder / "model")
    predictor = load_predictor(folder / "model")
    assert (predictor.predict(frame[["city", "count", "size"]]) == model.predict(frame)).all()
    assert np.allclose(predictor.predict_proba(frame), model.predict_proba(frame), atol=1e-6)
    # issue 45, class 2: a record describing a far larger encoder than its file is refused before building it,
    # also where the embeddings cannot be built on torch's meta device
    import json
    import shutil

    edited = folder / "edited"
    shutil.copytree(folder / "model", edited)
    state = json.loads((edited / "model.json").read_text())
    state["pretraining"]["width"] = 10**7
    (edited / "model.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="does not hold"):
        load_predictor(edited)


# two categorical columns one-hot encoded: columns 2-4 (three categories) and 5-6 (two), numeric 0-1
CATEGORIES = np.array([-1, -1, 0, 0, 0, 1, 1])


@pytest.fixture
def mixed():
    rng = np.random.default_rng(3)
    numeric = rng.random((64, 2), dtype=np.float32)
    first, second = (
        np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)],
        np.eye(2, dtype=np.float32)[rng.integers(0, 2, 64)],
    )
    return np.concatenate([numeric, first, second], axis=1)


CATEGORY_VARIANTS = [
    dict(),
    dict(numeric_embedding="ple", embedding_size=4),
    dict(mix_embeddings=True, method="dacl"),
    dict(mix_embeddings=True, method="dacl", numeric_embedding="periodic"),
]


@pytest.mark.parametrize("options", CATEGORY_VARIANTS)
def test_categorical_embeddings_train_repeat_resume_and_load_back(mixed, tmp_path, options):
    config = PretrainConfig(**{**TINY, "categorical_embedding": 3, **options})
    unbroken = pretrain(mixed, config, categories=CATEGORIES, progress=False)
    embedding = unbroken.model.encoder.embedding
    numeric_width = {"none": 2, "ple": 2 * 4, "periodic": 2 * 16}[config.numeric_embedding]
    assert embedding.categories.weight.shape == (5, 3) and embedding.out_features == numeric_width + 2 * 3
    assert same(weights(unbroken.model), weights(pretrain(mixed, config, categories=CATEGORIES, progress=False).model))
    with pytest.raises(Killed):
        pretrain(mixed, config, categories=CATEGORIES, checkpoint_dir=tmp_path, checkpoint_every=1, progress=False,
                 callbacks=(kill_at(3),))  # fmt: skip
    resumed = pretrain(mixed, config, categories=CATEGORIES, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True,
                       progress=False)  # fmt: skip
    assert same(weights(unbroken.model), weights(resumed.model))
    rows = torch.as_tensor(mixed[:8])
    assert torch.equal(load_model(tmp_path).model.encoder(rows), resumed.model.eval().encoder(rows))


def test_categorical_embeddings_refuse_what_they_cannot_do(X, mixed):
    with pytest.raises(ValueError, match="no one-hot blocks were given"):
        pretrain(mixed, PretrainConfig(**TINY, categorical_embedding=3), progress=False)
    with pytest.raises(ValueError, match="this table has none"):
        pretrain(X, PretrainConfig(**TINY, categorical_embedding=3), categories=np.full(6, -1), progress=False)
    with pytest.raises(ValueError, match="geometric mixup"):  # signed embeddings, DACL+ draws geometric mixup
        pretrain(mixed, PretrainConfig(**TINY, categorical_embedding=3, mix_embeddings=True), categories=CATEGORIES,
                 progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="categorical_embedding"):
        PretrainConfig(categorical_embedding=-1)


def test_the_estimators_embed_categories_and_save_and_load_them(table, tmp_path):
    frame, _ = table
    dacl = DACL(epochs=2, depth=1, width=8, batch_size=32, warmup_epochs=0.0, categorical_embedding=3,
                random_state=0).fit(frame)  # fmt: skip
    assert dacl.encoder_.embedding.numeric.tolist() == [True, True, False, False, False]
    assert dacl.encoder_.embedding.categories.weight.shape == (3, 3)  # paris, lyon, nice
    _classifier_saves_and_loads(table, tmp_path, categorical_embedding=2, numeric_embedding="ple", embedding_size=4)
