"""EViT, Not All Patches are What You Need (arXiv 2202.07800, ICLR 2022).

Run: ``tokzoo repro evit``.

Paper notation -> zoo: EViT's keep rate (fraction of patch tokens kept at each
reorganisation) is ``keep_rate``; its reorganisation blocks, the 4th, 7th and 10th of DeiT-S,
are the zoo's 0-based ``layers=(3, 6, 9)``; inattentive-token fusion is ``fuse=True``.

- Speed: the abstract's "+50% inference speed of DeiT-S" at keep rate 0.7 (the operating
  point whose accuracy drop is the abstract's 0.3 points: README, 79.5 vs DeiT-S 79.8),
  measured as a throughput ratio on the exact architecture with random weights.
- Accuracy: the README's EViT-DeiT-S checkpoints were trained with EViT; they are on Google
  Drive (not on a hub), so give the file: ``--weights evit-deit-s-0.7-fuse=/path/ckpt.pth``.
"""

from __future__ import annotations

from zoo.repro import Claim, PaperSpec, Source
from zoo.repro.harness.vit import imagenet_top1, throughput

ABSTRACT = Source("arXiv:2202.07800v2", "Abstract", "https://arxiv.org/abs/2202.07800")
README = Source(
    "github.com/youweiliang/evit README.md@0999f09",
    "section 'Model Zoo', row 'Token fusion ✓, keep rate 0.7'",
    "https://github.com/youweiliang/evit/blob/0999f090edbcb6dea095546b5faeb2750beaf88b/README.md",
)
PARAMS = {"keep_rate": 0.7, "layers": [3, 6, 9], "fuse": True}
CONTROL = {"layers": [3, 6, 9], "keep_ratio": 0.7 ** 3}

CLAIMS = [
    Claim(
        id="speedup-deit-s-keep0.7", kind="throughput",
        description="Inference speed of DeiT-S with EViT (keep rate 0.7) relative to DeiT-S",
        reported=1.5, unit="x", tolerance=0.15, direction="higher",
        setting={"model": "DeiT-S (exact architecture, random weights)", "keep rate": 0.7,
                 "layers": "4th, 7th, 10th block", "metric": "images/s ratio ('increased by 50%')",
                 "note": "the abstract names DeiT-S but not the keep rate; 0.7 is the README's row with the 0.3-point drop"},
        source=ABSTRACT, measure=lambda ctx: throughput(ctx, "deit-small", "evit", PARAMS, batch=16, repeats=7),
        method="evit", params=PARAMS,
    ),
    Claim(
        id="top1-deit-s-keep0.7-fuse", kind="accuracy",
        description="ImageNet-1k top-1 of the EViT-trained DeiT-S at keep rate 0.7 with token fusion",
        reported=79.5, unit="%", tolerance=0.2, direction="higher",
        setting={"model": "EViT/0.7-DeiT-S checkpoint from the README (trained with EViT)", "keep rate": 0.7,
                 "fuse": True, "benchmark": "ImageNet-1k val", "metric": "top-1"},
        source=README,
        measure=lambda ctx: imagenet_top1(ctx, "deit-small", "evit", PARAMS, control_params=CONTROL,
                                          weights="evit-deit-s-0.7-fuse"),
        needs=("cpu", "weights:evit-deit-s-0.7-fuse", "dataset:imagenet-val"), method="evit", params=PARAMS,
    ),
]

SPEC = PaperSpec(
    paper_id="evit",
    title="Not All Patches are What You Need: Expediting Vision Transformers via Token Reorganizations",
    arxiv="2202.07800", method="evit", claims=CLAIMS, notes=__doc__,
)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
