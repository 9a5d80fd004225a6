import pytest
import torch


@pytest.fixture(autouse=True)
def _few_threads():
    # Keep timings stable on the 2-core CI machine.
    torch.set_num_threads(2)
    yield
