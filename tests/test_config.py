import dataclasses

import pytest

from dacl.config import GROUPS, PretrainConfig, option_help, options
from dacl.methods import method_names


def test_every_option_has_a_group_a_help_and_a_checked_type():
    for f in options():
        assert f.metadata["group"] in GROUPS and f.metadata["help"], f.name
        assert "default" in option_help(f)


def test_flat_and_nested_dicts_round_trip():
    config = PretrainConfig(method="dacl", depth=4, mixup_types=("linear", "binary"), beta=0.7)
    assert PretrainConfig.from_dict(config.to_dict()) == config
    nested = config.to_dict(nested=True)
    assert set(nested) == set(GROUPS) and nested["model"]["depth"] == 4 and nested["method"]["method"] == "dacl"
    assert PretrainConfig.from_dict(nested) == config
    # a config file's sections and flat keys mix; hyphens are accepted as in the CLI
    assert PretrainConfig.from_dict({"model": {"head-depth": 2}, "lr": 0.5}) == PretrainConfig(head_depth=2, lr=0.5)


@pytest.mark.parametrize(
    "values, match",
    [
        ({"alpha": [0.5, 0.9]}, "alpha must be a number"),
        ({"alpha": 0.3}, r"alpha must lie in \[0.5, 1\]"),
        ({"rho": 0.7}, "rho"),
        ({"temperature": 0}, r"temperature must lie in > 0"),
        ({"depth": 2.5}, "whole number"),
        ({"depth": True}, "depth must be a number"),
        ({"batch_size": 1}, "batch_size must lie in >= 2"),
        ({"method": "byol"}, "unknown method 'byol'; choose one of dacl"),
        ({"blur": "yes"}, "unknown blur 'yes'; choose one of auto, on, off"),
        ({"resnet_width": 0.001}, "resnet_width must lie in"),
        ({"method": "raw"}, "unknown method"),
        ({"optimizer": "sgd"}, "choose one of lars, adamw, adam"),
        ({"compile": "yes"}, "true or false"),
        ({"mixup_types": ["linear", "cutmix"]}, "unknown cutmix"),
        ({"mix_at": -2}, "mix_at"),
        ({"lr": float("nan")}, "finite"),
        ({"epochs": None}, "needs a value"),
        ({"widht": 4}, "unknown pretraining option"),
    ],
)
def test_bad_values_raise_one_clear_error(values, match):
    with pytest.raises(ValueError, match=match):
        PretrainConfig.from_dict(values)


def test_a_mix_at_beyond_the_encoder_is_refused_when_the_method_is_built():
    from dacl.tables import build

    with pytest.raises(ValueError, match=r"mix_at must lie in \[0, depth=12\]"):
        build(PretrainConfig(mix_at=13), in_features=4)  # the encoder's depth, not the config's, decides


def test_options_name_the_domains_they_apply_to():
    assert "crop_scale" in {f.name for f in options("images")} and "crop_scale" not in {
        f.name for f in options("tables")
    }
    assert "pooling" in {f.name for f in options("graphs")} and "depth" not in {f.name for f in options("images")}


def test_method_choices_come_from_the_registry():
    method = next(f for f in options() if f.name == "method")
    assert set(method_names(trainable=True)) <= set(
        option_help(method).split("; ")[1].removeprefix("choices: ").split(", ")
    )
    assert "raw" not in option_help(method)


def test_optional_options_accept_none_and_ints_become_floats_where_floats_are_meant():
    config = PretrainConfig(beta=None, projection_dim=None, lr=1)
    assert config.beta is None and config.projection_dim is None and isinstance(config.lr, float)
    assert dataclasses.replace(config, mix_at=-1).mix_at == -1
