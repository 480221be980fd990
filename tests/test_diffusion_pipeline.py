"""The real pipeline path: a StableDiffusionPipeline assembled offline from tiny local components (an
in-process tokenizer, a tiny CLIP text encoder, a tiny VAE, a DDIM scheduler) runs a few CFG denoising
steps under each method, applied to the pipeline in one line and removed exactly."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import zoo  # noqa: E402
import diffusion_fixtures as F  # noqa: E402
from vit_fixtures import assert_same_snapshot, snapshot  # noqa: E402

METHODS = [
    ("tomesd", dict(ratio=0.5)),
    ("todo", dict()),
    ("ca-tome", dict(threshold=0.3, cache_steps=(2,))),
    ("sito", dict(prune_ratio=0.5, score_dtype="float32")),
    ("random", dict(layers=(0, 5, 6), keep_ratio=0.5)),
]


@pytest.fixture(scope="module")
def pipe():
    return F.sd_pipeline()


@pytest.fixture(scope="module")
def baseline(pipe):
    return F.run_pipeline(pipe)


@pytest.mark.parametrize("method,params", METHODS, ids=[m for m, _ in METHODS])
def test_each_method_runs_the_pipeline_and_is_removed(pipe, baseline, method, params):
    before = snapshot(pipe.unet)
    with zoo.apply(pipe, method, **params) as h:
        latents = F.run_pipeline(pipe)
        assert h.active and h.adapter.denoiser is pipe.unet
        steps = h.adapter.runtime.step
        forwards = h.adapter.runtime.forwards
    assert latents.shape == baseline.shape == (1, 4, 16, 16)
    assert torch.isfinite(latents).all()
    assert not torch.equal(latents, baseline), f"{method} changed nothing"
    assert (steps, forwards) == (3, 3), "one batched CFG call per step; steps counted from the timesteps"
    assert torch.equal(F.run_pipeline(pipe), baseline)
    assert_same_snapshot(before, snapshot(pipe.unet))
    assert "_tokzoo_handle" not in pipe.__dict__ or not pipe.__dict__["_tokzoo_handle"].active


def test_cfg_batch_of_two_prompts(pipe):
    """Two prompts with CFG: a batch of 4 per UNet call; ToMeSD's random destinations stay on (even batch)."""
    with zoo.apply(pipe, "tomesd", ratio=0.5, seed=0) as h:
        latents = F.run_pipeline(pipe, prompt=["a photo of a cat", "a painting of a dog"])
    assert latents.shape == (2, 4, 16, 16) and torch.isfinite(latents).all()
    assert h.run.kept_indices == {"denoiser": []}  # not asked for


def test_no_cfg_odd_batch_disables_random_destinations(pipe):
    """guidance_scale=1 (no CFG): batch 1, the official rule turns random destinations off, so the result
    does not depend on the seed."""
    outs = []
    for seed in (0, 1):
        with zoo.apply(pipe, "tomesd", ratio=0.5, seed=seed):
            outs.append(pipe("a photo of a cat", num_inference_steps=2, guidance_scale=1.0, height=32, width=32,
                             output_type="latent", generator=torch.Generator().manual_seed(0)).images)
    assert torch.equal(outs[0], outs[1])


def test_applying_to_the_unet_replaces_an_application_to_the_pipeline(pipe, baseline):
    first = zoo.apply(pipe, "tomesd", ratio=0.5, seed=0)
    second = zoo.apply(pipe.unet, "tomesd", ratio=0.5, seed=0)
    assert not first.active and second.active
    once = F.run_pipeline(pipe)
    second.remove()
    with zoo.apply(pipe, "tomesd", ratio=0.5, seed=0):
        assert torch.equal(F.run_pipeline(pipe), once), "replacing did not stack two patches"
    assert torch.equal(F.run_pipeline(pipe), baseline)


def test_applying_to_the_unet_inside_a_pipeline_with_block_is_refused(pipe, baseline):
    with zoo.apply(pipe, "tomesd", ratio=0.5):
        with pytest.raises(RuntimeError, match="enclosing"):
            zoo.apply(pipe.unet, "todo")
    assert torch.equal(F.run_pipeline(pipe), baseline)


def test_new_generation_restarts_the_step_count(pipe):
    with zoo.apply(pipe, "ca-tome", threshold=0.3, cache_steps=(2,)) as h:
        F.run_pipeline(pipe, steps=3)
        first = h.adapter.runtime.reducers[0].recomputed
        F.run_pipeline(pipe, steps=3)
        assert h.adapter.runtime.step == 3
        assert h.adapter.runtime.reducers[0].recomputed == 2 * first  # steps 1 and 2 of each run recompute
