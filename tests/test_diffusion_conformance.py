"""tokzoo against the authors' own code on identical tiny random denoisers.

- ToMeSD vs the official ``tomesd`` package (a test dependency, ``diffusion`` extra): same
  generator state, same destinations and merges; outputs equal to float rounding (in practice
  bit for bit), over the options, UNet layouts, batch sizes and latent shapes, and through a
  whole pipeline.
- CA-ToMe vs the authors' ``ca-tome`` package when it imports (it pins torch<2.2.2, so CI installs
  it with ``--no-deps``; see ``.ci/run``), through its own pipeline call.
- SiTo, ToDo and DaTo vs the authors' repositories when a checkout is given (``TOKZOO_OFFICIAL_SITO`` /
  ``TOKZOO_OFFICIAL_TODO`` / ``TOKZOO_OFFICIAL_DATO``; see ``zoo/bench/diffusion_official.py``).
"""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
tomesd = pytest.importorskip("tomesd")

import zoo  # noqa: E402
import diffusion_fixtures as F  # noqa: E402

TOL = 1e-6  # float32; observed: 0.0 (the same ops in the same order)


def _official(model, inputs, seed, **params):
    ref = copy.deepcopy(model)
    tomesd.apply_patch(ref, **params)
    torch.manual_seed(seed)  # the official package forks torch's global RNG at its first merge
    return F.output_of(ref, inputs)


def _ours(model, inputs, seed, **params):
    with zoo.apply(model, "tomesd", seed=seed, **params) as h:
        out = F.output_of(model, inputs)
    return out, h


OPTIONS = [
    dict(ratio=0.5),
    dict(ratio=0.3, max_downsample=2),
    dict(ratio=0.75, max_downsample=8, use_rand=False),
    dict(ratio=0.6, sx=3, sy=2, max_downsample=2),
    dict(ratio=0.4, merge_crossattn=True, merge_mlp=True, max_downsample=4),
    dict(ratio=0.9, max_downsample=2),  # beyond 1 - 1/(sx*sy): r capped at the sources, as the official
]


class _Lazy(dict):
    def __missing__(self, layout):
        self[layout] = F.unet(layout)
        return self[layout]


@pytest.fixture(scope="module")
def unets():
    return _Lazy()


def _grid():
    """sd15 x every option by default; SD 2.x and the other SDXL combinations are marked slow."""
    out = []
    for layout in ("sd15", "sd2", "sdxl"):
        for i, params in enumerate(OPTIONS):
            fast = layout == "sd15" or (layout == "sdxl" and i in (1, 4))
            pid = f"{layout}-" + ",".join(f"{k}={v}" for k, v in params.items())
            out.append(pytest.param(layout, params, id=pid, marks=() if fast else pytest.mark.slow))
    return out


@pytest.mark.parametrize("layout,params", _grid())
def test_tomesd_equals_official_package(unets, layout, params):
    model = unets[layout]
    inputs = F.unet_inputs(model, batch=2)
    base = F.output_of(model, inputs)
    ours, h = _ours(model, inputs, 7, **params)
    theirs = _official(model, inputs, 7, **params)
    acted = any(e.n_after < e.n_before for e in h.run.events.get("denoiser", []))
    assert acted == (not torch.equal(ours, base)), "an acting merge must change the output"
    assert (ours - theirs).abs().max().item() <= TOL
    assert torch.equal(F.output_of(model, inputs), base)


@pytest.mark.parametrize("batch,size", [(1, 16), (4, 16), (2, 18), (2, (16, 24)),
                                        pytest.param(2, 20, marks=pytest.mark.slow)])
def test_tomesd_equals_official_batches_and_shapes(unets, batch, size):
    """Odd batch (random choice off, as the official code), CFG-sized batch 4, latents that the 2x2
    windows do not tile at every level (18 -> 9 at level 2), a non-square latent (16 x 24)."""
    model = unets["sd15"]
    inputs = F.unet_inputs(model, batch=batch, size=size)
    ours, _ = _ours(model, inputs, 3, ratio=0.5, max_downsample=2)
    theirs = _official(model, inputs, 3, ratio=0.5, max_downsample=2)
    assert (ours - theirs).abs().max().item() <= TOL


