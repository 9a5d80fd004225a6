"""The Python examples of the README and of the docs' tour run as written (with fewer epochs)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TOUR = Path(__file__).resolve().parents[1] / "docs" / "guide" / "tour.md"


@pytest.mark.parametrize("page", [README, TOUR], ids=["README", "tour"])
def test_python_examples_run(page, tmp_path, monkeypatch):
    import torch

    from dacl.images import sets as image_sets

    monkeypatch.chdir(tmp_path)  # the examples write their checkpoints into the working folder
    g = torch.Generator().manual_seed(0)

    def tiny_cifar(data_dir=None, cache_dir=None):  # offline, and small enough for a test
        images = torch.randint(0, 256, (80, 3, 8, 8), generator=g, dtype=torch.uint8)
        labels = torch.arange(80) % 2
        return image_sets.ImageDataset("cifar10", images[:64], labels[:64], images[64:], labels[64:], ["a", "b"])

    monkeypatch.setitem(image_sets.IMAGE_DATASETS, "cifar10", tiny_cifar)
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert len(blocks) >= 2
    assert page != README or len(blocks[0].strip().splitlines()) <= 10  # the first thing a reader sees
    namespace: dict = {}  # the blocks read top to bottom: a later one may use an earlier one's names
    for block in blocks:
        code = re.sub(r"epochs=\d+", "epochs=2", block)
        code = re.sub(r"batch_size=512", "batch_size=32", code)
        code = code.replace("DACLClassifier(", "DACLClassifier(epochs=2, fine_tune_epochs=(2,), cv=2, candidates=("
                            "'probe', 'knn', 'linear-raw'), ")  # fmt: skip
        exec(compile(code, str(page), "exec"), namespace)
