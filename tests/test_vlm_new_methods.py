"""DART, DivPrune, GemFilter and the pooling control keep what naive float64 references keep.

The references run the unpatched model with eager attention in float64 (full attention maps,
the KV cache's own keys, ``output_hidden_states``), then apply each paper's rule with plain
loops and Python sets; tokzoo's kept indices must be the same set. Rows are run one at a
time without padding (eager float64 turns fully masked padding rows into NaNs).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from decoder_fixtures import IMAGE, VIDEO, build, load, prompts  # noqa: E402
from vlm_fixtures import build_tiny_llava, load_tiny_llava, make_inputs  # noqa: E402


@pytest.fixture(scope="module")
def llava(tmp_path_factory):
    path = build_tiny_llava(tmp_path_factory.mktemp("new-llava"), seed=4)
    model = load_tiny_llava(path, dtype=torch.float64)
    eager = load_tiny_llava(path, attn="eager", dtype=torch.float64)
    inputs = make_inputs(model, batch=3, prefixes=(2, 5, 3), suffixes=(8, 5, 7), seed=7)
    rows = [{k: (v[b:b + 1] if k != "pixel_values" else v[b:b + 1]) for k, v in inputs.items()} for b in range(3)]
    return model, eager, rows, "llava"


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    path = build("qwen2.5-vl", tmp_path_factory.mktemp("new-qwen"), seed=4)
    model, eager = load("qwen2.5-vl", path, dtype=torch.float64), load("qwen2.5-vl", path, attn="eager",
                                                                        dtype=torch.float64)
    _, rows = prompts(model, "qwen2.5-vl", seed=9)
    return model, eager, rows, "qwen2.5-vl"


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    path = build("llama", tmp_path_factory.mktemp("new-llama"), seed=4)
    model, eager = load("llama", path, dtype=torch.float64), load("llama", path, attn="eager", dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    rows = [{"input_ids": torch.randint(10, 97, (1, n), generator=g)} for n in (40, 33)]
    for r in rows:
        r["attention_mask"] = torch.ones_like(r["input_ids"])
    return model, eager, rows, "llama"


def _kept(model, row, method, **params):
    with zoo.apply(model, method, record_indices=True, **params) as handle, torch.no_grad():
        model(**row)
    return sorted(int(i) for i in handle.run.kept_indices["llm"][0][0] if i >= 0)


def _visual(ids):
    return ((ids == IMAGE) | (ids == VIDEO))[0]


def _lm_inputs(model, row):
    """The language model's input embeddings for ``row`` (projected features scattered in), float64."""
    from zoo.families import detect

    seen = {}
    lm = detect(model).lm

    def keep(module, args, kwargs):
        seen.setdefault("x", kwargs["inputs_embeds"])

    h = lm.register_forward_pre_hook(keep, with_kwargs=True)
    try:
        with torch.no_grad():
            model(**row)
    finally:
        h.remove()
    return seen["x"][0]


# --------------------------------------------------------------------------- DivPrune
def naive_divprune(x, k):
    """The official loop: distances 1 - cos, first = argmax of each column's 2nd smallest, then max-min."""
    unit = x / x.norm(dim=1, keepdim=True)
    d = 1.0 - unit @ unit.T
    chosen = [int(torch.argmax(torch.topk(d, 2, dim=0, largest=False).values[1]))]
    while len(chosen) < k:
        chosen.append(int(torch.argmax(torch.min(d[chosen], dim=0).values)))
    return chosen


@pytest.mark.parametrize("setup", ["llava", "qwen"])
def test_divprune_matches_the_official_greedy_loop(setup, request):
    model, _, rows, _ = request.getfixturevalue(setup)
    for row in rows:
        ids = row["input_ids"]
        visual = torch.nonzero(_visual(ids) if setup == "qwen" else ids[0] == 5).squeeze(1)
        x = _lm_inputs(model, row)[visual]
        k = int(round(0.3 * visual.numel()))
        want = sorted(int(visual[i]) for i in naive_divprune(x, k))
        got = [i for i in _kept(model, row, "divprune", keep_ratio=0.3) if i in set(visual.tolist())]
        assert got == want


# --------------------------------------------------------------------------- DART
def naive_dart(keys, state, visual, text_after, pi, pt, t):
    """LightCompress's port of the official get_retained_image_token, on one unpadded row (indices absolute)."""
    norms = keys.permute(1, 0, 2).reshape(keys.shape[1], -1).norm(p=1, dim=-1)
    image = [visual[i] for i in torch.topk(norms[visual], pi).indices.tolist()]
    query = [text_after[i] for i in torch.topk(norms[text_after], pt).indices.tolist()]
    chosen = set(image + query)
    valid = set(visual) - set(image)
    for item in list(chosen):
        lst = list(valid)
        sim = -torch.nn.functional.cosine_similarity(state[item], state[lst], dim=-1)
        taken = [lst[i] for i in sim.topk(t).indices.tolist()]
        chosen.update(taken)
        valid.difference_update(taken)
    chosen.difference_update(query)
    return sorted(chosen)


@pytest.mark.parametrize("setup", ["llava", "qwen"])
def test_dart_matches_the_reference_rule_on_cache_keys(setup, request):
    from zoo.families import detect

    model, eager, rows, _ = request.getfixturevalue(setup)
    k, ratio, pi, pt = 2, 0.4, 2, 2
    for row in rows:
        ids = row["input_ids"]
        vis = _visual(ids) if setup == "qwen" else ids[0] == 5
        visual = torch.nonzero(vis).squeeze(1).tolist()
        text_after = list(range(max(visual) + 1, ids.shape[1]))
        with torch.no_grad():
            out = eager(**row, use_cache=True, output_hidden_states=True)
        keys = out.past_key_values.layers[k - 1].keys[0]  # [H_kv, N, D], after RoPE
        hidden = out.hidden_states[k][0] if setup == "qwen" else out.hidden_states[k][0]
        state = detect(eager).lm.norm(hidden)
        t = int(len(visual) * ratio / (pi + pt))
        want = naive_dart(keys, state, visual, text_after, pi, pt, t)
        got = [i for i in _kept(model, row, "dart", k=k, keep_ratio=ratio, pivot_image=pi, pivot_text=pt)
               if i in set(visual)]
        assert got == want


