"""Regressions found by comparing with the authors' code (issue 14) and by hostile inputs (issue 17).

- LLaVA-PruMerge: the adaptive kept count ``int(n * ratio)`` uses the official Python-float
  outlier fraction (a float32 fraction truncated one token too low for many counts);
  PruMerge+ with a ratio in ``(1/6, 1/3]`` keeps every patch plus the summary token
  (``n + 1`` tokens, as the official code) instead of failing.
- VisionZip ``dominant=1``: ``kept_indices["vision"]`` keeps the [CLS] marker (-1).
- Vision-encoder methods refuse a prompt whose image placeholder count does not match the
  image's tokens, as the unpatched model does.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from vlm_fixtures import IMAGE_TOKEN_ID, build_tiny_llava, load_tiny_llava, make_inputs  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_tiny_llava(build_tiny_llava(tmp_path_factory.mktemp("tiny-llava-regress"), seed=2))


def _crafted_scores(n: int, outliers: int) -> torch.Tensor:
    """``n`` scores with exactly ``outliers`` values above Q3 + 1.5 IQR (for ``outliers <= n / 4``)."""
    base = torch.linspace(0, 1, n - outliers)
    return torch.cat([base, torch.full((outliers,), 100.0)])[torch.randperm(n, generator=torch.Generator().manual_seed(0))]


def test_prumerge_outlier_fraction_is_the_official_python_float():
    from zoo.papers.llava_prumerge import iqr_outlier_fraction, plus_grid_step

    n = 576
    for count in range(1, n // 4):
        frac = iqr_outlier_fraction(_crafted_scores(n, count))
        assert frac == count / n  # official: len(outlier_indices) / len(attn_np)
        assert int(n * frac) == count  # the adaptive kept count
        assert plus_grid_step(frac) == max(1, int(int(1 / frac) / 3))  # official int(step_length / 3)


def test_prumerge_plus_keeps_every_patch_and_the_summary_when_the_step_is_one(model):
    """keep_ratio 0.25: step int(int(4) / 3) = 1, so every patch of 0..n-2 joins the kept set (official 577 tokens
    for 576 patches when the top-k holds the last patch); the prompt's image span grows instead of failing."""
    inputs = make_inputs(model, batch=3, prefixes=(2, 5, 3), suffixes=(4, 6, 3), seed=11)
    n = model.config.image_seq_length
    with zoo.apply(model, "llava-prumerge", plus=True, keep_ratio=0.25, record_indices=True) as handle, torch.no_grad():
        out = model(**inputs).logits
    kept = handle.run.kept_indices["vision"][0]
    counts = [(row >= 0).sum().item() + 1 for row in kept]  # distinct patches + the summary token
    assert all(c >= n for c in counts) and max(counts) == n + 1, counts
    assert handle.run.tokens["vision"] == [n + 1]
    assert out.shape[1] == inputs["input_ids"].shape[1] + 1  # the row with n + 1 image tokens sets the length
    from vlm_fixtures import assert_generate_matches_reference

    assert_generate_matches_reference(model, [("llava-prumerge", dict(plus=True, keep_ratio=0.25))], inputs, steps=2)


def test_visionzip_single_dominant_token_keeps_the_cls_marker(model):
    inputs = make_inputs(model)
    with zoo.apply(model, "visionzip", dominant=1, contextual=3, record_indices=True) as handle, torch.no_grad():
        feats = model.model.get_image_features(pixel_values=inputs["pixel_values"], return_dict=True).pooler_output
    kept = handle.run.kept_indices["vision"][0]
    assert kept.shape == (len(feats), 4) == (len(feats), feats[0].shape[0])
    assert bool((kept[:, 0] == -1).all()) and bool((kept[:, 1:] >= 0).all())


@pytest.mark.parametrize("spec", [("visionzip", dict(dominant=5, contextual=2)), ("visionzip", dict(keep_tokens=16)),
                                  ("fastervlm", dict(keep_ratio=0.25)), ("llava-prumerge", dict())],
                         ids=["visionzip", "visionzip-noop", "fastervlm", "prumerge"])
def test_vision_methods_refuse_a_placeholder_count_that_does_not_match_the_image(model, spec):
    inputs = make_inputs(model, batch=1, prefixes=(3,), suffixes=(4,))
    ids = inputs["input_ids"]
    extra = torch.full((1, 1), IMAGE_TOKEN_ID)
    bad = {**inputs, "input_ids": torch.cat([ids[:, :5], extra, ids[:, 5:]], dim=1),
           "attention_mask": torch.ones((1, ids.shape[1] + 1), dtype=torch.long)}
    with pytest.raises(ValueError, match="do not match"), torch.no_grad():
        model(**bad)  # the unpatched model refuses it
    with zoo.apply(model, spec[0], **spec[1]), pytest.raises(ValueError, match="do not match"), torch.no_grad():
        model(**bad)
