"""Import a module of dacl as it was at an earlier commit, for side-by-side timings.

Used by the ``*_vs_previous.py`` scripts beside it (run from the repository root).
"""

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType


def load_previous(path: str, commit: str, source_file: str | None = None) -> ModuleType:
    """``path`` (e.g. ``src/dacl/losses.py``) at ``commit``, or read from ``source_file`` where
    there is no git history (a copy of the tree without .git), imported as ``previous_<name>``."""
    if source_file:
        source = Path(source_file).read_text()
    else:
        source = subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, text=True, check=True).stdout
    folder = Path(tempfile.mkdtemp())
    name = f"previous_{Path(path).stem}"
    (folder / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder))
    return importlib.import_module(name)
