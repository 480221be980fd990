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

- GFLOPs (analytic): every GFLOPs cell of Table 3 ('Advancing a Tier': MAE ViT-B, ViT-L at
  r = 8 constant and decreasing, ViT-H at r = 7 constant and decreasing, and their baselines) and
  Table 4 (DeiT-S; ToMe r = 13 on DeiT-S and on AugReg ViT-S), read from the tables' images in a
  third-party copy (``TABLE34_COPY``), and the DeiT-S r = 8/16 and DeiT-T r = 8/12/16 cells of
  the paper's DeiT results (no table named; Table 4 points to Appendix A for DeiT-Ti), via Papers with Code
  (``PWC_COPY``). Convention, pinned by these cells: ToMe's "GFLOPs" are what
  ``fvcore.nn.FlopCountAnalysis`` counts on the ``tome.patch.timm`` model for one 224 px image
  (``zoo.flops.vit.fvcore_macs`` + ``tome_matching_macs``: patch embedding, linears, ``q k^T`` and
  ``attn v``, 5 per element of every layer norm, and the matching's ``a @ bᵀ``; checked against
  ``FlopCountAnalysis`` on the official patch with random weights, equal to the MAC for every
  cell below; fvcore 0.1.5, run outside the repository; the references are in
  ``tests/test_flops_schedules.py``). Without the norms
  (``vit_macs``), ViT-H's 167.4 and 92.9 and its decreasing 72.6 print as 167.3, 92.8 and 72.5.
  Schedule: ``r`` merged in every block between attention and MLP, at most half the non-[CLS]
  tokens; the decreasing schedule ``r↘`` is ToMe's ``(r, inflect=-1)`` (``2r`` down to 0,
  truncated: ``zoo.core.schedule.inflected_schedule``). Fine-tuned MAE models classify from
  global average pooling, so their last norm acts on one pooled vector (``pooled_norm``).
  All 15 cells reproduce.
- Table 1 (ablations, acc and im/s of MAE ViT-L r = 8 off the shelf) and the accuracy/im/s
  columns of Tables 3-4: accuracy needs the authors' MAE-trained checkpoints (and MAE's
  size-weighted global pooling, which tokzoo's timm path does not do), so only the throughput
  ratios that a random-weight model of the architecture can measure are claimed (on demand);
  Table 1's ablation variants (other features, distances, pooling) are not tokzoo options.
- The README's other tables: the DeiT models trained with ToMe (top-1 with the checkpoint given
  by ``--weights``, and im/s ratios), SWAG (im/s ratios only: the weights come through torch hub,
  not timm) and MAE after training (im/s ratios only, as above), all throughput claims on demand.

Not encoded from the paper: its other tables (AugReg/SWAG sweeps, video, audio) were not
readable from any stored copy (the arXiv HTML copies are stored from their beginning only).
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

PWC_COPY = ("cells as copied by Papers with Code, 'Results from the Paper' of "
            "https://www.paperswithcode.com/paper/token-merging-your-vit-but-faster (leaderboards 'Efficient ViTs on "
            "ImageNet-1K (with DeiT-S)' and '(with DeiT-T)', metrics 'GFLOPs' and 'Top 1 Accuracy'); the same six rows "
            "on https://beta.hyper.ai/en/papers/2210.09461 ('Benchmarks')")
TABLE34_COPY = ("image of Tables 3 and 4 in github.com/Dayoung-Kil/Dayoung-Kil.github.io "
                "assets/img/notes/tome/table3-4.png@8bc61f1 (the post _posts/2023-02-01-tome.md), a third-party copy")
PAPER_URL = "https://arxiv.org/abs/2210.09461v3"
#: the copies do not say which arXiv version they show; v3 is the latest (ICLR 2023 camera-ready)
PAPER_REF = "arXiv:2210.09461v3"
T3 = "Table 3 ('Advancing a Tier', ImageNet-1k, MAE models)"
T4 = "Table 4 ('ToMe vs. pruning methods' on ViT-S)"
APPX = ("DeiT results with ToMe at several r (the copy names no table; Table 4's caption points to Appendix A "
        "for DeiT-Ti)")
