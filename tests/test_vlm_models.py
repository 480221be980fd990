"""The decoder case table beyond LLaVA-1.5/NeXT: method x model on tiny random checkpoints.

Models (``decoder_fixtures``): LLaVA-OneVision (images + video in one prompt), LLaVA-NeXT-
Video (images + video), Qwen2-VL and Qwen2.5-VL (images + video, 3-D M-RoPE, rope_deltas
while decoding), Qwen2-Audio (audio clips of different lengths, one or two per row) and
text-only Llama/Qwen2/Mistral. Every model is saved and loaded back with
``from_pretrained``; prompts are left-padded batches whose rows hold several items at
different offsets. Per case: the no-op budget gives the baseline logits exactly; apply/remove
restores the model bit-for-bit; each batch row gives what it gives alone; cached
``generate()`` equals an uncached re-computation with the same kept tokens.
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from decoder_fixtures import (  # noqa: E402
    AUDIO_KINDS, KINDS, MEDIA_KINDS, QWEN_VL, SAME_COUNT_ITEMS, SPECIAL, TEXT_KINDS, VLM_KINDS, build, load, prompts,
    reference_step,
)
from vlm_fixtures import build_methods, replaying  # noqa: E402

#: (case id, specs, no-op specs or None, model kinds)
CASES = [
    ("fastv", [("fastv", dict(k=2, keep_ratio=0.5))], [("fastv", dict(k=2, keep_ratio=1.0))], MEDIA_KINDS),
    ("fastv-mask", [("fastv", dict(k=1, keep_ratio=0.25, variant="mask"))],
     [("fastv", dict(k=1, keep_ratio=1.0, variant="mask"))], MEDIA_KINDS),
    ("random", [("random", dict(layers=1, keep_ratio=0.5))], [("random", dict(layers=1, keep_ratio=1.0))], KINDS),
    ("pyramiddrop", [("pyramiddrop", dict(layers=(1, 3), lam=0.5))], [("pyramiddrop", dict(layers=(1,), lam=1.0))],
     MEDIA_KINDS),
    ("sparsevlm", [("sparsevlm", dict(layers=(0, 2), schedule=(8, 4)))],
     [("sparsevlm", dict(layers=(0, 2), keep_ratio=1.0))], MEDIA_KINDS),
    ("dart", [("dart", dict(k=2, keep_ratio=0.4, pivot_image=2, pivot_text=2))],
     [("dart", dict(k=2, keep_ratio=1.0, pivot_image=2, pivot_text=2))], MEDIA_KINDS),
    ("divprune", [("divprune", dict(keep_ratio=0.3))], [("divprune", dict(keep_ratio=1.0))], MEDIA_KINDS),
    ("pooling", [("pooling", dict(keep_ratio=0.25))], [("pooling", dict(stride=1))], VLM_KINDS),
    ("pooling-max", [("pooling", dict(stride=2, mode="max"))], None, VLM_KINDS),
    ("gemfilter", [("gemfilter", dict(layer=2, keep_tokens=6))], [("gemfilter", dict(layer=2, keep_tokens=64))],
     TEXT_KINDS),
    ("fastadasp", [("fastadasp", dict(merge_ratio=0.5, layer=1))], [("fastadasp", dict(keep_ratio=1.0, layer=1))],
     AUDIO_KINDS),
    ("fastadasp-decay", [("fastadasp", dict(schedule="decay", merge_ratio=0.6, layer=0))],
     [("fastadasp", dict(schedule="constant", merge_ratio=0.0))], AUDIO_KINDS),
]
#: cases whose batch rows must hold the same number of visual tokens
SAME_COUNT = {"sparsevlm"}
TABLE = [(kind, case) for case in CASES for kind in case[3]]
IDS = [f"{kind}-{case[0]}" for kind, case in TABLE]

#: heavier duplicates run only with TOKZOO_SLOW=1 (``TOKZOO_SLOW=1 pytest -m slow tests/test_vlm_models.py``):
#: Qwen2-VL shares Qwen2.5-VL's language model, Qwen2/Mistral share Llama's decoder path
SLOW = [pytest.mark.slow, pytest.mark.skipif(not os.environ.get("TOKZOO_SLOW"), reason="slow: set TOKZOO_SLOW=1")]


def _is_slow(test: str, kind: str, case_id: str) -> bool:
    duplicate = kind in ("qwen2-vl", "qwen2", "mistral") and case_id not in ("fastv", "gemfilter")
    if test == "generate":
        return duplicate or case_id == "pooling-max" or (case_id == "fastv-mask" and kind != "llava-onevision")
    if test == "rows":
        return duplicate or (case_id == "fastv-mask" and kind != "llava-onevision")
    return False


def kinds(*slow: str):
    """Media kinds (VLMs, Qwen2-Audio) as parameters, ``slow`` ones marked slow."""
    return [pytest.param(k, marks=SLOW if k in slow else ()) for k in MEDIA_KINDS]


def table(test: str):
    """The case table for one test, heavier duplicates marked slow."""
    return [pytest.param(kind, case, id=f"{kind}-{case[0]}", marks=SLOW if _is_slow(test, kind, case[0]) else ())
            for kind, case in TABLE]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cache = {}

    def get(kind):
        if kind not in cache:
            cache[kind] = load(kind, build(kind, tmp_path_factory.mktemp(kind.replace(".", ""))))
        return cache[kind]
    return get


def _prompts(model, kind, case, **kw):
    items = SAME_COUNT_ITEMS.get(kind) if case[0] in SAME_COUNT else None
    return prompts(model, kind, items=items, **kw)


def _fwd(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits


def _hooks(module):
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in module.modules())


def test_each_model_class_gets_its_adapter(models):
    from zoo.families import detect

    names = {"llava-onevision": "llava-onevision", "llava-next-video": "llava-next-video", "qwen2-vl": "qwen2-vl",
             "qwen2.5-vl": "qwen2.5-vl", "llama": "text-lm", "qwen2": "text-lm", "mistral": "text-lm",
             "qwen2-audio": "qwen2-audio"}
    for kind, name in names.items():
        adapter = detect(models(kind))
        assert adapter.name == name and adapter.depth("llm") == 4
        assert adapter.position_kind == ("mrope" if kind in QWEN_VL else "1d")


@pytest.mark.parametrize("kind,case", TABLE, ids=IDS)
def test_noop_budget_equals_baseline(kind, case, models):
    if case[2] is None:
        pytest.skip("no no-op budget")
    model = models(kind)
    batch, _ = _prompts(model, kind, case)
    base = _fwd(model, batch)
    with zoo.apply(model, *build_methods(case[2])):
        out = _fwd(model, batch)
    assert torch.equal(out, base)


@pytest.mark.parametrize("kind,case", TABLE, ids=IDS)
def test_apply_remove_restores_model(kind, case, models):
    model = models(kind)
    batch, _ = _prompts(model, kind, case)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    base = _fwd(model, batch)  # first: transformers installs its own output-recording hooks on the first forward
    hooks = _hooks(model)
    with zoo.apply(model, *build_methods(case[1])) as handle:
        reduced = _fwd(model, batch)
        assert handle.active and _hooks(model) > hooks
    assert reduced.shape[1] < base.shape[1] or case[0].endswith("mask")
    assert not torch.equal(reduced[:, -1], base[:, -1])
    assert _hooks(model) == hooks
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in state.items())
    assert torch.equal(_fwd(model, batch), base)


@pytest.mark.parametrize("kind,case", table("rows"))
def test_batch_rows_match_single_rows(kind, case, models):
    """A left-padded batch gives every row the next-token logits it gets alone (no padding)."""
    model = models(kind)
    batch, rows = _prompts(model, kind, case)
    if kind not in QWEN_VL:  # the positions generate gives a left-padded row (DART's key norms depend on them)
        mask = batch["attention_mask"]
        batch = {**batch, "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}
    with zoo.apply(model, *build_methods(case[1])):
        out = _fwd(model, batch)[:, -1]
        for b, row in enumerate(rows):
            torch.testing.assert_close(out[b], _fwd(model, row)[0, -1], rtol=1e-4, atol=1e-4)


def assert_generate_matches_reference(model, kind, specs, inputs, steps=3):
    """``generate`` with the KV cache under ``specs`` = re-computing prompt + generated tokens without cache
    under the same kept tokens, step by step (logits and greedy tokens)."""
    with zoo.apply(model, *build_methods(specs)), torch.no_grad():
        gen = model.generate(**inputs, max_new_tokens=steps, min_new_tokens=steps, do_sample=False,
                             suppress_tokens=SPECIAL, output_logits=True, return_dict_in_generate=True)
    new = gen.sequences[:, inputs["input_ids"].shape[1]:]
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    with zoo.apply(model, *[replaying(m) for m in build_methods(specs)]):
        for t in range(steps):
            with torch.no_grad():
                out = model(**reference_step(kind, inputs, ids, mask))
            torch.testing.assert_close(out.logits[:, -1], gen.logits[t], rtol=1e-4, atol=1e-4)
            allowed = out.logits[:, -1].clone()
            allowed[:, SPECIAL] = float("-inf")  # generate suppressed them
            assert torch.equal(allowed.argmax(-1), new[:, t])
            ids = torch.cat([ids, new[:, t:t + 1]], dim=1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)


@pytest.mark.parametrize("kind,case", table("generate"))
def test_generate_with_cache_matches_reference_without_cache(kind, case, models):
    model = models(kind)
    batch, _ = _prompts(model, kind, case)
    assert_generate_matches_reference(model, kind, case[1], batch)


def test_fastv_is_refused_on_text_only_models(models):
    with pytest.raises(TypeError, match="text-lm"):
        zoo.apply(models("llama"), "fastv", k=2)


@pytest.fixture(scope="module")
def float64_pair(tmp_path_factory):
    cache = {}

    def get(kind):
        if kind not in cache:
            path = build(kind, tmp_path_factory.mktemp(f"{kind.replace('.', '')}-f64"), seed=3)
            cache[kind] = (load(kind, path, dtype=torch.float64), load(kind, path, attn="eager", dtype=torch.float64))
        return cache[kind]
    return get


def _visual(kind, ids):
    from decoder_fixtures import AUDIO, IMAGE, VIDEO

    return (ids == IMAGE) | (ids == VIDEO) | (ids == AUDIO)


@pytest.mark.parametrize("kind", kinds("qwen2-vl"))
def test_fastv_keeps_what_float64_eager_attention_ranks(kind, float64_pair):
    """FastV's kept visual tokens = a naive ranking of layer K-1's full eager attention map (float64)."""
    from zoo.core.select import keep_count

    sdpa, eager = float64_pair(kind)
    k, ratio = 2, 0.4
    _, rows = prompts(sdpa, kind, seed=5)
    for row in rows:  # one unpadded row at a time (eager float64 turns fully masked padding rows into NaNs)
        visual = _visual(kind, row["input_ids"])[0]
        with torch.no_grad():
            att = eager(**row, output_attentions=True).attentions[k - 1][0].mean(0)[-1]  # last prompt row
        cols = torch.nonzero(visual).squeeze(1).tolist()
        ranked = sorted(cols, key=lambda c: (-float(att[c]), c))
        naive = sorted(ranked[: keep_count(len(cols), ratio)])
        with zoo.apply(sdpa, "fastv", k=k, keep_ratio=ratio, record_indices=True) as handle, torch.no_grad():
            sdpa(**row)
        kept = handle.run.kept_indices["llm"][0][0]
        assert sorted(int(c) for c in kept if bool(visual[c])) == naive
        assert len(kept) == len(visual) - len(cols) + len(naive)  # every text token survives


def _captured_positions(model, inputs, layer, specs=None):
    """What decoder layer ``layer``'s attention receives: (cos, sin) and position_ids (1-D models)."""
    from zoo.families import detect

    seen = {}

    def hook(module, args, kwargs):
        seen["pe"] = kwargs["position_embeddings"]
        seen["pos"] = kwargs.get("position_ids")

    attn = detect(model).layers[layer].self_attn
    handle = None
    try:
        if specs:
            handle = zoo.apply(model, *build_methods(specs), record_indices=True)
        h = attn.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            with torch.no_grad():
                model(**inputs)
        finally:
            h.remove()
        kept = handle.run.kept_indices["llm"][0] if handle else None
    finally:
        if handle:
            handle.remove()
    return seen, kept


