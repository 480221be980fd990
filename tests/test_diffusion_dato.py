"""DaTo's cross-step parts on tiny UNets: the feature cache against a naive hook-based reference, the
temporal-difference signal, the dynamics-aware base tokens, and clean removal after cached runs.
(The single-forward rows are in tests/test_diffusion_methods.py; the authors' code comparison in
tests/test_diffusion_conformance.py.)"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import zoo  # noqa: E402
import diffusion_fixtures as F  # noqa: E402
from vit_fixtures import assert_same_snapshot, snapshot  # noqa: E402

TIMES = (900.0, 800.0, 700.0, 600.0)


@pytest.fixture(scope="module")
def unet():
    return F.unet("sd15")


def _steps(model, n=len(TIMES), batch=2):
    return [F.unet_inputs(model, batch=batch, seed=s + 1, t=t) for s, t in enumerate(TIMES[:n])]


def _cached_modules(model):
    """What the shallow branch reuses, by hand: every down/mid/up block but the last up block, and the
    layers of the last up block before its last (resnet, attention) pair."""
    last = model.up_blocks[-1]
    mods = list(model.down_blocks) + [model.mid_block] + list(model.up_blocks[:-1])
    return mods + list(last.resnets[:-1]) + list(last.attentions[:-1])


def _reference(model, steps, depths):
    """Naive reference: forward hooks store every module's output at full steps and replace it at reusing
    steps (``depths[i]``: 2 full, 1 shallow, 0 reuse; the last up block counts as reused at depth 0)."""
    store, mode = {}, {"d": 2}
    shallow = _cached_modules(model)
    every = shallow + [model.up_blocks[-1]]

    def hook(mod, args, out):
        reuse = mode["d"] == 0 or (mode["d"] == 1 and any(mod is m for m in shallow))
        if reuse:
            return store[id(mod)]
        store[id(mod)] = out
        return None

    handles = [m.register_forward_hook(hook) for m in every]
    try:
        outs = []
        for d, x in zip(depths, steps):
            mode["d"] = d
            outs.append(F.output_of(model, x))
        return outs
    finally:
        for hd in handles:
            hd.remove()


@pytest.mark.parametrize("strategy", [(1, 1, 1), (0, 1, 2), (1, 0, 11)])
def test_cache_equals_a_hook_reference(unet, strategy):
    steps = _steps(unet)
    before = snapshot(unet)
    base = [F.output_of(unet, x) for x in steps]
    with zoo.apply(unet, "dato", prune_ratio=0.0, cache_strategy=strategy) as h:
        ours = [F.output_of(unet, x) for x in steps]
        history = h.adapter.runtime.cache.history
    ref = _reference(unet, steps, (2,) + strategy)
    assert [d for _, _, d in history] == ["full"] + [{0: "reuse", 1: "shallow"}.get(d, "full") for d in strategy]
    for a, b in zip(ours, ref):
        assert torch.equal(a, b)
    assert torch.equal(ours[0], base[0])
    assert not torch.equal(ours[2], base[2])  # a reusing step is not the full model
    if strategy[0] == 0:
        assert torch.equal(ours[1], ours[0])  # depth 0: the previous output again
    assert all(torch.equal(F.output_of(unet, x), b) for x, b in zip(steps, base))
    assert_same_snapshot(before, snapshot(unet))


def test_full_schedule_and_no_cache_are_the_model_at_ratio_0(unet):
    steps = _steps(unet)
    base = [F.output_of(unet, x) for x in steps]
    for strategy in (None, (2, 11, 5)):
        with zoo.apply(unet, "dato", prune_ratio=0.0, cache_strategy=strategy):
            assert all(torch.equal(F.output_of(unet, x), b) for x, b in zip(steps, base))


def test_a_new_run_or_a_new_shape_computes_in_full(unet):
    steps = _steps(unet, 2)
    with zoo.apply(unet, "dato", prune_ratio=0.0, cache_strategy=(0, 0, 0)) as h:
        for x in steps + steps:  # the timestep rises at the third call: a new run
            F.output_of(unet, x)
        F.output_of(unet, F.unet_inputs(unet, batch=4, t=100.0))  # a later step, another batch: nothing stored
        assert [d for _, _, d in h.adapter.runtime.cache.history] == ["full", "reuse", "full", "reuse", "full"]


def test_two_calls_at_one_step_are_refused_when_reusing(unet):
    x = _steps(unet, 2)
    with zoo.apply(unet, "dato", prune_ratio=0.0, cache_strategy=(0, 0)):
        F.output_of(unet, x[0])
        F.output_of(unet, x[1])
        with pytest.raises(RuntimeError, match="twice at denoising step 2"):
            F.output_of(unet, x[1])
    assert torch.equal(F.output_of(unet, x[0]), F.output_of(F.unet("sd15"), x[0]))


def test_output_difference_is_the_mean_abs_change_of_the_noise_prediction(unet):
    steps = _steps(unet, 3)
    with zoo.apply(unet, "dato", cache_strategy=None, seed=0) as h:
        outs, seen = [], []
        for x in steps:
            outs.append(F.output_of(unet, x))
            seen.append(h.adapter.runtime._outputs.diff)
    assert seen[0] is None
    want = (outs[2] - outs[1]).abs().flatten(2).mean(dim=1)
    assert torch.equal(seen[2], want) and seen[2].shape == (2, 256)


def test_dynamics_base_tokens_are_the_window_maxima_of_the_signed_difference(unet):
    """noise_alpha=0: the base tokens of the third step are the per-window argmax of +D or -D (the random
    sign), the same for both halves of the CFG batch (align_cfg)."""
    from zoo.core.grid import window_argmax

    steps = _steps(unet, 3)
    with zoo.apply(unet, "dato", cache_strategy=None, noise_alpha=0.0, seed=3, record_indices=True) as h:
        for x in steps[:2]:
            F.output_of(unet, x)
        diff = h.adapter.runtime._outputs.diff
        h.run.kept_indices.clear()
        F.output_of(unet, steps[2])
        kept = h.run.kept_indices["denoiser"]
    k = 8 * 8  # windows of the 16 x 16 level
    first = kept[0]  # the first pruned block of the third step: [B, N - P], base tokens last
    base = first[:, -k:].sort(dim=1).values
    plus = window_argmax(diff, 16, 16, 2, 2)
    minus = window_argmax(-diff, 16, 16, 2, 2)
    from zoo.core.grid import window_destinations

    cands = [window_destinations(16, 16, 2, 2, c, diff.device)[0].sort(dim=1).values for c in (plus, minus)]
    assert torch.equal(base[0], base[1])
    assert any(torch.equal(base[0], c[0]) for c in cands)


def test_random_base_selection_forks_the_global_state_at_every_call(unet):
    """The official init_generator forks torch's global state per call: two calls with nothing drawn in
    between choose the same base tokens."""
    x = F.unet_inputs(unet)
    torch.manual_seed(4)
    with zoo.apply(unet, "dato", cache_strategy=None, base_selection="random", record_indices=True) as h:
        calls = []
        for _ in range(2):
            F.output_of(unet, x)
            calls.append([k.clone() for k in h.run.kept_indices["denoiser"]])
    assert len(calls[0]) == 3 and all(torch.equal(a, b) for a, b in zip(*calls))


def test_per_step_ratios(unet):
    steps = _steps(unet, 3)
    with zoo.apply(unet, "dato", cache_strategy=None, prune_ratio=(0.3, 0.5)) as h:
        counts = []
        for x in steps:
            F.output_of(unet, x)
            counts.append(h.adapter.runtime.table[0]["self_attn_queries"])
    assert counts == [256 - int(256 * 0.3), 256 - int(256 * 0.5), 256 - int(256 * 0.5)]


def test_pipeline_default_runs_cached_and_restores():
    pipe = F.sd_pipeline()
    before = snapshot(pipe.unet)
    base = F.run_pipeline(pipe, steps=5)
    with zoo.apply(pipe, "dato") as h:
        out = F.run_pipeline(pipe, steps=5)
        history = [d for _, _, d in h.adapter.runtime.cache.history]
    from zoo.papers.dato import SEARCH_CACHE_STRATEGY

    assert history == ["full"] + [{0: "reuse", 1: "shallow"}.get(d, "full") for d in SEARCH_CACHE_STRATEGY[:4]]
    assert torch.isfinite(out).all() and not torch.equal(out, base)
    assert torch.equal(F.run_pipeline(pipe, steps=5), base)
    assert_same_snapshot(before, snapshot(pipe.unet))


def test_caching_on_a_dit_is_refused_with_the_fix():
    model = F.dit("pixart")
    with pytest.raises(TypeError, match="cache_strategy=None"):
        zoo.apply(model, "dato")
    x = F.dit_inputs(model, "pixart")
    with zoo.apply(model, "dato", cache_strategy=None, seed=0):
        assert torch.isfinite(F.output_of(model, x)).all()
