"""Every diffusion method through one case table, on tiny UNets (SD 1.x, SD 2.x, SDXL layouts) and DiTs
(DiT, PixArt, SD3 MMDiT).

CASES: (method id, parameters, expected self-attention query tokens of a block as a function of its
row in the runtime table, or None when the method does not shorten the queries). NOOP: a budget
that must reproduce the model bit for bit.
"""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import zoo  # noqa: E402
from zoo.papers import REGISTRY  # noqa: E402
import diffusion_fixtures as F  # noqa: E402
from vit_fixtures import assert_same_snapshot, snapshot  # noqa: E402


def _src(row, sx=2, sy=2, h=None, w=None):
    n = row["tokens"]
    side = int(round(n ** 0.5))
    h, w = h or side, w or side
    return n - (h // sy) * (w // sx)


def merged(ratio, md, sx=2, sy=2):
    return lambda row: (row["tokens"] - min(int(row["tokens"] * ratio), _src(row, sx, sy))
                        if row["downsample"] <= md else row["tokens"])


def pruned(ratio, md):
    return lambda row: (row["tokens"] - min(int(row["tokens"] * ratio), _src(row))
                        if row["downsample"] <= md and int(row["tokens"] * ratio) > 0 else row["tokens"])


CASES = [
    ("tomesd", dict(ratio=0.5, seed=0), merged(0.5, 1)),
    ("tomesd", dict(keep_ratio=0.4, max_downsample=4, use_rand=False), merged(0.6, 4)),
    ("tomesd", dict(ratio=0.5, sx=3, sy=3, max_downsample=2, merge_crossattn=True, merge_mlp=True, seed=1),
     merged(0.5, 2, 3, 3)),
    ("todo", dict(), None),
    ("todo", dict(downsample_factor=2, downsample_factor_level_2=2, downsample_method="avg_pool"), None),
    ("todo", dict(timestep_threshold_switch=0.9, similarity_ratio=0.5, seed=0), None),
    ("ca-tome", dict(threshold=0.2, seed=0), "adaptive"),
    ("ca-tome", dict(threshold=0.0, cache_steps=None, max_downsample=2, use_rand=False), "adaptive"),
    ("sito", dict(prune_ratio=0.5, seed=0), pruned(0.5, 1)),
    ("sito", dict(keep_ratio=0.3, max_downsample=2, score_dtype="float32", noise_alpha=0.0), pruned(0.7, 2)),
    ("random", dict(layers=(0, 1), keep_ratio=0.5), "random"),
    ("dato", dict(cache_strategy=None, seed=0), pruned(0.4, 1)),
    ("dato", dict(cache_strategy=None, keep_ratio=0.5, base_selection="random", max_downsample=2, norm_dtype="input"),
     pruned(0.5, 2)),
]
NOOP = {
    "tomesd": dict(ratio=0.0),
    "todo": dict(downsample_factor=1),
    "ca-tome": dict(threshold=1.0),
    "sito": dict(prune_ratio=0.0),
    "random": dict(layers=(0,), keep_ratio=1.0),
    "dato": dict(prune_ratio=0.0, cache_strategy=None),
}
IDS = [f"{m}-{i}" for i, (m, _, _) in enumerate(CASES)]
MODELS = ["sd15", "sd2", "sdxl", "dit", "pixart", "sd3"]


def diffusion_method_ids():
    return {m for m in REGISTRY if "diffusers-unet" in zoo.method_class(m).families}


def test_every_diffusion_method_is_in_the_case_table():
    assert diffusion_method_ids() == {m for m, _, _ in CASES} == set(NOOP)
    for m in diffusion_method_ids():
        assert set(zoo.method_class(m).families) >= {"diffusers-unet", "diffusers-dit", "diffusers-mmdit"}


class _Lazy(dict):
    def __missing__(self, name):
        self[name] = F.unet(name) if name in ("sd15", "sd2", "sdxl") else F.dit(name)
        return self[name]


@pytest.fixture(scope="module")
def models():
    return _Lazy()


def inputs_for(name, model, **kw):
    return F.unet_inputs(model, **kw) if name in ("sd15", "sd2", "sdxl") else F.dit_inputs(model, name, **kw)


@pytest.mark.parametrize("name", [pytest.param(m, marks=pytest.mark.slow) if m == "sd2" else m for m in MODELS])
@pytest.mark.parametrize("method,params,expected", CASES, ids=IDS)
def test_counts_and_clean_removal(models, method, params, expected, name):
    for name in [name]:
        model = models[name]
        x = inputs_for(name, model)
        base = F.output_of(model, x)
        before = snapshot(model)
        with zoo.apply(model, method, record_indices=True, **params) as h:
            out = F.output_of(model, x)
            table = h.adapter.runtime.table
            run = h.run
        assert torch.isfinite(out).all(), name
        assert torch.equal(F.output_of(model, x), base), name
        assert_same_snapshot(before, snapshot(model))
        acted = [e for e in run.events["denoiser"] if e.n_after < e.n_before]
        assert bool(acted) == (not torch.equal(out, base)), (name, "output changes iff something was reduced")
        assert len(table) == len(run.tokens["denoiser"]) == len(h.adapter.blocks)
        assert run.input_tokens["denoiser"] == table[0]["tokens"] * table[0]["downsample"] ** 2
        for row, q in zip(table, run.tokens["denoiser"]):
            assert row["self_attn_queries"] == q
            if callable(expected):
                assert q == expected(row), (name, row)
            elif expected == "adaptive":
                assert q <= row["tokens"] and (q == row["tokens"] or row["downsample"] <= params.get("max_downsample", 1))
            elif expected == "random":
                want = (row["tokens"] + 1) // 2 if row["block"] in params["layers"] else row["tokens"]
                assert q == want, (name, row)
            else:  # ToDo keeps every query; only keys/values shrink
                assert q == row["tokens"]
        if method == "todo":
            _check_todo_keys(params, table, name)
        for idx, ev in zip(run.kept_indices.get("denoiser", []), [e for e in run.events["denoiser"]
                                                                    if e.kind in ("merge", "prune")]):
            assert idx.shape == (x[next(iter(x))].shape[0], ev.n_after)
            assert bool((idx.sort(dim=1).values.diff(dim=1) > 0).all()), "kept positions are distinct"


def _check_todo_keys(params, table, name):
    f1 = params.get("downsample_factor", 2)
    f2 = params.get("downsample_factor_level_2", 1)
    for row in table:
        n = row["tokens"]
        side = int(round(n ** 0.5))
        f = {1: f1, 2: f2}.get(row["downsample"], 1)
        if params.get("timestep_threshold_switch", 0.0) >= 0.5 and f > 0 and row["downsample"] <= 2:
            ratio = params.get("similarity_ratio", 0.5)
            want = n - min(int(n * ratio), _src(row)) if row["downsample"] == 1 else n - min(int(n * 0.5), _src(row))
        else:
            want = (side // f) ** 2 if f > 1 else n
        assert row["self_attn_keys"] == want, (name, row)


@pytest.mark.parametrize("method", sorted(NOOP))
def test_noop_budget_is_exactly_the_model(models, method):
    for name in ("sd15", "sdxl", "sd3"):
        model = models[name]
        x = inputs_for(name, model)
        base = F.output_of(model, x)
        with zoo.apply(model, method, **NOOP[method]) as h:
            out = F.output_of(model, x)
        assert torch.equal(out, base), name
        assert h.run.tokens["denoiser"] == [row["tokens"] for row in h.adapter.runtime.table]


@pytest.mark.parametrize("method,params,expected", CASES[::3], ids=IDS[::3])
def test_exception_inside_removes_patch(models, method, params, expected):
    model = models["sd15"]
    x = inputs_for("sd15", model)
    before = snapshot(model)
    base = F.output_of(model, x)
    with pytest.raises(RuntimeError, match="boom"):
        with zoo.apply(model, method, **params):
            F.output_of(model, x)
            raise RuntimeError("boom")
    assert torch.equal(F.output_of(model, x), base)
    assert_same_snapshot(before, snapshot(model))


@pytest.mark.parametrize("method,params,expected", CASES[1::3], ids=IDS[1::3])
def test_apply_twice_does_not_stack(models, method, params, expected):
    model = models["sd15"]
    x = inputs_for("sd15", model)
    before = snapshot(model)
    base = F.output_of(model, x)
    once = zoo.apply(model, method, **params)
    y1 = F.output_of(model, x)
    twice = zoo.apply(model, method, **params)
    y2 = F.output_of(model, x)
    assert not once.active and twice.active
    if "seed" in params or not params.get("use_rand", True) or method in ("todo", "random"):
        assert torch.equal(y1, y2)  # a fresh application starts its generator afresh
    assert len(twice.run.tokens["denoiser"]) == len(twice.adapter.blocks)
    twice.remove()
    twice.remove()
    assert torch.equal(F.output_of(model, x), base)
    assert_same_snapshot(before, snapshot(model))


# rows of a batch are independent where the method's decisions are per row; excluded by design:
# CA-ToMe (r is the maximum over the batch), random (one draw for the batch), and every random
# destination/noise draw (one draw per call, shared by the batch)
BATCH_CASES = [
    ("tomesd", dict(ratio=0.5, use_rand=False, max_downsample=2)),
    ("todo", dict(downsample_factor=2, downsample_factor_level_2=2)),
    ("sito", dict(prune_ratio=0.5, noise_alpha=0.0, score_dtype="float32")),
    # DaTo's random base tokens: one choice for the batch, forked afresh from the global state at every call
    ("dato", dict(prune_ratio=0.5, cache_strategy=None, base_selection="random", norm_dtype="input")),
]


@pytest.mark.parametrize("method,params", BATCH_CASES, ids=[m for m, _ in BATCH_CASES])
def test_batch_rows_are_single_runs(models, method, params):
    for name in ("sd15", "pixart"):
        model = models[name]
        x = inputs_for(name, model, batch=3)
        with zoo.apply(model, method, **params):
            batch = F.output_of(model, x)
            single = torch.cat([F.output_of(model, _row(x, i)) for i in range(3)])
        torch.testing.assert_close(batch, single, rtol=1e-4, atol=1e-5, msg=f"{method} on {name}")


def _row(inputs, i):
    out = {}
    for k, v in inputs.items():
        if k == "timestep" and v.numel() == 1:
            out[k] = v
        elif torch.is_tensor(v):
            out[k] = v[i:i + 1]
        elif isinstance(v, dict):
            out[k] = {kk: (vv[i:i + 1] if torch.is_tensor(vv) else vv) for kk, vv in v.items()}
        else:
            out[k] = v
    return out


def test_sdxl_max_downsample_1_patches_nothing(models):
    """SDXL has no attention at the latent resolution: ToMeSD's default (max_downsample=1) is a no-op there."""
    model = models["sdxl"]
    x = inputs_for("sdxl", model)
    base = F.output_of(model, x)
    with zoo.apply(model, "tomesd", ratio=0.5) as h:
        assert torch.equal(F.output_of(model, x), base)
    assert {row["downsample"] for row in h.adapter.runtime.table} == {2, 4}


def test_bad_parameters_name_the_argument():
    for method, params, match in [
        ("tomesd", dict(ratio=1.0), "ratio"),
        ("tomesd", dict(ratio=0.5, keep_ratio=0.5), "one budget"),
        ("tomesd", dict(sx=1, sy=1), "sx"),
        ("todo", dict(keep_ratio=0.3), "keep_ratio"),
        ("todo", dict(downsample_method="lanczos"), "downsample_method"),
        ("ca-tome", dict(threshold=2.0), "threshold"),
        ("ca-tome", dict(cache_steps="often"), "cache_steps"),
        ("sito", dict(score_dtype="int8"), "score_dtype"),
        ("sito", dict(prune_ratio=-0.1), "prune_ratio"),
        ("dato", dict(prune_ratio=(0.3, 1.0)), "prune_ratio"),
        ("dato", dict(cache_strategy="often"), "cache_strategy"),
        ("dato", dict(base_selection="similarity"), "base_selection"),
        ("dato", dict(max_downsample=2), "max_downsample"),
        ("dato", dict(norm_dtype="int8"), "norm_dtype"),
    ]:
        with pytest.raises(ValueError, match=match):
            zoo.method_class(method)(**params)


def test_todo_nearest_exact_keeps_the_odd_grid_points(models):
    """ToDo's default keys/values are the nearest-exact 2x downsampled grid: rows/columns 1, 3, 5, ..."""
    from zoo.core.grid import grid_resample

    x = torch.randn(2, 64, 3)
    down = grid_resample(x, 8, 8, 4, 4, "nearest-exact")
    assert torch.equal(down, x.view(2, 8, 8, 3)[:, 1::2, 1::2].reshape(2, 16, 3))


def test_flux_is_refused_with_the_reason():
    from diffusers import FluxTransformer2DModel

    model = FluxTransformer2DModel(patch_size=1, in_channels=4, num_layers=1, num_single_layers=1,
                                   attention_head_dim=8, num_attention_heads=2, joint_attention_dim=8,
                                   pooled_projection_dim=8, axes_dims_rope=(2, 2, 4))
    with pytest.raises(TypeError, match="rotary"):
        zoo.apply(model, "tomesd")


def test_record_sources_is_refused_with_the_alternative(models):
    with pytest.raises(ValueError, match="record_indices"):
        zoo.apply(models["dit"], "tomesd", record_sources=True)


def test_copy_of_a_patched_denoiser_is_refused(models):
    model = models["sd15"]
    with zoo.apply(model, "tomesd"):
        with pytest.raises(TypeError):
            copy.deepcopy(model)


def test_attention_backends_agree(models):
    """The wrappers sit on the attention modules, not their processors: the classic (eager) processor and
    diffusers' default SDPA processor give the same reduced outputs."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    eager = copy.deepcopy(models["sd15"])
    eager.set_attn_processor(AttnProcessor())
    sdpa = copy.deepcopy(models["sd15"])
    sdpa.set_attn_processor(AttnProcessor2_0())
    x = inputs_for("sd15", eager)
    for method, params in (("tomesd", dict(ratio=0.5, seed=0)), ("todo", {}), ("sito", dict(seed=0)),
                           ("dato", dict(cache_strategy=None, seed=0))):
        outs = []
        for model in (eager, sdpa):
            with zoo.apply(model, method, **params):
                outs.append(F.output_of(model, x))
        torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-5, msg=method)
