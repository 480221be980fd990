"""FastV (arXiv 2403.06764): prune R% of the image tokens after layer K of the LLM.

Run: ``tokzoo repro fastv`` (or ``python repro/fastv.py``).

Paper notation -> zoo: FastV's ``K`` is the layer after which tokens are dropped (layers
0..K-1 see every token); ``R`` is the *prune* ratio of image tokens, so the zoo's
``keep_ratio = 1 - R``. FLOPs follow FastV's own count (Eq. 5: per layer
4nd² + 2n²d + 2ndm over all tokens; ``zoo.flops`` convention ``"fastv"``).

Token count of the analytic claims: 576 image tokens (CLIP ViT-L/14 at 336 px) and 36
other tokens: the system prompt length FastV's own scripts pass
(``--fast-v-sys-length 36`` in ``src/FastV/inference/eval/eval_aokvqa_latency_fastv_inplace.sh``).
The question tokens are not counted; each record lists the range of non-image token counts
for which the printed number is reproduced.

Numbers checked: the abstract's 45%, the README's "FLOPS=57%" header, the image tokens the
latency script keeps at each R (its ``(1-R)*N_Image_Tokens`` comment) and the README's latency
table (the three 13B rows, as ratios to the vanilla row). FastV's FLOPs as *other* papers count
them (PyramidDrop's Tables 1, 3 and 5: 2.01 and 10.6 TFLOPs) are claims of
``repro/pyramiddrop.py``, under PyramidDrop's convention.

Figure cells. The FLOPs reduction ratios of the paper's two FLOPs figures, which the README
shows at d165972 (the same image files since 6921aed and 5683256): ``figs/fastv_tradeoff.png``
(the paper's Figure 1, x axis "Theoretical FLOPs Reduction Ratio") and the right panel of
``figs/ablation_ocrvqa.png`` (the README: "the ablation study on K and R values, as shown in
figure-7 in the paper"). A figure prints no digits: each value was read from the image as the
centre of its marker in pixels (the figure's own tick or grid positions give the scale; about
0.001 per pixel, a marker is about 20 pixels wide), so the tolerance is half a percentage point.

- Figure 1 has nine points per LLaVA-1.5 model besides the baseline: K ∈ {2, 3, 5} × R ∈ {50%,
  75%, 90%} (the settings of Table 1, below; FastV's count with 36 non-image tokens puts each 13B
  point within 0.2 points). The 7B points sit at whole percentages (0.40, 0.43, 0.45, 0.60, ...):
  they are drawn from Table 1's ratios rounded to 1%, and are claimed at that precision. The tenth
  7B point (0.48) is K = 0, R = 50%, which the zoo's FastV does not run (K >= 1): not claimed.
- Figure 7 (right panel: K ∈ {1, 2, 5, 10, 15, 20} × R ∈ {87.5%, 75%, 50%, 25%}): the 24 ratios
  are reproduced on the 40-layer Vicuna-13B shape (576 + 36 tokens), the model the v3 caption
  names, not on the 32 layers of the 7B model the README's OCR-VQA script loads (K = 20 there
  gives 0.31, the figure 0.41); each record also gives the 7B value.

Table cells. Tables 1, 5 and 6 of arXiv:2403.06764v3 were read from a text extraction of the v3
PDF (its header: "arXiv:2403.06764v3 [cs.CV] 2 Sep 2024") held in the library's GitHub file index
(file id 60895033776; the index does not name its repository): ``TABLE_COPY``. Counting, as
found by reproducing the cells:

- Table 1's "Flops(B)" is Eq. 5 for *one* layer: the baselines 99.3 (7B) and 154.6 (13B) are
  4nd² + 2n²d + 2ndm at n = 576 + 36 = 612 exactly; a FastV row is the mean over the T layers,
  (K·f(n) + (T - K)·f(n̂)) / T, i.e. Eq. 5's numerator over T. The pruned count is
  n̂ = n - R·576 without rounding: at R = 90% that is 57.6 image tokens (rounding to 58 misses
  all three 13B R = 90% cells by 0.1). Eq. 5 is a polynomial in n, evaluated at a fractional n̂
  from ``zoo.flops.layer_flops``'s exact integer counts (``_eq5``).
- LLaVA-1.5-13B: that count reproduces all ten Table 1 FLOPs cells and, as their ratios, the
  "Flops Ratio" column. LLaVA-1.5-7B: the ratio column reproduces (Eq. 5 ratio printed to 1%),
  but the FLOPs column is the *printed* ratio times the printed 99.3 (55% x 99.3 = 54.6, while
  Eq. 5 gives 54.8): every 7B FLOPs cell equals round(ratio) x 99.3, and no token count reproduces them
  directly (at most 4 of 12 for any count of non-image tokens or layers); the claims measure that
  arithmetic and keep the direct value in the details. K = 0 means pruning before the first
  layer: 7B R = 50% and 75% reproduce; 7B K = 0, R = 90% (18.9 B, 19%) and 13B K = 0, R = 50%
  (Table 5, 78.9 B) deviate (Eq. 5 gives 14.8 B / 15% and 80.9 B).
- The QwenVL-Chat-7B block is not claimed: no Qwen-VL config ships here, and its baseline
  (71.9 B) does not follow from 256 image tokens and a short prompt.
- Table 6 (Video-LLaVA, Vicuna-7B, 2,048 video tokens: "a video costs 2048 tokens in Video-LLaVA"
  in Section 5.3): Flops = 52.3% (K = 2) and 57.1% (K = 5) at R = 50% both reproduce with 66-70
  non-visual tokens and with no other count (36 gives 51.6% / 56.5%); the claims use 68, a
  count fitted to these two cells (the paper does not state it).
- Table 4 (A40 latencies with K = 0) is not claimed: the zoo's FastV ranks tokens by the
  attention of layer K - 1 and needs K >= 1.

The Figure 1 settings are Table 1's: its nine 13B points are 1 - (Table 1 ratio) within 0.002,
and the tenth 7B point (0.48) is Table 1's K = 0, R = 50% row (52%). Figure 7's caption (v3):
"Experiments are conducted with LLaVA1.5-13B on OCR-VQA task", which the 40-layer fit found.

Conformance to the authors' code (``tokzoo repro fastv --kind conformance --official PATH``):
FastV's inplace pruning lives inside the ``LlamaModel.forward`` of the transformers 4.31 fork
in github.com/pkunlp-icler/FastV (``src/transformers/src/transformers/models/llama/
modeling_llama.py`` at d165972), which does not run beside transformers 5. The claims run it
in a second Python interpreter (``zoo.repro.harness.conformance_llm_tf4``: weights and input
embeddings go through files; the driver imports the fork from the checkout, it installs
nothing). Setting that interpreter up, in words: a virtual environment outside the
repository with the same torch as tokzoo's (2.14.1 here; the repository pins 2.0.1, which
has no wheel for Python 3.11 on this machine), ``transformers==4.31.0`` and
``tokenizers==0.13.3`` from PyPI (only for the fork's dependencies; the fork itself shadows
them) and ``safetensors``; its ``python`` goes into ``TOKZOO_OFFICIAL_PYTHON_PKUNLP_ICLER_FASTV``
(or ``TOKZOO_OFFICIAL_PYTHON``). Without it the claims say ``needs official python``.

The attention-mask variant (``variant="mask"``, the official path without
``fast_v_inplace``) is compared too: the same image tokens stay visible and the outputs at the
visible tokens are bit-identical in float64 and float32; the rows of hidden tokens differ
(tokzoo lets a hidden token attend to itself, the official mask hides its own column from it
as well; no other token reads those rows).

Precision: in float64 and float32 tokzoo keeps the same tokens and gives bit-identical
outputs (eager attention on both sides; the official forward runs with torch's default dtype
set to the run's dtype, since the fork's mask helper fills a default-dtype tensor with
``finfo(float64).min``). In bfloat16 the official code ranks the image tokens by attention
probabilities rounded to bfloat16 (``softmax(..., dtype=float32).to(bfloat16)``, averaged over
heads in bfloat16), where many scores tie; tokzoo ranks float32 probabilities (from the
layer's bf16 queries and keys) and so keeps partly other tokens: the bfloat16 record says how
many.
"""

