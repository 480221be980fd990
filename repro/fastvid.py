"""FastVID (arXiv 2503.11187): dynamic segments + density spatio-temporal pruning before the LLM.

Run: ``tokzoo repro fastvid``.

Sources: the abstract (arXiv v2) and the official README (commit a40a109) print the same headline
numbers for LLaVA-OneVision-7B at the default setting (retention ratio 0.10, 32 frames of 196
tokens): 90.3% of the video tokens pruned, FLOPs reduced to 8.3%, prefill 7.1x faster, 98.0%
of the accuracy kept; the official log prints Video-MME 57.3.

Counting: each frame keeps ``int(196 * 0.10) = 19`` tokens (12 salient + 7 context), i.e.
608 of 6,272 (90.31% pruned); segment rounding can lose a few context tokens, so the kept count
is at most 608 (each record's details give the implementation's count on a random video with the
LLaVA-OV layout).

FLOPs, the paper's own count (found by reproducing its tables; read from a text extraction of the
paper in the library's GitHub file index, file id 53646837161, a 2025 version with the Qwen2.5-VL
table, cited as v3): "TFLOPs related to video tokens" (Table 1) are multiply-adds of the prefill
matmuls with grouped-query attention and three SwiGLU matrices, dense attention, over the visual
tokens only: ``zoo.flops`` convention ``"tokzoo"`` (2 FLOPs per multiply-add) halved, no other
token. It reproduces the vanilla 48.82 T of LLaVA-OV-7B to the printed 0.01 T, and with it the
README's 8.3% (608 of 6,272 tokens: 4.04 / 48.82 T; FastV's Eq. 5, tried before, needs 22-29
non-visual tokens for it). Token counts: FastVID's from the per-frame rule (``int(N r)`` per frame:
1568 / 1248 / 928 / 608 on LLaVA-OV, the Retention column's 25 / 19.9 / 14.8 / 9.7%); the baselines'
and the Qwen / LLaVA-Video rows' from the tables themselves (their averages over samples, e.g.
PruneVID* 635.6; LLaVA-Video adds its newline tokens, "TFLOPs* calculations include both video
and newline tokens"); FastV's "100%/B%" rows prune after layer 2 (K = 2 fits all 4
LLaVA-OV cells, both LLaVA-Video cells and the Qwen2-VL cell; K = 3, 5 or 10 do not). The LLM shapes: Qwen2-7B (``llava-onevision-7b``'s LLM) for
LLaVA-OV, LLaVA-Video-7B, Qwen2-VL-7B and Qwen2.5-VL-7B (all 28 layers, width 3584, MLP 18944,
4 KV heads; their vanilla rows, 48.82 / 103.2 / 124.0 T, reproduce). Deviating: the two-stage rows
(PruneVID 10.1%/3.9%, 2.58 T; FastVID+FastV 9.7%/3.6%, 2.47 T: pruning at layer 10 needs 4.0% /
3.9%, at layer 11 3.7% / 3.5%, not the printed B%) and Qwen2.5-VL FastVID (23.254 T prints 23.3).
Not claimed: the VisionZip rows (they repeat FastVID's counts and TFLOPs), the prefill times and
accuracies.
"""

from __future__ import annotations

from zoo.flops import flops_ratio, full_schedule, layer_flops
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

    def ratio(n_other: int, convention: str = "tokzoo") -> float:
        return 100 * flops_ratio(full_schedule(cfg.num_layers, kept, n_other),
                                 full_schedule(cfg.num_layers, FRAMES * PER_FRAME, n_other), cfg, convention)

    claim = ctx.claim
    return Measurement(ratio(OTHER), params=PARAMS, details={
        "convention": "the paper's: tokzoo matmul count (GQA, SwiGLU, dense attention), visual tokens only",
        "visual_tokens": [FRAMES * PER_FRAME, kept], "non_visual_tokens": OTHER,
        "fastv_eq5_ratio_pct": ratio(OTHER, "fastv"),
        "non_visual_tokens_reproducing": reproducing_range(lambda n: abs(ratio(n) - claim.reported) <= claim.tolerance,
                                                           range(0, 513))})


def _macs(n: float, cfg) -> float:
    """One layer's multiply-adds at a possibly fractional token count (the tables' averages): tokzoo's count is
    a·n + b·n² (dense attention), evaluated from ``zoo.flops.layer_flops`` at n = 1 and 2, halved."""
    f1, f2 = layer_flops(1, cfg, "tokzoo"), layer_flops(2, cfg, "tokzoo")
    b = (f2 - 2 * f1) / 2
    return ((f1 - b) * n + b * n * n) / 2


