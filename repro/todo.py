"""ToDo, Token Downsampling for Efficient Generation of High-Resolution Images (arXiv 2402.13573).

Run: ``tokzoo repro todo`` (or ``python repro/todo.py``).

Paper notation -> zoo: the downsampling factor of the keys/values grid is ``downsample_factor``
(first-level blocks; ``downsample_factor_level_2`` for the second level); the zoo's ``keep_ratio``
is the fraction of keys/values kept, ``1 / f**2``. The authors' demo (``app.py``) runs ToDo on a
Stable Diffusion 1.5 checkpoint at 1024, 1536 and 2048 px with factors 2, 3 and 4 and compares it with
ToMe at the merging ratios 0.75, 0.89 and 0.9375, i.e. the same share of removed keys/values.

- Analytic: the share of keys/values removed per factor and resolution (the demo's matched ratios).
- Conformance: tokzoo against the authors' repository on an identical tiny UNet (a checkout given by
  ``TOKZOO_OFFICIAL_TODO``; see ``zoo/bench/diffusion_official.py`` for the import fixes it needs).
- Speed: the README's "~1.5x at typical sizes like 768-1024" and "up to 3x and beyond at 1536 to
  2048" (with flash attention, GPU) against one denoising step of the exact SD 1.5 UNet with random
  weights, bf16, baseline and ToDo alternating in one process. 2048 px needs a GPU in practice
  (65,536 tokens per full-resolution block), so that claim declares ``cuda``. The abstract's "up to 2x
  for common sizes and up to 4.5x or more for high resolutions like 2048x2048" is quoted for
  reference only (no arXiv version could be pinned here).
"""

from __future__ import annotations

from zoo.bench.diffusion_claims import kv_reduction, step_speedup
from zoo.bench.diffusion_official import todo_conformance
from zoo.repro import Claim, PaperSpec, Source, printed

COMMIT = "81928e4fe47b2be47a983dcfdc0586c3cb138e61"
REPO = "github.com/ethansmith2000/ImprovedTokenMerge"
APP = Source(f"{REPO} app.py@{COMMIT[:7]}",
             "generate_merged / generate_baseline: height_width 1024 -> downsample_factor 2, ToMe ratio 0.75; "
             "1536 -> 3, 0.89; 2048 -> 4, 0.9375", f"https://{REPO}/blob/{COMMIT}/app.py")
README = Source(f"{REPO} README.md@{COMMIT[:7]}",
                "'tangible speedups of ~1.5x at typical sizes like 768-1024 and up to 3x and beyond at 1536 to 2048 "
                "range, in combination with flash attention'", f"https://{REPO}/blob/{COMMIT}/README.md")
CODE = Source(f"{REPO} merge.py@{COMMIT[:7]}", "TokenMergeAttentionProcessor, compute_merge, up_or_downsample",
              f"https://{REPO}/blob/{COMMIT}/merge.py")

CLAIMS = [
    Claim(
        id=f"kv-removed-{size}px-f{f}", kind="analytic",
        description=f"Share of keys/values ToDo removes in the full-resolution blocks at {size} px, factor {f}",
        reported=reported, unit="fraction", tolerance=tol,
        setting={"model": "SD 1.5 UNet layout (the demo's DreamShaper checkpoint)", "img_size": size,
                 "downsample_factor": f, "matched ToMe ratio in the demo": reported,
                 "metric": "1 - (h // f) * (w // f) / (h * w) on the latent grid"},
        source=APP, measure=kv_reduction(f, size), method="todo", params={"downsample_factor": f},
    )
    for size, f, reported, tol in ((1024, 2, 0.75, 1e-9), (1536, 3, 0.89, printed(2)), (2048, 4, 0.9375, 1e-9))
]

CLAIMS += [
    Claim(
        id="equal-to-official-code", kind="conformance",
        description="Largest output difference between tokzoo's ToDo and the authors' code",
        reported=0.0, unit="max |difference|", tolerance=1e-6, direction="lower",
        setting={"harness": "zoo.bench.diffusion_official:todo_conformance", "model": "tiny SD 1.x-layout UNet (widths 320, 640, 960), random weights, float32, batch 2",
                 "options": "defaults (factor 2, nearest-exact) / level-2 factor 2 / late-step similarity merge of "
                            "the keys/values (random and fixed destinations)",
                 "official": f"{REPO}@{COMMIT[:7]} from --official PATH", "metric": "max |tokzoo - official|"},
        source=CODE,
        measure=todo_conformance([dict(), dict(downsample_factor=2, downsample_factor_level_2=2),
                                  dict(timestep_threshold_switch=0.9), dict(timestep_threshold_switch=0.9,
                                                                             use_rand=False)]),
        method="todo", params={"downsample_factor": 2},
        needs=("cpu", f"official:ethansmith2000/ImprovedTokenMerge@{COMMIT}"),
    ),
    Claim(
        id="speedup-1024px-f2", kind="throughput",
        description="Speed of SD 1.5 at 1024 px with ToDo (factor 2) relative to the original model",
        reported=1.5, unit="x", tolerance=0.25, direction="higher",
        setting={"model": "SD 1.5 UNet (exact architecture, random weights)", "img_size": 1024, "downsample_factor": 2,
                 "reported": "~1.5x at typical sizes like 768-1024 (GPU, flash attention)",
                 "measured": "one denoising step (UNet forward, CFG batch 2), bf16",
                 "metric": "time ratio original / ToDo"},
        source=README, measure=step_speedup("todo", {"downsample_factor": 2}, 1024, memory=False), method="todo",
        params={"downsample_factor": 2}, on_demand=True,
    ),
    Claim(
        id="speedup-2048px-f4", kind="throughput",
        description="Speed of SD 1.5 at 2048 px with ToDo (factor 4) relative to the original model",
        reported=3.0, unit="x", tolerance=0.5, direction="higher",
        setting={"model": "SD 1.5 UNet (exact architecture, random weights)", "img_size": 2048, "downsample_factor": 4,
                 "reported": "up to 3x and beyond at 1536 to 2048 (GPU, flash attention); factor 4 is the demo's "
                             "2048 px setting", "measured": "one denoising step (UNet forward, CFG batch 2), fp16",
                 "metric": "time ratio original / ToDo"},
        source=README, measure=step_speedup("todo", {"downsample_factor": 4}, 2048, dtype="fp16", memory=False),
        needs=("cuda",), method="todo", params={"downsample_factor": 4}, on_demand=True,
    ),
]

SPEC = PaperSpec(
    paper_id="todo",
    title="ToDo: Token Downsampling for Efficient Generation of High-Resolution Images",
    arxiv="2402.13573",
    method="todo",
    claims=CLAIMS,
    notes=__doc__,
)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
