"""DaTo, Token Pruning for Caching Better: 9x Acceleration on Stable Diffusion for Free (arXiv 2501.00375).

Run: ``tokzoo repro dato`` (or ``python repro/dato.py``).

Paper notation -> zoo: the pruning ratio is ``prune_ratio`` (``keep_ratio = 1 - prune_ratio``; a tuple is
a per-step schedule); the per-step cache strategy (the official ``cache_strategy``, one ``cache_block_id``
per step) is ``cache_strategy``; the official ``local_random`` is ``base_selection="random"``, ``diff_gema``
is ``diff_gamma``; ``noise_alpha``, ``align_cfg``, ``sx``/``sy`` keep their names.

- Analytic (core install only): the token count the official code is written for (4,096 full-resolution
  tokens of SD at 512 px), the share its patch prunes (its fixed ``current_prune_ratio = 0.4``), and how the
  cache strategy its search scripts fix splits 50 DDIM steps into full, shallow and reusing UNet passes.
- Conformance: tokzoo against the authors' ``datosd`` package on an identical tiny UNet over three steps (the
  third uses the temporal difference of the first two), through ``--official PATH`` or
  ``TOKZOO_OFFICIAL_DATO``; its block cache cannot run on a diffusers UNet (it wraps CompVis'
  ``input_blocks``/``output_blocks``), so the cache is compared with a hook-based reference in the tests
  instead (``tests/test_diffusion_dato.py``).
- Speed: the abstract's 9x (ImageNet) and 7x (COCO-30k) accelerations of Stable Diffusion need the real
  weights and a GPU (on demand: ``--kind throughput``); the abstract does not say which baseline sampler,
  steps or hardware they are relative to, so the measurement uses 50 DDIM steps of SD 1.5 as the official
  scripts do, with the default (searched) cache strategy.
- Not set up: the abstract's FID changes (-0.33 on ImageNet, -2.17 on COCO-30k) come without the number of
  images, the reference statistics or the per-step pruning ratios (the official patch ignores its searched
  ratios and prunes 0.4 at every step), so no measurement could use the paper's setting.
"""

from __future__ import annotations

from zoo.bench.diffusion_claims import merged_share, tokens_at
from zoo.bench.diffusion_official import dato_conformance
from zoo.bench.diffusion_quality import pipeline_speedup
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed

COMMIT = "e747cd18915d3b319860facad69ca3f760fb49ea"
REPO = "github.com/EvelynZhang-epiclab/DaTo"
BLOB = f"https://{REPO}/blob/{COMMIT}"
COUNTER = Source(f"{REPO} sd1/scripts/datosd/dato.py@{COMMIT[:7]}",
                 "module-level counter count_num = torch.zeros((2, 4096)): one entry per full-resolution token of SD at "
                 "512 px (patch.py: 'original_h, original_w = dato_info[\"size\"]  # 64,64')",
                 f"{BLOB}/sd1/scripts/datosd/dato.py")
RATIO = Source(f"{REPO} sd1/scripts/datosd/patch.py@{COMMIT[:7]}",
               "select_dato_method: 'current_prune_ratio=0.4' (the per-step 'my_prune_strategy[current_id]' line is "
               "commented out); max_downsample_ratio defaults to 1", f"{BLOB}/sd1/scripts/datosd/patch.py")
STRATEGY = Source(f"{REPO} sd1/scripts/search_ratio.py@{COMMIT[:7]}",
                  "txt2img_gen(..., enable_deepcache=True, cache_strategy=[0, 1, 1, 1, 1, 1, 11, ...]) with "
                  "ddim_steps=50; patch.py is_skip_step: step 0 computes, step i uses cache_strategy[i - 1], "
                  "ids >= 2 compute everything", f"{BLOB}/sd1/scripts/search_ratio.py")
ALGO = Source(f"{REPO} sd1/scripts/datosd/dato.py@{COMMIT[:7]}", "prune_and_recover_tokens; patch.py "
              "select_dato_method, make_diffusers_dato_block, DeepCacheSDHelper.wrap_unet_forward",
              f"{BLOB}/sd1/scripts/datosd/dato.py")
ABSTRACT = Source("arXiv:2501.00375v1", "Abstract: 'Applied to Stable Diffusion on the ImageNet, our approach delivered "
                  "a 9x speedup while reducing FID by 0.33 ... On the COCO-30k, we observed a 7x acceleration coupled "
                  "with a notable FID reduction of 2.17.'", "https://arxiv.org/abs/2501.00375v1")
SD15_HUB = "stable-diffusion-v1-5/stable-diffusion-v1-5"
PROMPTS = ["A high quality photograph of a cat", "A high quality photograph of a lighthouse at dusk"]