# --------------------------------------------------------------------------- GemFilter
@pytest.mark.parametrize("dtype", ["float64", "bfloat16"])
def test_gemfilter_matches_the_official_scores(llama, dtype, tmp_path):
    """Query of the last token and the cached keys of the filter layer (eager): q . k summed over heads in the
    model's dtype (as the official code: bf16 models score in bf16), avg_pool1d(5, padding 2), top-k."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    model, eager, rows, _ = llama
    if dtype == "bfloat16":
        path = build("llama", tmp_path / "llama-bf16", seed=4)
        model, eager = load("llama", path, dtype=torch.bfloat16), load("llama", path, attn="eager",
                                                                       dtype=torch.bfloat16)
    layer, keep = 2, 12
    attn = eager.model.layers[layer].self_attn
    for row in rows:
        seen = {}
        h1 = attn.q_proj.register_forward_hook(lambda m, a, o: seen.__setitem__("q", o))
        h2 = attn.register_forward_pre_hook(lambda m, a, kw: seen.__setitem__("pe", kw["position_embeddings"]),
                                            with_kwargs=True)
        try:
            with torch.no_grad():
                out = eager(**row, use_cache=True)
        finally:
            h1.remove()
            h2.remove()
        n = row["input_ids"].shape[1]
        q = seen["q"].view(1, n, -1, attn.head_dim).transpose(1, 2)
        cos, sin = seen["pe"]
        q = apply_rotary_pos_emb(q, q, cos, sin)[0][:, :, -1:]
        keys = out.past_key_values.layers[layer].keys
        keys = keys.repeat_interleave(q.shape[1] // keys.shape[1], dim=1)
        scores = (q @ keys.transpose(-1, -2))[:, :, 0].sum(1, keepdim=True)  # [1, 1, N]
        pooled = torch.nn.functional.avg_pool1d(scores, kernel_size=5, padding=2, stride=1)[0, 0]
        want = sorted(torch.topk(pooled, keep).indices.tolist())
        assert _kept(model, row, "gemfilter", layer=layer, keep_tokens=keep) == want


def test_gemfilter_runs_the_model_on_the_kept_tokens_only(llama):
    """Logits = the plain model fed the kept tokens as a new prompt (official second pass)."""
    model, _, rows, _ = llama
    row = rows[0]
    kept = _kept(model, row, "gemfilter", layer=2, keep_tokens=12)
    with zoo.apply(model, "gemfilter", layer=2, keep_tokens=12) as handle, torch.no_grad():
        got = model(**row).logits[0, -1]
    events = handle.run.events["llm"]
    assert [e.kind for e in events] == ["lookahead", "prune"] and events[0].block == 1 and events[1].block == -1
    assert handle.run.input_tokens["llm"] == 12
    ids = row["input_ids"][:, kept]
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, -1]
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- pooling control
def test_pooling_averages_each_frame_grid(qwen):
    """Qwen2.5-VL items: every (frame, 2x2 window) of the merged-token grid becomes its mean; text untouched."""
    model, _, rows, _ = qwen
    row = rows[0]
    x = _lm_inputs(model, row)
    seen = {}
    from zoo.families import detect

    layer0 = detect(model).layers[0]
    kept = _kept(model, row, "pooling", stride=2)
    with zoo.apply(model, "pooling", stride=2), torch.no_grad():  # the method's hook runs first, then ours
        h = layer0.register_forward_pre_hook(
            lambda m, a, kw: seen.__setitem__("h", a[0] if a else kw["hidden_states"]), with_kwargs=True)
        try:
            model(**row)
        finally:
            h.remove()
    got = seen["h"][0]  # what layer 0 received under the method
    ids = row["input_ids"][0]
    # naive: walk the items in prompt order (grid_thw rows give image/video shapes, merge 2)
    grids = [*row.get("image_grid_thw", torch.zeros(0, 3)).tolist(),
             *row.get("video_grid_thw", torch.zeros(0, 3)).tolist()]
    order = range(len(grids))  # row 0 holds its image, then its video, in that order
    cols = torch.nonzero(_visual(row["input_ids"])).squeeze(1).tolist()
    want_tokens, want_cols, start = [], [], 0
    for i in order:
        t, hh, ww = (int(v) for v in grids[i])
        hh, ww = hh // 2, ww // 2
        item = cols[start:start + t * hh * ww]
        start += t * hh * ww
        for f in range(t):
            for y0 in range(0, hh, 2):
                for x0 in range(0, ww, 2):
                    members = [item[(f * hh + y) * ww + xx] for y in range(y0, min(y0 + 2, hh))
                               for xx in range(x0, min(x0 + 2, ww))]
                    want_cols.append(members[0])
                    want_tokens.append(x[members].mean(0))
    text = [c for c in range(ids.shape[0]) if c not in set(cols)]
    assert kept == sorted(text + want_cols)
    pos = {c: i for i, c in enumerate(kept)}
    for c, tok in zip(want_cols, want_tokens):
        torch.testing.assert_close(got[pos[c]], tok, rtol=0, atol=1e-12)
    for c in text:
        torch.testing.assert_close(got[pos[c]], x[c], rtol=0, atol=0)
