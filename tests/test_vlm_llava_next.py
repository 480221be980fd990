"""LLaVA-NeXT (anyres): the llm-prefill methods on the ``llava-next`` adapter.

Rows carry images of different sizes, hence different numbers of image tokens (base tile,
tiles, newline tokens), found from ``input_ids`` only. Same checks as the LLaVA-1.5 list:
no-op budget, apply/remove, batch rows = single rows, cached generation = recomputation.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from vlm_fixtures import (  # noqa: E402
    assert_generate_matches_reference, build_methods, build_tiny_llava_next, load_tiny_llava_next, make_next_inputs,
    unpad_row,
)

CASES = [
    ("fastv", [("fastv", dict(k=2, keep_ratio=0.5))], [("fastv", dict(k=2, keep_ratio=1.0))]),
    ("pyramiddrop", [("pyramiddrop", dict(layers=(1, 3), lam=0.5))], [("pyramiddrop", dict(layers=(1,), lam=1.0))]),
    ("random", [("random", dict(layers=0, keep_ratio=0.25))], [("random", dict(layers=0, keep_ratio=1.0))]),
    ("sparsevlm", [("sparsevlm", dict(layers=(0, 2), schedule=(8, 4)))], None),
    ("dart", [("dart", dict(k=1, keep_ratio=0.3, pivot_image=2, pivot_text=2))], None),
    ("divprune", [("divprune", dict(keep_ratio=0.3))], [("divprune", dict(keep_ratio=1.0))]),
    ("pooling", [("pooling", dict(keep_ratio=0.25))], [("pooling", dict(stride=1))]),
    ("fastervlm", [("fastervlm", dict(keep_ratio=0.5))], [("fastervlm", dict(keep_ratio=1.0))]),
    ("visionzip", [("visionzip", dict(dominant=2, contextual=1))], [("visionzip", dict(keep_tokens=4))]),
    ("prumerge", [("llava-prumerge", dict(keep_ratio=0.5))], [("llava-prumerge", dict(keep_ratio=1.0))]),
    ("visionzip+fastv", [("visionzip", dict(dominant=3, contextual=1)), ("fastv", dict(k=2, keep_ratio=0.5))], None),
]
IDS = [c[0] for c in CASES]
SAME_SIZE = ((30, 50), (30, 50))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_tiny_llava_next(build_tiny_llava_next(tmp_path_factory.mktemp("tiny-llava-next")))


def _inputs(model, case_id):
    return make_next_inputs(model, sizes=SAME_SIZE if case_id == "sparsevlm" else ((30, 50), (50, 30)))


def _fwd(model, inputs, **kw):
    with torch.no_grad():
        return model(**inputs, **kw)


def test_adapter_and_image_tokens(model):
    from zoo.families import detect

    adapter = detect(model)
    assert adapter.name == "llava-next" and adapter.depth("llm") == 4
    inputs = make_next_inputs(model)
    counts = (inputs["input_ids"] == model.config.image_token_id).sum(-1)
    assert counts[0] != counts[1]  # anyres: the two image sizes give different token counts


def test_vision_methods_pack_the_kept_tiles_tokens(model):
    """FasterVLM per tile: the packed image = the unreduced packed image restricted to the kept patches (the base
    tile's kept tokens in the reducer's order, then the grid's kept tokens row by row, each row followed by its
    newline token), so every packed feature is exactly the unreduced one."""
    from transformers.models.llava_next.modeling_llava_next import get_anyres_image_grid_shape, image_size_to_num_patches

    from zoo.families.decoders.anyres import anyres_layout

    inputs = make_next_inputs(model)
    kw = {"pixel_values": inputs["pixel_values"], "image_sizes": inputs["image_sizes"], "return_dict": True}
    with torch.no_grad():
        full = model.model.get_image_features(**kw).pooler_output
    with zoo.apply(model, "fastervlm", keep_ratio=0.5, record_indices=True) as handle, torch.no_grad():
        reduced = model.model.get_image_features(**kw).pooler_output
    kept = handle.run.kept_indices["vision"][0]  # [all tiles, kept per tile]: patch indices
    cfg = model.config
    side = cfg.vision_config.image_size // cfg.vision_config.patch_size
    t0 = 0
    for i, (f, r) in enumerate(zip(full, reduced)):
        size = inputs["image_sizes"][i].tolist()
        coords = anyres_layout(size, cfg).coords  # where every unreduced token sits
        where = {tuple(c): p for p, c in enumerate(coords.tolist()) if c[0] >= 0}
        n_tiles = image_size_to_num_patches(size, cfg.image_grid_pinpoints, cfg.vision_config.image_size)
        n_h, n_w = get_anyres_image_grid_shape(size, cfg.image_grid_pinpoints, cfg.vision_config.image_size)
        pick = [where[(0, 0, k // side, k % side)] for k in kept[t0].tolist()]
        rows = int(coords[coords[:, 0] == 1, 2].max()) + 1
        cols = int(coords[coords[:, 0] == 1, 3].max()) + 1
        y0, x0 = (n_h * side - rows) // 2, (n_w * side - cols) // 2  # unpad_image trims both borders alike
        grid = []
        for j in range(1, n_tiles):
            tr, tc = (j - 1) // n_w, (j - 1) % n_w
            for k in kept[t0 + j].tolist():
                y, x = tr * side + k // side - y0, tc * side + k % side - x0
                if 0 <= y < rows and 0 <= x < cols:
                    grid.append((y, x))
        for y in sorted({y for y, _ in grid}):
            pick += [where[(1, 0, y, x)] for yy, x in sorted(grid) if yy == y]
            pick.append(where[(1, 0, y, cols - 1)] + 1)  # the newline closing that grid row
        assert r.shape[0] == len(pick) < f.shape[0]
        torch.testing.assert_close(r, f[pick], rtol=0, atol=0)
        t0 += n_tiles


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_llava_next_prefill_methods(case, model):
    inputs = _inputs(model, case[0])
    base = _fwd(model, inputs).logits
    if case[2] is not None:
        with zoo.apply(model, *build_methods(case[2])):
            torch.testing.assert_close(_fwd(model, inputs).logits, base, rtol=0, atol=1e-6)
    positions = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)  # as generate numbers a left-padded row
    with zoo.apply(model, *build_methods(case[1])):
        out = _fwd(model, {**inputs, "position_ids": positions}).logits
        assert out.shape[1] < base.shape[1]
        for b in range(2):
            alone = _fwd(model, unpad_row(inputs, b)).logits[0, -1]
            torch.testing.assert_close(out[b, -1], alone, rtol=1e-4, atol=1e-4)
    assert torch.equal(_fwd(model, inputs).logits, base)
    assert_generate_matches_reference(model, case[1], inputs, steps=3)
