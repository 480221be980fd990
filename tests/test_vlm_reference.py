"""The tokens each VLM method keeps equal those of a naive reference written here.

The references use what the efficient implementations avoid: eager attention with
``output_attentions`` (full ``[B, H, N, N]`` maps on every layer), plain loops, numpy
percentiles. Models run in float64 so that rankings cannot flip on rounding; those prompts
are unpadded (equal lengths, the image at a different offset in every row) because eager
float64 attention in transformers turns fully masked padding rows into NaNs. The probe test
runs in float32 on a padded batch.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from zoo.core.select import keep_count  # noqa: E402
from vlm_fixtures import build_tiny_llava, compose_sources, load_tiny_llava, make_inputs  # noqa: E402


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava-ref"), seed=3)


@pytest.fixture(scope="module")
def sdpa(path):
    return load_tiny_llava(path, attn="sdpa", dtype=torch.float64)


@pytest.fixture(scope="module")
def eager(path):
    return load_tiny_llava(path, attn="eager", dtype=torch.float64)


@pytest.fixture(scope="module")
def inputs(sdpa):
    out = make_inputs(sdpa, batch=3, prefixes=(2, 5, 3), suffixes=(8, 5, 7), seed=7)
    assert bool(out["attention_mask"].all())
    return out


def _image_sets(kept_sources, image_in):
    """Per row: the set of LLM-input indices of the kept image tokens."""
    out = []
    for b in range(kept_sources.shape[0]):
        src = kept_sources[b]
        src = src[src >= 0]
        out.append(sorted(int(i) for i in src if bool(image_in[b, i])))
    return out


def _naive_top_images(scores, image, count):
    """Per row: the ``count`` image columns with the highest scores (ties to the lower index)."""
    out = []
    for b in range(scores.shape[0]):
        cols = [int(i) for i in torch.nonzero(image[b]).squeeze(1)]
        ranked = sorted(cols, key=lambda i: (-float(scores[b, i]), i))
        out.append(sorted(ranked[:count if isinstance(count, int) else count[b]]))
    return out


def test_fastv_keeps_what_eager_attention_ranks(sdpa, eager, inputs):
    k, ratio = 2, 0.5
    image = inputs["input_ids"] == sdpa.config.image_token_id
    with torch.no_grad():
        att = eager(**inputs, output_attentions=True).attentions[k - 1]  # [B, H, N, N]
    scores = att.mean(dim=1)[:, -1]  # last prompt token's row (left padding: last column)
    naive = _naive_top_images(scores, image, keep_count(int(image[0].sum()), ratio))
    for model in (sdpa, eager):
        for variant in ("drop", "mask"):
            with zoo.apply(model, "fastv", k=k, keep_ratio=ratio, variant=variant, record_indices=True) as handle, \
                    torch.no_grad():
                model(**inputs)
            assert _image_sets(handle.run.kept_indices["llm"][0], image) == naive
    assert sdpa.config.text_config._attn_implementation == "sdpa"  # FastV did not switch attention


def test_fastv_probe_equals_the_layer_attention_rows(path):
    """The recomputed rows equal the eager attention map's rows (GQA, rotary, left padding)."""
    from zoo.families.decoders.runtime import LlmEvent, PruneSelection

    sdpa, eager = load_tiny_llava(path), load_tiny_llava(path, attn="eager")
    inputs = make_inputs(sdpa, batch=3, prefixes=(2, 5, 3), suffixes=(6, 4, 9), seed=7)
    assert not bool(inputs["attention_mask"].all())

    seen = {}

    def select(ctx):
        rows = torch.stack([ctx.last_valid(), ctx.last_valid() - 3], dim=1)
        seen["rows"], seen["probs"] = rows, ctx.attention(rows)
        return PruneSelection(keep=torch.arange(ctx.hidden.shape[1]).expand(ctx.hidden.shape[0], -1))

    class Probe(zoo.interface.Method):
        id, families, placement = "probe", ("llava",), "llm-prefill"

        def install(self, adapter, patch, run):
            adapter.install_llm_reduction(patch, run, [LlmEvent(layer=3, select=select, score_layer=2)])

    with zoo.apply(sdpa, Probe()), torch.no_grad():
        sdpa(**inputs)
    with torch.no_grad():
        att = eager(**inputs, output_attentions=True).attentions[2]
    ref = torch.gather(att, 2, seen["rows"][:, None, :, None].expand(-1, att.shape[1], -1, att.shape[-1]))
    torch.testing.assert_close(seen["probs"], ref, rtol=0, atol=1e-6)