#: (config, model name, r, inflect, GFLOPs, where, row label, copy)
GFLOPS = [
    ("vit-base-16-mae", "ViT-B/16 (MAE)", 0, 0, 17.6, T3, "ViT-B MAE", TABLE34_COPY),
    ("vit-large-16-mae", "ViT-L/16 (MAE)", 8, -1, 22.3, T3, "ToMe ViT-L MAE r8↘ (decreasing)", TABLE34_COPY),
    ("vit-large-16-mae", "ViT-L/16 (MAE)", 8, 0, 31.0, T3, "ToMe ViT-L MAE r8→", TABLE34_COPY),
    ("vit-large-16-mae", "ViT-L/16 (MAE)", 0, 0, 61.6, T3, "ViT-L MAE (baseline)", TABLE34_COPY),
    ("vit-huge-14-mae", "ViT-H/14 (MAE)", 7, -1, 72.6, T3, "ToMe ViT-H MAE r7↘ (decreasing)", TABLE34_COPY),
    ("vit-huge-14-mae", "ViT-H/14 (MAE)", 7, 0, 92.9, T3, "ToMe ViT-H MAE r7→", TABLE34_COPY),
    ("vit-huge-14-mae", "ViT-H/14 (MAE)", 0, 0, 167.4, T3, "ViT-H MAE (baseline)", TABLE34_COPY),
    ("deit-small", "DeiT-S", 0, 0, 4.6, T4, "DeiT-S", TABLE34_COPY),
    ("deit-small", "DeiT-S", 13, 0, 2.7, T4, "ToMe DeiT r13 (trained with ToMe)", f"{TABLE34_COPY}; also {PWC_COPY}"),
    ("vit-small-16", "ViT-S/16 (AugReg)", 13, 0, 2.7, T4, "ToMe AugReg r13 (off the shelf)", TABLE34_COPY),
    ("deit-small", "DeiT-S", 8, 0, 3.4, APPX, "DeiT-S ToMe r=8", PWC_COPY),
    ("deit-small", "DeiT-S", 16, 0, 2.3, APPX, "DeiT-S ToMe r=16", PWC_COPY),
    ("deit-tiny", "DeiT-T", 8, 0, 0.9, APPX, "DeiT-T ToMe r=8", PWC_COPY),
    ("deit-tiny", "DeiT-T", 12, 0, 0.8, APPX, "DeiT-T ToMe r=12", PWC_COPY),
    ("deit-tiny", "DeiT-T", 16, 0, 0.6, APPX, "DeiT-T ToMe r=16", PWC_COPY),
]


def _tome_params(r: int, inflect: float) -> dict:
    return {"r": r, "inflect": inflect} if inflect else {"r": r}


def gflops(cfg: str, r: int, inflect: float = 0):
    def measure(ctx) -> Measurement:
        from zoo.core.schedule import inflected_schedule
        from zoo.flops import vit
        from zoo.repro import loader

        shape = vit_shape(cfg)
        removals = inflected_schedule(shape.depth, r, inflect)
        counts = vit.per_block_counts(shape.num_tokens, removals)
        sched = vit.schedule_from_counts(shape.num_tokens, counts)
        pooled = loader.load_config(cfg).get("global_pool") == "avg"
        matching = vit.tome_matching_macs(shape, sched)
        macs = vit.fvcore_macs(shape, sched, extra=matching, pooled_norm=pooled)

        def implementation():
            from zoo.repro.analytic import vit_implementation_schedule

            ran = vit_implementation_schedule(cfg, "tome", _tome_params(r, inflect))["after_block"]
            return {"tokens_after_block": ran, "equal_to_schedule": ran == counts}

        return Measurement(macs / 1e9, params=_tome_params(r, inflect), details={
            "convention": "fvcore.nn.FlopCountAnalysis of the tome.patch.timm model (zoo.flops.vit.fvcore_macs + "
                          "tome_matching_macs), one 224 px image", "macs": macs, "matching_macs": matching,
            "pooled_norm": pooled, "r_per_block": removals, "tokens_after_block": counts,
            "input_tokens": shape.num_tokens,
            "without_norms_gmacs": vit.vit_macs(shape, sched).gmacs,
            "torchprofile_gmacs": vit.torchprofile_macs(shape, sched) / 1e9,
            "implementation_schedule": implementation_check(implementation) if r else "no reduction"})

    return measure


def _gflops_id(cfg: str, r: int, inflect: float) -> str:
    return f"gflops-{cfg}-" + ("baseline" if not r else f"r{r}" + ("-decreasing" if inflect else ""))


