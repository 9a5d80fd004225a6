"""The layers import only leftwards: core (torch only), methods and config, engine, domains, faces."""

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dacl"
FACES_AND_DOMAINS = ("dacl.data", "dacl.evaluate", "dacl.estimator", "dacl.experiment", "dacl.report",
                     "dacl.reproduce", "dacl.cli", "dacl.bench", "dacl.tables", "dacl.graphs",
                     "dacl.images")  # fmt: skip


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_core_imports_only_torch_and_itself():
    for path in (SRC / "core").glob("*.py"):
        for name in imports_of(path):
            top = name.split(".")[0]
            # kornia (torch's batched image kernels) only for SimCLR's augmentations; threadpoolctl (no data
            # stack: it finds the loaded OpenMP/BLAS pools) only for the thread policy
            extra = {"augment.py": ("kornia",), "threads.py": ("threadpoolctl",)}.get(path.name, ())
            allowed = ("torch", "dacl", "__future__") + extra
            assert top in allowed or top in sys.stdlib_module_names, (path.name, name)
            assert top != "dacl" or name.startswith("dacl.core"), (path.name, name)


def test_methods_config_and_engine_import_no_domain_or_face():
    paths = [SRC / "methods.py", SRC / "config.py", *(SRC / "engine").glob("*.py")]
    for path in paths:
        for name in imports_of(path):
            assert not name.startswith(FACES_AND_DOMAINS), (path.name, name)


def test_only_the_cli_imports_the_reproductions_and_the_estimators_import_no_reproduction():
    for path in SRC.rglob("*.py"):
        if "cli" in path.parts or path.name.startswith("bench") or "reproduce" in path.parts:
            continue
        for name in imports_of(path):
            assert not name.startswith(("dacl.reproduce", "dacl.bench")), (path.name, name)
