"""FastAdaSP on Qwen2-Audio: the adjacent merge op against plain loops, the whole method against a naive
float64 re-computation of the official block, the schedules, and its errors.

The case-table rows (no-op budget, apply/remove, batch rows, cached generate) are in
``test_vlm_models.py``; the function-level comparison with the authors' code is the committed
record ``repro/conformance/fastadasp.json`` (``zoo.repro.harness.speech_conformance``).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from zoo.core.adjacent import link_groups, merge_linked, neighbour_similarity, top_links  # noqa: E402


def naive_merge(x, sim, m, weights):
    """The paper's rule with Python loops: the m most similar neighbour pairs, chains merged, weighted mean."""
    t = x.shape[0]
    chosen = set(sorted(range(t - 1), key=lambda i: (-float(sim[i]), i))[:m])
    out, firsts, i = [], [], 0
    while i < t:
        members = [i]
        while i in chosen:
            i += 1
            members.append(i)
        w = [1.0 if weights is None else float(weights[j]) for j in members]
        out.append(sum(wj * x[j] for wj, j in zip(w, members)) / sum(w))
        firsts.append(members[0])
        i += 1
    return torch.stack(out), firsts


@pytest.mark.parametrize("t,m,weighted", [(10, 3, True), (31, 15, True), (31, 15, False), (7, 0, True), (12, 11, True)])
def test_merge_linked_is_the_weighted_chain_merge(t, m, weighted):
    g = torch.Generator().manual_seed(t + m)
    x = torch.randn(t, 6, generator=g, dtype=torch.float64)
    keys = torch.cumsum(torch.randn(t, 5, generator=g, dtype=torch.float64), 0)
    w = torch.rand(t, generator=g, dtype=torch.float64) + 0.1 if weighted else None
    sim = neighbour_similarity(keys)
    assert torch.allclose(sim, torch.tensor([float(keys[i] @ keys[i + 1] / keys[i].norm() / keys[i + 1].norm())
                                             for i in range(t - 1)], dtype=torch.float64))
    links = top_links(sim, m)
    assert int(links.sum()) == m
    merged, first = merge_linked(x, links, w)
    want, firsts = naive_merge(x, sim, m, w)
    assert first.tolist() == firsts and merged.shape == (t - m, 6)
    torch.testing.assert_close(merged, want, rtol=1e-12, atol=1e-12)
    assert link_groups(links).tolist() == sorted(link_groups(links).tolist())  # groups stay in time order


def test_adjacent_op_errors_name_the_argument():
    with pytest.raises(ValueError, match="cannot select 5 of 3 neighbour links"):
        top_links(torch.zeros(3), 5)
    with pytest.raises(ValueError, match=r"links has shape \(2,\); expected \(3,\)"):
        merge_linked(torch.zeros(4, 2), torch.zeros(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="weights has shape"):
        merge_linked(torch.zeros(4, 2), torch.zeros(3, dtype=torch.bool), torch.ones(3))


# --------------------------------------------------------------------------- the method on Qwen2-Audio
pytest.importorskip("transformers")

import zoo  # noqa: E402
from decoder_fixtures import AUDIO, build, load, prompts  # noqa: E402


@pytest.fixture(scope="module")
def audio_pair(tmp_path_factory):
    path = build("qwen2-audio", tmp_path_factory.mktemp("fastadasp"), seed=2)
    return load("qwen2-audio", path, dtype=torch.float64), load("qwen2-audio", path, attn="eager", dtype=torch.float64)


def _causal(n):
    mask = torch.zeros(1, 1, n, n, dtype=torch.float64)
    return mask.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), torch.finfo(torch.float64).min)


