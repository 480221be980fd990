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
``tests/test_video_algorithms.py``).

v2 (arXiv:2407.15841v2, 15 Sep 2024, read from a text extraction of its PDF in the library's GitHub
file index, file id 60792765399) prints the totals: Section 4.2 "10×12×24+50×4×4 = 3680 visual
tokens" and the context of 8192 tokens (RoPE scaling factor 2 on Vicuna's 4096), Section 4.3 4608
tokens for LLaVA-NeXT-Image (32 frames of 12 x 12), Section 4.4 3200 tokens (200 fast frames of
4 x 4, no slow pathway) against 3104 (8 slow frames of 12 x 24 + 50 fast frames), and the abstract's
"12 × 24 tokens" per slow frame. Each is the layout arithmetic of the zoo's ``token_count`` rule on
the LLaVA-NeXT grid (24 x 24 per frame), computed here in plain Python (the implementation's own
count is a torch-side cross-check in the records).

Not claimed: benchmark scores. The README's teaser figure gives them without the model size, and the
official method runs on an image LLM (LLaVA-NeXT) with frames as images, while tokzoo applies the
layout to video LLMs: its scores are not comparable.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source
from zoo.repro.analytic import implementation_check
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

V2 = "https://arxiv.org/abs/2407.15841v2"
V2_COPY = "text extraction of the v2 PDF in the library's GitHub file index, file id 60792765399"
SLOW_CELLS = {"concat": lambda h, w: h * w, "spatial_1d_max_pool": lambda h, w: (h * w) // 2,
              "spatial_2d_max_pool": lambda h, w: (h // 2) * (w // 2)}


def layout_tokens(n_frames: int, n_slow: int, slow_pool: str, fast: tuple[int, int]) -> int:
    """Tokens of a slow/fast layout on the config's frame grid: n_slow pooled slow frames + every frame at ``fast``."""
    side = _grid()
    return min(n_slow, n_frames) * SLOW_CELLS[slow_pool](side, side) + n_frames * fast[0] * fast[1]


def _layout(n_frames: int, n_slow: int, slow_pool: str, fast: tuple[int, int]):
    def measure(ctx) -> Measurement:
        def implementation() -> int:
            from zoo.papers.slowfast_llava import token_count

            side = _grid()
            return token_count(n_frames, side, side, n_slow=n_slow, slow_pool=slow_pool, fast_size=fast)

        return Measurement(layout_tokens(n_frames, n_slow, slow_pool, fast), details={
            "frames": n_frames, "n_slow": n_slow, "slow_pool": slow_pool, "fast_size": list(fast), "grid": _grid(),
            "implementation_token_count": implementation_check(implementation), "copy": V2_COPY},
            params={"n_slow": n_slow, "slow_pool": slow_pool, "fast_size": fast})
    return measure


def _context(ctx) -> Measurement:
    base = load_config(CONFIG)["text_config"]["max_position_embeddings"]
    return Measurement(2 * base, details={"max_position_embeddings": base, "rope_scaling_factor": 2, "copy": V2_COPY})


for cid, value, where, description, layout in (
        ("total-tokens-default", 3680, "Section 4.2 ('10×12×24+50×4×4 = 3680 visual tokens')",
         "Visual tokens of the default layout (50 frames, 10 slow 1-D pooled, 4x4 fast)", (50, 10, "spatial_1d_max_pool", (4, 4))),
        ("slow-frame-tokens-v2", 288, "Abstract ('e.g., with 12 × 24 tokens')",
         "Tokens of one slow-pathway frame after the 1x2 pooling (12 x 24)", (1, 1, "spatial_1d_max_pool", (0, 0))),
        ("llava-next-image-tokens", 4608, "Section 4.3 ('32 frames with 12 × 12 tokens', '4608 tokens')",
         "Tokens of LLaVA-NeXT-Image's video input (32 frames of 12 x 12)", (32, 32, "spatial_2d_max_pool", (0, 0))),
        ("fast-only-200-frames", 3200, "Section 4.4 ('Nfast = 200', '3200 v.s. 3104')",
         "Tokens of the fast-only baseline with 200 frames of 4 x 4", (200, 0, "spatial_1d_max_pool", (4, 4))),
        ("slow8-fast50", 3104, "Section 4.4 ('Nslow = 8 and Nfast = 50', '3200 v.s. 3104')",
         "Tokens of 8 slow frames (12 x 24) and 50 fast frames (4 x 4)", (50, 8, "spatial_1d_max_pool", (4, 4)))):
    n_frames, n_slow, pool, fast = layout
    CLAIMS.append(Claim(
        id=cid, kind="analytic", description=description, reported=value, unit="tokens", tolerance=0,
        setting={"model": "LLaVA-NeXT-7B (24 x 24 tokens per 336-px frame)", "frames": n_frames, "slow frames": n_slow,
                 "slow pooling": pool, "fast grid": f"{fast[0]}x{fast[1]}", "metric": "visual tokens fed to the LLM",
                 "copy": V2_COPY},
        source=Source("arXiv:2407.15841v2", where, V2), measure=_layout(n_frames, n_slow, pool, fast),
        # the baselines' layouts (no slow pathway; LLaVA-NeXT-Image's 12 x 12 frames) are not SlowFast-LLaVA settings
        **({} if cid in ("fast-only-200-frames", "llava-next-image-tokens") else
           {"method": "slowfast-llava", "params": {"n_slow": n_slow, "slow_pool": pool, "fast_size": fast}})))
CLAIMS.append(Claim(
    id="context-length", kind="analytic", description="Context length with RoPE scaling factor 2 on Vicuna-v1.5",
    reported=8192, unit="tokens", tolerance=0,
    setting={"model": "LLaVA-NeXT-7B (Vicuna-7B v1.5, max_position_embeddings 4096)", "rope scaling": 2,
             "metric": "max_position_embeddings x scaling factor", "copy": V2_COPY},
    source=Source("arXiv:2407.15841v2", "Section 4.2 ('the scaling factor of 2, which doubles the context length to 8192 "
                  "tokens')", V2), measure=_context))

SPEC = PaperSpec(paper_id="slowfast-llava",
                 title="SlowFast-LLaVA: A Strong Training-Free Baseline for Video Large Language Models",
                 arxiv="2407.15841", method="slowfast-llava", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
