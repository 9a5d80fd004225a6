"""What several commands do alike: a config from the flags, a dataset from the data flags, results
printed, an output folder checked before any compute."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dacl.config import PretrainConfig

from dacl.cli.flags import given_options

__all__ = [
    "check_results_out",
    "check_writable",
    "data_spec",
    "load_dataset",
    "load_features",
    "pretrain_config",
    "print_results",
]


def pretrain_config(args: argparse.Namespace, base: dict[str, Any] | None = None) -> PretrainConfig:
    """The config of the options given (flags or config file) over ``base`` (a domain's or command's defaults)."""
    from dacl.config import PretrainConfig

    return PretrainConfig.from_dict({**(base or {}), **given_options(args)})


def given_pretraining(args: argparse.Namespace) -> dict[str, Any]:
    """The tables' pretraining options given, for the label study (its budget gives the others), checked
    before any compute."""
    from dacl.studies.label_study import check_pretraining

    given = given_options(args, "tables")
    return check_pretraining({k: v for k, v in given.items() if k not in ("method", "seed")})


def data_spec(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("data", "label", "test", "test_size", "data_seed", "scale", "data_dir")}


def load_dataset(spec: dict[str, Any]):
    from dacl.data import load_dataset as load

    return load(spec["data"], spec["label"], spec["test"], spec["test_size"], spec["data_seed"], spec.get("data_dir"))


def load_features(spec: dict[str, Any]):
    from dacl.studies.experiment import prepare_features

    dataset = load_dataset(spec)
    return dataset, prepare_features(dataset, spec["scale"])


def present(values) -> Any:
    """Which cells of a label column hold a label (not None, NaN or pd.NA), as a boolean array: the rows
    dacl fit chooses on and dacl pretrain scores on."""
    import pandas as pd

    return pd.notna(pd.Series(values, dtype=object)).to_numpy()


def print_results(results: dict[str, Any], paths: dict[str, Path] | None) -> None:
    from dacl.studies.report import markdown_table

    print(markdown_table(results["rows"]), end="")
    if paths:
        print("wrote " + ", ".join(str(p) for p in paths.values()))


def check_output_file(out: Path, suffixes: tuple[str, ...], overwrite: bool) -> None:
    """``--out`` names a file to write: one of ``suffixes``, not a folder, not an existing file unless
    ``overwrite``, in a folder this process may write."""
    endings = " or ".join(suffixes)
    if out.suffix.lower() not in suffixes:
        raise ValueError(f"--out {out} must end in {endings}.")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give the file's name, ending in {endings}.")
    if out.exists() and not overwrite:
        raise ValueError(f"--out {out} exists; choose another file or pass --overwrite.")
    check_writable(out.parent if str(out.parent) else Path("."))


def check_writable(folder: Path) -> None:
    """Fail now, not after the compute, when ``folder`` cannot be written."""
    import tempfile

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file; give a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".dacl-write-check."):
            pass
    except OSError as error:
        raise ValueError(f"cannot write to {folder}: {error.strerror or error}; choose another --out.") from None


@contextmanager
def exclusive_out(folder: Path, command: str):
    """Hold ``folder/.dacl.lock`` (``dacl.files.hold``) for the whole command, so that a second command
    writing to the same ``--out`` is refused at its start, not after its compute."""
    from dacl.files import LOCK_FILE, Busy, NotInside, hold

    try:
        with hold(folder, LOCK_FILE):
            yield
    except Busy:
        raise ValueError(f"--out {folder} is being written by another dacl {command} right now; wait for it to "
                         "finish or choose another folder.") from None  # fmt: skip
    except NotInside as error:
        raise ValueError(f"--out {folder}: {error} Remove it, or choose another folder.") from None


@contextmanager
def exclusive_output_file(out: Path, suffixes: tuple[str, ...], overwrite: bool, command: str):
    """For a command that writes the file ``--out``: checked (``check_output_file``), then held through
    ``dacl.files.hold`` on ``.NAME.lock`` beside it (removed at the end) for the whole command, so that a
    second command writing the same file is refused at its start; the file itself is written with
    ``write_output``, which without ``--overwrite`` never replaces one."""
    from dacl.files import Busy, NotInside, hold

    check_output_file(out, suffixes, overwrite)
    folder = out.parent if str(out.parent) else Path(".")
    try:
        with hold(folder, f".{out.name}.lock", remove=True):
            check_output_file(out, suffixes, overwrite)  # again, now that no other dacl writes it
            yield
    except Busy:
        raise ValueError(f"--out {out} is being written by another dacl {command} right now; wait for it to finish "
                         "or choose another file.") from None  # fmt: skip
    except NotInside as error:
        raise ValueError(f"--out {out}: {error} Remove it, or choose another file.") from None


def write_output(out: Path, data: bytes, overwrite: bool) -> None:
    """Write ``--out`` whole (``dacl.files.write_atomic``); without ``--overwrite``, never over a file that
    appeared meanwhile."""
    from dacl.files import write_atomic

    try:
        write_atomic(out, data, replace=overwrite)
    except FileExistsError:
        raise ValueError(f"--out {out} appeared while this command ran and was kept; pass --overwrite to replace "
                         "it.") from None  # fmt: skip


def check_results_out(args: argparse.Namespace, files: tuple[str, ...] = ("results.json",)) -> None:
    """Before any compute: --out writable and not holding another run's results unless --overwrite."""
    folder = Path(args.out)
    check_writable(folder)
    held = [name for name in files if (folder / name).exists()]
    if held and not getattr(args, "overwrite", True):
        raise ValueError(f"--out {folder} already holds {', '.join(held)}; choose another folder or pass --overwrite.")