def float64_attention(ad, layer, x, keys):
    """``[H, N, N]`` causal softmax attention of decoder ``layer`` on its input ``x [1, N, C]``, all in float64
    (transformers' eager attention rounds its softmax through float32)."""
    from transformers.models.qwen2.modeling_qwen2 import apply_rotary_pos_emb

    attn = ad.layers[layer].self_attn
    n = x.shape[1]
    q = attn.q_proj(ad.layers[layer].input_layernorm(x)).view(1, n, -1, attn.head_dim).transpose(1, 2)
    cos, sin = ad.lm.rotary_emb(x, position_ids=torch.arange(n)[None])
    q, _ = apply_rotary_pos_emb(q, q, cos, sin)
    k = keys.repeat_interleave(q.shape[1] // keys.shape[0], dim=0)
    logits = (q[0] @ k.transpose(-1, -2)) * attn.scaling
    return torch.softmax(logits.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf")), dim=-1)


def naive_fastadasp(model, row, layer, ratio):
    """Official semantics, recomputed by hand: layers 0..l as the unpatched model runs them; inside layer l,
    after attention, every clip's post-attention states merge (neighbour key cosine of the cached keys, weights =
    attention received, summed over queries and heads); the MLP of layer l and layers > l run on the merged
    sequence with contiguous positions. Returns the last token's logits and the kept LM-input columns.
    Run on the sdpa model: transformers' eager attention rounds its softmax through float32."""
    from zoo.families import detect

    ad = detect(model)
    seen = {}
    def keep_output(module, args, out):
        seen["o"] = out[0]

    hook = ad.layers[layer].self_attn.register_forward_hook(keep_output)
    try:
        with torch.no_grad():
            out = model(**row, use_cache=True, output_hidden_states=True)
    finally:
        hook.remove()
    ids = row["input_ids"][0]
    n = ids.shape[0]
    h = (out.hidden_states[layer] + seen["o"])[0]  # post-attention residual stream of layer l
    keys = out.cache.layers[layer].keys[0]  # [H_kv, N, D] after RoPE
    weights = float64_attention(ad, layer, out.hidden_states[layer], keys).sum(dim=1).sum(dim=0)
    flat = torch.nonzero(ids == AUDIO).squeeze(1).tolist()
    lengths = ad.audio_tower._get_feat_extract_output_lengths(row["feature_attention_mask"].sum(-1))[1].tolist()
    spans, start = [], 0
    for length in lengths:  # the audio columns, split by the clip lengths (clips in input_features order)
        spans.append(flat[start:start + length])
        start += length
    tokens, kept, firsts = [], [], {}
    for cols in spans:
        x = h[cols]
        metric = keys[:, cols].permute(1, 0, 2).reshape(len(cols), -1)
        sim = neighbour_similarity(metric)
        merged, first = naive_merge(x, sim, int(len(cols) * ratio), weights[cols])
        for f, value in zip(first, merged):
            firsts[cols[f]] = value
    members = {c for cols in spans for c in cols}
    for i in range(n):
        if i in members and i not in firsts:
            continue
        kept.append(i)
        tokens.append(firsts.get(i, h[i]))
    z = torch.stack(tokens)[None]
    block = ad.layers[layer]
    y = z + block.mlp(block.post_attention_layernorm(z))
    pos = torch.arange(y.shape[1])[None]
    with torch.no_grad():
        for idx in range(layer + 1, len(ad.layers)):
            pe = ad.lm.rotary_emb(y, position_ids=pos)
            y = ad.layers[idx](y, attention_mask=_causal(y.shape[1]), position_embeddings=pe, position_ids=pos)
            y = y[0] if isinstance(y, tuple) else y
        logits = model.lm_head(ad.lm.norm(y))[0, -1]
    return logits, kept


@pytest.mark.parametrize("layer,ratio", [(1, 0.5), (0, 0.3), (2, 0.8)])
def test_fastadasp_equals_a_naive_float64_recomputation_of_the_official_block(audio_pair, layer, ratio):
    sdpa, eager = audio_pair
    _, rows = prompts(sdpa, "qwen2-audio", seed=4)
    for row in rows:
        want, kept = naive_fastadasp(sdpa, row, layer, ratio)
        for model, tol in ((sdpa, 1e-10), (eager, 1e-6)):  # eager: softmax rounded through float32
            with zoo.apply(model, "fastadasp", merge_ratio=ratio, layer=layer, record_indices=True) as handle, \
                    torch.no_grad():
                got = model(**row).logits[0, -1]
            assert handle.run.kept_indices["llm"][0][0].tolist() == kept
            torch.testing.assert_close(got, want, rtol=tol, atol=tol)


def test_schedules_follow_the_official_per_layer_ratios(audio_pair):
    """single: one merge; constant: every layer from `layer` (but the last) merges floor(T r) of its tokens;
    decay: r (1 - (l - L) / (D - 1 - L)). Counts per clip checked on the recorded events."""
    model, _ = audio_pair
    _, rows = prompts(model, "qwen2-audio", seed=4)
    row = rows[1]  # one clip of 50 audio tokens
    method = zoo.method_class("fastadasp")
    assert method(schedule="decay", merge_ratio=0.5, layer=0).ratio_at(2, 4) == pytest.approx(0.5 * (1 - 2 / 3))
    assert method(schedule="decay", merge_ratio=0.5, layer=0).acting_layers(4) == [0, 1, 2]
    assert method(schedule="single", layer=1).acting_layers(4) == [1]
    for kw, counts in [(dict(schedule="single", merge_ratio=0.5, layer=1), [25]),
                       (dict(schedule="constant", merge_ratio=0.5, layer=0), [25, 12, 6]),
                       (dict(schedule="decay", merge_ratio=0.6, layer=0), [30, 8, 2]),  # 50 -> 20 -> 12 -> 10
                       (dict(keep_tokens=12, layer=2), [38])]:
        with zoo.apply(model, "fastadasp", **kw) as handle, torch.no_grad():
            model(**row)
        removed = [e.n_before - e.n_after for e in handle.run.events["llm"]]
        assert removed == counts, kw


def test_errors_and_refusals_name_what_is_allowed(audio_pair, tmp_path):
    model, _ = audio_pair
    method = zoo.method_class("fastadasp")
    with pytest.raises(ValueError, match="merge_ratio"):
        method(merge_ratio=1.0)
    with pytest.raises(ValueError, match="give one budget"):
        method(merge_ratio=0.5, keep_ratio=0.5)
    with pytest.raises(ValueError, match="schedule"):
        method(schedule="decay", keep_ratio=0.5)
    with pytest.raises(ValueError, match="schedule"):
        method(schedule="sometimes")
    with pytest.raises(ValueError, match=r"layer.*0\.\.2"):
        zoo.apply(model, "fastadasp", layer=3)
    vlm = load("qwen2.5-vl", build("qwen2.5-vl", tmp_path / "q"))
    with pytest.raises(TypeError, match="audio clips"):
        zoo.apply(vlm, "fastadasp")


def test_attention_received_in_query_chunks_equals_the_whole_map(audio_pair):
    """LlmContext.attention_received (FastAdaSP's weights) sums softmax rows in chunks: chunks of 7 rows, of 4096
    rows and the full eager-style map summed at once agree (float64, a left-padded batch)."""
    from zoo.families import detect
    from zoo.families.decoders.probes import causal_allowed, decoder_attention_received, decoder_attention_rows

    model, _ = audio_pair
    batch, _ = prompts(model, "qwen2-audio", seed=4)
    ad = detect(model)
    seen = {}

    def grab(module, args, kwargs):
        seen["x"], seen["pe"] = kwargs["hidden_states"], kwargs["position_embeddings"]

    h = ad.layers[1].self_attn.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        with torch.no_grad():
            model(**batch)
    finally:
        h.remove()
    valid = batch["attention_mask"].bool()
    attn = ad.layers[1].self_attn
    n = valid.shape[1]
    queries = torch.arange(n).expand(valid.shape[0], n)
    full = decoder_attention_rows(attn, seen["x"], seen["pe"], causal_allowed(queries, valid), queries)
    full = torch.where(valid[:, None, :, None], full, 0.0).sum(dim=2).sum(dim=1)
    for chunk in (7, 4096):
        got = decoder_attention_received(attn, seen["x"], seen["pe"], valid, chunk=chunk)
        torch.testing.assert_close(got, full, rtol=1e-12, atol=1e-12)