def test_tomesd_equals_official_over_steps_bf16(unets):
    """Several forwards share one generator (it advances across blocks and steps, as the official); bf16."""
    model = copy.deepcopy(unets["sd15"]).to(torch.bfloat16)
    steps = [F.unet_inputs(model, batch=2, seed=s, t=t) for s, t in ((1, 900.0), (2, 500.0), (3, 100.0))]
    steps = [{k: (v.to(torch.bfloat16) if k != "timestep" and torch.is_tensor(v) else v) for k, v in s.items()}
             for s in steps]
    with zoo.apply(model, "tomesd", ratio=0.5, max_downsample=2, seed=11):
        ours = [F.output_of(model, s) for s in steps]
    ref = copy.deepcopy(model)
    tomesd.apply_patch(ref, ratio=0.5, max_downsample=2)
    torch.manual_seed(11)
    theirs = [F.output_of(ref, s) for s in steps]
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_tomesd_seed_none_forks_the_global_generator_like_the_official(unets):
    model = unets["sd15"]
    inputs = F.unet_inputs(model, batch=2)
    torch.manual_seed(5)
    with zoo.apply(model, "tomesd", ratio=0.5):
        ours = F.output_of(model, inputs)
    theirs = _official(model, inputs, 5, ratio=0.5)
    assert torch.equal(ours, theirs)


def test_tomesd_equals_official_through_a_pipeline():
    """``zoo.apply(pipe, "tomesd")`` against ``tomesd.apply_patch(pipe)``: a whole CFG denoising run."""
    pipe = F.sd_pipeline()
    torch.manual_seed(0)
    with zoo.apply(pipe, "tomesd", ratio=0.5, max_downsample=2):
        ours = F.run_pipeline(pipe, steps=3)
    tomesd.apply_patch(pipe, ratio=0.5, max_downsample=2)
    try:
        torch.manual_seed(0)
        theirs = F.run_pipeline(pipe, steps=3)
    finally:
        tomesd.remove_patch(pipe)
    assert (ours - theirs).abs().max().item() <= TOL


def test_a_model_patched_by_the_official_package_is_refused(unets):
    ref = copy.deepcopy(unets["sd15"])
    tomesd.apply_patch(ref, ratio=0.5)
    with pytest.raises(TypeError, match="tomesd"):
        zoo.apply(ref, "tomesd", ratio=0.5)


# ---------------------------------------------------------------- CA-ToMe (authors' package, optional)
def test_ca_tome_equals_official_package():
    ca_tome = pytest.importorskip("ca_tome", reason="ca-tome not installed (pip install --no-deps ca-tome)")
    conf = [0, 2]  # recompute at steps 2 (the first step always computes); reuse at 1 (after 1st) and 3, 4
    pipe = F.sd_pipeline()
    torch.manual_seed(0)
    with zoo.apply(pipe, "ca-tome", threshold=0.3, cache_steps=tuple(conf)) as h:
        ours = F.run_pipeline(pipe, steps=4)
    level1 = sum(1 for row in h.adapter.runtime.table if row["downsample"] == 1)
    assert h.adapter.runtime.reducers[0].recomputed == 2 * level1  # steps 1 (nothing cached) and 2 (listed)
    ref = F.sd_pipeline()
    ca_tome.apply_CA_ToMe(ref, conf, 0.3)
    torch.manual_seed(0)
    theirs = ref.call("a photo of a cat", num_inference_steps=4, guidance_scale=5.0, height=32, width=32,
                      output_type="latent", generator=torch.Generator().manual_seed(0)).images
    assert (ours - theirs).abs().max().item() <= TOL


# ---------------------------------------------------------------- SiTo / ToDo (authors' repositories, optional)
@pytest.mark.parametrize("method", ["sito", "todo", "dato"])
def test_equals_the_authors_repository_checkout(method):
    """Runs when TOKZOO_OFFICIAL_SITO / TOKZOO_OFFICIAL_TODO / TOKZOO_OFFICIAL_DATO point at checkouts of the
    authors' repositories."""
    import os

    from zoo.bench import diffusion_official as off

    if not os.environ.get(off.ENV[method]):
        pytest.skip(f"{off.ENV[method]} not set (a checkout of {off.REPOS[method]})")
    if method == "sito":
        measure = off.sito_conformance([dict(prune_ratio=0.5), dict(prune_ratio=0.7, max_downsample=2)])
    elif method == "dato":  # three steps: the third uses the temporal difference of the first two
        measure = off.dato_conformance([dict(), dict(base_selection="random", max_downsample=2),
                                        dict(noise_alpha=0.5, diff_gamma=1.0, align_cfg=False)])
    else:
        measure = off.todo_conformance([dict(), dict(downsample_factor_level_2=2),
                                        dict(timestep_threshold_switch=0.9)])
    m = measure(None)
    assert m.value <= TOL, m.details["runs"]