@pytest.mark.parametrize("kind", MEDIA_KINDS)
def test_fastv_survivors_keep_their_original_positions(kind, models):
    """1-D models: original position ids; Qwen2-VL/2.5-VL: original 3-D M-RoPE positions (rotary rows)."""
    model = models(kind)
    batch, _ = prompts(model, kind)
    base, _ = _captured_positions(model, batch, 3)
    red, kept = _captured_positions(model, batch, 3, [("fastv", dict(k=2, keep_ratio=0.5))])
    idx = kept.clamp(min=0)
    for full, got in zip(base["pe"], red["pe"]):
        want = torch.gather(full.expand(idx.shape[0], *full.shape[1:]), 1, idx[..., None].expand(-1, -1, full.shape[-1]))
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    if kind not in QWEN_VL:  # the position ids the unreduced forward gave each survivor
        assert torch.equal(red["pos"], base["pos"].expand(idx.shape[0], -1).gather(1, idx))


@pytest.mark.parametrize("kind", MEDIA_KINDS)
def test_pyramiddrop_positions_renumbered_on_1d_and_original_on_mrope(kind, models):
    """positions="compact": 1-D RoPE models renumber the survivors contiguously; M-RoPE models keep the
    original 3-D positions (the runtime's position_rule says which)."""
    from zoo.families import detect

    model = models(kind)
    batch, _ = prompts(model, kind)
    base, _ = _captured_positions(model, batch, 2)
    red, kept = _captured_positions(model, batch, 2, [("pyramiddrop", dict(layers=(1, 3), lam=0.5))])
    idx = kept.clamp(min=0)
    valid = batch["attention_mask"].bool().gather(1, idx) & (kept >= 0)  # -1: padding slots of shorter rows
    handle = zoo.apply(model, "pyramiddrop", layers=(1, 3), lam=0.5)
    rule = handle.adapter._runtime.position_rule
    handle.remove()
    if kind in QWEN_VL:
        assert rule == "original-3d"
        for full, got in zip(base["pe"], red["pe"]):
            want = torch.gather(full.expand(idx.shape[0], *full.shape[1:]), 1,
                                idx[..., None].expand(-1, -1, full.shape[-1]))
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    else:
        assert rule == "renumbered-1d"
        for b in range(idx.shape[0]):
            pos = red["pos"][b][valid[b]]
            assert torch.equal(pos, torch.arange(len(pos)) + pos[0])  # contiguous after the drop
            first = int(torch.nonzero(batch["attention_mask"][b])[0])
            assert int(pos[0]) == int(base["pos"][0, first])  # starts where the row started
        assert detect(model).rotary is not None


