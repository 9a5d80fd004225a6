"""The ``dacl`` command: one module per subcommand (``add_parser`` and ``run``), every shared flag defined
once (``dacl.cli.flags``), options from YAML or TOML files (``--config FILE``; the command line wins)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from importlib import import_module
from typing import Any

from dacl.cli.config_file import apply_config_file, load_config_file
from dacl.cli.flags import add

__all__ = ["COMMANDS", "DEMO_CONFIG", "QUICK_EXIT", "build_parser", "entry", "load_config_file", "main", "parse_args"]

# name -> the module that adds its parser and runs it
COMMANDS = {name: f"dacl.cli.{name}" for name in ("pretrain", "evaluate", "compare", "fit", "predict", "export",
                                                      "demo", "bench", "reproduce")}  # fmt: skip

# Options a command cannot run without; checked after the config file is merged, so either may give them.
REQUIRED = {"pretrain": ("data", "out"), "evaluate": ("checkpoint",), "compare": ("data", "out"),
            "fit": ("data", "label", "out"), "predict": ("model", "data", "out"), "export": ("model",),
            "reproduce table1": ("dataset", "out"), "reproduce table2": ("dataset", "out"),
            "reproduce table4": ("datasets", "out"),
            "reproduce labels": ("datasets", "out")}  # fmt: skip

# A user's mistake (a bad value, file, config or checkpoint; a run that diverged) is reported in one
# line with exit status 2; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError,
               FloatingPointError)  # fmt: skip
INTERRUPTED = 130  # the shell's status of a command stopped by Ctrl-C (128 + SIGINT)


LONGEST_WORD, LONGEST_MESSAGE = 120, 2000  # characters of one word and of a whole error message printed


def readable(message: str) -> str:
    """An error message as the CLI prints it: one line, each word (a cell, a path, a value quoted from the
    data) cut to ``LONGEST_WORD`` characters and the whole to ``LONGEST_MESSAGE``, each cut saying how much
    it left out, so that a megabyte cell or a thousand column names never flood the terminal."""
    import re

    def cut(found: re.Match) -> str:
        word = found.group(0)
        return f"{word[: LONGEST_WORD - 20]}...[{len(word):,} characters]"

    message = re.sub(rf"\S{{{LONGEST_WORD + 1},}}", cut, " ".join(message.split()))
    if len(message) > LONGEST_MESSAGE:
        message = f"{message[: LONGEST_MESSAGE - 40]}...[{len(message):,} characters in all]"
    return message


def command_of(argv: list[str]) -> str:
    """The command an argument list names: its first word that is not a flag ("" if none)."""
    return next((a for a in argv if not a.startswith("-")), "")


def _version() -> str:
    from dacl import __version__

    return __version__


def __getattr__(name: str) -> Any:
    if name == "DEMO_CONFIG":  # on use: the demo's module imports the config, and through it torch
        from dacl.cli.demo import DEMO_CONFIG

        return DEMO_CONFIG
    raise AttributeError(f"module 'dacl.cli' has no attribute {name!r}")


def _commands(parser: argparse.ArgumentParser, only: str | None = None) -> dict[str, argparse.ArgumentParser]:
    """Every runnable command's parser, by its name ("reproduce table1" for the reproductions); with ``only``,
    that command's alone (its module alone imported: ``dacl predict`` of a model with an ONNX graph never
    imports torch)."""
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            continue
        made = import_module(module).add_parser(sub)
        if isinstance(made, tuple):  # reproduce: its own parser and one per table
            commands.update({f"{name} {table}": command for table, command in made[1].items()})
        else:
            commands[name] = made
    return commands


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of the command ``only`` alone."""
    parser = argparse.ArgumentParser(prog="dacl", description="Domain-agnostic contrastive learning (DACL).")
    parser.add_argument("--version", action="version", version=f"dacl {_version()}")
    commands = _commands(parser, only)
    for name, command in commands.items():
        add(command, "config", help="YAML or TOML file with options of this " + ("table" if " " in name else "command"))
        add(command, "debug")
        add(command, "threads")
        if "quiet" not in {action.dest for action in command._actions}:
            add(command, "quiet")
        for action in command._actions:
            if action.help:
                action.help = plain_help(action.help)
    parser.commands = commands  # type: ignore[attr-defined]
    return parser