from __future__ import annotations

from zoo.flops import fastv_schedule, flops_ratio, full_schedule, kept_tokens, layer_flops
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder, image_tokens, reproducing_range, schedule_measurement
from zoo.repro.conformance import Official, conformance_claim
from zoo.repro.harness.vlm import benchmark, lmms_eval_score, prefill_latency

README = "github.com/pkunlp-icler/FastV README.md@01a5b86"
README_URL = "https://github.com/pkunlp-icler/FastV/blob/01a5b868784921cd519adca3564ff84262df689a/README.md"
LATENCY_SCRIPT = Source(
    "github.com/pkunlp-icler/FastV src/FastV/inference/eval/eval_aokvqa_latency_fastv_inplace.sh@717a293",
    "comment on rank_list: rank equals (1-R)*N_Image_Tokens for R = 87.5%, 75%, 50%, 25%",
    "https://github.com/pkunlp-icler/FastV/blob/717a2934571d01acf20557f41e86656767c7228f/src/FastV/inference/eval/eval_aokvqa_latency_fastv_inplace.sh",
)
ABSTRACT = Source("arXiv:2403.06764v3", "Abstract", "https://arxiv.org/abs/2403.06764v3")
SYSTEM_TOKENS = 36


def _flops(config: str, k: int, r: float, as_percent: str):
    def measure(ctx) -> Measurement:
        cfg = decoder(config)
        n_img = image_tokens(config)
        base = full_schedule(cfg.num_layers, n_img, SYSTEM_TOKENS)
        meth = fastv_schedule(cfg.num_layers, n_img, SYSTEM_TOKENS, k=k, r=r)
        m = schedule_measurement(cfg, meth, base, "fastv", as_percent=as_percent)
        claim = ctx.claim

        def matches(n_other: int) -> bool:
            ratio = flops_ratio(fastv_schedule(cfg.num_layers, n_img, n_other, k=k, r=r),
                                full_schedule(cfg.num_layers, n_img, n_other), cfg, "fastv")
            value = 100 * ratio if as_percent == "ratio" else 100 * (1 - ratio)
            return abs(value - claim.reported) <= claim.tolerance

        m.details["non_image_tokens_reproducing"] = reproducing_range(matches, range(0, 513))
        m.params = {"k": k, "keep_ratio": 1 - r}
        return m

    return measure


