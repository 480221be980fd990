"""The decoding-step API (``DecodeEvent``): per-step, per-row, reversible hiding of cached prompt tokens.

A test-only selector hides, at every decoding step and in every row, the less attended half
of the visual tokens (read from the step's attention at the score layer through
``DecodeContext.attention_over_prompt``). Checked on a 1-D RoPE model (LLaVA-1.5) and a
3-D M-RoPE one (Qwen2.5-VL), on left-padded batches:

- cached ``generate()`` equals an uncached re-computation in which every generated token's
  query row, in layers ``>= layer``, cannot see the columns hidden at its step;
- the attention the selector read equals the eager attention map of the same step;
- nothing of the cache is edited: the next step may select differently, and the no-op
  selector gives the baseline exactly.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from zoo.interface import Method  # noqa: E402
from decoder_fixtures import SPECIAL, build, load, prompts, reference_step  # noqa: E402
from vlm_fixtures import build_tiny_llava, load_tiny_llava, make_inputs  # noqa: E402

LAYER = 2


class HideLessAttended(Method):
    """Test-only decode selector: hide the least attended ``share`` of each row's visual tokens, every step."""

    id, placement = "test-decode-hide", "llm-decode"
    families = ("llava", "qwen2.5-vl", "llava-onevision")

    def __init__(self, share: float = 0.5, noop: bool = False) -> None:
        self.share, self.noop = share, noop
        self.steps: list[dict] = []

    def install(self, adapter, patch, run):
        from zoo.families.decoders.runtime import DecodeEvent, DecodeSelection

        def select(ctx):
            att = ctx.attention_over_prompt().mean(dim=1)[:, -1]  # [B, N0]: head mean, the step's query
            visual = ctx.input_image & ctx.input_valid
            hide = torch.zeros_like(visual)
            if not self.noop:
                for b in range(visual.shape[0]):
                    cols = torch.nonzero(visual[b]).squeeze(1)
                    order = sorted(cols.tolist(), key=lambda c: (float(att[b, c]), c))
                    hide[b, order[: int(len(order) * self.share)]] = True
            self.steps.append({"step": ctx.step, "hide": hide.clone(), "attention": att.clone(),
                               "keys": ctx.key_columns(LAYER - 1)})
            return DecodeSelection(hide=hide)

        adapter.install_decode_reduction(patch, run, [DecodeEvent(layer=LAYER, select=select, score_layer=LAYER - 1)])


@pytest.fixture(scope="module")
def llava(tmp_path_factory):
    path = build_tiny_llava(tmp_path_factory.mktemp("decode-llava"), seed=5)
    model = load_tiny_llava(path)
    return model, load_tiny_llava(path, attn="eager"), make_inputs(model, prefixes=(2, 6), suffixes=(5, 8)), "llava"


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    path = build("qwen2.5-vl", tmp_path_factory.mktemp("decode-qwen"), seed=5)
    model = load("qwen2.5-vl", path)
    batch, _ = prompts(model, "qwen2.5-vl")
    return model, load("qwen2.5-vl", path, attn="eager"), batch, "qwen2.5-vl"


def _reference_inputs(kind, inputs, ids, mask):
    if kind == "llava":
        fixed = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
        pos = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
        return {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "use_cache": False, **fixed}
    return reference_step(kind, inputs, ids, mask)


def _hiding_hooks(model, n_prompt: int, hides: list[torch.Tensor], mask2d: torch.Tensor):
    """Forward pre-hooks on layers >= LAYER: generated token t's query row cannot see ``hides[t]``."""
    from zoo.families import detect

    layers = detect(model).layers
    b, n = mask2d.shape
    full = torch.ones(n, n, dtype=torch.bool).tril()[None, None].expand(b, 1, n, n).clone()
    full &= mask2d.bool()[:, None, None, :]
    for t, hide in enumerate(hides):
        full[:, 0, n_prompt + t, :n_prompt] &= ~hide
    eager = layers[0].self_attn.config._attn_implementation == "eager"
    value = torch.zeros(full.shape).masked_fill(~full, torch.finfo(torch.float32).min) if eager else full

    def hook(module, args, kwargs):
        kwargs["attention_mask"] = value
        return args, kwargs
    return [layers[i].register_forward_pre_hook(hook, with_kwargs=True) for i in range(LAYER, len(layers))]


