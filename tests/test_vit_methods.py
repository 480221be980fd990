"""Every ViT method through one list of test cases (kvpress-style).

CASES: (method id, parameters, expected token counts after each block as a function of the
input count n and the protected prefix p). NOOP: a budget that must reproduce the model.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

import zoo  # noqa: E402
from zoo.papers import REGISTRY  # noqa: E402
from vit_fixtures import (  # noqa: E402
    assert_same_snapshot, at_layers, ceil_keep, merge_cap, snapshot, tiny_vit, tome_plan,
)

DEPTH = 4

CASES = [
    ("tome", dict(r=6), lambda n, p: merge_cap(n, p, [6] * DEPTH)),
    ("tome", dict(r=[20, 0, 5]), lambda n, p: merge_cap(n, p, [20, 0, 5, 0])),
    ("tome", dict(r=6, inflect=-1.0), lambda n, p: merge_cap(n, p, tome_plan(DEPTH, 6, -1.0))),
    ("tome", dict(keep_ratio=0.5, prop_attn=False), lambda n, p: merge_cap(n, p, [8, 8, 8, 8])),
    ("evit", dict(layers=(1, 2), keep_rate=0.7),
     lambda n, p: at_layers(n, p, DEPTH, (1, 2), lambda m: ceil_keep(0.7)(m) + 1)),
    ("evit", dict(layers=1, keep_ratio=0.25, fuse=False),
     lambda n, p: at_layers(n, p, DEPTH, (1,), ceil_keep(0.25))),
    ("zero-tprune", dict(r=10, wpr_iters=5), lambda n, p: merge_cap(n, p, [10] * DEPTH)),
    ("zero-tprune", dict(r=10, stage="importance"), lambda n, p: merge_cap(n, p, [10] * DEPTH)),
    ("token-fusion", dict(r=7), lambda n, p: merge_cap(n, p, [7] * DEPTH)),
    ("ppt", dict(layers=(1, 3), r=12, threshold=0.0),
     lambda n, p: at_layers(n, p, DEPTH, (1, 3), lambda m: m - min(12, m // 2))),
    ("ppt", dict(layers=(1, 3), r=12, threshold=1.0),
     lambda n, p: at_layers(n, p, DEPTH, (1, 3), lambda m: m - min(12, m // 2))),
    ("gtp-vit", dict(r=5), lambda n, p: at_layers(n, p, DEPTH, (0, 1, 2, 3), lambda m: m - 5)),
    ("gtp-vit", dict(r=5, graph="mixed", prop_attn=True), lambda n, p: at_layers(n, p, DEPTH, (0, 1, 2, 3),
                                                                                   lambda m: m - 5)),
    ("ats", dict(layers=(1, 2, 3)), None),
    ("ats", dict(layers=(1, 3), keep_tokens=20), None),
    ("pitome", dict(ratio=0.9, recipe="vision"), lambda n, p: at_layers(n, p, DEPTH, (0, 1, 2, 3), floor_ratio(0.9))),
    ("pitome", dict(keep_ratio=0.6, recipe="text", layers=(1, 3)),
     lambda n, p: at_layers(n, p, DEPTH, (1, 3), floor_ratio(0.6 ** 0.5))),
    ("power-bert", dict(layers=(1, 2), keep_ratio=0.49),
     lambda n, p: at_layers(n, p, DEPTH, (1, 2), ceil_keep(0.7))),
    ("power-bert", dict(retention=(60, 40, 40, 20)),
     lambda n, p: [60, 40, 40, 20]),  # counts include the prefix (the paper's counts include [CLS])
    ("a-tome", dict(merge_ratio=0.2), lambda n, p: at_layers(n, p, DEPTH, (0, 1, 2, 3), lambda m: m - int(0.2 * m))),
    ("a-tome", dict(threshold=0.3, layers=(1, 2)), None),
    ("spatten", dict(layers=(1, 2), keep_ratio=0.3),
     lambda n, p: [n, p + 36, p + 20, p + 20]),  # ceil(64 * 0.3 ** (1/2)), ceil(64 * 0.3)
    ("spatten", dict(keep_schedule=(0.9, 0.5), layers=(0, 2), accumulate=False),
     lambda n, p: [p + 58, p + 58, p + 29, p + 29]),  # ceil(0.9 * 64) = 58, then ceil(0.5 * 58)
    ("alpine", dict(layers=(0, 1, 2, 3)), None),
    ("alpine", dict(alpha=0.5, layers=(1, 3), merge=False), None),
    ("random", dict(layers=1, keep_ratio=0.5), lambda n, p: at_layers(n, p, DEPTH, (1,), ceil_keep(0.5))),
    ("random", dict(layers=(0, 2), keep_ratio=0.25),
     lambda n, p: at_layers(n, p, DEPTH, (0, 2), ceil_keep(0.5))),
]
NOOP = {
    "tome": dict(r=0),
    "evit": dict(layers=(1,), keep_rate=1.0),
    "zero-tprune": dict(r=0),
    "token-fusion": dict(r=0),
    "ppt": dict(layers=(1,), r=0),
    "gtp-vit": dict(r=0),
    "random": dict(layers=(1,), keep_ratio=1.0),
    "ats": None,  # no budget keeps every token: ATS's sampling is adaptive even at K = N
    "pitome": dict(ratio=1.0),
    "power-bert": dict(keep_ratio=1.0),
    "a-tome": dict(merge_ratio=0.0),
    "spatten": dict(keep_ratio=1.0),
    "alpine": dict(alpha=float("inf")),
}
NEEDS_CLS = {"evit", "ppt", "ats", "power-bert"}
# merging methods account for every input token exactly once in the recorded sources


def merges_everything(method: str, params: dict) -> bool:
    return (method in {"tome", "token-fusion", "pitome"} or (method == "ppt" and params["threshold"] > 0.01)
            or (method == "alpine" and params.get("merge", True)))


def floor_ratio(ratio: float):
    """PiToMe: a block keeps ``T - floor(T - T * ratio)`` of ``T`` reducible tokens."""
    return lambda t: t - math.floor(t - t * ratio)
IDS = [f"{m}-{i}" for i, (m, _, _) in enumerate(CASES)]


def vit_method_ids():
    return {m for m in REGISTRY if "timm-vit" in zoo.method_class(m).families}


def test_every_vit_method_is_in_the_case_table():
    assert vit_method_ids() == {m for m, _, _ in CASES} == set(NOOP)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one intra-op thread for tiny models


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vits")
    return {v: tiny_vit(v, folder=folder if v == "deit" else None)
            for v in ("deit", "reg", "gap", "distilled", "qknorm")}


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def variants_for(method: str) -> list[str]:
    return ["deit", "reg", "distilled", "qknorm"] + ([] if method in NEEDS_CLS else ["gap"])


@pytest.mark.parametrize("method,params,expected", CASES, ids=IDS)
def test_counts_shapes_and_clean_removal(models, images, method, params, expected):
    for variant in variants_for(method):
        model = models[variant]
        p = model.num_prefix_tokens
        n = 64 + p
        with torch.no_grad():
            base = model(images)
            before = snapshot(model)
            with zoo.apply(model, method, record_sources=True, record_indices=True, **params) as h:
                out = model(images)
                run = h.run
            after_out = model(images)
        assert out.shape == base.shape == (3, 10), variant
        assert torch.isfinite(out).all(), variant
        assert not torch.equal(out, base), f"{method} changed nothing on {variant}"
        assert torch.equal(after_out, base), variant
        assert_same_snapshot(before, snapshot(model))
        # the recorded schedule is the one the parameters ask for
        assert run.input_tokens["vit"] == n
        if expected is not None:
            assert run.tokens["vit"] == expected(n, p), variant
        else:  # adaptive (ATS): shrinks only at the acting blocks, within the budget
            acting = params["layers"]
            bound = p + params.get("keep_tokens", 64)
            for i, (a, b) in enumerate(zip([n, *run.tokens["vit"]], run.tokens["vit"])):
                assert b <= a and (b == a or i in acting) and (i not in acting or b <= bound), (variant, run.tokens)
        counts = [n, *run.tokens["vit"]]
        for ev in run.events["vit"]:
            assert (ev.n_before, ev.n_after) == (counts[ev.block], counts[ev.block + 1])
        # prefix tokens are never reduced: every event keeps them first, in order
        for rep in run.kept_indices["vit"]:
            assert rep.shape[0] == 3
            assert rep[:, :p].tolist() == [list(range(p))] * 3
        src = run.sources["vit"]
        assert src.shape == (3, run.tokens["vit"][-1], n)
        assert torch.equal(src[:, :p, :p], torch.eye(p).expand(3, p, p))
        cover = src.sum(1)
        assert bool((cover <= 1).all())
        if merges_everything(method, params):
            assert bool((cover == 1).all()), f"{method}: every input token must be accounted for"


@pytest.mark.parametrize("method", sorted(m for m, v in NOOP.items() if v is not None))
def test_noop_budget_is_exactly_the_model(models, images, method):
    model = models["deit"]
    with torch.no_grad():
        base = model(images)
        with zoo.apply(model, method, **NOOP[method]) as h:
            out = model(images)
    assert torch.equal(out, base)
    assert h.run.tokens["vit"] == [65] * DEPTH


@pytest.mark.parametrize("method,params,expected", CASES[::3], ids=IDS[::3])
def test_exception_inside_block_removes_patch(models, images, method, params, expected):
    model = models["deit"]
    before = snapshot(model)
    with torch.no_grad():
        base = model(images)
        with pytest.raises(RuntimeError, match="boom"):
            with zoo.apply(model, method, **params):
                model(images)
                raise RuntimeError("boom")
        assert torch.equal(model(images), base)
    assert_same_snapshot(before, snapshot(model))


@pytest.mark.parametrize("method,params,expected", CASES[1::3], ids=IDS[1::3])
def test_apply_twice_does_not_stack(models, images, method, params, expected):
    model = models["deit"]
    before = snapshot(model)
    with torch.no_grad():
        base = model(images)
        once = zoo.apply(model, method, **params)
        y1 = model(images)
        twice = zoo.apply(model, method, **params)
        y2 = model(images)
        assert not once.active and twice.active
        assert torch.equal(y1, y2)
        if expected is not None:
            assert twice.run.tokens["vit"] == expected(65, 1)
        twice.remove()
        twice.remove()  # idempotent
        assert torch.equal(model(images), base)
    assert_same_snapshot(before, snapshot(model))


def test_batch_rows_are_independent(models, images):
    """Per-image decisions: a batch of 3 gives each image the output it gets alone."""
    model = models["reg"]
    for method, params, _ in CASES:
        if method == "random":
            continue  # one generator draw per batch by design
        with torch.no_grad(), zoo.apply(model, method, **params):
            batch = model(images)
            single = torch.cat([model(images[i:i + 1]) for i in range(3)])
        torch.testing.assert_close(batch, single, rtol=1e-4, atol=1e-5, msg=method)


def test_fused_and_unfused_attention_agree(images):
    fused, eager = tiny_vit("deit"), tiny_vit("deit")
    for blk in eager.blocks:
        blk.attn.fused_attn = False
    for method, params, _ in CASES:
        with torch.no_grad():
            with zoo.apply(fused, method, **params):
                a = fused(images)
            with zoo.apply(eager, method, **params):
                b = eager(images)
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=method)


def require_attn_mask(model):
    import inspect

    if "attn_mask" not in inspect.signature(model.forward).parameters:
        import timm

        pytest.skip(f"timm {timm.__version__} VisionTransformer.forward takes no attn_mask")


@pytest.mark.parametrize("method,params", [("tome", dict(r=6)), ("random", dict(layers=1, keep_ratio=0.5)),
                                           ("evit", dict(layers=(1, 2)))])
def test_attn_mask_follows_reductions(models, images, method, params):
    """An all-permissive mask (bool [B,1,1,N], bool [N,N], float zeros) gives the unmasked output."""
    model = models["deit"]
    require_attn_mask(model)
    n = 65
    masks = [torch.ones(3, 1, 1, n, dtype=torch.bool), torch.ones(n, n, dtype=torch.bool), torch.zeros(3, 1, n, n)]
    with torch.no_grad(), zoo.apply(model, method, **params) as h:
        ref = model(images)
        for mask in masks:
            torch.testing.assert_close(model(images, attn_mask=mask), ref, rtol=1e-5, atol=1e-6)
            assert h.run.tokens["vit"][-1] < n


def test_attn_mask_masks_after_reduction(models, images):
    """A key-padding mask hiding patch tokens keeps hiding them after tokens are pruned: pruning
    exactly the hidden tokens then gives the same output as masking them."""
    model = models["deit"]
    require_attn_mask(model)
    n = 65
    hidden = torch.zeros(n, dtype=torch.bool)
    hidden[1 + 32:] = True  # hide the second half of the patches
    mask = (~hidden).view(1, 1, 1, n).expand(3, 1, 1, n)

    class HideScorer:  # keep exactly the visible half at block 0
        def __call__(self, tokens):
            return (~hidden[1:]).float().expand(tokens.shape[0], -1)

    from zoo.interface import Patch, Run
    from zoo.families.timm_vit import TimmViTAdapter

    with torch.no_grad():
        masked = model(images, attn_mask=mask)
        adapter, patch, run = TimmViTAdapter(model), Patch(), Run()
        adapter.install_token_pruning(patch, run, layer=0, keep_tokens=32, scorer=HideScorer())
        try:
            pruned_masked = model(images, attn_mask=mask)
        finally:
            patch.undo()
    # block 0's attention saw the mask in both runs; afterwards the hidden tokens are gone in
    # one run and masked in the other: the CLS output must agree
    torch.testing.assert_close(pruned_masked, masked, rtol=1e-4, atol=1e-5)


def test_ats_sampling_matches_loops():
    """ATS's inverse transform sampling against a loop over the sample points."""
    from zoo.papers.ats import inverse_transform_sample

    g = torch.Generator().manual_seed(4)
    scores = torch.rand(3, 30, generator=g, dtype=torch.float64) ** 4
    scores[0, :5] = 0.0  # zero-score tokens (e.g. padding) are never the first sample point
    for k in (1, 7, 30):
        hit = inverse_transform_sample(scores, k)
        for b in range(3):
            order = sorted(range(30), key=lambda j: (float(scores[b, j]), j))
            cdf, acc = [], 0.0
            for j in order:
                acc += float(scores[b, j])
                cdf.append(acc)
            lo, hi = min(cdf), max(cdf)
            ncdf = [(c - lo) / (hi - lo) for c in cdf]
            start = min(c for c in ncdf if c > 0)
            ys = [1.0] if k == 1 else [start + i / (k - 1) * (1 - start) for i in range(k)]
            ref = set()
            for y in ys:
                best = min(range(30), key=lambda i: (abs(y - ncdf[i]), i))
                ref.add(order[best])
            assert set(hit[b].nonzero().flatten().tolist()) == ref
            assert len(ref) <= k