@pytest.mark.parametrize("kind", kinds("qwen2-vl", "llava-next-video"))
def test_pyramiddrop_stage_keeps_what_float64_eager_attention_ranks(kind, float64_pair):
    """PyramidDrop's first stage: the boundary layer's own attention on its input, last prompt row, head mean
    (eager float64 map of that layer), int(n * lambda) visual tokens."""
    sdpa, eager = float64_pair(kind)
    layer, lam = 2, 0.4
    _, rows = prompts(sdpa, kind, seed=5)
    for row in rows:
        visual = _visual(kind, row["input_ids"])[0]
        with torch.no_grad():
            att = eager(**row, output_attentions=True).attentions[layer][0].mean(0)[-1]
        cols = torch.nonzero(visual).squeeze(1).tolist()
        naive = sorted(sorted(cols, key=lambda c: (-float(att[c]), c))[: int(len(cols) * lam)])
        with zoo.apply(sdpa, "pyramiddrop", layers=(layer,), lam=lam, record_indices=True) as handle, \
                torch.no_grad():
            sdpa(**row)
        kept = handle.run.kept_indices["llm"][0][0]
        assert sorted(int(c) for c in kept if bool(visual[c])) == naive


def test_qwen2_audio_items_are_its_clips_and_legacy_prompts_are_refused(models):
    """Qwen2-Audio: every clip is one audio item (its own placeholder run, time-ordered coordinates); a prompt
    with one unexpanded <|AUDIO|> per clip (the model's legacy in-forward expansion) is refused by name."""
    from decoder_fixtures import AUDIO

    model = models("qwen2-audio")
    batch, rows = prompts(model, "qwen2-audio")
    seen = {}

    from zoo.interface import Method

    class Look(Method):
        id, placement, families = "test-look", "llm-prefill", ("qwen2-audio",)

        def install(self, adapter, patch, run):
            from zoo.families.decoders.runtime import LlmEvent, PruneSelection

            def select(ctx):
                seen["items"], seen["modality"] = ctx.items, ctx.modality.clone()
                return PruneSelection(keep=ctx.keep_mask(torch.ones_like(ctx.valid)))
            adapter.install_llm_reduction(patch, run, [LlmEvent(layer=1, select=select)])

    with zoo.apply(model, Look()), torch.no_grad():
        model(**batch)
    lengths = [[it.length for it in row] for row in seen["items"]]
    assert lengths == [[30, 15], [50]]  # 120, 60 and 200 mel frames -> 30, 15, 50 audio tokens
    for row, items in enumerate(seen["items"]):
        for it in items:
            assert it.modality == "audio" and bool((batch["input_ids"][row, it.columns] == AUDIO).all())
            assert it.coords[:, 3].tolist() == list(range(it.length)) and it.grids == ((1, 1, it.length),)
    assert torch.equal(seen["modality"] == 3, batch["input_ids"] == AUDIO)
    row = rows[0]  # two clips, no padding
    ids = row["input_ids"][0]
    run_start = torch.cat([torch.tensor([True]), ids[1:] != ids[:-1]]) | (ids != AUDIO)
    legacy = {**row, "input_ids": ids[run_start][None]}  # one placeholder per clip
    legacy["attention_mask"] = torch.ones_like(legacy["input_ids"])
    with zoo.apply(model, "fastv", k=2), pytest.raises(ValueError, match="expanded to one placeholder per audio"):
        model(**legacy)