def test_pyramiddrop_stages_follow_eager_attention(sdpa, eager, inputs):
    layers, lam = (1, 2, 3), 0.5
    image_in = inputs["input_ids"] == sdpa.config.image_token_id
    n0 = int(image_in[0].sum())
    with zoo.apply(sdpa, "pyramiddrop", layers=layers, lam=lam, record_indices=True) as handle, torch.no_grad():
        sdpa(**inputs)
    kept = compose_sources(handle.run.kept_indices["llm"])
    for s, layer in enumerate(layers, 1):
        # the attention layer L_s computes on the sequence left by the first s-1 stages
        prior = [zoo.method_class("pyramiddrop")(layers=layers[: s - 1], lam=lam)] if s > 1 else []
        if prior:
            with zoo.apply(eager, *prior, record_indices=True) as h2, torch.no_grad():
                att = eager(**inputs, output_attentions=True).attentions[layer]
            source = compose_sources(h2.run.kept_indices["llm"])[-1]
        else:
            with torch.no_grad():
                att = eager(**inputs, output_attentions=True).attentions[layer]
            source = torch.arange(image_in.shape[1]).expand(image_in.shape[0], -1)
        image = image_in.gather(1, source)
        scores = att.mean(dim=1)[:, -1]
        naive = _naive_top_images(scores, image, int(n0 * lam ** s))
        naive = [sorted(int(source[b, i]) for i in row) for b, row in enumerate(naive)]
        assert _image_sets(kept[s - 1], image_in) == naive


def test_sparsevlm_follows_rater_attention(sdpa, eager, inputs):
    from zoo.papers.sparsevlm import dpc_knn_merge  # noqa: F401  (imported: module under test)

    layers, schedule = (0, 1, 2), (9, 5, 2)
    ids = inputs["input_ids"]
    image_in = ids == sdpa.config.image_token_id
    captured = {}

    def keep_embeds(module, args, kwargs):
        captured.setdefault("embeds", kwargs["inputs_embeds"])

    hook = eager.model.language_model.register_forward_pre_hook(keep_embeds, with_kwargs=True)
    try:
        with zoo.apply(eager, "sparsevlm", layers=layers, schedule=schedule, record_indices=True) as handle, \
                torch.no_grad():
            att = eager(**inputs, output_attentions=True).attentions
    finally:
        hook.remove()
    with zoo.apply(sdpa, "sparsevlm", layers=layers, schedule=schedule, record_indices=True) as h2, torch.no_grad():
        sdpa(**inputs)
    for a, b in zip(handle.run.kept_indices["llm"], h2.run.kept_indices["llm"]):
        assert torch.equal(a, b)  # eager and sdpa runs agree
    # official counts (modelling_sparse_llama.py): decoder layer L of pruning_loc runs on every token
    # reaching it and its output is pruned; image tokens after it = top-k kept + recycled clusters
    n_img = int(image_in[0].sum())
    n_other = ids.shape[1] - n_img
    after, current = [], n_img
    for layer in range(len(att)):
        if layer in layers:
            kept = schedule[layers.index(layer)]
            recycled = int((current - kept) * 0.3) + 1
            current = kept + int(recycled / 10) + 1
        after.append(current)
    assert handle.run.tokens["llm"] == [n_other + n for n in after]
    assert [a.shape[-1] for a in att] == [n_other + n for n in [n_img, *after[:-1]]]  # what each layer ran on
    sources = compose_sources(handle.run.kept_indices["llm"])
    # naive raters: text after the image, relevance softmax over text, averaged over image tokens
    embeds = captured["embeds"]
    raters = []
    for b in range(ids.shape[0]):
        img = torch.nonzero(image_in[b]).squeeze(1)
        valid = inputs["attention_mask"][b].bool()
        text = [i for i in range(int(img.max()) + 1, ids.shape[1]) if valid[i]]
        rel = torch.softmax(embeds[b, img] @ embeds[b, text].T, dim=1).mean(0)
        raters.append([t for t, r in zip(text, rel) if r > rel.mean()])
    source = torch.arange(ids.shape[1]).expand(ids.shape[0], -1)
    n_extra = 0
    for s, layer in enumerate(layers):
        a = att[layer].mean(dim=1)  # [B, N_s, N_s]
        recorded = sources[s]
        for b in range(ids.shape[0]):
            src = source[b].tolist()
            rows = [src.index(t) for t in raters[b]]
            rel = a[b, rows].mean(0)
            image_pos = [i for i, x in enumerate(src) if x < 0 or bool(image_in[b, x])]
            ranked = sorted(image_pos, key=lambda i: (-float(rel[i]), i))[: schedule[s]]
            naive_kept = sorted(src[i] for i in ranked)
            n_pruned = len(image_pos) - schedule[s]
            n_new = int(int(n_pruned * 0.3 + 1) / 10) + 1
            got = sorted(int(x) for x in recorded[b] if x < 0 or bool(image_in[b, x]))
            assert got == sorted(naive_kept + [-1] * n_new)
        source = recorded
        n_extra += 1
    assert n_extra == len(layers)


