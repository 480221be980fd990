"""PPT: Token Pruning and Pooling for Efficient Vision Transformers (arXiv 2310.01812).

Run: ``tokzoo repro ppt``.

Setting of every claim: the README's off-the-shelf evaluation of DeiT-S
(``--r_tokens 50 --pp_loc_list 3 6 9 --threshold 7e-5``), which is the zoo's
``r=50, layers=(3, 6, 9), threshold=7e-5``.

- MACs: the README prints ``macs:2.944411999GFLOPs`` (torchprofile). tokzoo counts
  fvcore-style MACs (matmuls, patch embedding, head) on the token schedule the zoo's PPT
  actually runs (recorded on a narrow DeiT-S-depth model; the schedule does not depend on
  the width). torchprofile also counts elementwise and normalisation ops and PPT's own
  scoring/matching work, so the 10-digit value cannot match an fvcore-style count: the
  claim is kept with that deviation explained.
- Accuracy: ``Acc@1 79.498`` from the same command, DeiT-S weights
  ``deit_small_patch16_224-cd65a155.pth`` (timm ``deit_small_patch16_224.fb_in1k``).
- Throughput: the abstract's ">45% throughput" for DeiT-S, on random weights.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import vit_implementation_schedule, vit_macs
from zoo.repro.harness.vit import imagenet_top1, throughput

README = Source(
    "github.com/xjwu1024/PPT README.md@536361f",
    "section 'Evaluation': expected output of the DeiT-small command",
    "https://github.com/xjwu1024/PPT/blob/536361f4f19862657e08fcacc263a4b07b9f75e0/README.md",
)
ABSTRACT = Source("arXiv:2310.01812v3", "Abstract", "https://arxiv.org/abs/2310.01812")
PARAMS = {"r": 50, "layers": [3, 6, 9], "threshold": 7e-5}
WEIGHTS = "timm/deit_small_patch16_224.fb_in1k"


def macs(ctx) -> Measurement:
    sched = vit_implementation_schedule("deit-small", "ppt", PARAMS)
    value = vit_macs("deit-small", sched["after_block"]) / 1e9
    return Measurement(value, details={"convention": "fvcore-style MACs (zoo.flops.vit)",
                                       "tokens_after_block": sched["after_block"], "input_tokens": sched["input"],
                                       "baseline_gmacs": vit_macs("deit-small") / 1e9}, params=PARAMS)


CLAIMS = [
    Claim(
        id="gmacs-deit-s-r50", kind="analytic",
        description="MACs of DeiT-S with PPT (r=50 at blocks 3, 6, 9), off the shelf",
        reported=2.944411999, unit="GMACs", tolerance=printed(9),
        setting={"model": "DeiT-S", "r_tokens": 50, "pp_loc_list": [3, 6, 9], "threshold": 7e-5,
                 "metric": "MACs printed by the README's evaluation command (torchprofile)"},
        source=README, measure=macs, method="ppt", params=PARAMS,
        known_deviation=("convention: the README's number is torchprofile's count, which also counts elementwise, "
                         "normalisation and PPT's own scoring/matching ops; tokzoo's fvcore-style count of the same "
                         "schedule counts matmuls, patch embedding and head only"),
    ),
    Claim(
        id="top1-deit-s-r50", kind="accuracy",
        description="ImageNet-1k top-1 of off-the-shelf DeiT-S with PPT (r=50 at blocks 3, 6, 9)",
        reported=79.498, unit="%", tolerance=0.2, direction="higher",
        setting={"model": "DeiT-S (deit_small_patch16_224-cd65a155.pth)", "r_tokens": 50, "pp_loc_list": [3, 6, 9],
                 "threshold": 7e-5, "benchmark": "ImageNet-1k val", "metric": "Acc@1", "no training": True},
        source=README,
        measure=lambda ctx: imagenet_top1(ctx, "deit-small", "ppt", PARAMS, weights=WEIGHTS,
                                          control_params={"layers": [3, 6, 9], "keep_ratio": 48 / 196}),
        needs=("cpu", f"weights:{WEIGHTS}", "dataset:imagenet-val"), method="ppt", params=PARAMS,
    ),
    Claim(
        id="speedup-deit-s-r50", kind="throughput",
        description="Throughput of DeiT-S with PPT relative to DeiT-S ('improves the throughput by over 45%')",
        reported=1.45, unit="x", tolerance=0.0, direction="higher",
        setting={"model": "DeiT-S (exact architecture, random weights)", "r_tokens": 50, "pp_loc_list": [3, 6, 9],
                 "metric": "images/s ratio; the abstract's 'over 45%' is a lower bound",
                 "note": "the abstract does not give the configuration; the README's evaluation command is used"},
        source=ABSTRACT, measure=lambda ctx: throughput(ctx, "deit-small", "ppt", PARAMS, batch=16, repeats=7),
        method="ppt", params=PARAMS,
    ),
]

SPEC = PaperSpec(paper_id="ppt", title="PPT: Token Pruning and Pooling for Efficient Vision Transformers",
                 arxiv="2310.01812", method="ppt", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
