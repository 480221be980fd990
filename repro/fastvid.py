"""FastVID (arXiv 2503.11187): dynamic segments + density spatio-temporal pruning before the LLM.

Run: ``tokzoo repro fastvid``.

Sources: the abstract (arXiv v2) and the official README (commit a40a109) print the same headline
numbers for LLaVA-OneVision-7B at the default setting (retention ratio 0.10, 32 frames of 196
tokens): 90.3% of the video tokens pruned, FLOPs reduced to 8.3%, prefill 7.1x faster, 98.0%
of the accuracy kept; the official log prints Video-MME 57.3.

Counting: each frame keeps ``int(196 * 0.10) = 19`` tokens (12 salient + 7 context), i.e.
608 of 6,272 (90.31% pruned); segment rounding can lose a few context tokens, so the kept count
is at most 608 (each record's details give the implementation's count on a random video with the
LLaVA-OV layout). FLOPs: FastV's Eq. 5 prefill count (``"fastv"``); the printed 8.3% needs 22-29
non-visual tokens with 608 visual tokens (the record gives the range).
"""

from __future__ import annotations

from zoo.flops import flops_ratio, full_schedule
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder, implementation_check, reproducing_range

README = Source("github.com/LunarShen/FastVID README.md@a40a109", "first paragraph (LLaVA-OneVision-7B headline)",
                "https://github.com/LunarShen/FastVID/blob/a40a109cb8df20e8c2c17c6850f8269717369990/README.md")
LOG = Source("github.com/LunarShen/FastVID fastvid_llavaonevision/scripts/llava_onevision.log@a40a109",
             "final lmms-eval table, videomme_perception_score",
             "https://github.com/LunarShen/FastVID/blob/a40a109cb8df20e8c2c17c6850f8269717369990/"
             "fastvid_llavaonevision/scripts/llava_onevision.log")
CONFIG, FRAMES, PER_FRAME, OTHER = "llava-onevision-7b", 32, 196, 0
PARAMS = {"keep_ratio": 0.10}


def _implementation_count() -> int:
    """Tokens the implementation keeps on a random 32 x 196 video (with two scene cuts)."""
    import torch

    from zoo.papers.fastvid import fastvid

    g = torch.Generator().manual_seed(0)
    frames = torch.randn(1, PER_FRAME, 16, generator=g) + 0.5 * torch.randn(FRAMES, PER_FRAME, 16, generator=g)
    frames[11:] += torch.randn(1, PER_FRAME, 16, generator=g)
    frames[22:] += torch.randn(1, PER_FRAME, 16, generator=g)
    sal = torch.rand(FRAMES, PER_FRAME, generator=g)
    return len(fastvid(frames, sal, frames.mean(1), keep_ratio=0.10))


def _pruned(ctx) -> Measurement:
    from zoo.papers.video_budgets import fastvid_budget as budget

    salient, context = budget(PER_FRAME, 0.10, 0.4)
    kept = FRAMES * (salient + context)
    return Measurement(100 * (1 - kept / (FRAMES * PER_FRAME)), params=PARAMS,
                       details={"kept_tokens_budget": kept, "salient_per_frame": salient, "context_per_frame": context,
                                "implementation_kept_on_random_video": implementation_check(_implementation_count)})


def _flops(ctx) -> Measurement:
    from zoo.papers.video_budgets import fastvid_budget as budget

    cfg = decoder(CONFIG)
    kept = FRAMES * sum(budget(PER_FRAME, 0.10, 0.4))

    def ratio(n_other: int) -> float:
        return 100 * flops_ratio(full_schedule(cfg.num_layers, kept, n_other),
                                 full_schedule(cfg.num_layers, FRAMES * PER_FRAME, n_other), cfg, "fastv")

    claim = ctx.claim
    return Measurement(ratio(OTHER), params=PARAMS, details={
        "convention": "fastv (Eq. 5, prefill)", "visual_tokens": [FRAMES * PER_FRAME, kept], "non_visual_tokens": OTHER,
        "non_visual_tokens_reproducing": reproducing_range(lambda n: abs(ratio(n) - claim.reported) <= claim.tolerance,
                                                           range(0, 513))})


HUB = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
CLAIMS = [
    Claim(id="pruned-video-tokens-ov7b", kind="analytic", description="Share of LLaVA-OV-7B's video tokens FastVID prunes",
          reported=90.3, unit="%", tolerance=printed(1),
          setting={"model": "LLaVA-OneVision-7B", "video": "32 frames x 196 tokens", "retention_ratio": 0.10,
                   "metric": "1 - kept / 6272 visual tokens"},
          source=README, measure=_pruned, method="fastvid", params=PARAMS),
    Claim(id="flops-ov7b", kind="analytic", description="LLM FLOPs of LLaVA-OV-7B with FastVID relative to the baseline",
          reported=8.3, unit="%", tolerance=printed(1),
          setting={"model": "LLaVA-OneVision-7B (Qwen2-7B)", "video": "32 frames x 196 tokens", "retention_ratio": 0.10,
                   "metric": "FLOPs(FastVID) / FLOPs(baseline), FastV Eq. 5 prefill, visual tokens only"},
          source=README, measure=_flops, method="fastvid", params=PARAMS,
          known_deviation="measured on the visual tokens alone (7.99%); the printed 8.3% needs 22-29 non-visual tokens, "
                          "which the paper does not state (the record gives the reproducing range)"),
    Claim(id="videomme-ov7b", kind="accuracy", description="Video-MME (w/o subtitles) of LLaVA-OV-7B with FastVID r=0.10",
          reported=57.3, unit="%", tolerance=1.5, direction="higher",
          setting={"model": "LLaVA-OneVision-7B (HF port; the log used the original LLaVA-NeXT code and a SigLIP "
                            "attention-pooling head for the salience)", "frames": 32, "retention_ratio": 0.10,
                   "harness": "lmms-eval", "task": "videomme"},
          source=LOG, measure=lambda ctx: __import__("zoo.repro.harness.video", fromlist=["x"]).video_score(
              ctx, HUB, "videomme", "videomme_perception_score", "fastvid", PARAMS, wrapper="llava_hf",
              control_params={"keep_ratio": 0.097}),
          needs=("cuda", f"weights:{HUB}", "dataset:lmms-lab/Video-MME"), method="fastvid", params=PARAMS),
]

SPEC = PaperSpec(paper_id="fastvid", title="FastVID: Dynamic Density Pruning for Fast Video Large Language Models",
                 arxiv="2503.11187", method="fastvid", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