for cfg, name, r, inflect, value, where, row, copy in GFLOPS:
    what = "without ToMe" if not r else f"with ToMe r={r}" + (" (decreasing schedule)" if inflect else "")
    CLAIMS.append(Claim(
        id=_gflops_id(cfg, r, inflect), kind="analytic",
        description=f"GFLOPs of {name} {what} ({where.split(' (')[0]})",
        reported=value, unit="GFLOPs", tolerance=printed(1),
        setting={"model": f"{name}, 224 px", "r": r, "schedule": ("none" if not r else "ToMe (r, inflect=-1): 2r "
                 "down to 0 over the blocks" if inflect else "r merged per block") + (", at most half of the "
                 "non-[CLS] tokens" if r else ""), "convention": "fvcore FlopCountAnalysis of the ToMe-patched model: "
                 "matmul/linear/conv MACs, 5 per layer-norm element, ToMe's matching matmul",
                 "metric": "'gflops' column", "table_copy": copy},
        source=Source(PAPER_REF, f"{where}, row '{row}', column 'gflops' (see table_copy)", PAPER_URL),
        measure=gflops(cfg, r, inflect), method="tome" if r else "", params=_tome_params(r, inflect) if r else {}))

TABLE1_COPY = ("image of Table 1 in github.com/Dayoung-Kil/Dayoung-Kil.github.io "
               "assets/img/notes/tome/table1.png@8bc61f1 (the post _posts/2023-02-01-tome.md), a third-party copy")
README_URL = README.url


def _readme(where: str) -> Source:
    return Source(README.ref, where, README_URL)


#: throughput ratios of the README's other tables and the paper's Tables 1, 3, 4 (V100 im/s, ToMe / original):
#: (claim id, config, model name, tokzoo params, original im/s, ToMe im/s, source, batch, note)
SPEED = [
    ("speedup-deit-small-r13", "deit-small", "DeiT-S", {"r": 13}, 930, 1552,
     Source(PAPER_REF, f"{T4}, rows 'DeiT-S' and 'ToMe DeiT r13', column 'im/s' (see table_copy)", PAPER_URL),
     16, f"table_copy: {TABLE34_COPY}; the README's DeiT table gives 930 -> 1550 for the same model"),
    ("speedup-vit-small-16-r13-table4", "vit-small-16", "ViT-S/16 (AugReg)", {"r": 13}, 930, 1550,
     Source(PAPER_REF, f"{T4}, rows 'DeiT-S' and 'ToMe AugReg r13', column 'im/s' (see table_copy)",
            PAPER_URL), 16, f"table_copy: {TABLE34_COPY}; the baseline is the table's DeiT-S (same architecture)"),
    ("speedup-deit-tiny-r13", "deit-tiny", "DeiT-Ti", {"r": 13}, 2558, 3980,
     _readme("section 'Using timm models', table of DeiT models trained with ToMe, row 'DeiT-Ti/16'"), 16, ""),
    ("speedup-vit-base-16-mae-r16", "vit-base-16-mae", "ViT-B/16 (MAE)", {"r": 16}, 309, 603,
     _readme("section 'Training with MAE', table of results after training, row 'ViT-B/16'"), 8, ""),
    ("speedup-vit-large-16-mae-r8", "vit-large-16-mae", "ViT-L/16 (MAE)", {"r": 8}, 93, 183,
     Source(PAPER_REF, f"{T3}, rows 'ViT-L MAE' and 'ToMe ViT-L MAE r8→', column 'im/s' (see table_copy)",
            PAPER_URL), 4, f"table_copy: {TABLE34_COPY}; the README's MAE table gives the same 93 -> 183"),
    ("speedup-vit-large-16-mae-r8-decreasing", "vit-large-16-mae", "ViT-L/16 (MAE)", {"r": 8, "inflect": -1}, 93, 241,
     Source(PAPER_REF, f"{T3}, rows 'ViT-L MAE' and 'ToMe ViT-L MAE r8↘', column 'im/s' (see table_copy)",
            PAPER_URL), 4, f"table_copy: {TABLE34_COPY}"),
    ("speedup-vit-huge-14-mae-r7", "vit-huge-14-mae", "ViT-H/14 (MAE)", {"r": 7}, 35, 63,
     Source(PAPER_REF, f"{T3}, rows 'ViT-H MAE' and 'ToMe ViT-H MAE r7→', column 'im/s' (see table_copy)",
            PAPER_URL), 2, f"table_copy: {TABLE34_COPY}; the README's MAE table gives the same 35 -> 63"),
    ("speedup-vit-huge-14-mae-r7-decreasing", "vit-huge-14-mae", "ViT-H/14 (MAE)", {"r": 7, "inflect": -1}, 35, 81,
     Source(PAPER_REF, f"{T3}, rows 'ViT-H MAE' and 'ToMe ViT-H MAE r7↘', column 'im/s' (see table_copy)",
            PAPER_URL), 2, f"table_copy: {TABLE34_COPY}"),
    ("speedup-vit-large-16-mae-r8-off-the-shelf", "vit-large-16-mae", "ViT-L/16 (MAE, off the shelf)",
     {"r": 8, "prop_attn": False}, 93.3, 182.9,
     Source(PAPER_REF, "Table 1 (ablations, MAE ViT-L/16 off the shelf, r=8): caption's baseline 93.3 im/s "
            "and the default setting's 182.9 im/s (see table_copy)", PAPER_URL), 4,
     f"table_copy: {TABLE1_COPY}; the README's off-the-shelf sanity row gives 93 -> 183; prop_attn off for "
     "off-the-shelf MAE models (README)"),
    ("speedup-vit-base-16-384-swag-r45", "vit-base-16-384-swag", "SWAG ViT-B/16 @ 384", {"r": 45}, 85.7, 167.7,
     _readme("section 'Using SWAG models through Torch Hub', off-the-shelf table, row 'ViT-B/16 @ 384'"), 2, ""),
    ("speedup-vit-large-16-512-swag-r40", "vit-large-16-512-swag", "SWAG ViT-L/16 @ 512", {"r": 40}, 12.8, 26.3,
     _readme("section 'Using SWAG models through Torch Hub', off-the-shelf table, row 'ViT-L/16 @ 512'"), 1, ""),
    ("speedup-vit-huge-14-518-swag-r40", "vit-huge-14-518-swag", "SWAG ViT-H/14 @ 518", {"r": 40}, 4.7, 9.8,
     _readme("section 'Using SWAG models through Torch Hub', off-the-shelf table, row 'ViT-H/14 @ 518'"), 1, ""),
]