def test_ats_pads_with_invisible_tokens(models, images):
    """Images keeping fewer tokens are padded with size-0 tokens that no attention can see:
    each image's output equals its output alone (where no padding happens)."""
    model = models["deit"]
    with torch.no_grad(), zoo.apply(model, "ats", layers=(1, 2)) as h:
        batch = model(images)
        counts = []
        single = []
        for i in range(3):
            single.append(model(images[i:i + 1]))
            counts.append(h.run.tokens["vit"][-1])
    assert len(set(counts)) > 1, "test images should keep different numbers of tokens"
    torch.testing.assert_close(batch, torch.cat(single), rtol=1e-4, atol=1e-5)


def test_method_errors_name_the_allowed_values(models, images):
    model = models["deit"]
    with pytest.raises(ValueError, match=r"evit: invalid layers=7; allowed: an integer block index 0\.\.3 "
                                         r"\(the model has 4 blocks\)"):
        zoo.apply(model, "evit", layers=(1, 7))
    with pytest.raises(ValueError, match="r=.*at most 4 entries"):
        zoo.apply(model, "tome", r=[1, 2, 3, 4, 5])
    for method in sorted(NEEDS_CLS):
        with pytest.raises(ValueError, match="no class token"):
            zoo.apply(models["gap"], method, layers=(1,))
    assert not hasattr(model, "_tokzoo_handle")
    import timm

    odd = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=4, embed_dim=32,
                            depth=2, num_heads=2, class_token=False, global_pool="avg",
                            block_fn=timm.models.vision_transformer.ParallelScalingBlock)
    with pytest.raises(TypeError, match="block 0 is ParallelScalingBlock; supported blocks"):
        zoo.apply(odd, "tome", r=2)


def test_dynamic_image_size_non_square_grid():
    """Dynamic-size models: the patch grid comes from the patch embedding (here 12 x 8), so GTP's
    spatial graph works on non-square inputs; removal stays clean (the grid hook goes too)."""
    model = tiny_vit("deit", dynamic_img_size=True)
    x = torch.randn(2, 3, 48, 32)
    before = snapshot(model)
    with torch.no_grad():
        base = model(x)
        with zoo.apply(model, "gtp-vit", r=4) as h:
            out = model(x)
        assert torch.equal(model(x), base)
    assert out.shape == base.shape and h.run.tokens["vit"] == [93, 89, 85, 81]
    assert_same_snapshot(before, snapshot(model))
