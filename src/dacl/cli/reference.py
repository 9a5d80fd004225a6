"""The command-line reference of the docs site (docs/cli.md), made from the parser itself so that it cannot
drift from ``--help``: ``python -m dacl.cli.reference > docs/cli.md`` (a test checks the file is current)."""

from __future__ import annotations

import os

__all__ = ["WIDTH", "cli_reference"]

WIDTH = 100  # the help's line width in the reference, whatever the terminal


def cli_reference() -> str:
    """Markdown: every command's ``--help``, in the order ``dacl --help`` lists them."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)  # argparse wraps to the terminal's width: fix it
    try:
        from dacl.cli import build_parser

        parser = build_parser()
        parts = ["# Command line", "",
                 "Made from the parser (`python -m dacl.cli.reference > docs/cli.md`), as `dacl COMMAND --help` "
                 "prints it. Every command also reads its options from a YAML or TOML file (`--config`).", "",
                 "```text", parser.format_help().rstrip(), "```", ""]  # fmt: skip
        for name, command in parser.commands.items():
            parts += [f"## dacl {name}", "", "```text", command.format_help().rstrip(), "```", ""]
        return "\n".join(parts)
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


if __name__ == "__main__":
    print(cli_reference(), end="")
