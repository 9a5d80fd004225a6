"""Every flag of the ``dacl`` command defined once: the value types, the flags several commands share,
and the pretraining options, made from :class:`dacl.PretrainConfig`'s metadata.

A command adds a shared flag by name (``add(parser, "device", "quiet")``), with its own default or help
where it differs (``add(parser, "out", help=...)``); lists are parsed, checked (no empty item, no
repeat) and split here only.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add", "add_data_options", "add_pretrain_options", "boolean", "count", "names", "numbers", "seconds",
           "share", "threads"]


def boolean(text: str) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case)."""
    if isinstance(text, bool):
        return text
    if str(text).lower() in ("1", "true", "yes", "on"):
        return True
    if str(text).lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def share(text: str) -> float:
    """A number in (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1), got {value}")
    return value


def count(text: str) -> int:
    """A whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def threads(text: str) -> int | None:
    """``auto`` (None: the usable cores less the busy ones), a positive count, or -1 (every usable core)."""
    if str(text).lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, a positive whole number or -1, got {text!r}") from None
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected auto, a positive whole number or -1, got {value}")
    return value


def seconds(text: str) -> float | None:
    """A positive number of seconds, or none."""
    if str(text).lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def optional_count(text: str) -> int | None:
    """A whole number >= 0, or none."""
    return None if str(text).lower() == "none" else count(text)


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names: none empty, none twice."""
    items = tuple(t.strip() for t in str(text).split(","))
    if not items or any(not t for t in items):
        raise argparse.ArgumentTypeError(f"expected comma-separated names, none empty, got {text!r}")
    repeated = sorted({t for t in items if items.count(t) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"{', '.join(repeated)} given twice in {text!r}")
    return items


def numbers(kind: type):
    """Comma-separated numbers of ``kind``: none empty, none twice."""

    def parse(text: str) -> tuple:
        try:
            return tuple(kind(t) for t in names(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__} values, got {text!r}") from None

    return parse


def fractions(text: str) -> tuple[float, ...]:
    """Comma-separated shares of the labels in (0, 1]."""
    values = numbers(float)(text)
    if any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"label fractions must lie in (0, 1], got {text!r}")
    return values


# The flags several commands share: name -> add_argument's keywords (a command may override any).
SHARED: dict[str, dict[str, Any]] = {
    "out": {"default": None, "help": "the folder to write (required)"},
    "quiet": {"action": "store_true", "help": "no progress bars"},
    "debug": {"action": "store_true", "help": "show the traceback of an error"},
    "config": {"default": None, "help": "YAML or TOML file with options of this command"},
    "data_dir": {"default": None, "help": "dataset cache and offline folder; default $DACL_DATA_DIR or ~/.cache/dacl"},
    "device": {"default": "cpu", "help": "cpu, cuda (cuda:N) or auto"},
    "precision": {"default": "auto", "help": "auto (bfloat16 on a bf16 CUDA GPU or a CPU with AMX or AVX512-BF16, "
                  "else float32), float32 or bfloat16"},  # fmt: skip
    "compile": {"type": boolean, "default": False, "help": "the training step through torch.compile"},
    "methods": {"type": names, "default": None, "help": "comma-separated methods"},
    "datasets": {"type": names, "default": None, "help": "comma-separated dataset names"},
    "fractions": {"type": fractions, "default": None, "help": "comma-separated shares of the training labels, "
                  "each in (0, 1]"},  # fmt: skip
    "budget": {"default": "small", "help": "the compute budget"},
    "seeds": {"type": count, "default": None, "help": "seeds per row; default the budget's"},
    "task": {"default": "auto", "choices": ["auto", "classification", "regression"],
             "help": "auto: numbers that are not all whole are a regression target, anything else classes"},
    "scale": {"choices": ["minmax", "standard"], "default": "minmax",
              "help": "scaling of numeric columns: minmax (to [0, 1], needed by geometric mixup) or standard"},
    "overwrite": {"action": "store_true", "help": "replace what --out already holds"},
    "ignore": {"type": names, "default": (), "help": "comma-separated columns to leave out (an ID, a timestamp); "
               "dacl predict --id can still name one"},
    "threads": {"type": threads, "default": None, "help": "threads for torch and scikit-learn's OpenMP: auto (the "
                "cores this process may use, by affinity and cgroup quota, less those other processes keep busy), "
                "N, or -1 (every usable core); default auto"},
}  # fmt: skip


def add(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *flags: str, aliases: tuple[str, ...] = (), **override
) -> None:
    """Add the shared ``flags`` (by name) to ``parser``; ``override`` and ``aliases`` (other spellings kept
    for earlier command lines) apply to one flag at a time."""
    if (override or aliases) and len(flags) != 1:
        raise ValueError("override the keywords of one flag at a time.")
    for name in flags:
        keywords = {**SHARED[name], **override}
        keywords["help"] = keywords["help"].replace("%", "%%")
        parser.add_argument(f"--{name.replace('_', '-')}", *aliases, dest=name, **keywords)


def option_type(f):
    """The command-line type of a config option (its checks are the config's own)."""
    from dacl.config import checked_option, range_text

    kind, optional = f.metadata["kind"], f.metadata["optional"]
    if kind is bool:
        return boolean
    if kind == "str-tuple":
        return names

    def parse(text: str):
        if optional and str(text).lower() == "none":
            return None
        bounds = range_text(f)
        expected = ("a whole number" if kind is int else "a number") + (
            f" in {bounds}" if bounds.startswith(("[", "(")) else f" {bounds}" if bounds else "")
        try:
            return checked_option(f, kind(text))  # the range checked here: the error names the flag
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    return parse if kind in (int, float) else str


def positive_numbers(kind: type):
    """Comma-separated positive numbers of ``kind``: none empty, none twice."""

    def parse(text: str) -> tuple:
        values = numbers(kind)(text)
        if any(v <= 0 for v in values):
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers > 0, got {text!r}")
        return values

    return parse


def at_least(low: int):
    """A whole number >= ``low``."""

    def parse(text: str) -> int:
        value = count(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
        return value

    return parse


def add_pretrain_options(
    parser: argparse.ArgumentParser, skip: tuple[str, ...] = (), domain: str | None = None, defaults=None
) -> None:
    """One flag per option of ``dacl.PretrainConfig`` (those of ``domain``), in its groups, with its help,
    choices, range and default (``defaults[name]`` where a command's defaults differ from the config's)."""
    from dacl.config import GROUPS, option_help, options

    for group_name in GROUPS:
        group = parser.add_argument_group(f"{group_name} options (dacl.PretrainConfig)")
        for f in options(domain):
            if f.metadata["group"] == group_name and f.name not in skip:
                text = option_help(f) if not defaults or f.name not in defaults else option_help(f, defaults[f.name])
                group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=option_type(f), default=None,
                                   help=text.replace("%", "%%"))  # fmt: skip


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """A dataset by name or a file, its label, its test split, its scaling, the data folder."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", default=None, help="a dataset name (digits) or a .csv/.parquet/.npy/.npz file")
    group.add_argument("--label", default=None, help="label column of a CSV/Parquet file (name or index)")
    group.add_argument("--test", default=None, help="a separate test file (else a stratified split)")
    group.add_argument("--test-size", dest="test_size", type=share, default=0.2,
                       help="share of a file's rows held out for testing, in (0, 1); default 0.2 (registered "
                       "datasets have their own test split)")  # fmt: skip
    group.add_argument("--data-seed", dest="data_seed", type=int, default=0, help="seed of the train/test split")
    add(group, "scale", "data_dir")


def given_options(args: argparse.Namespace, domain: str | None = None) -> dict[str, Any]:
    """The pretraining options given on the command line or in the config file."""
    from dacl.config import options

    return {f.name: getattr(args, f.name) for f in options(domain) if getattr(args, f.name, None) is not None}
