"""Zero-TPrune (arXiv 2305.17328, CVPR 2024): zero-shot token pruning with the attention graph.

Run: ``tokzoo repro zero-tprune``.

The abstract states one DeiT-S operating point: without fine-tuning, FLOPs -34.7%,
throughput +45.3%, accuracy -0.4 points. The abstract gives that point by its FLOPs saving
only, so tokzoo picks the constant per-block pruning count ``r`` of the zoo's Zero-TPrune
whose fvcore-style MACs reduction (on the schedule the implementation actually runs, DeiT-S
depth and token count) is closest to 34.7%, and measures speed and accuracy there. The
chosen ``r`` and its MACs reduction are in every record.

Conformance to the authors' code: no official repository could be fetched here
(github.com/jha-lab/zero-tprune has no stored snapshot), so there is nothing to compare with.
"""

from __future__ import annotations

from zoo.repro import Claim, PaperSpec, Source
from zoo.repro.analytic import vit_operating_point
from zoo.repro.harness.vit import imagenet_top1, throughput

ABSTRACT = Source("arXiv:2305.17328v3", "Abstract", "https://arxiv.org/abs/2305.17328")
WEIGHTS = "timm/deit_small_patch16_224.fb_in1k"
TARGET = 0.347


def _point() -> dict:
    return vit_operating_point("deit-small", "zero-tprune", TARGET, range(4, 17))


def speed(ctx):
    point = _point()
    m = throughput(ctx, "deit-small", "zero-tprune", {"r": point["r"]}, batch=16, repeats=7)
    m.details["operating_point"] = point
    return m


def drop(ctx):
    point = _point()
    kept = point["schedule"][-1] - 1
    m = imagenet_top1(ctx, "deit-small", "zero-tprune", {"r": point["r"]}, weights=WEIGHTS, report="drop",
                      control_params={"layers": list(range(12)), "keep_ratio": kept / 196})
    m.details["operating_point"] = point
    return m


SETTING = {"model": "DeiT-S", "operating point": "FLOPs -34.7% (abstract); zoo r chosen by matching fvcore MACs",
           "fine-tuning": "none"}
CLAIMS = [
    Claim(id="speedup-deit-s-flops-34.7", kind="throughput",
          description="Throughput gain of DeiT-S with Zero-TPrune at the abstract's operating point",
          reported=1.453, unit="x", tolerance=0.15, direction="higher",
          setting={**SETTING, "model": "DeiT-S (exact architecture, random weights)",
                   "metric": "images/s ratio ('improves its throughput by 45.3%')"},
          source=ABSTRACT, measure=speed, method="zero-tprune"),
    Claim(id="top1-drop-deit-s-flops-34.7", kind="accuracy",
          description="ImageNet-1k top-1 drop of off-the-shelf DeiT-S with Zero-TPrune at the abstract's point",
          reported=0.4, unit="points", tolerance=0.2, direction="lower",
          setting={**SETTING, "weights": WEIGHTS, "benchmark": "ImageNet-1k val",
                   "metric": "top-1 (DeiT-S) - top-1 (Zero-TPrune), same run"},
          source=ABSTRACT, measure=drop, needs=("cpu", f"weights:{WEIGHTS}", "dataset:imagenet-val"),
          method="zero-tprune"),
]

SPEC = PaperSpec(paper_id="zero-tprune",
                 title="Zero-TPrune: Zero-Shot Token Pruning through Leveraging of the Attention Graph in Pre-Trained Transformers",
                 arxiv="2305.17328", method="zero-tprune", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