def schedule_split(what: str, steps: int = 50):
    """Steps of a ``steps``-step run at one cache depth under the search scripts' fixed strategy (no torch)."""

    def measure(ctx) -> Measurement:
        from zoo.papers.dato_schedule import SEARCH_CACHE_STRATEGY, depth_counts

        counts = depth_counts(SEARCH_CACHE_STRATEGY, steps)
        return Measurement(counts[what], details={"steps": steps, "counts": counts,
                                                  "strategy": list(SEARCH_CACHE_STRATEGY)})

    return measure


CLAIMS = [
    Claim(
        id="tokens-512px", kind="analytic",
        description="Tokens in the full-resolution transformer blocks of SD 1.x at 512x512",
        reported=4096, unit="tokens", tolerance=0,
        setting={"model": "SD 1.5 UNet (repro/configs/sd15-unet.json)", "image": "512x512, VAE factor 8: 64x64 latent",
                 "metric": "tokens of the first transformer block"},
        source=COUNTER, measure=tokens_at(512),
    ),
    Claim(
        id="pruned-share-official-patch", kind="analytic",
        description="Share of the full-resolution tokens the official patch prunes per block",
        reported=40, unit="%", tolerance=printed(0),
        setting={"model": "SD 1.5 UNet", "prune_ratio": 0.4, "max_downsample": 1, "image": "512x512",
                 "metric": "100 * int(N * prune_ratio) / N per pruned block (capped at the non-base tokens)"},
        source=RATIO, measure=merged_share(0.4, 512), method="dato", params={"prune_ratio": 0.4},
    ),
]
for what, value in (("full", 6), ("shallow", 37), ("reuse", 7)):
    CLAIMS.append(Claim(
        id=f"search-strategy-{what}-steps", kind="analytic",
        description=f"Steps of a 50-step run that are {what} UNet passes under the search scripts' cache strategy",
        reported=value, unit="steps", tolerance=0,
        setting={"steps": 50, "sampler": "DDIM (ddim_steps=50)", "strategy": "search_ratio.py's fixed cache_strategy",
                 "depths": "step 1 full; step s: cache_strategy[s - 2]: 0 reuse all, 1 shallow branch, >= 2 full",
                 "metric": f"count of {what} steps (reported: counted from the source vector by that rule)"},
        source=STRATEGY, measure=schedule_split(what),
    ))
CLAIMS += [
    Claim(
        id="equal-to-official-code", kind="conformance",
        description="Largest output difference between tokzoo's DaTo token pruning and the authors' code over 3 steps",
        reported=0.0, unit="max |difference|", tolerance=1e-6, direction="lower",
        setting={"harness": "zoo.bench.diffusion_official:dato_conformance",
                 "model": "tiny SD 1.x-layout UNet, random weights, float32, batch 2",
                 "steps": "3 consecutive UNet calls at timesteps 981, 961, 941 (official: DDIM-50 timesteps only)",
                 "options": "defaults (dynamics base tokens, align_cfg) / random base tokens with max_downsample 2 / "
                            "noise_alpha 0.5, diff_gamma 1.0, align_cfg off",
                 "prune_ratio": "0.4 (the official patch's fixed value)",
                 "cache": "off on both sides (the official block cache needs CompVis' UNet); the official temporal "
                          "difference from its own UNet wrapper",
                 "rng": "torch.manual_seed(3), random.seed(5) before each side",
                 "official": f"{REPO}@{COMMIT[:7]} from --official PATH", "metric": "max |tokzoo - official|"},
        source=ALGO,
        measure=dato_conformance([dict(), dict(base_selection="random", max_downsample=2),
                                  dict(noise_alpha=0.5, diff_gamma=1.0, align_cfg=False)]),
        method="dato", params={"prune_ratio": 0.4, "cache_strategy": None},
        needs=("cpu", f"official:EvelynZhang-epiclab/DaTo@{COMMIT}"),
    ),
]
for dataset, value in (("imagenet", 9), ("coco30k", 7)):
    CLAIMS.append(Claim(
        id=f"speedup-{dataset}", kind="throughput",
        description=f"Acceleration of Stable Diffusion with DaTo ({'ImageNet' if dataset == 'imagenet' else 'COCO-30k'} "
                    "prompts) relative to the original model",
        reported=value, unit="x", tolerance=printed(0), direction="higher",
        setting={"model": f"SD 1.5 ({SD15_HUB})", "steps": 50, "sampler": "the pipeline's default (the official "
                 "scripts: DDIM 50 with PLMS optional)", "cache_strategy": "search scripts' fixed strategy (default)",
                 "prune_ratio": 0.4, "paper_baseline": "not stated in the abstract",
                 "metric": "time per image original / DaTo"},
        source=ABSTRACT, measure=pipeline_speedup("dato", {}, weights=SD15_HUB, prompts=PROMPTS),
        needs=("cuda", f"weights:{SD15_HUB}"), method="dato", params={}, on_demand=True,
    ))

SPEC = PaperSpec(
    paper_id="dato",
    title="Token Pruning for Caching Better: 9x Acceleration on Stable Diffusion for Free",
    arxiv="2501.00375",
    method="dato",
    claims=CLAIMS,
    notes=__doc__,
)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