def _speed(cfg: str, params: dict, batch: int):
    return lambda ctx: throughput(ctx, cfg, "tome", params, batch=batch, repeats=5 if batch > 2 else 3)


for cid, cfg, name, params, ips0, ips, source, batch, note in SPEED:
    CLAIMS.append(Claim(
        id=cid, kind="throughput",
        description=f"Throughput of {name} with ToMe {params} relative to the original model",
        reported=round(ips / ips0, 3), unit="x", tolerance=0.25, direction="higher",
        setting={"model": f"{name} (exact architecture, random weights)", **params,
                 "reported_im_per_s": {"original": ips0, "tome": ips}, "paper_hardware": "V100",
                 "metric": "ratio of images per second; the reported ratio is computed from the two cells",
                 **({"note": note} if note else {})},
        source=source, measure=_speed(cfg, params, batch), method="tome", params=params, on_demand=True))

#: README's DeiT models trained with ToMe (checkpoints on dl.fbaipublicfiles.com; give the file with --weights)
TRAINED = [("deit-small", "tome-deit-s-r13", "DeiT-S/16", 79.8, 79.36, "f367470145_deit_S_r13.pth"),
           ("deit-tiny", "tome-deit-ti-r13", "DeiT-Ti/16", 71.8, 71.27, "f367470145_deit_T_r13.pth")]
for cfg, weights, name, acc0, acc, ckpt in TRAINED:
    CLAIMS.append(Claim(
        id=f"top1-{cfg}-r13-trained", kind="accuracy",
        description=f"ImageNet-1k top-1 of {name} trained with ToMe (README checkpoint), evaluated with ToMe r=13",
        reported=acc, unit="%", tolerance=0.3, direction="higher",
        setting={"model": f"{name} trained with ToMe r=13 (checkpoint {ckpt}, https://dl.fbaipublicfiles.com/tome/)",
                 "r": 13, "prop_attn": True, "benchmark": "ImageNet-1k val", "metric": "top-1",
                 "original_top1": acc0, "note": "the same run's baseline is this checkpoint without ToMe, not the "
                 "original DeiT; Table 4's 'ToMe DeiT r13' prints the DeiT-S value as 79.4" if "small" in cfg else
                 "the same run's baseline is this checkpoint without ToMe, not the original DeiT"},
        source=_readme(f"section 'Using timm models', table of DeiT models trained with ToMe, row '{name}'"),
        measure=_accuracy(cfg, weights, 13, 12, 196),
        needs=("cpu", f"weights:{weights}", "dataset:imagenet-val"), method="tome", params={"r": 13}))

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
