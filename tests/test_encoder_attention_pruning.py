"""SpAtten and ALPINE against naive references written here.

Each reference runs a tiny BERT layer by layer in float64 with its own attention math, scores the
tokens with Python loops over heads and query rows, selects with ``sorted``/``statistics`` and
tracks which input positions each token stands for. tokzoo runs the same model on a right-padded
batch; every sentence's real output tokens must be the reference's (same input positions, same
vectors), so the padding rule (padding never scored, kept or merged) is checked at the same time.
"""

from __future__ import annotations

import math
import statistics

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from encoder_fixtures import hf_bert  # noqa: E402

LENGTHS = (23, 14, 30)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one intra-op thread for tiny models


@pytest.fixture(scope="module")
def bert():
    model, _, _ = hf_bert(attn_implementation="eager")
    model = model.double()
    g = torch.Generator().manual_seed(21)
    ids = torch.randint(5, 120, (len(LENGTHS), max(LENGTHS)), generator=g)
    ids[:, 0] = 2
    mask = torch.zeros_like(ids)
    for row, n in enumerate(LENGTHS):
        mask[row, :n] = 1
    return model, ids * mask, mask


def attention(layer, x):
    """One BERT layer's attention half on ``x`` ``[1, n, C]``: (probabilities ``[H, n, n]``, output ``[1, n, C]``)."""
    sa = layer.attention.self
    n = x.shape[1]
    q, k, v = (lin(x).view(1, n, -1, sa.attention_head_size).transpose(1, 2) for lin in (sa.query, sa.key, sa.value))
    probs = torch.softmax(q @ k.transpose(-1, -2) * sa.scaling, dim=-1)
    out = layer.attention.output((probs @ v).transpose(1, 2).reshape(1, n, -1), x)
    return probs[0], out


def received(probs, j: int) -> float:
    heads, n, _ = probs.shape
    return sum(float(probs[h, i, j]) for h in range(heads) for i in range(n))


def spatten_reference(model, ids, layers, kept_count, accumulate=True):
    """Cascade pruning by accumulated received attention; ``kept_count(n0, m, layer)``: reducible tokens
    kept at a pruning layer (``n0`` reducible input tokens, ``m`` reaching it). Returns
    (output [n_out, C], input positions)."""
    x = model.embeddings(input_ids=ids)
    pos = list(range(ids.shape[1]))
    acc: dict[int, float] = {}
    for i, layer in enumerate(model.encoder.layer):
        probs, h = attention(layer, x)
        if i <= max(layers):
            for j, orig in enumerate(pos):
                acc[orig] = (acc.get(orig, 0.0) if accumulate else 0.0) + received(probs, j)
        if i in layers:
            k = kept_count(ids.shape[1] - 1, len(pos) - 1, i)
            best = sorted(range(1, len(pos)), key=lambda t: (-acc[pos[t]], t))[:k]
            local = [0] + sorted(best)
            h, pos = h[:, local], [pos[t] for t in local]
        x = layer.feed_forward_chunk(h)
    return x[0], [[p] for p in pos]


def alpine_reference(model, ids, layers, alpha, merge):
    """ALPINE's range rule ([CLS] and the last token protected) and its mean token; returns
    (output [n_out, C], the input positions each output token stands for)."""
    x = model.embeddings(input_ids=ids)
    groups = [[p] for p in range(ids.shape[1])]
    for i, layer in enumerate(model.encoder.layer):
        probs, h = attention(layer, x)
        if i in layers:
            heads, m, _ = probs.shape
            score = [received(probs, j) / (heads * m) for j in range(m)]
            cands = list(range(1, m - 1))
            mu, sd = statistics.fmean(score[c] for c in cands), statistics.pstdev([score[c] for c in cands])
            kept = [c for c in cands if mu - alpha * sd <= score[c] <= mu + alpha * sd]
            pruned = [c for c in cands if c not in kept]
            if pruned:
                order = [0, *kept, m - 1]
                rows, new_groups = [h[0, t] for t in order], [groups[t] for t in order]
                if merge:
                    rows.append(sum(h[0, t] for t in pruned) / len(pruned))
                    new_groups.append(sorted(p for t in pruned for p in groups[t]))
                h, groups = torch.stack(rows)[None], new_groups
        x = layer.feed_forward_chunk(h)
    return x[0], groups


def tokzoo_rows(model, ids, mask, method, params):
    """Per sentence: (real output tokens [n_out, C], sorted input positions per output token)."""
    with torch.no_grad(), zoo.apply(model, method, record_sources=True, **params) as h:
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        valid, src = h.adapter.output_mask(), h.run.sources["text"]
    rows = []
    for r in range(ids.shape[0]):
        keep = valid[r] if valid is not None else torch.ones(out.shape[1], dtype=torch.bool)
        groups = [row.nonzero()[:, 0].tolist() for row in src[r][keep]]
        rows.append((out[r][keep], groups))
    return rows


def ceil(x: float) -> int:
    return max(1, math.ceil(x - 1e-9))


SPATTEN = [  # keep_ratio: the j-th of L pruning blocks leaves ceil(n0 * keep ** (j / L)); a schedule: of those reaching it
    ({"keep_ratio": 0.3}, (0, 1, 2, 3), lambda n0, m, i: ceil(n0 * 0.3 ** ((i + 1) / 4)), True),
    ({"keep_schedule": (0.8, 0.5), "layers": (1, 3)}, (1, 3), lambda n0, m, i: ceil(m * {1: 0.8, 3: 0.5}[i]), True),
    ({"keep_tokens": 6, "layers": (1, 2), "accumulate": False}, (1, 2),
     lambda n0, m, i: {1: ceil(n0 * (6 / n0) ** 0.5), 2: 6}[i], False),
]


