"""Every VLM method (and compositions) through one list of test cases (kvpress-style).

The tiny LLaVA checkpoint is built once per session, saved, and loaded back with
``from_pretrained``. Prompts put the image at a different offset in every row and are
left-padded, so nothing can rely on fixed offsets. See ``vlm_fixtures.VLM_CASES``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from vlm_fixtures import (  # noqa: E402
    VLM_CASES, assert_generate_matches_reference, build_methods, build_tiny_llava, load_tiny_llava, make_inputs,
    unpad_row,
)

IDS = [c[0] for c in VLM_CASES]
NOOP = [c for c in VLM_CASES if c[2] is not None]


@pytest.fixture(scope="session")
def llava_path(tmp_path_factory):
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


@pytest.fixture(scope="session")
def model(llava_path):
    return load_tiny_llava(llava_path)


@pytest.fixture(scope="session")
def inputs(model):
    return make_inputs(model)


def _forward(model, inputs, **kw):
    with torch.no_grad():
        return model(**inputs, **kw)


@pytest.mark.parametrize("case", NOOP, ids=[c[0] for c in NOOP])
def test_noop_budget_equals_baseline(case, model, inputs):
    base = _forward(model, inputs).logits
    with zoo.apply(model, *build_methods(case[2])) as handle:
        out = _forward(model, inputs).logits
    assert out.shape == base.shape
    torch.testing.assert_close(out, base, rtol=0, atol=1e-6)
    assert not handle.active


def _hooks(module):
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in module.modules())


@pytest.mark.parametrize("case", VLM_CASES, ids=IDS)
def test_apply_remove_restores_model(case, model, inputs):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    base = _forward(model, inputs).logits  # first: transformers installs output-recording hooks on a first forward
    hooks = _hooks(model)
    with zoo.apply(model, *build_methods(case[1])) as handle:
        reduced = _forward(model, inputs).logits
        assert handle.active and _hooks(model) > hooks
    assert reduced.shape[1] < base.shape[1] or case[0] == "fastv-mask"
    assert _hooks(model) == hooks
    assert "get_image_features" not in vars(model.model)
    after = model.state_dict()
    assert after.keys() == state.keys()
    assert all(torch.equal(after[k], v) for k, v in state.items())
    assert torch.equal(_forward(model, inputs).logits, base)
    # applying twice does not stack: the second application replaces the first
    first = zoo.apply(model, *build_methods(case[1]))
    second = zoo.apply(model, *build_methods(case[1]))
    assert not first.active and second.active
    torch.testing.assert_close(_forward(model, inputs).logits, reduced, rtol=0, atol=1e-6)
    second.remove()
    assert _hooks(model) == hooks


@pytest.mark.parametrize("case", VLM_CASES, ids=IDS)
def test_batch_rows_match_single_rows(case, model, inputs):
    """A left-padded batch gives every row the next-token logits it gets alone (no padding)."""
    positions = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)  # as generate numbers a left-padded row
    with zoo.apply(model, *build_methods(case[1])):
        batch = _forward(model, {**inputs, "position_ids": positions}).logits[:, -1]
        for b in range(inputs["input_ids"].shape[0]):
            alone = _forward(model, unpad_row(inputs, b)).logits[0, -1]
            torch.testing.assert_close(batch[b], alone, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", VLM_CASES, ids=IDS)
def test_generate_with_cache_matches_reference_without_cache(case, model, inputs):
    """generate() with the KV cache = full re-computation of prompt + generated tokens, same kept tokens."""
    assert_generate_matches_reference(model, case[1], inputs, steps=4)


def test_generate_without_padding_and_with_sampling_settings(model, inputs):
    """Batch of one without attention mask (generate drops all-ones masks) and beam search."""
    row = unpad_row(inputs, 1)
    row.pop("attention_mask")
    with zoo.apply(model, "fastv", k=2, keep_ratio=0.25):
        with torch.no_grad():
            greedy = model.generate(**row, max_new_tokens=3, do_sample=False)
            beams = model.generate(**row, max_new_tokens=3, do_sample=False, num_beams=2)
    assert greedy.shape == beams.shape == (1, row["input_ids"].shape[1] + 3)


def test_inputs_embeds_find_the_image_span(model, inputs):
    """Without input_ids the image span is found from the placeholder embeddings."""
    with zoo.apply(model, "fastv", k=1, keep_ratio=0.5, record_indices=True) as handle:
        ref = _forward(model, inputs).logits
        kept_ids = handle.run.kept_indices["llm"][0]
        embeds = model.get_input_embeddings()(inputs["input_ids"])
        out = _forward(model, {"inputs_embeds": embeds, "attention_mask": inputs["attention_mask"],
                               "pixel_values": inputs["pixel_values"]}).logits
        assert torch.equal(handle.run.kept_indices["llm"][0], kept_ids)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_run_records_schedule_and_events(model, inputs):
    n = inputs["input_ids"].shape[1]
    n_img = model.config.image_seq_length
    with zoo.apply(model, "pyramiddrop", layers=(1, 3), lam=0.5, record_indices=True) as handle:
        _forward(model, inputs)
    run = handle.run
    sched = run.schedule("llm")
    assert sched == [n, n - n_img // 2, n - n_img // 2, n - 3 * n_img // 4]
    assert [(e.block, e.n_before, e.n_after) for e in run.events["llm"]] == [
        (0, n, n - n_img // 2), (2, n - n_img // 2, n - 3 * n_img // 4)]
    assert [k.shape[1] for k in run.kept_indices["llm"]] == [n - n_img // 2, n - 3 * n_img // 4]


def test_vision_reducer_shortens_the_prompt(model, inputs):
    n = inputs["input_ids"].shape[1]
    with zoo.apply(model, "fastervlm", keep_tokens=3) as handle:
        out = _forward(model, inputs)
    assert handle.run.tokens["vision"] == [3]
    assert out.logits.shape[1] == n - model.config.image_seq_length + 3


def test_errors_are_clear(model, inputs):
    with pytest.raises(ValueError, match="k=9"):
        zoo.apply(model, "fastv", k=9)
    with pytest.raises(ValueError, match="keep_ratio=1.5"):
        zoo.apply(model, "fastv", keep_ratio=1.5)
    with pytest.raises(ValueError, match="one budget"):
        zoo.apply(model, "fastv", keep_ratio=0.5, R=0.5)
    with pytest.raises(ValueError, match="same place"):
        zoo.apply(model, zoo.method_class("fastv")(), zoo.method_class("pyramiddrop")(layers=(1,)))
    with pytest.raises(ValueError, match="layers"):
        zoo.apply(model, "pyramiddrop")  # default (8, 16, 24) needs a 32-layer model
    with zoo.apply(model, "fastv", k=2):
        with pytest.raises(ValueError, match="labels"):
            _forward(model, inputs, labels=inputs["input_ids"])
    with zoo.apply(model, "sparsevlm", layers=(0, 1), schedule=(8, 4)):
        with pytest.raises(ValueError, match="same number"):
            _forward(model, _one_row_without_image(model))


def _one_row_without_image(model):
    two = make_inputs(model, batch=2, images_per_row=1)
    two["input_ids"][0][two["input_ids"][0] == model.config.image_token_id] = 11
    two["pixel_values"] = two["pixel_values"][1:]
    return two


@pytest.mark.parametrize("case", [c for c in VLM_CASES if c[0] in {"fastv", "pyramiddrop", "random", "prumerge",
                                                                     "prumerge+pyramiddrop", "fastervlm"}],
                         ids=lambda c: c[0])
def test_rows_with_different_image_counts(case, model):
    """A row without image next to a row with one: each row is reduced as if it were alone."""
    two = _one_row_without_image(model)
    with zoo.apply(model, *build_methods(case[1])):
        batch = _forward(model, two).logits[:, -1]
        for b in range(2):
            row = {k: v[b:b + 1] for k, v in two.items() if k != "pixel_values"}
            row["input_ids"] = row["input_ids"][row["attention_mask"].bool()][None]
            row["attention_mask"] = torch.ones_like(row["input_ids"])
            if b == 1:
                row["pixel_values"] = two["pixel_values"]
            torch.testing.assert_close(batch[b], _forward(model, row).logits[0, -1], rtol=1e-4, atol=1e-4)
    assert_generate_matches_reference(model, case[1], two, steps=3)


def test_transformers_version_policy():
    import warnings

    import transformers

    from zoo.families.decoders.base import TESTED_TRANSFORMERS, check_transformers_version

    assert transformers.__version__ in TESTED_TRANSFORMERS
    with pytest.raises(RuntimeError, match="4.57.1"):
        check_transformers_version("4.57.1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_transformers_version(transformers.__version__)
    with pytest.warns(UserWarning, match="5.10.0"):
        check_transformers_version("5.10.0")


def test_vision_reducers_renumber_positions(model, inputs):
    """Vision-encoder methods shorten the prompt: the LLM sees contiguous positions, as for a smaller image."""
    from zoo.families import detect

    seen = {}
    with zoo.apply(model, "fastervlm", keep_tokens=3):
        hook = detect(model).layers[0].register_forward_pre_hook(
            lambda m, a, kw: seen.__setitem__("pos", kw["position_ids"]), with_kwargs=True)
        try:
            mask = inputs["attention_mask"]
            _forward(model, {**inputs, "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)})
        finally:
            hook.remove()
    n_img = model.config.image_seq_length
    for b in range(mask.shape[0]):
        valid = int(mask[b].sum()) - n_img + 3
        assert seen["pos"][b, -valid:].tolist() == list(range(valid))