def test_dpc_knn_merge_matches_a_loop():
    from zoo.papers.sparsevlm import dpc_knn_merge

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 11, 6, generator=g, dtype=torch.float64)
    k = 3
    out = dpc_knn_merge(x, k)
    for b in range(2):
        pts = x[b]
        d = torch.tensor([[float((pts[i] - pts[j]).norm()) / 6 ** 0.5 for j in range(11)] for i in range(11)])
        dens = torch.tensor([np.exp(-np.mean(np.square(sorted(d[i].tolist())[:k]))) for i in range(11)])
        dmax = float(d.max())
        delta = [min([float(d[i, j]) for j in range(11) if dens[j] > dens[i]] or [dmax]) for i in range(11)]
        centres = sorted(range(11), key=lambda i: -delta[i] * float(dens[i]))[:k]
        assign = [centres.index(i) if i in centres else min(range(k), key=lambda c: (float(d[centres[c], i]), c))
                  for i in range(11)]
        for c in range(k):
            members = [i for i in range(11) if assign[i] == c]
            # official cluster_and_merge: sum of the members / (count + 1e-6), in the input dtype
            torch.testing.assert_close(out[b, c], pts[members].sum(0) / (len(members) + 1e-6), rtol=0, atol=1e-13)


def _vision(eager, inputs, layer_hooks=()):
    """Eager vision-tower run with attention maps; returns (attentions, hidden_states, captured projections)."""
    vt = eager.model.vision_tower
    captured, handles = {}, []
    for layer, name in layer_hooks:
        proj = getattr(getattr(vt, "vision_model", vt).encoder.layers[layer].self_attn, name)
        handles.append(proj.register_forward_hook(lambda m, a, o, key=(layer, name): captured.__setitem__(key, o)))
    try:
        with torch.no_grad():
            out = vt(inputs["pixel_values"], output_attentions=True, output_hidden_states=True)
    finally:
        for h in handles:
            h.remove()
    return out.attentions, out.hidden_states, captured


def _pooled(model, inputs, *specs, **kw):
    with zoo.apply(model, *specs, record_indices=True, **kw) as handle, torch.no_grad():
        feats = model.model.get_image_features(pixel_values=inputs["pixel_values"], return_dict=True).pooler_output
    return feats, handle.run


def test_fastervlm_keeps_the_cls_attended_patches(sdpa, eager, inputs):
    fl = eager.config.vision_config.num_hidden_layers - 2  # vision_feature_layer = -2
    att, hs, _ = _vision(eager, inputs)
    scores = att[fl][:, :, 0, 1:].mean(dim=1)  # [I, n]
    n = scores.shape[1]
    k = keep_count(n, 0.25)
    naive = [sorted(sorted(range(n), key=lambda i: (-float(scores[b, i]), i))[:k]) for b in range(scores.shape[0])]
    feats, run = _pooled(sdpa, inputs, "fastervlm", keep_ratio=0.25)
    assert run.kept_indices["vision"][0].tolist() == naive
    for b, idx in enumerate(naive):
        ref = eager.model.multi_modal_projector(hs[fl + 1][b, 1:][idx])
        torch.testing.assert_close(feats[b], ref, rtol=0, atol=1e-7)


