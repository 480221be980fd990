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

Not encoded: the FLOPs cells of the paper's own tables (Table 1 and the K/R ablation). No
stored copy of arXiv:2403.06764 beyond its first page was readable here (the arXiv HTML
copy is only reachable from its beginning; no extraction of its tables was found); add them
with their version when a copy is at hand: ``zoo.flops`` convention ``"fastv"`` computes them.

Conformance to the authors' code: not run yet. FastV's inplace pruning lives inside the
``LlamaModel.forward`` of the transformers 4.31 fork vendored in github.com/pkunlp-icler/FastV
(``src/transformers/src/transformers/models/llama/modeling_llama.py`` at d165972), a whole
decoder forward of that version (its attention, cache and mask code; the fork is a whole
transformers package to install in its own environment). It cannot drive transformers
5.24's Llama modules; a separate environment with that fork, exchanging the random weights
and inputs with this one, is not written yet.
"""

from __future__ import annotations

from zoo.flops import fastv_schedule, flops_ratio, full_schedule, kept_tokens
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder, image_tokens, reproducing_range, schedule_measurement
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