def paper_tflops(n_in: float, cfg, k: int | None = None, n_after: float | None = None) -> float:
    """The paper's TFLOPs: ``n_in`` tokens in every layer, or ``n_in`` up to layer ``k`` and ``n_after`` from it."""
    t = cfg.num_layers
    if k is None:
        return t * _macs(n_in, cfg) / 1e12
    return (k * _macs(n_in, cfg) + (t - k) * _macs(n_after, cfg)) / 1e12


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
                   "metric": "FLOPs(FastVID) / FLOPs(baseline), the paper's count (tokzoo matmul count, visual tokens "
                             "only; Table 1 / Table 5)"},
          source=README, measure=_flops, method="fastvid", params=PARAMS),
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

PAPER = "https://arxiv.org/abs/2503.11187v3"
COPY = ("text extraction of the paper in the library's GitHub file index, file id 53646837161 (a 2025 version with the "
        "Qwen2.5-VL table, cited as v3)")
OV, VIDEO_TOKENS = 6272, 64 * 169  # LLaVA-OV 32 x 196; LLaVA-Video 64 x 13 x 13 (+ 64 x 13 newline tokens)
DEVIATIONS = {
    "table1-tflops-prunevid-two-stage": "10.1% in, 3.9% of 6,272 from layer 10 gives 2.54 T (printed 2.58); the cell needs "
                                        "4.0% from layer 10 or 3.7% from layer 11",
    "table1-tflops-fastvid-fastv": "9.7% in, 3.6% of 6,272 from layer 10 gives 2.40 T (printed 2.47); the cell needs 3.9% "
                                   "from layer 10 or 3.5% from layer 11",
    "table4-tflops-fastvid": "3240.7 tokens give 23.254 T, which prints 23.3 (printed 23.2)",
}


def _fastvid_tokens(frames: int, per_frame: int, r: float) -> int:
    from zoo.papers.video_budgets import fastvid_budget

    return frames * sum(fastvid_budget(per_frame, r, 0.4))


def _cell(n_in, k=None, n_after=None, as_ratio=False):
    def measure(ctx) -> Measurement:
        cfg = decoder(CONFIG)
        a, b = (n_in() if callable(n_in) else n_in), (n_after() if callable(n_after) else n_after)
        value = paper_tflops(a, cfg, k, b)
        base = paper_tflops(OV, cfg)
        return Measurement(100 * value / base if as_ratio else value, details={
            "tokens_in": a, "layer": k, "tokens_after_layer": b, "tflops": value, "vanilla_llava_ov_tflops": base,
            "convention": "tokzoo matmul count halved (multiply-adds), visual tokens only", "copy": COPY})
    return measure


def _ratio_cell(n_in: float, base_tokens: float, k=None, n_after=None):
    def measure(ctx) -> Measurement:
        cfg = decoder(CONFIG)
        return Measurement(100 * paper_tflops(n_in, cfg, k, n_after) / paper_tflops(base_tokens, cfg), details={
            "tokens_in": n_in, "baseline_tokens": base_tokens, "layer": k, "tokens_after_layer": n_after, "copy": COPY})
    return measure


