"""Test configuration shared by every test module.

No test may reach the network: the Hugging Face hub is forced offline (otherwise a hub id
spends ~23 s in retries before failing) and arXiv calls are replayed from recordings.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# tokzoo add asks Hugging Face Papers too: tests that do not serve it a fake get "connection refused" at once
os.environ.setdefault("TOKZOO_HF_API", "http://127.0.0.1:9/api/papers/{id}")
