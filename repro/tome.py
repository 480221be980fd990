"""ToMe, Token Merging: Your ViT but Faster (arXiv 2210.09461).

Run: ``tokzoo repro tome`` (or ``python repro/tome.py``).

Claims come from the official README's tables of timm models used off the shelf on
ImageNet-1k val (V100). Paper notation -> zoo: ToMe's ``r`` (tokens merged per block) is
the zoo's ``r``; ToMe's proportional attention is ``prop_attn=True`` (the default).

- Accuracy: the model's own top-1 and ToMe's, measured in the same run on the same images,
  with the random-pruning control at the same final token count next to them
  (``--data-dir imagenet-val=/path/to/val``; timm downloads the AugReg weights).
- Throughput: the README's im/s ratio (ToMe / original) against ours, measured on a randomly
  initialised model of the exact architecture (speed does not depend on weight values), CPU
  or GPU, baseline and ToMe alternating in the same process. Only the ratio is compared.
- Conformance: tokzoo's ToMe against the official ``tome.patch.timm`` (facebookresearch/ToMe
  at af95e4b) on the same random ViT-S/16 in float64: logits and token sources
  (``--kind conformance --official PATH``).

No analytic claim: the README's tables give accuracy and im/s, no FLOPs; the GFLOPs of the
paper's tables (arXiv:2210.09461, per model and r) were not readable from a stored copy here
(the arXiv HTML copy is reachable only from its beginning; no extraction of its tables was
found). ``zoo.flops.vit.tome_counts`` with ``vit_macs`` computes them when the cells are at hand.
"""

from __future__ import annotations

from zoo.repro import Claim, PaperSpec, Source
from zoo.repro.conformance import Official, conformance_claim
from zoo.repro.harness.vit import imagenet_top1, throughput

README = Source(
    "github.com/facebookresearch/ToMe README.md@049a705",
    "section 'Using timm models', table of off-the-shelf results on ImageNet-1k val (V100)",
    "https://github.com/facebookresearch/ToMe/blob/049a70550eb6fb8a4b7ddd45b7fa4fe8bebe97ca/README.md",
)

# README rows: config, timm weights id, r, original acc, original im/s, ToMe acc, ToMe im/s, depth, patches
ROWS = [
    ("vit-small-16", "timm/vit_small_patch16_224.augreg_in21k_ft_in1k", 13, 81.41, 953, 79.30, 1564, 12, 196, False),
    ("vit-base-16", "timm/vit_base_patch16_224.augreg_in21k_ft_in1k", 13, 84.57, 309, 82.60, 511, 12, 196, True),
    ("vit-large-16", "timm/vit_large_patch16_224.augreg_in21k_ft_in1k", 7, 85.82, 95, 84.26, 167, 24, 196, True),
    ("vit-large-16-384", "timm/vit_large_patch16_384.augreg_in21k_ft_in1k", 23, 86.92, 28, 86.14, 56, 24, 576, True),
]


def _names(cfg: str) -> str:
    return {"vit-small-16": "ViT-S/16", "vit-base-16": "ViT-B/16", "vit-large-16": "ViT-L/16",
            "vit-large-16-384": "ViT-L/16 @ 384"}[cfg]


def _throughput(cfg: str, r: int):
    return lambda ctx: throughput(ctx, cfg, "tome", {"r": r}, batch=16 if "large" not in cfg else 4, repeats=7)


def _accuracy(cfg: str, weights: str, r: int, depth: int, patches: int):
    kept = patches - r * depth  # ToMe merges r tokens in every block (never more than half: not binding here)
    control = {"layers": list(range(depth)), "keep_ratio": kept / patches}
    return lambda ctx: imagenet_top1(ctx, cfg, "tome", {"r": r}, control_params=control, weights=weights)


CLAIMS = []
for cfg, weights, r, acc0, ips0, acc, ips, depth, patches, heavy in ROWS:
    name = _names(cfg)
    CLAIMS.append(Claim(
        id=f"top1-{cfg}-r{r}", kind="accuracy",
        description=f"ImageNet-1k top-1 of off-the-shelf timm {name} with ToMe r={r}",
        reported=acc, unit="%", tolerance=0.3, direction="higher",
        setting={"model": f"timm {name} ({weights})", "r": r, "benchmark": "ImageNet-1k val (50k images)",
                 "metric": "top-1 accuracy", "original_top1": acc0, "no training": True},
        source=README, measure=_accuracy(cfg, weights, r, depth, patches),
        needs=("cpu", f"weights:{weights}", "dataset:imagenet-val"), method="tome", params={"r": r},
    ))
    CLAIMS.append(Claim(
        id=f"speedup-{cfg}-r{r}", kind="throughput",
        description=f"Throughput of {name} with ToMe r={r} relative to the original model",
        reported=round(ips / ips0, 3), unit="x", tolerance=0.25, direction="higher",
        setting={"model": f"{name} (exact architecture, random weights)", "r": r,
                 "reported_im_per_s": {"original": ips0, "tome": ips}, "paper_hardware": "V100",
                 "metric": "ratio of images per second; the README's ratio is computed from its two columns"},
        source=README, measure=_throughput(cfg, r), method="tome", params={"r": r}, on_demand=heavy,
    ))

TOME_CODE = Official("facebookresearch/ToMe", "af95e4b")
CLAIMS.append(conformance_claim(
    "conformance-vit-small-16-r13-float64", method="tome", params={"r": 13}, official=TOME_CODE,
    path="tome/patch/timm.py", where="apply_patch (tome.patch.timm), model.r = 13, trace_source=True",
    compare="zoo.repro.harness.conformance_vit:tome", dtype="float64",
    description="tokzoo's ToMe vs the official tome.patch.timm on the same random ViT-S/16 (float64)",
    setting={"model": "ViT-S/16 (timm, random weights)", "r": 13, "prop_attn": True, "images": "2 x randn",
             "compared": "logits; token sources after the last block"}))

SPEC = PaperSpec(
    paper_id="tome",
    title="Token Merging: Your ViT But Faster",
    arxiv="2210.09461",
    method="tome",
    claims=CLAIMS,
    notes=__doc__,
)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