@pytest.mark.parametrize("setup", ["llava", "qwen"])
def test_decode_selection_generate_matches_reference(setup, request):
    model, eager, inputs, kind = request.getfixturevalue(setup)
    steps = 4
    method = HideLessAttended()
    with zoo.apply(model, method) as handle, torch.no_grad():
        gen = model.generate(**inputs, max_new_tokens=steps, min_new_tokens=steps, do_sample=False,
                             suppress_tokens=SPECIAL, output_logits=True, return_dict_in_generate=True)
    assert [s["step"] for s in method.steps] == list(range(steps - 1))  # token 0 comes from the prefill
    events = handle.run.events["llm-decode"]
    assert len(events) == steps - 1 and all(e.n_after < e.n_before for e in events)
    hides = [s["hide"] for s in method.steps]
    assert any(not torch.equal(hides[0], h) for h in hides[1:]), "the selection never changed between steps"
    new = gen.sequences[:, inputs["input_ids"].shape[1]:]
    n_prompt = inputs["input_ids"].shape[1]
    ids = torch.cat([inputs["input_ids"], new], dim=1)
    mask = torch.cat([inputs["attention_mask"], torch.ones_like(new)], dim=1)
    for ref_model in (model, eager):
        hooks = _hiding_hooks(ref_model, n_prompt, hides, mask)
        try:
            with torch.no_grad():
                out = ref_model(**_reference_inputs(kind, inputs, ids, mask), output_attentions=ref_model is eager)
        finally:
            for h in hooks:
                h.remove()
        for t in range(steps):
            torch.testing.assert_close(out.logits[:, n_prompt - 1 + t], gen.logits[t], rtol=1e-4, atol=1e-4)
        if ref_model is eager:  # what the selector read = the eager attention row of the score layer
            att = out.attentions[LAYER - 1].mean(dim=1)  # [B, N, N]
            for t, s in enumerate(method.steps, 1):
                torch.testing.assert_close(s["attention"], att[:, n_prompt - 1 + t, :n_prompt], rtol=1e-4, atol=1e-5)


def test_noop_decode_selector_equals_baseline(llava):
    model, _, inputs, _ = llava
    with torch.no_grad():
        base = model.generate(**inputs, max_new_tokens=3, do_sample=False, output_logits=True,
                              return_dict_in_generate=True)
        with zoo.apply(model, HideLessAttended(noop=True)):
            out = model.generate(**inputs, max_new_tokens=3, do_sample=False, output_logits=True,
                                 return_dict_in_generate=True)
    assert torch.equal(out.sequences, base.sequences)
    for a, b in zip(out.logits, base.logits):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_decode_events_compose_with_a_prefill_reduction(llava):
    """FastV shortens the prefill (layers >= 1 cache fewer tokens); the decode selection is given in prompt
    columns and mapped onto each layer's shorter cache."""
    model, _, inputs, _ = llava
    method = HideLessAttended()
    with zoo.apply(model, zoo.method_class("fastv")(k=1, keep_ratio=0.5), method, record_indices=True) as h, \
            torch.no_grad():
        model.generate(**inputs, max_new_tokens=3, min_new_tokens=3, do_sample=False, suppress_tokens=SPECIAL)
        kept = h.run.kept_indices["llm"][0]  # [B, K] prompt columns cached by layers >= 1
    in_cache = torch.zeros_like(method.steps[0]["hide"]).scatter(1, kept.clamp(min=0), True)
    for s in method.steps:
        cached = s["keys"][:, : kept.shape[1]]
        assert torch.equal(cached, kept)  # the score layer's cache holds exactly FastV's survivors
        assert bool((s["attention"][~in_cache] == 0).all())  # pruned tokens get no attention
        assert float(s["attention"][in_cache].sum()) > 0


def test_decode_event_errors(llava):
    from zoo.families.decoders.runtime import DecodeEvent, DecodeSelection

    model, _, inputs, _ = llava

    class Bad(Method):
        id, placement, families = "bad", "llm-decode", ("llava",)

        def install(self, adapter, patch, run):
            adapter.install_decode_reduction(patch, run, [DecodeEvent(
                layer=1, select=lambda ctx: DecodeSelection(hide=torch.zeros(1, 3, dtype=torch.bool)))])

    with zoo.apply(model, Bad()), pytest.raises(ValueError, match="DecodeSelection.hide has shape"):
        model.generate(**inputs, max_new_tokens=2, do_sample=False)

    class BadLayer(Bad):
        def install(self, adapter, patch, run):
            adapter.install_decode_reduction(patch, run, [DecodeEvent(layer=2, select=lambda c: None, score_layer=0)])

    with pytest.raises(ValueError, match="score_layer of a decode event"):
        zoo.apply(model, BadLayer())


def test_decode_events_compose_with_a_reduction_on_the_llm_input(llava):
    """DivPrune acts before layer 0 (every layer caches only its survivors): the decode selection, given in prompt
    columns, and the key columns it reads are mapped through the kept sequence."""
    model, _, inputs, _ = llava
    method = HideLessAttended()
    with zoo.apply(model, zoo.method_class("divprune")(keep_ratio=0.5), method, record_indices=True) as h, \
            torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=3, min_new_tokens=3, do_sample=False,
                             suppress_tokens=SPECIAL, output_logits=True, return_dict_in_generate=True)
        kept = h.run.kept_indices["llm"][0]  # [B, K] prompt columns every layer caches (-1: padding slots)
    assert len(method.steps) == 2 and out.sequences.shape[1] == inputs["input_ids"].shape[1] + 3
    for s in method.steps:
        assert torch.equal(s["keys"][:, : kept.shape[1]], kept)
        in_cache = torch.zeros_like(s["hide"]).scatter(1, kept.clamp(min=0), True)
        assert bool((s["attention"][~in_cache] == 0).all())
