"""The layers import only leftwards: core (torch only), methods and config, engine, domains, faces."""

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dacl"
FACES_AND_DOMAINS = ("dacl.data", "dacl.evaluate", "dacl.tables.transformer", "dacl.studies", "dacl.cli", "dacl.tables",
                     "dacl.graphs", "dacl.images", "dacl.tables.semisupervised")  # fmt: skip


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


def test_the_library_never_imports_the_research_harness():
    """dacl.studies (the label study, experiments, reports, stored runs, reproductions, benchmarks) is a face:
    only the CLI and the harness itself import it, by its path or by the old paths kept as aliases."""
    from dacl._aliases import MOVED

    harness = ("dacl.studies", *MOVED)
    for path in SRC.rglob("*.py"):
        if {"cli", "studies"} & set(path.relative_to(SRC).parts):
            continue
        for name in imports_of(path):
            assert not name.startswith(harness), (path.relative_to(SRC), name)


def test_methods_and_config_do_not_import_each_other():
    """The config reads the registry's names; the methods take any object with the options (even for types)."""
    assert not {n for n in imports_of(SRC / "methods.py") if n.startswith("dacl.config")}
    assert "dacl.methods" in imports_of(SRC / "config.py")


def test_old_module_paths_warn_and_give_the_new_module():
    import importlib
    import warnings

    from dacl._aliases import MOVED

    for old, new in MOVED.items():
        sys.modules.pop(old, None)  # imported before (by another test): look it up again
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = importlib.import_module(old)
        assert module is importlib.import_module(new) and module.__spec__.name == new
        assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught), old
    from dacl.reproduce.table1 import reproduce_table1  # a submodule through an old path

    from dacl.studies.reproduce.table1 import reproduce_table1 as same

    assert reproduce_table1 is same


DOMAINS = ("tables", "images", "graphs")


def test_no_domain_imports_another_and_the_shared_layers_import_none():
    """Each domain folder imports the shared layers only; data/, evaluate, core, engine no domain at all."""
    for domain in DOMAINS:
        others = tuple(f"dacl.{d}" for d in DOMAINS if d != domain)
        for path in (SRC / domain).rglob("*.py"):
            for name in imports_of(path):
                assert not name.startswith(others), (path.relative_to(SRC), name)
    shared = [*(SRC / "data").glob("*.py"), SRC / "evaluate.py", *(SRC / "core").glob("*.py"),
              *(SRC / "engine").glob("*.py")]  # fmt: skip
    for path in shared:
        for name in imports_of(path):
            assert not name.startswith(tuple(f"dacl.{d}" for d in DOMAINS)), (path.relative_to(SRC), name)


def test_at_most_seven_modules_beside_the_packages():
    modules = sorted(p.name for p in SRC.glob("*.py"))
    assert len(modules) <= 7, modules


def test_every_package_folder_is_a_regular_package():
    """A folder without __init__.py imports as a namespace package here but is left out of the wheel
    (setuptools' find_packages) and of the API docs: each has one."""
    missing = [p.relative_to(SRC) for p in SRC.rglob("*") if p.is_dir() and p.name != "__pycache__"
               and not (p / "__init__.py").exists()]  # fmt: skip
    assert not missing, missing


def test_data_holds_no_domains_reader():
    """data/ keeps what every domain shares; each registered dataset is read by a loader in a domain folder,
    named by its path (imported when asked for) and resolvable."""
    from dacl.data.registry import DATASETS, DatasetLoader

    assert sorted(p.stem for p in (SRC / "data").glob("*.py")) == ["__init__", "dataset", "download", "registry",
                                                                     "subsets"]  # fmt: skip
    for name, loader in DATASETS.items():
        assert isinstance(loader, DatasetLoader) and loader.domain in DOMAINS, name
        assert callable(loader.resolve()), name


def test_no_module_imports_itself_through_others():
    """Issue 46: no import circle of any length among dacl's modules (imports inside functions included):
    images/arrays.py and images/sets.py, tables/semisupervised/folder.py and onnx_export.py, and the
    candidates with the transductive candidates (the registry now in registry.py) were untied."""
    modules = {}
    for path in SRC.rglob("*.py"):
        if path.name != "__init__.py":
            modules[".".join(path.relative_to(SRC.parent).with_suffix("").parts)] = path

    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
        return names & set(modules)

    graph = {name: imported(path) - {name} for name, path in modules.items()}
    reaches = {name: set(targets) for name, targets in graph.items()}  # transitive closure, by rounds
    changed = True
    while changed:
        changed = False
        for name, targets in reaches.items():
            grown = targets.union(*(reaches[t] for t in targets))
            if grown != targets:
                reaches[name], changed = grown, True
    circles = sorted(name for name, targets in reaches.items() if name in targets)
    assert not circles, circles
