"""The docs site: its nav reaches every page it builds, and the CLI reference is the parser's own help."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _excluded(path: Path) -> bool:
    """What mkdocs.yml's exclude_docs leaves out of the site (stored runs, encoders, model folders)."""
    return bool({"encoders", "runs", "checkpoints", "model"} & set(path.relative_to(DOCS).parts))


def test_the_nav_reaches_every_page_the_site_builds():
    nav = set(re.findall(r"([\w./-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if not _excluded(p)}
    assert pages - nav == set(), "pages built but not in mkdocs.yml's nav"
    assert nav - pages == set(), "nav entries without a page"


def test_the_cli_reference_is_the_parsers_help():
    from dacl.cli.reference import cli_reference

    assert (DOCS / "cli.md").read_text() == cli_reference(), "run: python -m dacl.cli.reference > docs/cli.md"


def test_every_flag_help_is_plain_and_says_its_default_one_way():
    from dacl.cli import build_parser

    for name, command in build_parser().commands.items():
        for action in command._actions:
            text = action.help or ""
            assert "``" not in text, (name, action.dest, text)
            assert not re.search(r"\(default|default:|Default ", text), (name, action.dest, text)
