"""VidCom2 (arXiv 2505.14454): frame-adaptive token compression before the LLM.

Run: ``tokzoo repro vidcom2``.

Sources: the official README (commit 944a17d) highlights "uses only 25% of tokens while
maintaining 99.6% performance of LLaVA-OV", and its efficiency table (``images/efficiency.jpg``)
gives MVBench 57.2 for LLaVA-OV-7B at a 25% retention ratio.

The retention claim is measured on tokzoo's implementation: frame budgets ``round(s_t * N)``
with ``s_t = base (1 + p_t - mean p)`` average ``base`` (before rounding and the clamp at 1), so
the kept share of a 32 x 196 LLaVA-OV video is 25% up to rounding; the record gives the
per-frame counts on random features.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source, printed

COMMIT = "944a17d14f4848ad080a65eab2b0711a760fa154"
README = Source("github.com/xuyang-liu16/VidCom2 README.md@944a17d", "section 'Highlights', 'Strong Performance'",
                f"https://github.com/xuyang-liu16/VidCom2/blob/{COMMIT}/README.md")
TABLE = Source("github.com/xuyang-liu16/VidCom2 images/efficiency.jpg@944a17d",
               "Table 3 (efficiency on LLaVA-OV-7B), row 'VidCom2', retention ratio 25%",
               f"https://github.com/xuyang-liu16/VidCom2/blob/{COMMIT}/images/efficiency.jpg")


def _retained(ctx) -> Measurement:
    import torch

    from zoo.papers.vidcom2 import vidcom2

    g = torch.Generator().manual_seed(0)
    frames = torch.randn(32, 196, 64, generator=g) + 0.7 * torch.randn(32, 1, 64, generator=g)
    out = vidcom2(frames, 0.25)
    per_frame = torch.bincount(out.index // 196, minlength=32).tolist()
    return Measurement(100 * len(out) / (32 * 196), params={"keep_ratio": 0.25}, label="random features",
                       details={"kept_tokens": len(out), "per_frame": per_frame})


HUB = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
CLAIMS = [
    Claim(id="retained-tokens-25", kind="analytic", description="Share of LLaVA-OV's video tokens VidCom2 keeps at base 0.25",
          reported=25, unit="%", tolerance=printed(0),
          setting={"model": "LLaVA-OV layout", "video": "32 frames x 196 tokens (random features)", "base_scale": 0.25,
                   "metric": "kept video tokens / 6272"},
          source=README, measure=_retained, method="vidcom2", params={"keep_ratio": 0.25},
          needs=("cpu", "package:torch")),
    Claim(id="mvbench-ov7b-25", kind="accuracy", description="MVBench of LLaVA-OV-7B with VidCom2 at 25% retention",
          reported=57.2, unit="%", tolerance=1.5, direction="higher",
          setting={"model": "LLaVA-OV-7B (HF port)", "frames": 32, "base_scale": 0.25, "harness": "lmms-eval",
                   "task": "mvbench"},
          source=TABLE, measure=lambda ctx: __import__("zoo.repro.harness.video", fromlist=["x"]).video_score(
              ctx, HUB, "mvbench", "mvbench_accuracy", "vidcom2", {"keep_ratio": 0.25}, wrapper="llava_hf",
              control_params={"keep_ratio": 0.25}),
          needs=("cuda", f"weights:{HUB}", "dataset:OpenGVLab/MVBench"), method="vidcom2", params={"keep_ratio": 0.25}),
]

SPEC = PaperSpec(paper_id="vidcom2",
                 title="Video Compression Commander: Plug-and-Play Inference Acceleration for Video Large Language Models",
                 arxiv="2505.14454", method="vidcom2", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