def _share(frames: int, per_frame: int, r: float):
    def measure(ctx) -> Measurement:
        kept = _fastvid_tokens(frames, per_frame, r)
        return Measurement(100 * kept / (frames * per_frame), params={"keep_ratio": r},
                           details={"kept_tokens": kept, "per_frame": kept // frames, "copy": COPY})
    return measure


def _tokens(frames: int, per_frame: int, r: float):
    def measure(ctx) -> Measurement:
        return Measurement(_fastvid_tokens(frames, per_frame, r), params={"keep_ratio": r}, details={"frames": frames})
    return measure


def _add(cid, description, reported, unit, decimals, where, measure, model="LLaVA-OneVision-7B", method="", params=None,
         setting=None):
    CLAIMS.append(Claim(
        id=cid, kind="analytic", description=description, reported=reported, unit=unit, tolerance=printed(decimals),
        setting={"model": f"{model} (LLM: Qwen2-7B shape, 28 layers)", "metric": "the paper's TFLOPs (multiply-adds of "
                 "the prefill matmuls, GQA, dense attention) over the visual tokens", "copy": COPY, **(setting or {})},
        source=Source("arXiv:2503.11187v3", where, PAPER), measure=measure, method=method, params=params or {},
        known_deviation=DEVIATIONS.get(cid, "")))


T1 = "Table 1 (LLaVA-OneVision), column 'TFLOPs'"
_add("table1-tflops-vanilla", "TFLOPs of LLaVA-OV-7B, 32 frames, no reduction", 48.82, "TFLOPs", 2,
     f"{T1}, row 'Vanilla' (and Table 5)", _cell(OV), setting={"tokens": OV})
for r, rep, share in ((0.25, 10.73, 25), (0.20, 8.46, 19.9), (0.15, 6.23, 14.8), (0.10, 4.04, 9.7)):
    pct = int(round(r * 100))
    _add(f"table1-tflops-fastvid-r{pct}", f"TFLOPs of LLaVA-OV-7B with FastVID r={r}", rep, "TFLOPs", 2,
         f"{T1}, row 'FastVID' at R = {share}%", _cell(lambda r=r: _fastvid_tokens(32, 196, r)), method="fastvid",
         params={"keep_ratio": r}, setting={"tokens": f"32 x int(196 x {r})"})
    _add(f"table1-retention-fastvid-r{pct}", f"Retention ratio of FastVID r={r} on LLaVA-OV-7B", share, "%",
         0 if share == 25 else 1, f"Table 1, row 'FastVID', column 'Retention Ratio R' ({share}%)", _share(32, 196, r),
         method="fastvid", params={"keep_ratio": r}, setting={"metric": "kept / 6272 under the per-frame int(196 r) rule"})
for r, rep in ((0.25, 13.45), (0.20, 11.38), (0.15, 9.35), (0.10, 7.36)):
    pct = int(round(r * 100))
    _add(f"table1-tflops-fastv-r{pct}", f"TFLOPs of LLaVA-OV-7B with FastV 100%/{pct}%", rep, "TFLOPs", 2,
         f"{T1}, row 'FastV' at 100%/{pct}%", _cell(OV, k=2, n_after=r * OV), method="fastv",
         params={"k": 2, "keep_ratio": r}, setting={"tokens": f"6272, then {pct}% of 6272 from layer 2"})
for share, rep in ((0.325, 14.13), (0.25, 10.73)):
    _add(f"table1-tflops-dycoke-{str(share).replace('0.', '')}", f"TFLOPs of LLaVA-OV-7B with DyCoke at {share:.1%}",
         rep, "TFLOPs", 2, f"{T1}, row 'DyCoke' at {share:.1%}", _cell(round(share * OV)),
         setting={"tokens": f"round({share} x 6272) (a whole token count; the unrounded 2038.4 gives 14.135)"})
_add("table1-tflops-prunevid-star", "TFLOPs of LLaVA-OV-7B with PruneVID* (635.6 tokens)", 4.23, "TFLOPs", 2,
     f"{T1}, row 'PruneVID*' (and Table 5)", _cell(635.6), setting={"tokens": 635.6})
_add("table1-tflops-prunevid-two-stage", "TFLOPs of LLaVA-OV-7B with PruneVID 10.1%/3.9%", 2.58, "TFLOPs", 2,
     f"{T1}, row 'PruneVID' at 10.1%/3.9%", _cell(635.6, k=10, n_after=0.039 * OV),
     setting={"tokens": "635.6, then 3.9% of 6272 from layer 10 ('the LLM's 10th layer')"})
_add("table1-tflops-fastvid-fastv", "TFLOPs of LLaVA-OV-7B with FastVID + FastV at layer 10 (9.7%/3.6%)", 2.47, "TFLOPs",
     2, f"{T1}, row 'FastVID +FastV' at 9.7%/3.6%; Section 4.2 ('2.47 (5.1%) TFLOPs')", _cell(608, k=10, n_after=0.036 * OV),
     setting={"tokens": "608, then 3.6% of 6272 from layer 10"})
for cid, n, rep in (("table5-ratio-fastvid", 608, 8.3), ("table5-ratio-prunevid-star", 635.6, 8.7)):
    _add(cid, f"TFLOPs ratio to vanilla with {n} tokens (Table 5)", rep, "%", 1,
         "Table 5 (efficiency), column 'TFLOPs' (percent)", _cell(n, as_ratio=True), setting={"tokens": n})

T2 = "Table 2 (LLaVA-Video), column 'TFLOPs*' (video and newline tokens)"
for cid, desc, n_in, k, n_after, rep in (
        ("table2-tflops-vanilla", "no reduction (10816 + 832 newline)", VIDEO_TOKENS + 832, None, None, 103.2),
        ("table2-tflops-fastvid-r25", "FastVID r=0.25 (2688 + 715.5 newline)", lambda: _fastvid_tokens(64, 169, 0.25) + 715.5,
         None, None, 24.5),
        ("table2-tflops-fastvid-star-r25", "FastVID* r=0.25 (2688 + 64 newline)", lambda: _fastvid_tokens(64, 169, 0.25) + 64,
         None, None, 19.5),
        ("table2-tflops-fastvid-r10", "FastVID r=0.10 (1024 + 508.2 newline)", lambda: _fastvid_tokens(64, 169, 0.10) + 508.2,
         None, None, 10.5),
        ("table2-tflops-fastvid-star-r10", "FastVID* r=0.10 (1024 + 64 newline)", lambda: _fastvid_tokens(64, 169, 0.10) + 64,
         None, None, 7.3),
        ("table2-tflops-fastv-25", "FastV 100%/25% (all, then 25% + 568.7 newline from layer 2)", VIDEO_TOKENS + 832, 2,
         0.25 * VIDEO_TOKENS + 568.7, 29.2),
        ("table2-tflops-fastv-10", "FastV 100%/10% (all, then 10% + 311.8 newline from layer 2)", VIDEO_TOKENS + 832, 2,
         0.10 * VIDEO_TOKENS + 311.8, 16.2),
        ("table2-tflops-dycoke-32.1", "DyCoke 32.1% (+ 256 newline)", 0.321 * VIDEO_TOKENS + 256, None, None, 27.1),
        ("table2-tflops-dycoke-25", "DyCoke 25% (+ 208 newline)", 0.25 * VIDEO_TOKENS + 208, None, None, 20.7)):
    is_fastvid = "fastvid" in cid
    _add(cid, f"TFLOPs* of LLaVA-Video-7B, {desc}", rep, "TFLOPs", 1, f"{T2}", _cell(n_in, k=k, n_after=n_after),
         model="LLaVA-Video-7B-Qwen2 (64 frames x 169 tokens + 13 newline tokens per frame)",
         method="fastvid" if is_fastvid else ("fastv" if k else ""),
         params={"keep_ratio": 0.25 if "r25" in cid else 0.10} if is_fastvid else ({"k": 2, "keep_ratio": 0.25 if "25" in cid
                                                                                      else 0.10} if k else {}))
for r, share in ((0.25, 24.9), (0.10, 9.5)):
    _add(f"table2-retention-fastvid-r{int(r * 100)}", f"Retention ratio of FastVID r={r} on LLaVA-Video-7B", share, "%", 1,
         f"Table 2, row 'FastVID', column 'Retention Ratio R' ({share}%)", _share(64, 169, r),
         model="LLaVA-Video-7B-Qwen2 (64 frames x 169 tokens)", method="fastvid", params={"keep_ratio": r})

for table, model, rows in (
        ("Table 3 (Qwen2-VL)", "Qwen2-VL-7B (LLM: Qwen2-7B shape)",
         (("table3-tflops-vanilla", "no reduction (13447.1 tokens)", 13447.1, None, None, 124.0, None),
          ("table3-tflops-fastv", "FastV 100%/25% (13447.1, then 3361.8 from layer 2)", 13447.1, 2, 3361.8, 31.3, 25.3),
          ("table3-tflops-prunevid-star", "PruneVID* (3460.6 tokens)", 3460.6, None, None, 25.0, 20.1),
          ("table3-tflops-fastvid", "FastVID (3349.3 tokens)", 3349.3, None, None, 24.1, 19.4))),
        ("Table 4 (Qwen2.5-VL)", "Qwen2.5-VL-7B (LLM: Qwen2.5-7B, the Qwen2-7B shape)",
         (("table4-tflops-prunevid-star", "PruneVID* (3294.5 tokens)", 3294.5, None, None, 23.7, 19.1),
          ("table4-tflops-fastvid", "FastVID (3240.7 tokens)", 3240.7, None, None, 23.2, 18.7)))):
    for cid, desc, n_in, k, n_after, rep, ratio in rows:
        _add(cid, f"TFLOPs of {model.split(' (')[0]}, {desc}", rep, "TFLOPs", 1, f"{table}, column 'TFLOPs'",
             _cell(n_in, k=k, n_after=n_after), model=model, setting={"tokens": desc})
        if ratio is not None:
            _add(cid.replace("tflops", "ratio"), f"TFLOPs ratio to vanilla of {model.split(' (')[0]}, {desc}", ratio, "%",
                 1, f"{table}, column 'TFLOPs' (percent)", _ratio_cell(n_in, 13447.1, k, n_after), model=model,
                 setting={"tokens": desc})
for frames, r, rep in ((128, 0.25, 6272), (320, 0.10, 6080)):
    CLAIMS.append(Claim(
        id=f"table10-tokens-{frames}-frames", kind="analytic",
        description=f"Video tokens of FastVID r={r} on {frames} LLaVA-OV frames (Table 10)", reported=rep, unit="tokens",
        tolerance=0, setting={"model": "LLaVA-OneVision-7B (196 tokens per frame)", "frames": frames, "retention_ratio": r,
                              "metric": "frames x int(196 r)", "copy": COPY},
        source=Source("arXiv:2503.11187v3", f"Table 10 (length extrapolation), row 'FastVID (r={int(r * 100)}%)', "
                      "column '# Token'", PAPER), measure=_tokens(frames, 196, r), method="fastvid",
        params={"keep_ratio": r}))

SPEC = PaperSpec(paper_id="fastvid", title="FastVID: Dynamic Density Pruning for Fast Video Large Language Models",
                 arxiv="2503.11187", method="fastvid", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
