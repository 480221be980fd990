"""SlowFast-LLaVA (arXiv 2407.15841): a fixed slow/fast two-pathway token layout for video.

Run: ``tokzoo repro slowfast-llava``.

Claims: the two token-layout figures of the v1 abstract (arXiv:2407.15841v1): the Slow pathway
keeps "as many spatial details as possible (e.g., with 24x24 tokens)" and the Fast pathway uses
"a larger spatial pooling stride (e.g., downsampling 6x)". The stored arXiv HTML copy of v1 lost
these two numbers (math mode); they were read from the abstract as copied by
https://hyper.ai/en/papers/2407.15841 (later versions print "12x24 tokens": the 1-D pooled slow
frames; no version number of that copy was available, so it is not claimed). Both follow from the
model's configs: LLaVA-NeXT-7B (the official config's ``MODEL_PATH``, liuhaotian/llava-v1.6-vicuna-7b)
sees a frame as one 336-px image of (336 / 14)² = 24 x 24 tokens, and the official fast pathway
pools every frame to 4 x 4 (``TEMPORAL_AGGREGATION: slowfast-slow_10frms_spatial_1d_max_pool-fast_4x4``
in ``cfgs/slowfast_llava_7b-resize-slow_10frms_spatial_1d_max_pool_fast_4x4-50_frms.yaml`` at
apple/ml-slowfast-llava bea0f73), a stride of 24 / 4 = 6 per side. That layout gives
10 x 288 + 50 x 16 = 3,680 tokens (``zoo.papers.slowfast_llava.token_count``, tested in
``tests/test_video_algorithms.py``); the paper's own statement of a total was not available offline.

Not claimed: benchmark scores. The README's teaser figure gives them without the model size, and the
official method runs on an image LLM (LLaVA-NeXT) with frames as images, while tokzoo applies the
layout to video LLMs: its scores are not comparable.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source
from zoo.repro.loader import load_config

ABSTRACT = Source("arXiv:2407.15841v1", "Abstract ('e.g., with 24x24 tokens', 'e.g., downsampling 6x'; text read from the "
                  "copy at hyper.ai/en/papers/2407.15841)", "https://arxiv.org/abs/2407.15841v1")
CONFIG = "llava-next-7b"
FAST_SIZE = (4, 4)  # official cfg: fast_4x4
PARAMS = {"n_slow": 10, "slow_pool": "spatial_1d_max_pool", "fast_size": FAST_SIZE}


def _grid() -> int:
    vision = load_config(CONFIG)["vision_config"]
    return vision["image_size"] // vision["patch_size"]


def slow_tokens(ctx) -> Measurement:
    side = _grid()
    return Measurement(side * side, params=PARAMS, details={"grid": [side, side], "config": CONFIG,
                                                            "after_1d_max_pool": side * side // 2})


def fast_stride(ctx) -> Measurement:
    side = _grid()
    return Measurement(side / FAST_SIZE[0], params=PARAMS, details={"grid": side, "fast_size": list(FAST_SIZE)})


CLAIMS = [
    Claim(id="slow-frame-tokens", kind="analytic",
          description="Tokens of one full-detail frame (the v1 abstract's '24x24 tokens') on LLaVA-NeXT-7B",
          reported=576, unit="tokens", tolerance=0,
          setting={"model": "LLaVA-NeXT-7B (CLIP ViT-L/14 at 336 px), a frame as one image", "printed": "24x24",
                   "metric": "(image_size / patch_size)^2 tokens per frame"},
          source=ABSTRACT, measure=slow_tokens, method="slowfast-llava", params=PARAMS),
    Claim(id="fast-downsampling", kind="analytic",
          description="Spatial downsampling of the Fast pathway (the v1 abstract's 'downsampling 6x')",
          reported=6, unit="x", tolerance=0,
          setting={"model": "LLaVA-NeXT-7B (24 x 24 tokens per frame)", "fast pathway": "4 x 4 tokens per frame (official cfg)",
                   "metric": "frame grid side / fast output side"},
          source=ABSTRACT, measure=fast_stride, method="slowfast-llava", params=PARAMS),
]

SPEC = PaperSpec(paper_id="slowfast-llava",
                 title="SlowFast-LLaVA: A Strong Training-Free Baseline for Video Large Language Models",
                 arxiv="2407.15841", method="slowfast-llava", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
