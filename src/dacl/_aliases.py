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
from typing import Any

__all__ = ["MOVED", "MOVED_NAMES", "install", "moved_name", "new_path"]

# old module path -> new one (submodules follow: dacl.reproduce.table1 -> dacl.studies.reproduce.table1)
MOVED: dict[str, str] = {
    "dacl.study": "dacl.studies.label_study",
    "dacl.experiment": "dacl.studies.experiment",
    "dacl.report": "dacl.studies.report",
    "dacl.runs": "dacl.studies.runs",
    "dacl.reproduce": "dacl.studies.reproduce",
    "dacl.bench": "dacl.studies.bench",
    "dacl.bench_images": "dacl.studies.bench_images",
    # issue 35: one folder per domain
    "dacl.estimator": "dacl.tables.transformer",
    "dacl.semisupervised": "dacl.tables.semisupervised",
    "dacl.core.tabular": "dacl.tables.encoder",
    "dacl.core.resnet": "dacl.images.resnet",
    "dacl.data.stream": "dacl.tables.stream",
    "dacl.data.labelled": "dacl.tables.labelled",
    "dacl.data.preprocess": "dacl.tables.preprocess",
    "dacl.data.saved_preprocessing": "dacl.tables.saved_preprocessing",
    "dacl.data.image_stream": "dacl.images.stream",
    "dacl.data.graphs": "dacl.graphs.tu",
    "dacl.data.tabular": "dacl.tables.files",
    "dacl.data.uci": "dacl.tables.uci",
    "dacl.data.regression": "dacl.tables.regression",
    "dacl.data.images": "dacl.images.arrays",
    "dacl.data.image_folder": "dacl.images.folder",
    "dacl.data.image_sets": "dacl.images.sets",
}

# names a package offered that moved with their module: (package, name) -> the module that has it now
MOVED_NAMES: dict[tuple[str, str], str] = {
    ("dacl.data", "make_preprocessor"): "dacl.tables.preprocess",
    ("dacl.data", "read_table"): "dacl.tables.files",
    ("dacl.evaluate", "encode"): "dacl.tables.train",
}


def new_path(name: str) -> str | None:
    """The module path that ``name`` moved to, or None if it did not move."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return None


def moved_name(package: str, name: str) -> Any:
    """A package's ``__getattr__`` for a name that moved (with a DeprecationWarning), else AttributeError."""
    module = MOVED_NAMES.get((package, name))
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warnings.warn(f"{package}.{name} moved to {module}.{name}; import it from there (the old name goes in the next "
                  "release)", DeprecationWarning, stacklevel=3)  # fmt: skip
    return getattr(importlib.import_module(module), name)


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