def _kept_tokens(r: float):
    """Image tokens left after layer K: the zoo's budget rule (``keep_ratio = 1 - R``) on 576 tokens,
    the count FastV's ``fastv_schedule`` gives the later layers (pure arithmetic; the implementation
    keeping exactly these is checked by ``tests/test_repro_schedules.py``)."""

    def measure(ctx) -> Measurement:
        n_img = image_tokens("llava-1.5-13b")
        kept = kept_tokens(n_img, keep_ratio=1 - r)
        sched = fastv_schedule(40, n_img, SYSTEM_TOKENS, k=2, r=r)
        return Measurement(kept, params={"k": 2, "keep_ratio": 1 - r}, details={
            "image_tokens": n_img, "prune_ratio_R": r, "rule": "ceil((1 - R) * 576) (zoo.flops.kept_tokens)",
            "schedule_image_tokens_after_layer_k": sched.image[-1],
            "schedule_agrees": sched.image[-1] == kept})

    return measure


CLAIMS = [
    Claim(
        id="flops-reduction-13b-k2-r50",
        kind="analytic",
        description="Theoretical FLOPs reduction of LLaVA-1.5-13B with FastV",
        reported=45, unit="%", tolerance=printed(0),
        setting={"model": "LLaVA-1.5-13B (Vicuna-13B, 40 layers)", "K": 2, "R": "50%",
                 "tokens": f"576 image + {SYSTEM_TOKENS} system-prompt tokens",
                 "metric": "1 - FLOPs(FastV)/FLOPs(baseline), FastV Eq. 5 convention",
                 "note": "the abstract does not name K and R; K=2, R=50% is the configuration of the title"},
        source=ABSTRACT, measure=_flops("llava-1.5-13b", 2, 0.5, "reduction"),
        method="fastv", params={"k": 2, "keep_ratio": 0.5},
    ),
    Claim(
        id="flops-ratio-7b-k3-r50",
        kind="analytic",
        description="FLOPs of LLaVA-1.5-7B with FastV K=3 R=50% relative to the baseline",
        reported=57, unit="%", tolerance=printed(0),
        setting={"model": "LLaVA-1.5-7B (Vicuna-7B, 32 layers)", "K": 3, "R": "50%",
                 "tokens": f"576 image + {SYSTEM_TOKENS} system-prompt tokens",
                 "metric": "FLOPs(FastV)/FLOPs(baseline), FastV Eq. 5 convention"},
        source=Source(README, "section 'Support LMMs-Eval', table header 'FastV K=3 R=50% (FLOPS=57%)'", README_URL),
        measure=_flops("llava-1.5-7b", 3, 0.5, "ratio"),
        method="fastv", params={"k": 3, "keep_ratio": 0.5},
    ),
    *[
        Claim(
            id=f"kept-image-tokens-r{str(r * 100).rstrip('0').rstrip('.').replace('.', '')}",
            kind="analytic",
            description=f"Image tokens kept after layer K with R={r:.1%}",
            reported=kept, unit="tokens", tolerance=0,
            setting={"model": "LLaVA-1.5-13B (40 layers, 576 image tokens)", "K": 2,
                     "R": f"{r:.1%}", "image_tokens": 576,
                     "metric": "image tokens kept after layer K under the zoo's budget rule vs the script's attention "
                               "rank (1-R)*576"},
            source=LATENCY_SCRIPT, measure=_kept_tokens(r), method="fastv", params={"k": 2, "keep_ratio": 1 - r},
        )
        for r, kept in ((0.875, 72), (0.75, 144), (0.5, 288), (0.25, 432))
    ],
]

FIG1 = Source("github.com/pkunlp-icler/FastV figs/fastv_tradeoff.png@d165972 (README figure; the paper's Figure 1)",
              "x axis 'Theoretical FLOPs Reduction Ratio', marker centres read from the image",
              "https://github.com/pkunlp-icler/FastV/blob/d1659729b5bf1be225e99ee15783deeea80f63b1/figs/fastv_tradeoff.png")
