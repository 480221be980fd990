"""The video methods on tiny random video LLMs: the shared case table, refusals and naive references.

Models (``video_fixtures``): LLaVA-OneVision (SigLIP + Qwen2), LLaVA-NeXT-Video (CLIP + Llama) and
Qwen2.5-VL (3-D M-RoPE), 8 frames of 16 tokens per video, saved and loaded with ``from_pretrained``;
left-padded batches whose second row also holds an image (image + video in one batch). Per case:

- the no-op budget gives the baseline logits exactly;
- apply/remove restores the model bit-for-bit (weights, hooks, logits);
- every batch row gives what it gives alone;
- cached ``generate()`` equals an uncached re-computation with the same kept tokens (prefill
  selections replayed, with their merged hidden states, and every decoding step's hidden prompt
  tokens hidden from that step's query row);
- the image tokens of a row are never touched by a video method.

Kept tokens against naive references: DyCoke's TTM on the language model's input (loop reference),
PruneVid's selection against float64 eager attention maps, frame subsampling.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from decoder_fixtures import IMAGE, SPECIAL, VIDEO, reference_step  # noqa: E402
from video_fixtures import FRAMES, VIDEO_KINDS, build, load, prompts  # noqa: E402

QWEN = ("qwen2.5-vl",)
NOT_QWEN = ("llava-onevision", "llava-next-video")
#: (case id, specs, no-op specs, model kinds)
CASES = [
    ("dycoke", [("dycoke", dict(layer=2))], [("dycoke", dict(keep_ratio=1.0, decode_keep_ratio=1.0, layer=2))],
     VIDEO_KINDS),
    ("dycoke-ttm", [("dycoke", dict(layer=2, decode_pruning=False, token_order="position"))], None, VIDEO_KINDS),
    ("prunevid", [("prunevid", dict(selected_layer=1))],
     [("prunevid", dict(selected_layer=1, keep_ratio=1.0, tau=1.0, cluster_ratio=1.0))], VIDEO_KINDS),
    ("framefusion", [("framefusion", dict(max_steps=2, similarity_lower_bound=0.0))],
     [("framefusion", dict(max_steps=2, cost=1.0, similarity_lower_bound=2.0))], VIDEO_KINDS),
    ("fastvid", [("fastvid", dict(keep_ratio=0.3, c=3))], [("fastvid", dict(keep_ratio=1.0, d=0.0))], NOT_QWEN),
    ("holitom", [("holitom", dict(keep_ratio=0.3, inner_layer=2))], [("holitom", dict(keep_ratio=1.0, tau=1.0))],
     NOT_QWEN),
    ("vidcom2", [("vidcom2", dict(keep_ratio=0.3))], [("vidcom2", dict(keep_ratio=1.0))], VIDEO_KINDS),
    ("slowfast", [("slowfast-llava", dict(n_slow=2, fast_size=(2, 2)))],
     [("slowfast-llava", dict(n_slow=FRAMES, slow_pool="concat", fast_size=(0, 0)))], NOT_QWEN),
    ("frame-subsample", [("frame-subsample", dict(n_frames=3))], [("frame-subsample", dict(n_frames=FRAMES))],
     VIDEO_KINDS),
    ("video-random", [("video-random", dict(keep_ratio=0.3))], [("video-random", dict(keep_ratio=1.0))], VIDEO_KINDS),
]
TABLE = [(kind, case) for case in CASES for kind in case[3]]
#: default runs: every case on LLaVA-OneVision; the no-op and batch rows of every case on Qwen2.5-VL (3-D positions)
#: and of the vision-signal methods on LLaVA-NeXT-Video; generate() everywhere for the methods with their own
#: decoding-step or in-LLM logic; the rest is marked slow
GENERATE_EVERYWHERE = {"dycoke", "prunevid", "framefusion"}
#: on LLaVA-NeXT-Video (CLIP tower with [CLS], no newline token) by default: the methods reading the vision tower
NEXT_VIDEO_DEFAULT = {"fastvid", "holitom", "dycoke"}


def _table(test: str):
    out = []
    for kind, case in TABLE:
        default = kind == "llava-onevision" or (test in ("noop", "batch") and (kind == "qwen2.5-vl" or case[0] in
                                                                              NEXT_VIDEO_DEFAULT)) or \
            (test == "generate" and case[0] in GENERATE_EVERYWHERE)
        out.append(pytest.param(kind, case, id=f"{kind}-{case[0]}", marks=() if default else (pytest.mark.slow,)))
    return out


def methods(specs):
    return [zoo.method_class(mid)(**params) for mid, params in specs]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cache = {}

    def get(kind):
        if kind not in cache:
            cache[kind] = load(kind, build(kind, tmp_path_factory.mktemp(kind.replace(".", ""))))
        return cache[kind]
    return get


def _fwd(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits


def _hooks(module):
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in module.modules())


# ----------------------------------------------------------------------------- case table
@pytest.mark.parametrize("kind,case", _table("noop"))
def test_noop_budget_equals_baseline(kind, case, models):
    if case[2] is None:
        pytest.skip("variant of a case whose no-op budget is tested")
    model = models(kind)
    batch, _ = prompts(model, kind)
    base = _fwd(model, batch)
    with zoo.apply(model, *methods(case[2])):
        out = _fwd(model, batch)
    assert torch.equal(out, base)


@pytest.mark.parametrize("kind,case", _table("apply"))
def test_apply_remove_restores_model(kind, case, models):
    model = models(kind)
    batch, _ = prompts(model, kind)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    base = _fwd(model, batch)
    hooks = _hooks(model)
    with zoo.apply(model, *methods(case[1])) as handle:
        reduced = _fwd(model, batch)
        assert handle.active and _hooks(model) > hooks
        assert handle.run.schedule("llm")[-1] < batch["input_ids"].shape[1]  # fewer tokens reach the last layer
    assert not torch.equal(reduced[:, -1], base[:, -1])
    assert _hooks(model) == hooks and "get_video_features" not in vars(model.model)
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in state.items())
    assert torch.equal(_fwd(model, batch), base)


@pytest.mark.parametrize("kind,case", _table("batch"))
def test_batch_rows_match_single_rows(kind, case, models):
    model = models(kind)
    batch, rows = prompts(model, kind)
    with zoo.apply(model, *methods(case[1])):
        out = _fwd(model, batch)[:, -1]
        for b, row in enumerate(rows):
            torch.testing.assert_close(out[b], _fwd(model, row)[0, -1], rtol=1e-4, atol=1e-4)


def test_image_tokens_are_never_touched(models):
    """Row 1 holds an image and a video: every video method keeps all its image tokens, unchanged."""
    kind = "llava-onevision"
    model = models(kind)
    _, rows = prompts(model, kind)
    row = rows[1]
    image_cols = torch.nonzero(row["input_ids"][0] == IMAGE).reshape(-1)
    for case in CASES:
        if kind not in case[3]:
            continue
        with zoo.apply(model, *methods(case[1]), record_indices=True) as handle, torch.no_grad():
            model(**row)
        kept = handle.run.kept_indices["llm"][0][0]  # the layer-0 (or first) event's survivors
        assert set(image_cols.tolist()) <= set(kept.tolist()), case[0]


# ----------------------------------------------------------------------------- generate
class _ReplayAll:
    """Records a prefill selection and replays it (kept tokens and their hidden states) on longer inputs."""

    def __init__(self, select) -> None:
        self.select, self.recorded = select, None

    def __call__(self, ctx):
        from zoo.families.decoders.runtime import PruneSelection

        n = ctx.hidden.shape[1]
        if self.recorded is None:
            sel = self.select(ctx)
            self.recorded = (n, sel)
            return sel
        n0, sel = self.recorded
        tail = torch.arange(n0, n, device=sel.keep.device).expand(sel.keep.shape[0], -1)
        keep = torch.cat([sel.keep, tail], dim=1)
        rep = None
        if sel.replace is not None:
            rep = torch.cat([sel.replace, ctx.hidden[:, n0:]], dim=1)
        return PruneSelection(keep=keep, replace=rep)


class _RecordingAdapter:
    """Adapter wrapper: prefill events replay their first selection; decode selections are recorded."""

    def __init__(self, adapter, replay: bool, log: list) -> None:
        self._adapter, self._replay, self._log = adapter, replay, log

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    def install_llm_reduction(self, patch, run, events, **kw):
        if self._replay:
            events = [replace(e, select=_ReplayAll(e.select)) for e in events]
        self._adapter.install_llm_reduction(patch, run, events, **kw)

    def install_decode_reduction(self, patch, run, events):
        if self._replay:  # the reference has no decoding steps; their hiding is re-applied by hooks
            return
        log = self._log

        def wrap(e):
            def select(ctx):
                sel = e.select(ctx)
                if sel is not None:
                    log.append((e.layer, ctx.step, sel.hide.clone()))
                return sel
            return replace(e, select=select)

        self._adapter.install_decode_reduction(patch, run, [wrap(e) for e in events])


def _wrapped(method, replay: bool, log: list):
    from zoo.interface import Method

    class Wrapped(Method):
        def __init__(self) -> None:
            self.id, self.families, self.placement = method.id, method.families, method.placement

        def check_model(self, adapter) -> None:
            method.check_model(adapter)

        def install(self, adapter, patch, run) -> None:
            method.install(_RecordingAdapter(adapter, replay, log), patch, run)

        def params(self):
            return method.params()

    return Wrapped()


def _hide_hooks(handle, hides, n_prompt):
    """Reference hooks: in layers >= the event layer, generated token t's query row cannot see the
    prompt columns hidden at decoding step t (mapped through the runtime's current token sources)."""
    rt = handle.adapter._runtime
    layers = handle.adapter.layers
    hooks = []

    def make(idx):
        def hook(module, args, kwargs):
            st = rt._prefill
            mask = kwargs.get("attention_mask")
            if st is None or mask is None or mask.dim() != 4:
                return None
            src = st.source  # [B, n]: language-model input column of every current token
            mask = mask.expand(src.shape[0], *mask.shape[1:]).clone()
            for layer, step, hide in hides:
                if idx < layer:
                    continue
                rows = torch.nonzero(src == n_prompt + step)
                for b, q in rows.tolist():
                    cols = torch.nonzero(hide[b]).reshape(-1)
                    keys = torch.isin(src[b], cols)
                    if mask.dtype == torch.bool:
                        mask[b, :, q, keys] = False
                    else:
                        mask[b, :, q, keys] = torch.finfo(mask.dtype).min
            kwargs["attention_mask"] = mask
            return args, kwargs
        return hook

    for i, layer in enumerate(layers):
        hooks.append(layer.register_forward_pre_hook(make(i), with_kwargs=True))
    return hooks


def assert_generate_matches_reference(model, kind, specs, inputs, steps=3):
    log: list = []
    with zoo.apply(model, *[_wrapped(m, False, log) for m in methods(specs)]), torch.no_grad():
        gen = model.generate(**inputs, max_new_tokens=steps, min_new_tokens=steps, do_sample=False,
                             suppress_tokens=SPECIAL, output_logits=True, return_dict_in_generate=True)
    new = gen.sequences[:, inputs["input_ids"].shape[1]:]
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    n_prompt = ids.shape[1]
    with zoo.apply(model, *[_wrapped(m, True, []) for m in methods(specs)]) as handle:
        for t in range(steps):
            hooks = _hide_hooks(handle, [h for h in log if h[1] < t], n_prompt)
            try:
                with torch.no_grad():
                    out = model(**reference_step(kind, inputs, ids, mask))
            finally:
                for h in hooks:
                    h.remove()
            last = out.logits[:, -1].clone()
            torch.testing.assert_close(last, gen.logits[t], rtol=1e-4, atol=1e-4)
            last[:, SPECIAL] = float("-inf")  # generate suppressed the placeholder ids
            assert torch.equal(last.argmax(-1), new[:, t])
            ids = torch.cat([ids, new[:, t:t + 1]], dim=1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    return log


@pytest.mark.parametrize("kind,case", _table("generate"))
def test_generate_with_cache_matches_reference_without_cache(kind, case, models):
    model = models(kind)
    batch, _ = prompts(model, kind)
    log = assert_generate_matches_reference(model, kind, case[1], batch)
    if case[0] == "dycoke":  # the dynamic pruning really hid tokens at decoding steps
        assert log and any(bool(h.any()) for _, _, h in log)


# ----------------------------------------------------------------------------- refusals
def test_unsupported_models_are_refused_with_the_reason(models):
    qwen = models("qwen2.5-vl")
    for mid in ("fastvid", "holitom", "slowfast-llava"):
        with pytest.raises(TypeError, match=f"{mid} does not support the model family 'qwen2.5-vl'"):
            zoo.apply(qwen, mid)
    adapter = zoo.families.detect(qwen)
    with pytest.raises(TypeError, match="per-patch attention of video frames; qwen2.5-vl"):
        zoo.method_class("fastvid")().check_model(adapter)
    with pytest.raises(TypeError, match="M-RoPE"):
        zoo.method_class("slowfast-llava")().check_model(adapter)


def test_video_methods_are_refused_on_models_without_video(tmp_path):
    from decoder_fixtures import build as dbuild, load as dload

    llama = dload("llama", dbuild("llama", tmp_path / "llama"))
    with pytest.raises(TypeError, match="does not support the model family 'text-lm'"):
        zoo.apply(llama, "dycoke")


def test_bad_parameters_name_the_argument():
    with pytest.raises(ValueError, match="keep_ratio"):
        zoo.method_class("fastvid")(keep_ratio=1.5)
    with pytest.raises(ValueError, match="give K or its keep ratio"):
        zoo.method_class("dycoke")(K=0.5, keep_ratio=0.5)
    with pytest.raises(ValueError, match="fast_size"):
        zoo.method_class("slowfast-llava")(fast_size=(0, 3))
    with pytest.raises(ValueError, match="inner_ratio"):
        zoo.method_class("holitom")(inner_ratio=1.0)


# ----------------------------------------------------------------------------- naive references
def _llm_input(model, row):
    """The language model's input hidden states ``[N, C]`` of one unpadded row (a layer-0 pre-hook)."""
    from zoo.families import detect

    seen = {}
    layer0 = detect(model).layers[0]

    def hook(module, args, kwargs):
        seen["h"] = (args[0] if args else kwargs["hidden_states"])[0]

    h = layer0.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            model(**row)
    finally:
        h.remove()
    return seen["h"]


def _video_grid_columns(model, kind, row):
    cols = torch.nonzero(row["input_ids"][0] == VIDEO).reshape(-1)
    return cols[:-1] if kind == "llava-onevision" else cols  # OneVision: a newline token ends the video


@pytest.mark.parametrize("kind", ("llava-onevision", "llava-next-video"))
def test_dycoke_keeps_what_a_loop_reference_keeps(kind, models):
    import math

    model = models(kind)
    _, rows = prompts(model, kind)
    row = rows[0]
    hidden = _llm_input(model, row)
    grid = _video_grid_columns(model, kind, row)
    frames = hidden[grid].reshape(FRAMES, -1, hidden.shape[-1])
    n = frames.shape[1]
    k = int(0.3 * n)
    refs = {i + 1: i for i in range(0, FRAMES - 1, 2)}
    refs.update({i + 2: i for i in range(0, FRAMES - 4, 4)})
    expect = []
    for f in range(FRAMES):
        if f not in refs:
            expect += list(range(f * n, (f + 1) * n))
            continue
        sims = []
        for j in range(n):
            a, b = frames[refs[f], j].double(), frames[f, j].double()
            sims.append((float(a @ b) / math.sqrt(float(a @ a) * float(b @ b)), j))
        expect += sorted(f * n + j for _, j in sorted(sims)[:k])
    with zoo.apply(model, "dycoke", layer=2, decode_pruning=False, token_order="position",
                   record_indices=True) as handle, torch.no_grad():
        model(**row)
    kept = handle.run.kept_indices["llm"][0][0]
    kept_grid = [int(torch.nonzero(grid == c)) for c in kept.tolist() if c in set(grid.tolist())]
    assert sorted(kept_grid) == expect


def test_frame_subsample_keeps_whole_frames(models):
    kind = "qwen2.5-vl"
    model = models(kind)
    _, rows = prompts(model, kind)
    row = rows[0]
    grid = _video_grid_columns(model, kind, row)
    t = FRAMES // 2  # Qwen2.5-VL: two frames per temporal patch
    per = grid.numel() // t
    with zoo.apply(model, "frame-subsample", n_frames=2, record_indices=True) as handle, torch.no_grad():
        model(**row)
    kept = [c for c in handle.run.kept_indices["llm"][0][0].tolist() if c in set(grid.tolist())]
    assert kept == grid.reshape(t, per)[[0, t - 1]].reshape(-1).tolist()


def test_prunevid_selection_matches_float64_eager_attention(tmp_path):
    """PruneVid's layer-L selection: per group, the tokens whose max (over heads and text queries) attention
    in a float64 eager run is highest."""
    kind = "llava-onevision"
    path = build(kind, tmp_path / "ov64", seed=3)
    eager = load(kind, path, attn="eager", dtype=torch.float64)
    sdpa = load(kind, path, dtype=torch.float64)
    _, rows = prompts(sdpa, kind)
    row = rows[0]
    with zoo.apply(sdpa, "prunevid", selected_layer=1, record_indices=True) as handle, torch.no_grad():
        sdpa(**row)
    merged_kept = handle.run.kept_indices["llm"]
    # the reference: the merged sequence (replayed layer-0 event) through eager attention, then the selection rule
    from zoo.papers.prunevid import merge_video, select_tokens

    hidden = _llm_input(sdpa, row)
    grid = _video_grid_columns(sdpa, kind, row)
    _, groups = merge_video(hidden[grid].reshape(FRAMES, -1, hidden.shape[-1]))
    start = int(grid[0])
    m = sum(groups.static) + sum(groups.dynamic)
    seen = {}

    def grab(module, args, output):
        seen["attn"] = output[1]

    with zoo.apply(eager, "prunevid", selected_layer=1, keep_ratio=1.0) as h2:
        attn_mod = h2.adapter.layers[1].self_attn
        hk = attn_mod.register_forward_hook(grab)
        try:
            with torch.no_grad():
                eager(**row, output_attentions=True)
        finally:
            hk.remove()
    att = seen["attn"][0]  # [H, n, n] of decoder layer 1 on the merged sequence
    n_seq = att.shape[-1]
    queries = torch.arange(start + m + 1, n_seq)  # the text after the video (OneVision: after its newline token)
    scores = att[:, queries][:, :, start:start + m].amax(dim=0).amax(dim=0)
    expect = (select_tokens(scores, groups, 0.4) + start).tolist()
    kept = merged_kept[1][0]
    got = [int(c) for c in kept.tolist() if start <= c < start + m]
    assert got == expect


def test_support_matrix_gives_the_video_methods_reasons():
    from zoo.families.decoders.support import support_matrix

    cells = {(r.method, r.adapter): r for r in support_matrix()}
    assert cells[("fastvid", "qwen2.5-vl")].reason.startswith("needs the vision tower's per-patch attention")
    assert "M-RoPE" in cells[("slowfast-llava", "qwen2-vl")].reason
    assert cells[("dycoke", "llava")].reason == "dycoke reduces video tokens; llava models take no videos"
    for method in ("dycoke", "prunevid", "framefusion", "vidcom2", "frame-subsample", "video-random"):
        assert all(cells[(method, a)].supported for a in ("llava-onevision", "llava-next-video", "qwen2.5-vl"))
    for method in ("fastvid", "holitom", "slowfast-llava"):
        assert all(cells[(method, a)].supported for a in ("llava-onevision", "llava-next-video"))
