"""Issue 46: the benchmark scripts live in benchmarks/, beside no result page; every script a page names
exists and answers --help (each has an argparse front), and docs/results holds results only."""

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scripts() -> list[Path]:
    return sorted(p for p in (ROOT / "benchmarks").rglob("*") if p.suffix in (".py", ".sh"))


def test_docs_results_holds_no_script_and_every_named_script_exists():
    assert not [p for p in (ROOT / "docs" / "results").rglob("*") if p.suffix in (".py", ".sh", ".ipynb")]
    named = set()
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:  # the pages, and the README's commands
        named |= set(re.findall(r"benchmarks/[A-Za-z0-9_/]+\.(?:py|sh)", page.read_text()))
    assert named, "no page names a benchmark"
    missing = sorted(name for name in named if not (ROOT / name).is_file())
    assert not missing, missing
    table = (ROOT / "benchmarks" / "README.md").read_text()
    listed = set(re.findall(r"`(benchmarks/[A-Za-z0-9_/]+\.(?:py|sh))`", table))
    unlisted = sorted(str(p.relative_to(ROOT)) for p in scripts() if str(p.relative_to(ROOT)) not in listed)
    assert not unlisted, f"benchmarks/README.md does not say what these measure: {unlisted}"


def test_every_benchmark_answers_help():
    def run(path: Path) -> tuple[Path, int, str]:
        command = ["bash", "-n", str(path)] if path.suffix == ".sh" else [sys.executable, str(path), "--help"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
        return path, done.returncode, done.stderr[-500:]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, [p for p in scripts() if p.name != "previous_version.py"]))
    failed = [(str(p.relative_to(ROOT)), err) for p, code, err in results if code != 0]
    assert not failed, failed