FIG7 = Source("github.com/pkunlp-icler/FastV figs/ablation_ocrvqa.png@d165972 (README: 'figure-7 in the paper')",
              "right panel 'FLOPs Reduction Ratio' per K and R, marker centres read from the image",
              "https://github.com/pkunlp-icler/FastV/blob/d1659729b5bf1be225e99ee15783deeea80f63b1/figs/ablation_ocrvqa.png")
PLOT = ("read from a figure (no printed digits): marker centre in pixels against the figure's ticks/grid, about "
        "0.001 per pixel; tolerance half a percentage point")
#: Figure 1: FLOPs reduction (%) per (K, R) as read; 7B points lie on whole percentages
FIG1_POINTS = {
    "llava-1.5-13b": {(5, 0.5): 41.8, (3, 0.5): 43.9, (2, 0.5): 45.3, (5, 0.75): 62.2, (3, 0.75): 65.8,
                      (2, 0.75): 67.6, (5, 0.9): 74.4, (3, 0.9): 78.7, (2, 0.9): 80.8},
    "llava-1.5-7b": {(5, 0.5): 40, (3, 0.5): 43, (2, 0.5): 45, (5, 0.75): 60, (3, 0.75): 65, (2, 0.75): 67,
                     (5, 0.9): 72, (3, 0.9): 77, (2, 0.9): 80},
}
#: Figure 7 (right panel): FLOPs reduction (%) per K for R = 87.5%, 75%, 50%, 25%, as read
FIG7_POINTS = {1: (81.1, 69.5, 46.8, 23.3), 2: (78.8, 67.7, 45.4, 22.7), 5: (72.8, 62.4, 41.8, 20.8),
               10: (62.4, 53.5, 35.7, 17.9), 15: (51.9, 44.5, 29.8, 14.9), 20: (41.5, 35.6, 23.7, 11.8)}
FIG7_R = (0.875, 0.75, 0.5, 0.25)


def _r_tag(r: float) -> str:
    return str(r * 100).rstrip("0").rstrip(".").replace(".", "")


def _figure7(k: int, r: float):
    base = _flops("llava-1.5-13b", k, r, "reduction")

    def measure(ctx) -> Measurement:
        m = base(ctx)
        cfg = decoder("llava-1.5-7b")
        ratio = flops_ratio(fastv_schedule(cfg.num_layers, 576, SYSTEM_TOKENS, k=k, r=r),
                            full_schedule(cfg.num_layers, 576, SYSTEM_TOKENS), cfg, "fastv")
        m.details["reduction_on_7b_shape_pct"] = 100 * (1 - ratio)
        return m

    return measure


for _model, _points in FIG1_POINTS.items():
    _size = _model.rsplit("-", 1)[1]
    for (_k, _r), _value in _points.items():
        CLAIMS.append(Claim(
            id=f"fig1-flops-reduction-{_size}-k{_k}-r{_r_tag(_r)}", kind="analytic",
            description=f"Theoretical FLOPs reduction of LLaVA-1.5-{_size.upper()} with FastV K={_k} R={_r:.0%} (Figure 1)",
            reported=_value, unit="%", tolerance=printed(0),
            setting={"model": f"LLaVA-1.5-{_size.upper()}", "K": _k, "R": f"{_r:.0%}",
                     "tokens": f"576 image + {SYSTEM_TOKENS} system-prompt tokens",
                     "metric": "1 - FLOPs(FastV)/FLOPs(baseline), FastV Eq. 5 convention", "reading": PLOT,
                     "settings note": "K in {2,3,5} x R in {50%,75%,90%}: Table 1's settings (1 - its ratio column)",
                     **({"precision note": "the 7B points lie on whole percentages (plotted from rounded numbers)"}
                        if _size == "7b" else {})},
            source=FIG1, measure=_flops(_model, _k, _r, "reduction"), method="fastv",
            params={"k": _k, "keep_ratio": round(1 - _r, 10)}))

for _k, _values in FIG7_POINTS.items():
    for _r, _value in zip(FIG7_R, _values):
        CLAIMS.append(Claim(
            id=f"fig7-flops-reduction-k{_k}-r{_r_tag(_r)}", kind="analytic",
            description=f"FLOPs reduction of FastV K={_k} R={_r:.1%} in the K/R ablation (Figure 7, right panel)",
            reported=_value, unit="%", tolerance=printed(0),
            setting={"model": "LLaVA-1.5-13B (40 layers; v3 caption: 'conducted with LLaVA1.5-13B on OCR-VQA'); the "
                              "README's OCR-VQA script loads the 7B model, whose 32 layers do not give these ratios "
                              "(record: reduction_on_7b_shape_pct)",
                     "K": _k, "R": f"{_r:.1%}", "tokens": f"576 image + {SYSTEM_TOKENS} system-prompt tokens",
                     "metric": "1 - FLOPs(FastV)/FLOPs(baseline), FastV Eq. 5 convention", "reading": PLOT},
            source=FIG7, measure=_figure7(_k, _r), method="fastv", params={"k": _k, "keep_ratio": round(1 - _r, 10)}))

