"""Token Fusion (ToFu): Bridging the Gap between Token Pruning and Token Merging (arXiv 2312.01026, WACV 2024).

Run: ``tokzoo repro token-fusion``.

Paper notation -> zoo: ToFu's ``r`` (tokens removed per block, as in ToMe) is the zoo's ``r``;
ToFu MLERP (pruning in the early blocks, MLERP merging later) is ``token-fusion``; "ToFu AVG"
(the same split with plain averaging) has no tokzoo counterpart.

Sources: the images of Table 1 (ViT-B at r = 8, 12, 16, 20) and Table 4 (ViT-S, r = 13) in a
third-party copy (``TABLE_COPY``); the paper links no official code.

- FLOPs (analytic): every "FLOP" cell of Table 1 (full model, ToMe, ToFu AVG, ToFu MLERP; two
  decimals) and Table 4 (one decimal). ToFu is built on ToMe's bipartite matching and counts
  as ToMe does: ``fvcore.nn.FlopCountAnalysis`` of the patched timm model for one 224 px image
  (``zoo.flops.vit.fvcore_macs`` + ``tome_matching_macs``; see ``repro/tome.py``). The two
  decimals of Table 1 pin it: without the layer norms the full ViT-B is 17.56, not 17.58, and
  without the matching's matmul r = 12 is 10.92, not 10.93; with both, all cells reproduce.
  Pruning and merging (and AVG or MLERP) leave the same token counts and are not counted by
  fvcore, which is why the three rows print the same numbers.
- Throughput: Table 1's ToFu MLERP im/s against the full model and Table 4's ToFu against
  DeiT-S, as ratios measured on random weights of the exact architecture (on demand). ToFu
  AVG's speed cells are not claimed (no tokzoo counterpart); the ToMe rows are ToMe's.
- Accuracy: Table 4's ToFu on the off-the-shelf AugReg ViT-S (timm weights; the same table's
  ToMe AugReg 79.3 equals the ToMe README's number for that model). Table 1's accuracies are
  not claimed: the table does not name the ViT-B weights (its full model's 83.74 matches none of
  the timm ViT-B/16 checkpoints the ToMe README or timm list).

Conformance to the authors' code: none possible; the paper links no official code.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import implementation_check, vit_shape
from zoo.repro.harness.vit import imagenet_top1, throughput

TABLE_COPY = ("images of Tables 1 and 4 in github.com/Dayoung-Kil/Dayoung-Kil.github.io "
              "assets/img/notes/tofu/table1.png and table4.png@8bc61f1 (the post _posts/2023-08-01-tofu.md), "
              "a third-party copy; it does not say which arXiv version")
PAPER_REF = "arXiv:2312.01026v1"
PAPER_URL = "https://arxiv.org/abs/2312.01026v1"
T1 = "Table 1 (ImageNet, ViT-B, per r)"
T4 = "Table 4 (comparison with SoTA token reduction, ViT-S)"
AUGREG_S = "timm/vit_small_patch16_224.augreg_in21k_ft_in1k"

#: Table 1: r -> {row: (acc, im/s, FLOP)}
TABLE1 = {
    8: {"ToMe": (82.86, 413.67, 13.12), "ToFu AVG": (83.19, 417.74, 13.12), "ToFu MLERP": (83.22, 413.86, 13.12)},
    12: {"ToMe": (81.82, 489.72, 10.93), "ToFu AVG": (82.43, 494.41, 10.93), "ToFu MLERP": (82.46, 490.47, 10.93)},
    16: {"ToMe": (78.88, 607.30, 8.78), "ToFu AVG": (80.43, 615.53, 8.78), "ToFu MLERP": (80.70, 610.44, 8.78)},
    20: {"ToMe": (67.54, 736.91, 7.14), "ToFu AVG": (72.19, 748.75, 7.14), "ToFu MLERP": (74.06, 745.40, 7.14)},
}
FULL_B = (83.74, 323.61, 17.58)


def flop(cfg: str, r: int, method: str):
    def measure(ctx) -> Measurement:
        from zoo.flops import vit

        shape = vit_shape(cfg)
        counts = vit.tome_counts(shape.num_tokens, shape.depth, r)
        sched = vit.schedule_from_counts(shape.num_tokens, counts)
        matching = vit.tome_matching_macs(shape, sched)
        macs = vit.fvcore_macs(shape, sched, extra=matching)

        def implementation():
            from zoo.repro.analytic import vit_implementation_schedule

            ran = vit_implementation_schedule(cfg, method, {"r": r})["after_block"]
            return {"tokens_after_block": ran, "equal_to_schedule": ran == counts}

        return Measurement(macs / 1e9, params={"r": r} if r else {}, details={
            "convention": "fvcore.nn.FlopCountAnalysis of the ToMe-style patched model (zoo.flops.vit.fvcore_macs + "
                          "tome_matching_macs), one 224 px image", "macs": macs, "matching_macs": matching,
            "tokens_after_block": counts, "without_norms_gmacs": vit.vit_macs(shape, sched).gmacs,
            "without_matching_gmacs": vit.fvcore_macs(shape, sched) / 1e9,
            "implementation_schedule": implementation_check(implementation) if r else "no reduction",
            "table_copy": TABLE_COPY})

    return measure


def _flop_claim(cid: str, cfg: str, name: str, r: int, row: str, value: float, decimals: int, where: str,
                method: str) -> Claim:
    return Claim(
        id=cid, kind="analytic", description=f"GFLOPs of {name} " + (f"with {row} r={r}" if r else "without reduction")
        + f" ({where.split(' (')[0]})", reported=value, unit="GFLOPs", tolerance=printed(decimals),
        setting={"model": f"{name}, 224 px", "r": r, "row": row, "schedule": "r removed per block (pruned or merged), "
                 "at most half of the non-[CLS] tokens" if r else "none",
                 "convention": "fvcore FlopCountAnalysis: matmul/linear/conv MACs, 5 per layer-norm element, the "
                 "bipartite matching's matmul", "metric": "'FLOP' column (GFLOPs)", "table_copy": TABLE_COPY},
        source=Source(PAPER_REF, f"{where}, row '{row}'" + (f", r = {r}" if r else "") + ", column 'FLOP'", PAPER_URL),
        measure=flop(cfg, r, method), method=method if r else "", params={"r": r} if r else {})


ROW_ID = {"ToMe": "tome", "ToFu AVG": "tofu-avg", "ToFu MLERP": "tofu-mlerp"}
CLAIMS: list = [_flop_claim("gflops-vit-base-16-full", "vit-base-16", "ViT-B/16", 0, "Full Model", FULL_B[2], 2,
                            T1 + " (the same 17.58 in every r column)", "token-fusion")]
for r, rows in TABLE1.items():
    for row, (_, _, value) in rows.items():
        CLAIMS.append(_flop_claim(f"gflops-vit-base-16-{ROW_ID[row]}-r{r}", "vit-base-16", "ViT-B/16", r, row, value, 2,
                                  T1, "tome" if row == "ToMe" else "token-fusion"))
CLAIMS += [
    _flop_claim("gflops-deit-small-table4", "deit-small", "DeiT-S", 0, "DeiT-S", 4.6, 1, T4, "token-fusion"),
    _flop_claim("gflops-deit-small-tome-r13-table4", "deit-small", "DeiT-S", 13, "ToMe DeiT r13", 2.7, 1, T4, "tome"),
    _flop_claim("gflops-vit-small-16-tome-r13-table4", "vit-small-16", "ViT-S/16 (AugReg)", 13, "ToMe AugReg r13", 2.7,
                1, T4, "tome"),
    _flop_claim("gflops-vit-small-16-tofu-r13-table4", "vit-small-16", "ViT-S/16 (AugReg)", 13, "ToFu AugReg r13", 2.7,
                1, T4, "token-fusion"),
]


def _speed(cfg: str, r: int, batch: int):
    return lambda ctx: throughput(ctx, cfg, "token-fusion", {"r": r}, batch=batch, repeats=5)


for r, rows in TABLE1.items():
    ips = rows["ToFu MLERP"][1]
    CLAIMS.append(Claim(
        id=f"speedup-vit-base-16-tofu-mlerp-r{r}", kind="throughput",
        description=f"Throughput of ViT-B/16 with ToFu MLERP r={r} relative to the full model (Table 1)",
        reported=round(ips / FULL_B[1], 3), unit="x", tolerance=0.25, direction="higher",
        setting={"model": "ViT-B/16 (exact architecture, random weights)", "r": r,
                 "reported_im_per_s": {"full model": FULL_B[1], "ToFu MLERP": ips},
                 "metric": "ratio of images per second, computed from the two cells", "table_copy": TABLE_COPY},
        source=Source(PAPER_REF, f"{T1}, rows 'Full Model' and 'ToFU MLERP', r = {r}, column 'Speed'", PAPER_URL),
        measure=_speed("vit-base-16", r, 8), method="token-fusion", params={"r": r}, on_demand=True))

CLAIMS += [
    Claim(id="speedup-vit-small-16-tofu-r13-table4", kind="throughput",
          description="Throughput of ViT-S/16 with ToFu r=13 relative to DeiT-S (Table 4)",
          reported=round(1561 / 930, 3), unit="x", tolerance=0.25, direction="higher",
          setting={"model": "ViT-S/16 (exact architecture, random weights; DeiT-S has the same one)", "r": 13,
                   "reported_im_per_s": {"DeiT-S": 930, "ToFu AugReg r13": 1561},
                   "metric": "ratio of images per second, computed from the two cells", "table_copy": TABLE_COPY},
          source=Source(PAPER_REF, f"{T4}, rows 'DeiT-S' and 'ToFu AugReg r13', column 'img/s'", PAPER_URL),
          measure=_speed("vit-small-16", 13, 16), method="token-fusion", params={"r": 13}, on_demand=True),
    Claim(id="top1-vit-small-16-tofu-r13", kind="accuracy",
          description="ImageNet-1k top-1 of off-the-shelf AugReg ViT-S/16 with ToFu r=13 (Table 4)",
          reported=79.6, unit="%", tolerance=0.3, direction="higher",
          setting={"model": f"timm ViT-S/16 AugReg ({AUGREG_S})", "r": 13, "no training": True,
                   "benchmark": "ImageNet-1k val", "metric": "Top1", "table_copy": TABLE_COPY,
                   "note": "the table's ToMe AugReg r13 (79.3) equals the ToMe README's number for this timm model"},
          source=Source(PAPER_REF, f"{T4}, row 'ToFu AugReg r13', column 'Top1'", PAPER_URL),
          measure=lambda ctx: imagenet_top1(ctx, "vit-small-16", "token-fusion", {"r": 13}, weights=AUGREG_S,
                                            control_params={"layers": list(range(12)), "keep_ratio": 40 / 196}),
          needs=("cpu", f"weights:{AUGREG_S}", "dataset:imagenet-val"), method="token-fusion", params={"r": 13}),
]

SPEC = PaperSpec(paper_id="token-fusion", title="Token Fusion: Bridging the Gap between Token Pruning and Token Merging",
                 arxiv="2312.01026", method="token-fusion", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
