"""SlowFast-LLaVA (arXiv 2407.15841): a fixed slow/fast two-pathway token layout for video.

Run: ``tokzoo repro slowfast-llava``.

No claim: no precisely sourced number could be computed or checked here. The official README
(apple/ml-slowfast-llava at commit bea0f73) prints no token count or cost; its configuration
``cfgs/slowfast_llava_7b-resize-slow_10frms_spatial_1d_max_pool_fast_4x4-50_frms.yaml`` sets the
layout (50 frames of 24 x 24 LLaVA-NeXT tokens; slow pathway 10 frames, horizontal 1-D max pooling;
fast pathway 4 x 4 per frame), which gives 10 x 288 + 50 x 16 = 3,680 tokens
(``zoo.papers.slowfast_llava.token_count``, tested in ``tests/test_video_algorithms.py``), but the
paper's own statement of that number was not available offline. The README's teaser figure gives
benchmark scores without the model size, and the official method runs on an image LLM
(LLaVA-NeXT) with frames as images, while tokzoo applies the layout to video LLMs: its scores are
not comparable and are not claimed.
"""

from __future__ import annotations

from zoo.repro import PaperSpec

SPEC = PaperSpec(paper_id="slowfast-llava",
                 title="SlowFast-LLaVA: A Strong Training-Free Baseline for Video Large Language Models",
                 arxiv="2407.15841", method="slowfast-llava", claims=[], notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