TABLE_COPY = ("text extraction of the arXiv:2403.06764v3 PDF (header 'arXiv:2403.06764v3 [cs.CV] 2 Sep 2024') in the "
              "library's GitHub file index, file id 60895033776 (repository not named by the index)")
PAPER_V3 = "https://arxiv.org/abs/2403.06764v3"
#: Table 1 (arXiv v3): {model: {(K, R) or None: (Flops(B), Flops Ratio %)}}
TABLE1 = {
    "llava-1.5-7b": {None: (99.3, 100), (2, 0.9): (19.9, 20), (2, 0.75): (32.8, 33), (2, 0.5): (54.6, 55),
                     (3, 0.9): (22.8, 23), (3, 0.75): (34.8, 35), (3, 0.5): (56.6, 57), (5, 0.9): (27.8, 28),
                     (5, 0.75): (39.7, 40), (5, 0.5): (59.6, 60), (0, 0.9): (18.9, 19), (0, 0.75): (28.8, 29),
                     (0, 0.5): (51.6, 52)},
    "llava-1.5-13b": {None: (154.6, 100), (2, 0.9): (29.7, 19), (2, 0.75): (50.2, 32), (2, 0.5): (84.6, 55),
                      (3, 0.9): (33.0, 21), (3, 0.75): (52.9, 34), (3, 0.5): (86.4, 56), (5, 0.9): (39.6, 26),
                      (5, 0.75): (58.4, 38), (5, 0.5): (90.1, 58)},
}
TABLE_DEVIATIONS = {
    ("llava-1.5-7b", 0, 0.9): "K = 0, R = 90% under Eq. 5 with 576 + 36 tokens: ratio 14.9%, so 15% x 99.3 = 14.9 B "
                              "(printed 19%, 18.9 B); the K = 0 rows at R = 75% and 50% reproduce, so no reading fits "
                              "all three",
    ("llava-1.5-13b", 0, 0.5): "K = 0, R = 50% under Eq. 5 with 576 + 36 tokens: 80.9 B per layer (printed 78.9 B, "
                               "Table 5); it would need 280 kept image tokens instead of 288",
}
VIDEO_OTHER = 68  # fitted: Table 6's two cells reproduce with 66-70 non-visual tokens and no other count


def _eq5(n: float, cfg) -> float:
    """Eq. 5's per-layer count 4nd² + 2n²d + 2ndm at a possibly fractional ``n``: it is a·n + b·n², with a and
    b taken from ``zoo.flops.layer_flops`` (convention "fastv") at n = 1 and 2."""
    f1, f2 = layer_flops(1, cfg, "fastv"), layer_flops(2, cfg, "fastv")
    b = (f2 - 2 * f1) / 2
    return (f1 - b) * n + b * n * n


def _table1_mean(cfg, k: int | None, r: float | None, n_image: int = 576, n_other: int = SYSTEM_TOKENS) -> float:
    """Table 1's Flops: Eq. 5's numerator over T, (K f(n) + (T - K) f(n - R n_image)) / T (no rounding of n̂)."""
    n = n_image + n_other
    if k is None:
        return _eq5(n, cfg)
    t = cfg.num_layers
    return (k * _eq5(n, cfg) + (t - k) * _eq5(n - r * n_image, cfg)) / t


def _table1(model: str, key, column: str):
    def measure(ctx) -> Measurement:
        cfg = decoder(model)
        k, r = key if key else (None, None)
        mean, base = _table1_mean(cfg, k, r), _table1_mean(cfg, None, None)
        ratio = 100 * mean / base
        details = {"flops_per_layer_b": mean / 1e9, "baseline_per_layer_b": base / 1e9, "ratio_pct": ratio,
                   "pruned_tokens_n_hat": None if k is None else 576 + SYSTEM_TOKENS - r * 576,
                   "convention": "fastv Eq. 5, one layer's count (numerator over T), n = 576 + 36, n̂ = n - R*576",
                   "table_copy": TABLE_COPY}
        if k is not None and k >= 1:  # the integer schedule zoo.flops builds (kept = round((1-R)*576)) for comparison
            details["ratio_pct_integer_schedule"] = 100 * flops_ratio(
                fastv_schedule(cfg.num_layers, 576, SYSTEM_TOKENS, k=k, r=r),
                full_schedule(cfg.num_layers, 576, SYSTEM_TOKENS), cfg, "fastv")
        if column == "ratio":
            value = ratio
        elif column == "flops_from_ratio":  # the 7B column: printed (whole-percent) ratio times the baseline
            value = round(ratio) / 100 * round(base / 1e9, 1)
            details["rule"] = "round(Eq. 5 ratio, whole %) x the printed baseline 99.3 B: how the 7B FLOPs column was computed"
        else:
            value = mean / 1e9
        return Measurement(value, details=details,
                           params={} if k is None else {"k": k, "keep_ratio": round(1 - r, 10)})

    return measure


