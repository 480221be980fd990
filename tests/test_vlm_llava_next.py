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
    with pytest.raises(TypeError, match="llava-next"):
        zoo.apply(model, "fastervlm")


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
