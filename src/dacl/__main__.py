"""``python -m dacl``: the same as the ``dacl`` command."""

from dacl.cli import entry

entry()
