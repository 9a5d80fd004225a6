"""Old module paths, kept for one release: ``import dacl.study`` still works, warns that it moved, and
gives the very module of its new path (``dacl.studies.label_study``), so names patched or compared through
either path are one object. No file sits at the old paths: a finder on ``sys.meta_path`` maps them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "install", "new_path"]

# old module path -> new one (submodules follow: dacl.reproduce.table1 -> dacl.studies.reproduce.table1)
MOVED: dict[str, str] = {
    "dacl.study": "dacl.studies.label_study",
    "dacl.experiment": "dacl.studies.experiment",
    "dacl.report": "dacl.studies.report",
    "dacl.runs": "dacl.studies.runs",
    "dacl.reproduce": "dacl.studies.reproduce",
    "dacl.bench": "dacl.studies.bench",
    "dacl.bench_images": "dacl.studies.bench_images",
}


def new_path(name: str) -> str | None:
    """The module path that ``name`` moved to, or None if it did not move."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the module of its new path (after a DeprecationWarning)."""

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        return None if new_path(name) is None else importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        moved = new_path(spec.name)
        warnings.warn(f"module {spec.name} moved to {moved}; import it from there (the old path goes in the next "
                      "release)", DeprecationWarning, stacklevel=2)  # fmt: skip
        module = importlib.import_module(moved)
        self._real_specs = getattr(self, "_real_specs", {})
        self._real_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system set the alias's spec on the real module: give it back its own
        real = self._real_specs.pop(module.__spec__.name, None) if hasattr(self, "_real_specs") else None
        if real is not None:
            module.__spec__ = real


_FINDER = _MovedModules()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