def test_visionzip_tokens_match_a_loop(sdpa, eager, inputs):
    dominant, contextual = 6, 3
    fl = eager.config.vision_config.num_hidden_layers - 2
    att, hs, cap = _vision(eager, inputs, [(fl, "k_proj")])
    heads = eager.config.vision_config.num_attention_heads
    feats, _ = _pooled(sdpa, inputs, "visionzip", dominant=dominant, contextual=contextual)
    for b in range(att[fl].shape[0]):
        cls_att = att[fl][b, :, 0, 1:].sum(0)
        n = cls_att.shape[0]
        top = sorted(sorted(range(n), key=lambda i: -float(cls_att[i]))[: dominant - 1])
        h = hs[fl + 1][b]  # [1 + n, C]
        tokens = [h[0]] + [h[1 + i] for i in top]
        keys = cap[(fl, "k_proj")][b].view(1 + n, heads, -1).mean(1)[1:]
        rest = [i for i in range(n) if i not in top]
        step = max(1, len(rest) // contextual)
        targets = rest[::step][:contextual]
        others = [i for i in rest if i not in targets]
        unit = {i: keys[i] / keys[i].norm() for i in rest}
        groups = {t: [] for t in targets}
        for o in others:
            best = max(targets, key=lambda t: (float(unit[o] @ unit[t]), -targets.index(t)))
            groups[best].append(o)
        for t in targets:
            merged = torch.stack([h[1 + o] for o in groups[t]]).mean(0) if groups[t] else torch.zeros_like(h[0])
            tokens.append(h[1 + t] + merged)
        ref = eager.model.multi_modal_projector(torch.stack(tokens))
        torch.testing.assert_close(feats[b], ref, rtol=0, atol=1e-7)


@pytest.mark.parametrize("plus", [False, True])
def test_prumerge_tokens_match_the_official_loop(sdpa, eager, inputs, plus):
    last = eager.config.vision_config.num_hidden_layers - 1
    fl = last - 1
    _, hs, cap = _vision(eager, inputs, [(last, "q_proj"), (last, "k_proj")])
    q, k = cap[(last, "q_proj")], cap[(last, "k_proj")]
    feats, run = _pooled(sdpa, inputs, "llava-prumerge", plus=plus)
    for b in range(q.shape[0]):
        c = q.shape[-1]
        cls_attn = torch.softmax(q[b] @ k[b].T * c ** -0.5, dim=-1)[0, 1:]
        a = cls_attn.numpy()
        q1, q3 = np.percentile(a, 25), np.percentile(a, 75)
        ratio = float(np.mean(a > q3 + 1.5 * (q3 - q1)))
        n = a.shape[0]
        idx = torch.topk(cls_attn, max(1, int(n * ratio))).indices.tolist()
        if plus:
            step = max(1, int(1 / ratio) // 3)
            idx += [i for i in range(0, n - 1, step) if i not in idx]
        x = hs[fl + 1][b, 1:]
        keys = torch.nn.functional.normalize(k[b, 1:], dim=-1)
        out = []
        for i in idx:
            rest = [j for j in range(n) if j != i]
            sims = [float(keys[i] @ keys[j]) for j in rest]
            near = [rest[t] for t in sorted(range(len(rest)), key=lambda t: -sims[t])[: min(32, n - 1)]]
            out.append(x[i] + sum(x[j] * cls_attn[j] for j in near))
        pruned = [j for j in range(n) if j not in idx]
        out.append(sum(x[j] * cls_attn[j] for j in pruned))
        ref = eager.model.multi_modal_projector(torch.stack(out))
        assert feats[b].shape == ref.shape
        torch.testing.assert_close(feats[b], ref, rtol=0, atol=1e-7)


def test_random_control_keeps_the_seeded_draw(sdpa, inputs):
    image = inputs["input_ids"] == sdpa.config.image_token_id
    layer, seed = 1, 4
    with zoo.apply(sdpa, "random", layers=layer, keep_ratio=0.5, seed=seed, record_indices=True) as handle, \
            torch.no_grad():
        sdpa(**inputs)
    n = int(image[0].sum())
    draw = torch.rand(1, n, generator=torch.Generator().manual_seed(seed + layer))[0]
    for b, got in enumerate(_image_sets(handle.run.kept_indices["llm"][0], image)):
        cols = torch.nonzero(image[b]).squeeze(1).tolist()
        order = sorted(range(n), key=lambda i: (-float(draw[i]), i))[: keep_count(n, 0.5)]
        assert got == sorted(cols[i] for i in order)
