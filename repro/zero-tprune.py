"""Zero-TPrune (arXiv 2305.17328, CVPR 2024): zero-shot token pruning with the attention graph.

Run: ``tokzoo repro zero-tprune``.

The abstract states one DeiT-S operating point: without fine-tuning, FLOPs -34.7%,
throughput +45.3%, accuracy -0.4 points. The abstract gives that point by its FLOPs saving
only, so tokzoo picks the constant per-block pruning count ``r`` of the zoo's Zero-TPrune
whose fvcore-style MACs reduction (on the schedule the implementation actually runs, DeiT-S
depth and token count) is closest to 34.7%, and measures speed and accuracy there. The
chosen ``r`` and its MACs reduction are in every record.

Analytic: Figure 7 (fine-tuning-free methods on DeiT-S; image in a third-party copy,
``FIGURE7_COPY``) labels the unpruned model "Original Model @ 4.55 GFLOPS". No whole-model count
of DeiT-S gives 4.55: fvcore with norms (ToMe's convention, against which Figure 7 compares)
4.61, without norms 4.60, torchprofile 4.60. 4.55 is what remains without the patch-embedding
convolution (4.551 with norms, 4.546 under torchprofile), so the figure seems to count the
transformer blocks and head only; with no other sourced Zero-TPrune cell to test that reading
(the paper's tables were not readable from any stored copy), the claim is kept as ``deviates``
with all readings in its record. The figure's curves are plots, not cells.

Conformance to the authors' code: no official repository could be fetched here
(github.com/jha-lab/zero-tprune has no stored snapshot), so there is nothing to compare with.
"""

from __future__ import annotations

from zoo.repro import Claim, PaperSpec, Source, printed
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


FIGURE7_COPY = ("image of Figure 7 in github.com/Dayoung-Kil/Dayoung-Kil.github.io "
                "assets/img/notes/zero-tprune/fig7.png@8bc61f1 (the post _posts/2023-06-01-zero-tprune.md), a "
                "third-party copy; it does not say which arXiv version")


def original_gflops(ctx):
    from zoo.flops import vit
    from zoo.repro import Measurement
    from zoo.repro.analytic import vit_shape

    shape = vit_shape("deit-small")
    fv = vit.fvcore_macs(shape)
    patch = vit.vit_macs(shape).patch_embed
    return Measurement(fv / 1e9, details={
        "convention": "fvcore FlopCountAnalysis (zoo.flops.vit.fvcore_macs), one 224 px image",
        "readings_gmacs": {"fvcore (norms counted)": fv / 1e9, "fvcore without norms": vit.vit_macs(shape).gmacs,
                           "torchprofile": vit.torchprofile_macs(shape) / 1e9,
                           "fvcore without the patch embedding": (fv - patch) / 1e9,
                           "torchprofile without the patch embedding": (vit.torchprofile_macs(shape) - patch) / 1e9},
        "patch_embedding_macs": patch, "figure_copy": FIGURE7_COPY})


SETTING = {"model": "DeiT-S", "operating point": "FLOPs -34.7% (abstract); zoo r chosen by matching fvcore MACs",
           "fine-tuning": "none"}
CLAIMS = [
    Claim(id="gflops-deit-s-original-figure7", kind="analytic",
          description="GFLOPs of the unpruned DeiT-S as Figure 7 labels it ('Original Model @ 4.55 GFLOPS')",
          reported=4.55, unit="GFLOPs", tolerance=printed(2),
          setting={"model": "DeiT-S (224 px, no pruning)", "metric": "label of the horizontal line in Figure 7",
                   "convention": "unknown; measured with fvcore's (ToMe's), alternatives in the record",
                   "figure_copy": FIGURE7_COPY},
          source=Source("arXiv:2305.17328v3", "Figure 7 (comparison with fine-tuning-free methods, DeiT-S), label "
                        "'Original Model @ 4.55 GFLOPS' (see figure_copy)", "https://arxiv.org/abs/2305.17328v3"),
          measure=original_gflops,
          known_deviation="no whole-model count gives 4.55 (fvcore 4.61, without norms 4.60, torchprofile 4.60); "
                          "4.55 is DeiT-S without its patch-embedding convolution (4.551 fvcore, 4.546 torchprofile): "
                          "the figure seems to count blocks and head only, a reading no other sourced cell confirms"),
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