@pytest.mark.parametrize("params,layers,fraction,accumulate", SPATTEN, ids=["ratio", "schedule", "tokens-no-accumulate"])
def test_spatten_matches_the_loop_reference(bert, params, layers, fraction, accumulate):
    model, ids, mask = bert
    ours = tokzoo_rows(model, ids, mask, "spatten", params)
    with torch.no_grad():
        for r, n in enumerate(LENGTHS):
            ref_x, ref_groups = spatten_reference(model, ids[r:r + 1, :n], layers, fraction, accumulate)
            x, groups = ours[r]
            assert groups == ref_groups, f"row {r}"
            torch.testing.assert_close(x, ref_x, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("params,layers,alpha,merge", [
    ({}, (0, 1, 2, 3), 1.0, True),
    ({"alpha": 0.7, "layers": "odd", "merge": False}, (1, 3), 0.7, False),
    ({"alpha": 1.5, "layers": (0, 2)}, (0, 2), 1.5, True),
], ids=["default", "odd-drop", "wide"])
def test_alpine_matches_the_loop_reference(bert, params, layers, alpha, merge):
    model, ids, mask = bert
    ours = tokzoo_rows(model, ids, mask, "alpine", params)
    with torch.no_grad():
        for r, n in enumerate(LENGTHS):
            ref_x, ref_groups = alpine_reference(model, ids[r:r + 1, :n], layers, alpha, merge)
            x, groups = ours[r]
            assert groups == ref_groups, f"row {r}"
            torch.testing.assert_close(x, ref_x, rtol=1e-9, atol=1e-10)
    assert any(len(g) > 1 for _, gs in ours for g in gs) == merge  # a merged token exists iff merging


def test_alpine_rows_of_an_unpadded_batch_keep_their_own_counts():
    """Images: rows keep different numbers of tokens; the shorter rows end in hidden size-0 slots and
    every row's real tokens equal that image alone."""
    from encoder_fixtures import hf_vit

    model, inputs, _ = hf_vit()
    x = inputs["pixel_values"]
    with torch.no_grad(), zoo.apply(model, "alpine", record_sources=True) as h:
        model.vit(pixel_values=x)
        sizes = h.adapter.output_sizes()[..., 0]
        counts = (sizes > 0).sum(1).tolist()
        batch = model.vit(pixel_values=x).last_hidden_state
        for r in range(x.shape[0]):
            alone = model.vit(pixel_values=x[r:r + 1]).last_hidden_state[0]
            assert alone.shape[0] == counts[r]
            torch.testing.assert_close(batch[r, :counts[r]], alone, rtol=1e-4, atol=1e-5)
    assert len(set(counts)) > 1, "the test needs rows with different counts"
    assert bool((sizes.sum(1) == 65).all())  # merged token sizes: every input token counted once


def test_both_run_without_a_class_token():
    """SpAtten and ALPINE need no [CLS]: the support matrix says yes on SigLIP and Whisper."""
    from zoo.families.encoders.support import support

    for method in ("spatten", "alpine"):
        for adapter in ("hf-siglip-vision", "hf-whisper-encoder", "hf-bert", "timm-vit"):
            assert support(method, adapter).status == "yes", (method, adapter)


@pytest.mark.parametrize("method,params,match", [
    ("spatten", {"keep_schedule": (0.5, 1.5)}, "keep_schedule"),
    ("spatten", {"keep_schedule": (0.5,), "layers": (1, 2)}, "one fraction per pruning block"),
    ("spatten", {"keep_ratio": 0.5, "keep_tokens": 4}, "give one budget"),
    ("spatten", {"accumulate": "yes"}, "accumulate"),
    ("alpine", {"alpha": 0.0}, "alpha"),
    ("alpine", {"layers": "every"}, "'all', 'even', 'odd'"),
    ("alpine", {"merge": 1}, "merge"),
])
def test_bad_parameters_name_what_is_allowed(method, params, match):
    with pytest.raises(ValueError, match=match):
        zoo.method_class(method)(**params)


def test_layers_past_the_depth_are_refused(bert):
    model, _, _ = bert
    for method, params in (("spatten", {"layers": (1, 9)}), ("alpine", {"layers": (4,)})):
        with pytest.raises(ValueError, match="block index 0..3"):
            zoo.apply(model, method, **params)


def test_alpine_equals_the_authors_pruner():
    """Runs where TOKZOO_OFFICIAL_SMART_DAL_FSE25_ALPINE_REPLICATION_PACKAGE points at a checkout of
    github.com/SMART-Dal/FSE25-Alpine-Replication-Package (5274b9a): the official ``IQRPruner`` and
    ``repack_tensor_and_create_mask`` against ``zoo.apply(model, "alpine")`` on one random RoBERTa."""
    import os
    from pathlib import Path

    from zoo.repro.conformance import Reference
    from zoo.repro.harness.conformance_alpine import alpine

    path = os.environ.get("TOKZOO_OFFICIAL_SMART_DAL_FSE25_ALPINE_REPLICATION_PACKAGE")
    if not path:
        pytest.skip("no checkout of the ALPINE replication package given")
    ref = Reference("checkout", "SMART-Dal/FSE25-Alpine-Replication-Package", Path(path), "5274b9a")
    for params in ({"alpha": 1.0}, {"alpha": 0.5, "layers": "odd"}, {"alpha": 1.0, "layers": "even"}):
        m = alpine(None, ref, params, "float64")
        assert m.value < 1e-10 and all(m.checks.values()), (params, m.details)