for _model, _rows in TABLE1.items():
    _size = _model.rsplit("-", 1)[1]
    for _key, (_flops_b, _ratio) in _rows.items():
        _k, _r = _key if _key else (None, None)
        _tag = "baseline" if _key is None else f"k{_k}-r{_r_tag(_r)}"
        _label = "no pruning" if _key is None else f"FastV K={_k} R={_r:.0%}"
        _setting = {"model": f"LLaVA-1.5-{_size.upper()}", "K": _k, "R": None if _r is None else f"{_r:.0%}",
                    "tokens": f"576 image + {SYSTEM_TOKENS} system-prompt tokens; pruned: n - R*576 (fractional)",
                    "convention": "FastV Eq. 5, one layer's count: (K f(n) + (T-K) f(n̂)) / T", "table_copy": TABLE_COPY}
        _dev = TABLE_DEVIATIONS.get((_model, _k, _r), "")
        _method = {} if _key is None or _k == 0 else {"method": "fastv", "params": {"k": _k, "keep_ratio": round(1 - _r, 10)}}
        _col = "flops_from_ratio" if _size == "7b" and _key is not None else "flops"
        CLAIMS.append(Claim(
            id=f"table1-flops-{_size}-{_tag}", kind="analytic",
            description=f"Table 1 'Flops(B)' of LLaVA-1.5-{_size.upper()}, {_label}",
            reported=_flops_b, unit="GFLOPs (FastV units, one layer)", tolerance=printed(1),
            setting={**_setting, "metric": "'Flops(B)' column" + (
                "; 7B rows: the printed ratio times 99.3 B (see notes)" if _col == "flops_from_ratio" else "")},
            source=Source("arXiv:2403.06764v3", f"Table 1, LLaVA-1.5-{_size.upper()}, row {'Baseline' if _key is None else f'K={_k} R={_r:.0%}'}, "
                          "column 'Flops(B)'", PAPER_V3),
            measure=_table1(_model, _key, _col), known_deviation=_dev, **_method))
        if _key is not None:
            CLAIMS.append(Claim(
                id=f"table1-ratio-{_size}-{_tag}", kind="analytic",
                description=f"Table 1 'Flops Ratio' of LLaVA-1.5-{_size.upper()}, {_label}",
                reported=_ratio, unit="%", tolerance=printed(0),
                setting={**_setting, "metric": "'Flops Ratio' column: FLOPs(FastV) / FLOPs(baseline)"},
                source=Source("arXiv:2403.06764v3", f"Table 1, LLaVA-1.5-{_size.upper()}, row K={_k} R={_r:.0%}, column "
                              "'Flops Ratio'", PAPER_V3),
                measure=_table1(_model, _key, "ratio"), known_deviation=_dev, **_method))

CLAIMS.append(Claim(
    id="table5-flops-13b-k0-r50", kind="analytic", description="Table 5 FLOPs of LLaVA-1.5-13B with FastV K=0 R=50%",
    reported=78.9, unit="GFLOPs (FastV units, one layer)", tolerance=printed(1),
    setting={"model": "LLaVA-1.5-13B", "K": 0, "R": "50%", "tokens": f"576 image + {SYSTEM_TOKENS} system-prompt tokens",
             "convention": "FastV Eq. 5, one layer's count (as Table 1)", "table_copy": TABLE_COPY,
             "note": "Table 5's other FLOPs cells (99.3B, 154.6B, 84.6B, 50.2B) repeat Table 1's"},
    source=Source("arXiv:2403.06764v3", "Table 5, row 'w/ FastV (K=0, R=50%)', column 'FLOPs'", PAPER_V3),
    measure=_table1("llava-1.5-13b", (0, 0.5), "flops"), known_deviation=TABLE_DEVIATIONS[("llava-1.5-13b", 0, 0.5)]))


def _video(k: int):
    def measure(ctx) -> Measurement:
        cfg = decoder("llava-1.5-7b")

        def value(n_other: int) -> float:
            return 100 * flops_ratio(fastv_schedule(cfg.num_layers, 2048, n_other, k=k, r=0.5),
                                     full_schedule(cfg.num_layers, 2048, n_other), cfg, "fastv")

        claim = ctx.claim
        return Measurement(value(VIDEO_OTHER), params={"k": k, "keep_ratio": 0.5}, details={
            "video_tokens": 2048, "non_visual_tokens": VIDEO_OTHER, "value_with_36": value(SYSTEM_TOKENS),
            "non_visual_tokens_reproducing": reproducing_range(lambda o: abs(value(o) - claim.reported) <= claim.tolerance,
                                                               range(0, 513)), "table_copy": TABLE_COPY})

    return measure


