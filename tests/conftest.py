import os

import pytest
import torch

import dacl  # noqa: F401  before any test computes: it sets MKL's reproducible mode (dacl.core.runtime)

# The encoder cache (dacl.tables.encoder_cache) is off in the tests, for them and for the commands they
# start, so that every fit pretrains as the test says; the cache's own tests name a folder.
os.environ["DACL_CACHE"] = "off"


@pytest.fixture(autouse=True)
def _few_threads():
    # Keep timings stable on the 2-core CI machine.
    torch.set_num_threads(2)
    yield


@pytest.fixture
def threads():
    """``torch.set_num_threads`` for a test that runs the same work on several counts; the count restored after."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)
