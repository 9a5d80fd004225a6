"""The examples in examples/ run as written (with fewer epochs)."""

import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_custom_encoder_example_trains_checkpoints_resumes_and_probes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source = (EXAMPLES / "custom_encoder.py").read_text()
    code = compile(re.sub(r"epochs=\d+", "epochs=4", source), "custom_encoder.py", "exec")
    exec(code, {"__name__": "__main__"})
    accuracy = float(capsys.readouterr().out.split()[-1])
    assert accuracy > 0.5  # ten classes: chance is 0.1
    files = sorted(p.name for p in (tmp_path / "runs" / "custom").iterdir())
    assert files == ["checkpoint.json", "checkpoint.previous.safetensors", "checkpoint.safetensors"]
    exec(code, {"__name__": "__main__"})  # a finished run resumes to itself: the same encoder, the same probe
    assert float(capsys.readouterr().out.split()[-1]) == accuracy
    # the user code is short: under 30 lines without the docstring and blank lines
    lines = [line for line in source.split('"""', 2)[2].splitlines() if line.strip()]
    assert len(lines) < 30


def test_few_labels_example_fits_saves_loads_and_predicts(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source = (EXAMPLES / "few_labels.py").read_text()
    code = re.sub(r"epochs=\d+", "epochs=3, fine_tune_epochs=(3,), cv=2", source)
    exec(compile(code, "few_labels.py", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "chosen:" in out and float(out.split()[-1]) > 0.7  # a rule of three columns, 60 labels
    assert (tmp_path / "few-labels-model" / "model.json").is_file()