for _k, _value in ((2, 52.3), (5, 57.1)):
    CLAIMS.append(Claim(
        id=f"table6-flops-video-llava-k{_k}-r50", kind="analytic",
        description=f"FLOPs of Video-LLaVA with FastV K={_k} R=50% relative to the baseline (Table 6)",
        reported=_value, unit="%", tolerance=printed(1),
        setting={"model": "Video-LLaVA-7B (Vicuna-7B v1.5 LLM, 32 layers; the LLaVA-1.5-7B LLM config)", "K": _k, "R": "50%",
                 "tokens": f"2048 video tokens (Sec. 5.3) + {VIDEO_OTHER} non-visual tokens (fitted: 66-70 reproduce both "
                           "cells)", "metric": "FLOPs(FastV)/FLOPs(baseline), FastV Eq. 5", "table_copy": TABLE_COPY},
        source=Source("arXiv:2403.06764v3", f"Table 6, row 'w/ FastV (K={_k}, R=50%, Flops={_value}%)'", PAPER_V3),
        measure=_video(_k), method="fastv", params={"k": _k, "keep_ratio": 0.5}))

LATENCY = Source(README, "section 'Latency Experiment Reproduction', aokvqa results table (A100 80G)", README_URL)
LMMS = Source(README, "section 'Support LMMs-Eval', table 'LLaVA-1.5-7B'", README_URL)
HUB_7B, HUB_13B = "llava-hf/llava-1.5-7b-hf", "llava-hf/llava-1.5-13b-hf"
BASELINE_LATENCY_13B = 0.203  # README: 13B Vanilla Decoding, latency / first output token

for r, latency in ((0.25, 0.181), (0.5, 0.155), (0.75, 0.124)):
    params = {"k": 2, "keep_ratio": 1 - r}
    CLAIMS.append(Claim(
        id=f"latency-ratio-13b-k2-r{int(r * 100)}", kind="latency",
        description=f"First-token latency of LLaVA-1.5-13B with FastV K=2 R={r:.0%} relative to the baseline",
        reported=round(latency / BASELINE_LATENCY_13B, 3), unit="x", tolerance=0.1, direction="lower",
        setting={"model": "LLaVA-1.5-13B (exact architecture, random weights, fp16)", "K": 2, "R": f"{r:.0%}",
                 "reported_latency_s": {"baseline": BASELINE_LATENCY_13B, "fastv": latency}, "paper_hardware": "A100 80G",
                 "tokens": f"576 image + {SYSTEM_TOKENS} system + 40 question tokens",
                 "metric": "prefill (first output token) latency ratio FastV / baseline; the README's ratio is computed "
                           "from its two rows"},
        source=LATENCY,
        measure=lambda ctx, p=params: prefill_latency(ctx, "llava-1.5-13b", "fastv", p, n_system=SYSTEM_TOKENS,
                                                      n_question=40),
        needs=("cuda",), method="fastv", params=params,
    ))

for task, metric, reported, tol in (("mme", "mme_percetion_score", 1511.7, 30.0), ("mmmu_val", "mmmu_acc", 35.2, 2.0)):
    CLAIMS.append(Claim(
        id=f"{task.split('_')[0]}-7b-k3-r50", kind="accuracy",
        description=f"{task} score of LLaVA-1.5-7B with FastV K=3 R=50% (lmms-eval)",
        reported=reported, unit="score" if task == "mme" else "%", tolerance=tol, direction="higher",
        setting={"model": "LLaVA-1.5-7B (HF port; the README used the original LLaVA code)", "K": 3, "R": "50%",
                 "harness": "lmms-eval", "task": task, "metric": metric},
        source=LMMS,
        measure=lambda ctx, t=task, mt=metric: lmms_eval_score(ctx, HUB_7B, t, mt, "fastv", {"k": 3, "keep_ratio": 0.5},
                                                               control_params={"layers": [3], "keep_ratio": 0.5}),
        needs=("cuda", f"weights:{HUB_7B}", "dataset:lmms-lab/MME" if task == "mme" else "dataset:lmms-lab/MMMU"),
        method="fastv", params={"k": 3, "keep_ratio": 0.5},
    ))

