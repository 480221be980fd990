"""Test configuration shared by every test module.

No test may reach the network: the Hugging Face hub is forced offline (otherwise a hub id
spends ~23 s in retries before failing) and arXiv calls are replayed from recordings.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# tokzoo add asks Hugging Face Papers too: tests that do not serve it a fake get "connection refused" at once
os.environ.setdefault("TOKZOO_HF_API", "http://127.0.0.1:9/api/papers/{id}")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models: one intra-op thread for the module (two threads only add contention on a shared
    machine). Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
