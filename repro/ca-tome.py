"""CA-ToMe, Cached Adaptive Token Merging (arXiv 2501.00946).

Run: ``tokzoo repro ca-tome`` (or ``python repro/ca-tome.py``).

Paper notation -> zoo: the similarity threshold ``T`` (the official ``r`` argument) is
``threshold``; the caching configurations (the official ``CacheConf``: the steps that recompute the
matching) are ``cache_steps``; ``cache_steps=None`` is the README's "without caching" table.

- Conformance: tokzoo against the authors' ``ca-tome`` package (PyPI 0.1.3; it pins torch<2.2.2, so it
  is installed with ``--no-deps``) through their own pipeline call on a tiny StableDiffusionPipeline.
- Speed: the README's tables (SD v1.5, V100, 50 PLMS steps): time per image without caching for each
  threshold, and with caching at T = 0.7 for each configuration. The merged counts are adaptive: they
  depend on how similar the trained model's tokens are, so these claims need the real weights (random
  features are almost never similar enough to merge at T >= 0.4).
- The README's FIDs are not set up: it does not say on which prompts and reference images they were
  computed.
"""

from __future__ import annotations

from zoo.bench.diffusion_claims import ca_tome_conformance
from zoo.bench.diffusion_quality import pipeline_speedup
from zoo.repro import Claim, PaperSpec, Source

COMMIT = "ee10d38414d2602470c1ebf5f2a325f6e8fcff14"
REPO = "github.com/omidiu/ca_tome"
README_URL = f"https://{REPO}/blob/{COMMIT}/README.md"
NO_CACHE = Source(f"{REPO} README.md@{COMMIT[:7]}", "table 'Performance without Caching' (SD v1.5, V100, 50 PLMS)",
                  README_URL)
CACHE = Source(f"{REPO} README.md@{COMMIT[:7]}", "table 'Performance with Caching' (SD v1.5, V100, 50 PLMS)",
               README_URL)
CODE = Source(f"{REPO} src/ca_tome/merge.py@{COMMIT[:7]}", "bipartite_soft_matching_random2d (ca-tome 0.1.3 on PyPI)",
              f"https://{REPO}/blob/{COMMIT}/src/ca_tome/merge.py")
SD15_HUB = "stable-diffusion-v1-5/stable-diffusion-v1-5"
PROMPTS = ["A high quality photograph of a cat", "A high quality photograph of a lighthouse at dusk"]

CLAIMS = [
    Claim(
        id="equal-to-official-package", kind="conformance",
        description="Largest latent difference between tokzoo's CA-ToMe and the authors' package after 4 steps",
        reported=0.0, unit="max |difference|", tolerance=1e-6, direction="lower",
        setting={"harness": "zoo.bench.diffusion_claims:ca_tome_conformance", "model": "tiny StableDiffusionPipeline (random weights, float32), CFG, DDIM 4 steps",
                 "threshold": 0.3, "cache_steps": [0, 2],
                 "official": "ca_tome.apply_CA_ToMe(pipe, [0, 2], 0.3) then pipe.call(...)",
                 "metric": "max |tokzoo - official| of the final latents"},
        source=CODE, measure=ca_tome_conformance(0.3, [0, 2]), method="ca-tome",
        params={"threshold": 0.3, "cache_steps": (0, 2)},
        needs=("cpu", "package:ca-tome"),
    ),
]

BASE_NO_CACHE = 7.51
for t, seconds in ((0.9, 6.92), (0.8, 6.58), (0.7, 6.23), (0.6, 6.10), (0.5, 6.07), (0.4, 6.07)):
    params = {"threshold": t, "cache_steps": None}
    CLAIMS.append(Claim(
        id=f"speedup-t{int(t * 10)}-no-cache", kind="throughput",
        description=f"Speed of SD 1.5 with adaptive merging at T={t} (no caching) relative to the original model",
        reported=round(BASE_NO_CACHE / seconds, 2), unit="x", tolerance=0.1, direction="higher",
        setting={"model": f"SD 1.5 ({SD15_HUB})", "threshold": t, "caching": "none",
                 "reported_s_per_image": {"original": BASE_NO_CACHE, "ca-tome": seconds}, "paper_hardware": "V100",
                 "steps": 50, "metric": "time per image original / CA-ToMe (the README's 'x faster')"},
        source=NO_CACHE, measure=pipeline_speedup("ca-tome", params, weights=SD15_HUB, prompts=PROMPTS),
        needs=("cuda", f"weights:{SD15_HUB}"), method="ca-tome", params=params, on_demand=True,
    ))

BASE_CACHE = 7.61
CONFIGS = [((0, 1, 2, 3, 5, 10, 15, 25, 35), 6.18), ((0, 10, 11, 12, 15, 20, 25, 30, 35, 45), 6.13),
           ((0, 8, 11, 13, 20, 25, 30, 35, 45, 46, 47, 48, 49), 6.09), ((0, 9, 13, 14, 15, 28, 29, 32, 36, 45), 6.12),
           ((0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50), 6.14)]
for i, (steps, seconds) in enumerate(CONFIGS, start=1):
    params = {"threshold": 0.7, "cache_steps": steps}
    CLAIMS.append(Claim(
        id=f"speedup-t7-cache-{i}", kind="throughput",
        description=f"Speed of SD 1.5 with CA-ToMe (T=0.7, caching configuration {i}) relative to the original model",
        reported=round(BASE_CACHE / seconds, 2), unit="x", tolerance=0.1, direction="higher",
        setting={"model": f"SD 1.5 ({SD15_HUB})", "threshold": 0.7, "cache_steps": list(steps),
                 "reported_s_per_image": {"original": BASE_CACHE, "ca-tome": seconds}, "paper_hardware": "V100",
                 "steps": 50, "metric": "time per image original / CA-ToMe (the README's 'x faster')"},
        source=CACHE, measure=pipeline_speedup("ca-tome", params, weights=SD15_HUB, prompts=PROMPTS),
        needs=("cuda", f"weights:{SD15_HUB}"), method="ca-tome", params=params, on_demand=True,
    ))

SPEC = PaperSpec(
    paper_id="ca-tome",
    title="Cached Adaptive Token Merging: Dynamic Token Reduction and Redundant Computation Elimination in "
          "Diffusion Model",
    arxiv="2501.00946",
    method="ca-tome",
    claims=CLAIMS,
    notes=__doc__,
)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
