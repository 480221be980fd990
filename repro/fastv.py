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

- Figure 1 has nine points per LLaVA-1.5 model besides the baseline. FastV's count with 36
  non-image tokens puts the nine 13B points at K ∈ {2, 3, 5} × R ∈ {50%, 75%, 90%} within 0.2
  points each, so that grid is taken as the figure's settings (the README does not label the
  points; the paper's Table 1 lists the settings, but no readable copy of it was found). The 7B
  points sit at whole percentages (0.40, 0.43, 0.45, 0.60, ...): they are drawn from numbers
  rounded to 1%, and are claimed at that precision. One more 7B point (at 0.48, average 69.0)
  matches no K ∈ 1..5, R ∈ {25%, 50%, 75%, 87.5%, 90%} setting and is not claimed.
- Figure 7 (right panel: K ∈ {1, 2, 5, 10, 15, 20} × R ∈ {87.5%, 75%, 50%, 25%}): the 24 ratios
  are reproduced on the 40-layer Vicuna-13B shape (576 + 36 tokens), not on the 32 layers of the
  7B model the README's OCR-VQA script loads (K = 20 there gives 0.31, the figure 0.41): the
  claims use the 13B shape; each record also gives the 7B value.

Still not encoded: the printed FLOPs column of the paper's Table 1 (absolute FLOPs per setting).
The stored copies of arXiv:2403.06764 (arXiv HTML, ar5iv, arxiv-vanity, scribd, the CSDN
translation) are searchable from their beginning only, and no extraction of the table was found.

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

from zoo.flops import fastv_schedule, flops_ratio, full_schedule, kept_tokens
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
                     "settings note": "the point's (K, R) is inferred: K in {2,3,5} x R in {50%,75%,90%}, matched by order",
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
            setting={"model": "LLaVA-1.5-13B shape (40 layers); the README's OCR-VQA script loads the 7B model, whose "
                              "32 layers do not give these ratios (record: reduction_on_7b_shape_pct)",
                     "K": _k, "R": f"{_r:.1%}", "tokens": f"576 image + {SYSTEM_TOKENS} system-prompt tokens",
                     "metric": "1 - FLOPs(FastV)/FLOPs(baseline), FastV Eq. 5 convention", "reading": PLOT},
            source=FIG7, measure=_figure7(_k, _r), method="fastv", params={"k": _k, "keep_ratio": round(1 - _r, 10)}))

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