def plain_help(text: str) -> str:
    """A flag's help as the terminal shows it: no reStructuredText quotes (the texts are shared with the
    docstrings), every default said one way ("...; default X")."""
    text = text.replace("``", "")
    return re.sub(r"\s*\(default:? ([^)]*)\)", r"; default \1", text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    first = command_of(argv or [])
    parser = build_parser(first if first in COMMANDS else None)  # an unknown command: argparse lists them all
    args = parser.parse_args(argv)
    name = f"{args.command} {args.table}" if args.command == "reproduce" else args.command
    if getattr(args, "config", None):
        apply_config_file(parser, parser.commands[name], args.config, name)
        args = parser.parse_args(argv)
    missing = [f"--{option.replace('_', '-')}" for option in REQUIRED.get(name, ()) if getattr(args, option) is None]
    if missing:
        parser.error(f"dacl {name} needs {', '.join(missing)} (on the command line or in --config)")
    return args


def _apply_threads(threads: int | None) -> int:
    """``--threads`` for the whole command (``dacl.core.threads``): torch's and every OpenMP/BLAS pool's count
    (torch's when it is imported later, by ``OMP_NUM_THREADS``); the estimators resolve ``auto`` again at
    each phase of a fit (``n_jobs``). Returns the count."""
    from threadpoolctl import threadpool_limits

    from dacl.core.threads import resolve_threads

    count = resolve_threads(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
    else:  # a command that may never need torch (dacl predict through onnxruntime): torch reads it on import
        os.environ["OMP_NUM_THREADS"] = str(count)
    threadpool_limits(count)  # for the life of the process
    return count


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or os.environ.get("DACL_DEBUG", "") not in ("", "0")
    command = command_of(argv)
    try:
        args = parse_args(argv)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under torchrun: join the group, rank 0 prints
            from dacl.core.distributed import init_from_environment, rank

            init_from_environment(getattr(args, "device", "cpu") or "cpu")
            if rank() != 0:
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
                warnings.simplefilter("ignore")  # rank 0 says it once; errors still reach stderr
        args.thread_count = _apply_threads(args.threads)
        import_module(COMMANDS[args.command]).run(args)
    except USER_ERRORS as error:
        if debug:
            raise
        print(f"dacl {command}: error: {readable(str(error))} (--debug or DACL_DEBUG=1 shows the traceback)".strip(),
              file=sys.stderr)  # fmt: skip
        return 2
    except KeyboardInterrupt:  # Ctrl-C: every file dacl writes is written whole or not at all (write_atomic)
        if debug:
            raise
        print(f"dacl {command}: interrupted; nothing was half-written (a model folder is whole only once its "
              "model.json is written, and is checked against it at load).", file=sys.stderr)  # fmt: skip
        return INTERRUPTED
    return 0


# Commands that end once their output is written whole (write_atomic; a model folder's model.json last):
# their process leaves without Python's teardown, which spends 0.8 s freeing torch and pandas (measured:
# docs/results/speed.md, "Predictions"); fit since issue 46, where it is a tenth of a fit on a cached encoder
QUICK_EXIT = ("predict", "export", "fit")


def end_as_interrupted() -> None:
    """End the process by SIGINT, as Python ends on an unhandled Ctrl-C, once the one-line message is out.

    A shell sees status 130 either way, but only a child that died by SIGINT stops a shell loop around it
    (bash's wait-and-cooperative-exit); and the status no longer depends on where the interrupt landed
    (one that passed through an extension's ``PyRun_String`` made Python kill itself by SIGINT anyway)."""
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def entry() -> None:
    """The ``dacl`` command (the console script and ``python -m dacl``): ``main``, then the exit."""
    argv = sys.argv[1:]
    code = main(argv)
    if code == INTERRUPTED and os.name == "posix":
        end_as_interrupted()
    if command_of(argv) in QUICK_EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # the output file is written and closed (write_atomic): nothing is left to tear down
    raise SystemExit(code)
