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

- GFLOPs (analytic): the six GFLOPs cells of the paper's DeiT comparison (DeiT-S at r = 8, 13,
  16; DeiT-T at r = 8, 12, 16), read from the Papers with Code copy of the paper's results
  (``TABLE_COPY``; the copy names neither the table number nor whether the row's model was
  trained with ToMe, which does not change its GFLOPs). Convention: ToMe's "GFLOPs" are
  fvcore-style multiply-accumulates of one 224 px image (``zoo.flops.vit.vit_macs``: patch
  embedding, qkv/projection/MLP/head linears, ``q k^T`` and ``attn v``; norms, softmax and the
  matching itself free), on ToMe's schedule: ``r`` tokens merged in every block between
  attention and MLP, never more than half of the non-[CLS] tokens (``tome_counts``). All six
  print as the paper's one-decimal numbers. torchprofile's count (``torchprofile_macs``, norms
  and logit scaling added) rounds to the same six cells, so these cells do not tell the two
  conventions apart; the record keeps both.

Not encoded from the paper: its other tables (MAE/SWAG/AugReg model sweeps, video, audio)
were not readable from any stored copy (the arXiv HTML copies are stored from their
beginning only; no extraction of those tables was found).
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import implementation_check, vit_shape
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

TABLE_COPY = ("cells as copied by Papers with Code, 'Results from the Paper' of "
              "https://www.paperswithcode.com/paper/token-merging-your-vit-but-faster (leaderboards 'Efficient ViTs on "
              "ImageNet-1K (with DeiT-S)' and '(with DeiT-T)', metrics 'GFLOPs' and 'Top 1 Accuracy'); the same six rows "
              "on https://beta.hyper.ai/en/papers/2210.09461 ('Benchmarks')")
PAPER_URL = "https://arxiv.org/abs/2210.09461v3"
#: (config, name, r, GFLOPs, top-1 of the same row) of the paper's DeiT comparison, from TABLE_COPY
DEIT_GFLOPS = [("deit-small", "DeiT-S", 8, 3.4, 79.7), ("deit-small", "DeiT-S", 13, 2.7, 79.4),
               ("deit-small", "DeiT-S", 16, 2.3, 79.1), ("deit-tiny", "DeiT-T", 8, 0.9, 71.7),
               ("deit-tiny", "DeiT-T", 12, 0.8, 71.4), ("deit-tiny", "DeiT-T", 16, 0.6, 70.7)]


def gflops(cfg: str, r: int):
    def measure(ctx) -> Measurement:
        from zoo.flops import vit

        shape = vit_shape(cfg)
        counts = vit.tome_counts(shape.num_tokens, shape.depth, r)
        sched = vit.schedule_from_counts(shape.num_tokens, counts)
        cost = vit.vit_macs(shape, sched)

        def implementation():
            from zoo.repro.analytic import vit_implementation_schedule

            ran = vit_implementation_schedule(cfg, "tome", {"r": r})["after_block"]
            return {"tokens_after_block": ran, "equal_to_tome_counts": ran == counts}

        return Measurement(cost.gmacs, params={"r": r}, details={
            "convention": "fvcore-style MACs (zoo.flops.vit.vit_macs), one 224 px image", "macs": cost.total,
            "tokens_after_block": counts, "input_tokens": shape.num_tokens,
            "baseline_gmacs": vit.vit_macs(shape).gmacs,
            "torchprofile_gmacs": vit.torchprofile_macs(shape, sched) / 1e9,
            "implementation_schedule": implementation_check(implementation), "table_copy": TABLE_COPY})

    return measure


for cfg, name, r, value, top1 in DEIT_GFLOPS:
    CLAIMS.append(Claim(
        id=f"gflops-{cfg}-r{r}", kind="analytic",
        description=f"GFLOPs of {name} with ToMe r={r} (paper's DeiT comparison)",
        reported=value, unit="GFLOPs", tolerance=printed(1),
        setting={"model": f"{name} (224 px, 197 tokens)", "r": r, "schedule": "r merged per block, at most half "
                 "of the non-[CLS] tokens", "convention": "fvcore-style multiply-accumulates ('GFLOPs' of the ViT "
                 "papers); norms, softmax and ToMe's matching not counted", "row top-1 (not checked here)": top1,
                 "metric": "GFLOPs column", "table_copy": TABLE_COPY},
        source=Source("arXiv:2210.09461v3", f"DeiT comparison table, row '{name} ToMe (r={r})', column 'GFLOPs' "
                      "(via the Papers with Code copy, see table_copy)", PAPER_URL),
        measure=gflops(cfg, r), method="tome", params={"r": r}))

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
