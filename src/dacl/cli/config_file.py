"""Options from a YAML or TOML file (``--config FILE``): the same names as the flags, flat or in the groups
of ``dacl.PretrainConfig``; the command line wins over the file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dacl.cli.flags import boolean

__all__ = ["apply_config_file", "load_config_file"]


def _groups() -> dict:
    from dacl.config import GROUPS  # on use: the config imports the methods, and they torch

    return GROUPS


def _toml_parser():
    """Python's ``tomllib`` (3.11+), or on 3.10 the same parser as the ``tomli`` package (a dependency there)."""
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    return tomllib


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Options from a YAML (.yaml/.yml) or TOML (.toml) file, keys as the long option names, flat or
    in the groups of ``dacl.PretrainConfig`` (``[model]``, ``[method]``, ``[optimisation]``, ``[runtime]``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist.")
    if path.suffix not in (".toml", ".yaml", ".yml"):
        raise ValueError(f"config file {path} must end in .yaml, .yml or .toml.")
    import yaml

    tomllib = _toml_parser()
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is allowed
        values = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text) or {}
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"config file {path} cannot be parsed as {path.suffix[1:].upper()}: {reason}") from None
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a mapping of option names to values.")
    flat: dict[str, Any] = {}
    for key, value in values.items():  # [model], [method], [optimisation], [runtime] sections or flat keys
        if key in _groups() and isinstance(value, dict):
            flat.update({str(k).replace("-", "_"): v for k, v in value.items()})
        else:
            flat[str(key).replace("-", "_")] = value
    return flat


def apply_config_file(parser: argparse.ArgumentParser, command: argparse.ArgumentParser, path: str, name: str) -> None:
    """Make the file's values ``command``'s defaults (so the command line wins), each parsed and checked
    by its flag's own type and choices as if it were typed: ``quiet: "no"`` is false, a list is the
    comma-separated text of its items; an unknown name (a usage error) or a bad value (``ValueError``)
    stops here, naming the file."""
    values = load_config_file(path)
    actions = {action.dest: action for action in command._actions if action.dest not in ("help", "config")}
    unknown = sorted(set(values) - set(actions))
    if unknown:
        parser.error(f"{path}: unknown option(s) for 'dacl {name}': {', '.join(unknown)}")
    parsed = {}
    for key, value in values.items():
        action = actions[key]
        text = ",".join(map(str, value)) if isinstance(value, list) else value
        text = str(text).lower() if isinstance(text, bool) else text
        try:
            if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
                value = boolean(str(text))
            elif action.type is not None and text is not None:
                value = action.type(str(text))
            else:
                value = text if text is None else str(text)
        except argparse.ArgumentTypeError as error:
            raise ValueError(f"config file {path}: {key}: {error}") from None
        if action.choices is not None and value not in action.choices:
            allowed = ", ".join(map(str, action.choices))
            raise ValueError(f"config file {path}: {key}: {value!r} is not one of {allowed}")
        parsed[key] = value
    command.set_defaults(**parsed)
