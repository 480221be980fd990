"""Text encoders (``hf-bert``): padding masks respected, [CLS] kept, pooling over reduced outputs.

A right-padded batch of sentences of different lengths must give every sentence what it gets
alone (unpadded), padding must never merge with text or count in a budget, and size-weighted
mean pooling must reduce to sentence-transformers' masked mean when nothing is reduced.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from encoder_fixtures import hf_bert  # noqa: E402
from zoo.families.encoders.pooling import mean_pool  # noqa: E402
from zoo.families.encoders.protocol import key_padding  # noqa: E402

LENGTHS = (30, 17, 9, 30)
#: text-capable methods and budgets (4 blocks)
TEXT_CASES = [
    ("tome", {"r": 3}), ("tome", {"keep_ratio": 0.5}), ("evit", {"layers": (0, 2), "keep_rate": 0.6}),
    ("zero-tprune", {"r": 2, "wpr_iters": 3}), ("token-fusion", {"r": 2}), ("ppt", {"layers": (1, 2), "r": 3}),
    ("gtp-vit", {"r": 2, "graph": "semantic"}), ("ats", {"layers": (1, 3)}), ("random", {"layers": (1,), "keep_ratio": 0.5}),
    ("pitome", {"ratio": 0.8}), ("pitome", {"ratio": 0.7, "recipe": "vision"}), ("power-bert", {"keep_ratio": 0.4}),
    ("power-bert", {"retention": (20, 14, 10, 6)}), ("a-tome", {"merge_ratio": 0.2}),
    ("a-tome", {"threshold": 0.2, "layers": (1, 2)}), ("spatten", {"keep_ratio": 0.4}),
    ("spatten", {"keep_schedule": (0.8, 0.6), "layers": (1, 2)}), ("alpine", {}),
    ("alpine", {"alpha": 0.5, "layers": "odd", "merge": False}),
]
MERGING = {"tome", "token-fusion", "pitome", "a-tome", "alpine"}


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one intra-op thread for tiny models


@pytest.fixture(scope="module", params=["sdpa", "eager"])
def bert(request):
    model, _, _ = hf_bert(attn_implementation=request.param)
    g = torch.Generator().manual_seed(11)
    ids = torch.randint(5, 120, (len(LENGTHS), max(LENGTHS)), generator=g)
    ids[:, 0] = 2
    mask = torch.zeros_like(ids)
    for row, n in enumerate(LENGTHS):
        mask[row, :n] = 1
    ids = ids * mask  # padding id 0
    return model, ids, mask


@pytest.mark.parametrize("method,params", TEXT_CASES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(TEXT_CASES)])
def test_padded_batch_equals_each_sentence_alone(bert, method, params):
    model, ids, mask = bert
    with torch.no_grad(), zoo.apply(model, method, record_sources=True, record_indices=True, **params) as h:
        out = model(input_ids=ids, attention_mask=mask)
        valid, sizes = h.adapter.output_mask(), h.adapter.output_sizes()
        tokens_after, src, reps = list(h.run.tokens["text"]), h.run.sources["text"], list(h.run.kept_indices["text"])
        pooled = mean_pool(out.last_hidden_state, mask, h)
        for row, n in enumerate(LENGTHS):
            alone = model(input_ids=ids[row:row + 1, :n])
            tokens = out.last_hidden_state[row][valid[row]] if valid is not None else out.last_hidden_state[row]
            torch.testing.assert_close(tokens, alone.last_hidden_state[0], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(pooled[row], mean_pool(alone.last_hidden_state, None, h)[0], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(out.pooler_output[row], alone.pooler_output[0], rtol=1e-4, atol=1e-5)
    assert tokens_after[-1] < max(LENGTHS), "the method reduced nothing"
    # padding never merges with text: every output token stands only for real input tokens
    real = mask.bool()
    for row in range(len(LENGTHS)):
        row_src = src[row]
        assert not bool((row_src[:, ~real[row]] > 0).any()), f"{method}: a token stands for padding"
        if valid is not None:
            assert not bool((row_src[~valid[row]] > 0).any()), f"{method}: a padding slot stands for text"
        covered = row_src.sum(0)[real[row]]
        assert bool((covered <= 1).all())
        if method in MERGING and params.get("merge", True):
            assert bool((covered == 1).all()), f"{method}: every real token is accounted for once"
            if method in ("tome", "pitome", "a-tome", "alpine"):  # (Token Fusion's early blocks prune: sizes do not add up)
                assert float(sizes[row].sum()) == LENGTHS[row]
    # [CLS] stays first in every reduction
    for rep in reps:
        assert rep[:, 0].tolist() == [0] * len(LENGTHS)


def test_mean_pool_is_sentence_transformers_mean_without_reduction(bert):
    model, ids, mask = bert
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        with zoo.apply(model, "tome", r=0) as h:
            same = model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).float()
    ref = (out * m).sum(1) / m.sum(1)
    torch.testing.assert_close(mean_pool(out, mask), ref)
    torch.testing.assert_close(mean_pool(same, mask, h), ref)
    assert torch.equal(same, out)


def test_merged_pooling_weights_tokens_by_size(bert):
    """Size-weighted pooling of a merged output equals the plain mean over the input tokens when
    the merged tokens carry the exact averages (checked on the identity: r=0 changes nothing) and
    the weights sum to the sentence length."""
    model, ids, mask = bert
    with torch.no_grad(), zoo.apply(model, "tome", r=4) as h:
        model(input_ids=ids, attention_mask=mask)
        sizes, valid = h.adapter.output_sizes(), h.adapter.output_mask()
    assert sizes.squeeze(-1).sum(1).tolist() == [float(n) for n in LENGTHS]
    assert bool((sizes.squeeze(-1)[~valid] == 0).all())


def test_key_padding_masks_in_every_form():
    valid = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    float_mask = torch.zeros(2, 1, 4, 4).masked_fill(~valid[:, None, None, :], torch.finfo(torch.float32).min)
    bool_mask = valid[:, None, None, :].expand(2, 1, 4, 4)
    for m in (valid.long(), float_mask, bool_mask, valid[:, None, None, :]):
        assert torch.equal(key_padding(m, 2, 4, "t"), valid)
    assert key_padding(None, 2, 4, "t") is None and key_padding(torch.ones(2, 4), 2, 4, "t") is None
    causal = torch.ones(4, 4, dtype=torch.bool).tril()[None, None].expand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="only key-padding attention masks"):
        key_padding(causal, 2, 4, "t")


def test_left_padding_is_refused(bert):
    model, ids, mask = bert
    left = torch.flip(mask, dims=[1])
    with torch.no_grad(), zoo.apply(model, "tome", r=2):
        with pytest.raises(ValueError, match="left padding is not supported"):
            model(input_ids=ids, attention_mask=left)
