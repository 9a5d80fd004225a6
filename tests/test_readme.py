"""The README's Python examples run as written (with fewer epochs)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write their checkpoints into the working folder
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    assert len(blocks[0].strip().splitlines()) <= 10
    for block in blocks:
        code = re.sub(r"epochs=\d+", "epochs=2", block)
        exec(compile(code, str(README), "exec"), {})