CLAIMS.append(Claim(
    id="aokvqa-13b-k2-r50", kind="accuracy",
    description="A-OKVQA multiple-choice accuracy of LLaVA-1.5-13B with FastV K=2 R=50%",
    reported=81.3, unit="%", tolerance=2.0, direction="higher",
    setting={"model": "LLaVA-1.5-13B (HF port)", "K": 2, "R": "50%", "benchmark": "A-OKVQA validation, multiple choice",
             "metric": "accuracy (answer letter)", "harness": "tokzoo minimal evaluator",
             "protocol note": "prompt: lettered options + 'Answer with the option's letter'; FastV's own prompt differs"},
    source=LATENCY,
    measure=lambda ctx: benchmark(ctx, HUB_13B, "HuggingFaceM4/A-OKVQA", "fastv", {"k": 2, "keep_ratio": 0.5},
                                  scorer="choice", split="validation",
                                  control_params={"layers": [2], "keep_ratio": 0.5}),
    needs=("cuda", f"weights:{HUB_13B}", "dataset:HuggingFaceM4/A-OKVQA"), method="fastv",
    params={"k": 2, "keep_ratio": 0.5},
))

FASTV_CODE = Official("pkunlp-icler/FastV", "d165972")
FASTV_BF16 = ("the official code ranks image tokens by bfloat16-rounded attention probabilities (the fork's eager "
              "attention: softmax in float32, then .to(bfloat16); head mean in bfloat16), where many scores tie; "
              "tokzoo ranks float32 probabilities computed from the layer's bf16 queries and keys. In the recorded "
              "run 14 of the 288 kept image tokens differ (the two bf16 decoders agree bit for bit with the method "
              "off), and the outputs differ accordingly")
CLAIMS += [conformance_claim(
    f"conformance-llava15-k2-keep0.5-{dtype}", method="fastv", params={"k": 2, "keep_ratio": 0.5},
    official=FASTV_CODE, path="src/transformers/src/transformers/models/llama/modeling_llama.py",
    where="LlamaModel.forward, the USE_FAST_V and FASTV_INPLACE branch (transformers 4.31 fork), config use_fast_v, "
    "fast_v_inplace, fast_v_sys_length, fast_v_image_token_length, fast_v_attention_rank, fast_v_agg_layer",
    compare="zoo.repro.harness.conformance_llm_tf4:fastv", dtype=dtype,
    description=f"tokzoo's FastV (K=2, R=50%, token drop) vs the official fork's LlamaModel.forward on the same random "
                f"LLaVA-1.5 layout ({dtype}), the official code in a transformers-4.31 interpreter",
    setting={"model": "LLaVA-1.5 layout: CLIP ViT-L/14-336 depth (576 patches), narrow; 32-layer Llama, 64 wide; "
                      "random weights", "K": 2, "R": "50% (288 of 576 image tokens kept)", "variant": "drop (inplace)",
             "compared": "kept token indices, tokens per layer, lm_head input and output (method off and on)",
             "official environment": "transformers 4.31 fork from the checkout, second interpreter "
                                     "(TOKZOO_OFFICIAL_PYTHON_PKUNLP_ICLER_FASTV)"},
    known_deviation=FASTV_BF16 if dtype == "bfloat16" else "")
    for dtype in ("float64", "float32", "bfloat16")]
CLAIMS += [conformance_claim(
    f"conformance-llava15-k2-keep0.5-mask-{dtype}", method="fastv",
    params={"k": 2, "keep_ratio": 0.5, "variant": "mask"}, official=FASTV_CODE,
    path="src/transformers/src/transformers/models/llama/modeling_llama.py",
    where="LlamaModel.forward, the USE_FAST_V branch without FASTV_INPLACE (attention-mask variant, the path behind "
    "the paper's accuracy tables), config use_fast_v, fast_v_inplace=False, fast_v_sys_length, "
    "fast_v_image_token_length, fast_v_attention_rank, fast_v_agg_layer",
    compare="zoo.repro.harness.conformance_llm_tf4:fastv", dtype=dtype,
    description=f"tokzoo's FastV mask variant (K=2, R=50%) vs the official attention-mask path on the same random "
                f"LLaVA-1.5 layout ({dtype})",
    setting={"model": "LLaVA-1.5 layout: CLIP ViT-L/14-336 depth (576 patches), narrow; 32-layer Llama, 64 wide; "
                      "random weights", "K": 2, "R": "50% (288 of 576 image tokens left visible)", "variant": "mask",
             "compared": "image tokens left visible (keys the last query sees from layer K on), lm_head input and "
                         "output at the visible tokens; a hidden token's own row is not compared: tokzoo lets it "
                         "attend to itself, the official mask hides its column from it too (the record's "
                         "every_token_lm_head_input_method_on)",
             "official environment": "transformers 4.31 fork from the checkout, second interpreter "
                                     "(TOKZOO_OFFICIAL_PYTHON_PKUNLP_ICLER_FASTV)"})
    for dtype in ("float64", "float32")]

SPEC = PaperSpec(
    paper_id="fastv",
    title="An Image is Worth 1/2 Tokens After Layer 2: Plug-and-Play Inference Acceleration for Large Vision-Language Models",
    arxiv="2403.06764",
    method="fastv",
    claims=CLAIMS,
    notes=__doc__,
)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
