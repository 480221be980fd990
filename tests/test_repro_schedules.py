"""The implementations run the token schedules the analytic claims compute in pure Python.

Each analytic claim of ``repro/`` counts tokens with ``zoo.flops`` (no torch). Here the zoo's
method runs once on a narrow random model with the paper model's depth and token count (the
schedule of a fixed-budget method does not depend on the width), and its recorded token
counts must equal that pure schedule.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("transformers")

from zoo.flops import fastv_schedule, kept_tokens, pyramid_schedule, sparsevlm_schedule  # noqa: E402
from zoo.flops import vit  # noqa: E402
from zoo.repro.analytic import vit_implementation_schedule  # noqa: E402

N_SYSTEM, N_QUESTION = 36, 40


@pytest.fixture(scope="module")
def narrow_llava():
    """A narrow LLaVA-1.5-7B layout (32 LLM layers, CLIP ViT-L/14-336 depth, 576 image tokens) and a prompt."""
    import torch

    from zoo.repro.harness.vlm import random_llava, synthetic_prompt

    torch.manual_seed(0)
    model = random_llava("llava-1.5-7b", device="cpu", dtype="float32", hidden_size=64, intermediate_size=128,
                         num_attention_heads=4, num_key_value_heads=4, narrow_vision=True)
    return model, synthetic_prompt(model, n_system=N_SYSTEM, n_question=N_QUESTION, device="cpu", seed=0)


def _record(narrow_llava, method, params):
    import torch

    import zoo

    model, inputs = narrow_llava
    with zoo.apply(model, method, **params) as handle, torch.inference_mode():
        model(**inputs, use_cache=False, logits_to_keep=1)
        run = handle.run
    llm = list(run.tokens["llm"])
    return {"entering": [run.input_tokens["llm"], *llm[:-1]], "input": run.input_tokens["llm"]}


OTHER = N_SYSTEM + N_QUESTION  # text tokens of the synthetic prompt


def test_fastv_runs_fastv_schedule(narrow_llava):
    rec = _record(narrow_llava, "fastv", {"k": 2, "keep_ratio": 0.25})
    assert rec["entering"] == list(fastv_schedule(32, 576, OTHER, k=2, r=0.75).total)


def test_pyramiddrop_runs_pyramid_schedule(narrow_llava):
    rec = _record(narrow_llava, "pyramiddrop", {"layers": [8, 16, 24], "lam": 0.5})
    assert rec["entering"] == list(pyramid_schedule(32, 576, OTHER, layers=[8, 16, 24], lam=0.5).total)


def test_sparsevlm_runs_the_official_schedule(narrow_llava):
    rec = _record(narrow_llava, "sparsevlm", {"schedule": [238, 48, 26], "layers": [2, 6, 15]})
    assert rec["entering"] == list(sparsevlm_schedule(32, 576, OTHER, layers=(2, 6, 15), kept=(238, 48, 26)).total)


@pytest.mark.parametrize("method,params,kept", [("visionzip", {"dominant": 54, "contextual": 10}, 64),
                                                ("fastervlm", {"keep_ratio": 0.05}, kept_tokens(576, 0.05))])
def test_vision_side_methods_hand_the_llm_the_counted_tokens(narrow_llava, method, params, kept):
    assert _record(narrow_llava, method, params)["input"] == OTHER + kept


def test_vit_methods_run_the_counted_schedules():
    evit = vit_implementation_schedule("deit-small", "evit", {"keep_rate": 0.7, "layers": [3, 6, 9], "fuse": True})
    assert evit["after_block"] == vit.evit_counts(197, 12, 0.7, (3, 6, 9), fuse=True)
    ppt = vit_implementation_schedule("deit-small", "ppt", {"r": 50, "layers": [3, 6, 9], "threshold": 7e-5})
    assert ppt["after_block"] == vit.per_block_counts(197, [0, 0, 0, 50, 0, 0, 50, 0, 0, 50, 0, 0])
    tome = vit_implementation_schedule("vit-small-16", "tome", {"r": 13})
    assert tome["after_block"] == vit.tome_counts(197, 12, 13)
