"""PyramidDrop (arXiv 2410.17247): drop image tokens stage by stage inside the LLM.

Run: ``tokzoo repro pyramiddrop``.

Setting (the README's inference options): ``--layer_list [8,16,24]`` and
``--image_token_ratio_list [0.5,0.25,0.125]``, i.e. λ = 0.5: after layers 8, 16 and 24 the
image tokens are 50%, 25% and 12.5% of the original. Zoo notation: ``layers=(8, 16, 24)``,
``lam=0.5`` (λ).

Counting convention. Every "Infer Flops(T)" / "TFLOPS" cell of the paper's tables is
reproduced by PyramidDrop's own count (``zoo.flops`` convention ``"pdrop"``): per decoder layer
``4nd² + 2n²d + 3ndm`` with ``n`` the *image tokens only* (three FFN matrices of the SwiGLU
MLP, multiply-adds counted once), summed over the 32 layers of Vicuna-7B (d = 4096,
m = 11008). The image tokens: LLaVA-1.5 576; LLaVA-NeXT "#patches" × 576 (5 patches: 2880,
the AnyRes maximum with the base image; 9 patches: 5184). PDrop's stage ``s`` keeps
``int(n · λ^s)`` image tokens. The FastV rows are FastV at K = 2, R = 50% under the same count
(the tables do not restate K and R; K = 2, R = 50% is the only FastV setting among
K ∈ {2, 3}, R ∈ {50%, 75%} that reproduces both FastV cells; the records list all four).

Source of the table cells: arXiv:2410.17247v1 (22 Oct 2024), Tables 1, 3, 4 and 5, read from
the extraction of its tables in github.com/deep-diver/ai-paper-reviewer
``content/paper-reviews/2410.17247/index.md`` at 0fd39f4 (the table text as extracted from the
PDF; captions name the tables). Table 2 has no FLOPs column.

Conformance to the authors' code (``tokzoo repro pyramiddrop --kind conformance --official
PATH``): ``pdrop_forward``/``pdrop_rank_drop`` (``llava/model/modeling_llama_pdrop.py`` at
6444f30) are methods of a transformers 4.37 ``LlamaModel`` copy that does not import under
transformers 5 (``No module named 'transformers.modeling_attn_mask_utils'``). The claims run
the official ``LlavaLlamaForCausalLM_PDrop`` in a second Python interpreter
(``zoo.repro.harness.conformance_llm_tf4``: weights and input embeddings go through files;
the driver imports the checkout's modules, it installs nothing). Setting that interpreter
up, in words: a virtual environment outside the repository with the same torch as tokzoo's
(2.14.1 here; the repository pins 2.1.2), ``transformers==4.37.2`` and ``tokenizers==0.15.1``
(the repository's pins), ``safetensors``, and ``pillow`` and ``einops`` (imported by the
LLaVA modules); its ``python`` goes into ``TOKZOO_OFFICIAL_PYTHON_COOPERX521_PYRAMIDDROP`` (or
``TOKZOO_OFFICIAL_PYTHON``). Without it the claims say ``needs official python``.

Precision: in float64 and float32 tokzoo keeps the same tokens at all three stages and gives
bit-identical outputs (SDPA on both sides; the scores are computed apart from the layers:
the official code with a float32 softmax of float64/float32 logits, tokzoo in float32). In bfloat16 the official ranking rounds the attention probabilities to
bfloat16 before averaging heads and instructions (``softmax(..., dtype=float32).to(bfloat16)``)
and takes top-k of bfloat16 values, where many tie; tokzoo ranks float32 probabilities: the
bfloat16 record says how many kept tokens differ.
"""

from __future__ import annotations

from zoo.flops import fastv_schedule, flops_reduction, full_schedule, kept_tokens, pyramid_schedule, \
    stack_flops
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder, reproducing_range, schedule_measurement
from zoo.repro.conformance import Official, conformance_claim
from zoo.repro.loader import load_config

ABSTRACT = Source("arXiv:2410.17247v2", "Abstract ('55% inference FLOPs acceleration of LLaVA-NeXT')",
                  "https://arxiv.org/abs/2410.17247")
README = Source("github.com/Cooperx521/PyramidDrop README.md@072d101",
                "section 'Efficient Inference', options --layer_list '[8,16,24]' and --image_token_ratio_list",
                "https://github.com/Cooperx521/PyramidDrop/blob/072d10176005ae1b806696a62b0795752e03faac/README.md")
TABLE_COPY = ("table text from github.com/deep-diver/ai-paper-reviewer content/paper-reviews/2410.17247/index.md@0fd39f4 "
              "(extracted from the arXiv v1 PDF)")
PAPER_URL = "https://arxiv.org/abs/2410.17247v1"
LAYERS = [8, 16, 24]
PARAMS = {"layers": LAYERS, "lam": 0.5}
MODELS = {"llava-1.5-7b": "LLaVA-1.5-7B", "llava-next-7b": "LLaVA-NeXT-7B"}


def _pdrop(n_img: int, lam: float = 0.5):
    return pyramid_schedule(32, n_img, 0, layers=LAYERS, lam=lam)


def flops_next(ctx) -> Measurement:
    cfg = decoder("llava-next-7b")
    n_img = load_config("llava-next-7b")["image_tokens_max"]
    m = schedule_measurement(cfg, _pdrop(n_img), full_schedule(cfg.num_layers, n_img, 0), "pdrop", as_percent="reduction")

    def ok(n: int) -> bool:
        value = 100 * flops_reduction(_pdrop(n), full_schedule(32, n, 0), cfg, "pdrop")
        return abs(value - ctx.claim.reported) <= ctx.claim.tolerance

    m.details["image_tokens_reproducing"] = reproducing_range(ok, range(8, 5761, 8))
    m.params = PARAMS
    return m


def kept_after(stage: int):
    """Image tokens in stage ``stage`` (1-3) on LLaVA-1.5 under the zoo's rule ``int(576 · λ^s)``."""

    def measure(ctx) -> Measurement:
        sched = _pdrop(576)
        kept = sched.image[LAYERS[stage - 1]]
        return Measurement(kept, params=PARAMS, details={
            "image_tokens_per_layer": list(sched.image), "rule": "int(576 * 0.5 ** stage) (zoo.flops.pyramid_schedule)",
            "readme_ratio": 0.5 ** stage, "same_as_budget_rule": kept == kept_tokens(576, keep_ratio=0.5 ** stage)})

    return measure


def tflops(model: str, n_img: int, schedule: str, *, lam: float = 0.5):
    """TFLOPs of one table cell under PyramidDrop's count: ``schedule`` is vanilla | pdrop | fastv."""

    def measure(ctx) -> Measurement:
        cfg = decoder(model)
        if schedule == "vanilla":
            sched = full_schedule(32, n_img, 0)
        elif schedule == "pdrop":
            sched = _pdrop(n_img, lam)
        else:
            sched = fastv_schedule(32, n_img, 0, k=2, r=0.5)
        value = stack_flops(sched, cfg, "pdrop") / 1e12
        details = {"convention": "pdrop", "image_tokens": n_img, "flops": stack_flops(sched, cfg, "pdrop"),
                   "image_tokens_per_layer": list(sched.image), "model": model, "table_copy": TABLE_COPY}
        if schedule == "fastv":
            details["fastv_settings_tflops"] = {
                f"K={k},R={int(r * 100)}%": stack_flops(fastv_schedule(32, n_img, 0, k=k, r=r), cfg, "pdrop") / 1e12
                for k in (2, 3) for r in (0.5, 0.75)}
        return Measurement(value, details=details)

    return measure


def _cell(table: str, where: str, model: str, patches: int, schedule: str, value: float, decimals: int, *,
          lam: float = 0.5, cid: str) -> Claim:
    n_img = 576 * patches
    if schedule == "fastv":
        method, params = "fastv", {"k": 2, "keep_ratio": 0.5}
    elif schedule == "pdrop":
        method, params = "pyramiddrop", {"layers": LAYERS, "lam": lam}
    else:
        method, params = "", {}
    label = {"vanilla": "without reduction", "pdrop": f"PyramidDrop λ={lam}", "fastv": "FastV"}[schedule]
    return Claim(
        id=cid, kind="analytic",
        description=f"Inference TFLOPs of {MODELS[model]} ({patches} patch{'es' if patches > 1 else ''}), {label}",
        reported=value, unit="TFLOPs", tolerance=printed(decimals),
        setting={"model": f"{MODELS[model]} (Vicuna-7B, 32 layers)", "image tokens": n_img, "#patches": patches,
                 "schedule": {"vanilla": "no reduction", "pdrop": f"layers {LAYERS}, λ={lam}: int(n·λ^s)",
                              "fastv": "FastV K=2, R=50% (inferred: the setting that reproduces the cell)"}[schedule],
                 "convention": "PyramidDrop: per layer 4nd²+2n²d+3ndm, n = image tokens, summed over 32 layers",
                 "metric": "'Infer Flops(T)' / 'TFLOPS' column", "table_copy": TABLE_COPY},
        source=Source("arXiv:2410.17247v1", f"{table}, {where}", PAPER_URL),
        measure=tflops(model, n_img, schedule, lam=lam), method=method, params=params)


T1 = "Table 1 (LVLM w and w/o PDrop on 6 benchmarks), column 'Infer Flops(T)'"
T3 = "Table 3 (PDrop-trained model with FastV inference), column 'Infer Flops(T)'"
T4 = "Table 4 (ablation of λ), column 'Infer Flops(T)'"
T5 = "Table 5 (inference-only PDrop vs FastV), column 'TFLOPS'"
CELLS = [
    # table, where, model, patches, schedule, value, decimals, lambda, id
    (T1, "LLaVA-NeXT-7B vanilla, 5 patches", "llava-next-7b", 5, "vanilla", 20.8, 1, 0.5, "tflops-t1-next-5p-vanilla"),
    (T1, "LLaVA-NeXT-7B PDrop, 5 patches", "llava-next-7b", 5, "pdrop", 9.46, 2, 0.5, "tflops-t1-next-5p-pdrop"),
    (T1, "LLaVA-NeXT-7B vanilla, 9 patches", "llava-next-7b", 9, "vanilla", 40.6, 1, 0.5, "tflops-t1-next-9p-vanilla"),
    (T1, "LLaVA-NeXT-7B PDrop, 9 patches", "llava-next-7b", 9, "pdrop", 18.1, 1, 0.5, "tflops-t1-next-9p-pdrop"),
    (T1, "LLaVA-1.5-7B vanilla", "llava-1.5-7b", 1, "vanilla", 3.82, 2, 0.5, "tflops-t1-llava15-vanilla"),
    (T1, "LLaVA-1.5-7B PDrop", "llava-1.5-7b", 1, "pdrop", 1.78, 2, 0.5, "tflops-t1-llava15-pdrop"),
    (T3, "LLaVA-NeXT-7B vanilla/vanilla", "llava-next-7b", 5, "vanilla", 20.8, 1, 0.5, "tflops-t3-next-vanilla"),
    (T3, "LLaVA-NeXT-7B PDrop/PDrop", "llava-next-7b", 5, "pdrop", 9.46, 2, 0.5, "tflops-t3-next-pdrop"),
    (T3, "LLaVA-NeXT-7B vanilla-trained, FastV inference", "llava-next-7b", 5, "fastv", 10.6, 1, 0.5,
     "tflops-t3-next-vanilla-fastv"),
    (T3, "LLaVA-NeXT-7B PDrop-trained, FastV inference", "llava-next-7b", 5, "fastv", 10.6, 1, 0.5,
     "tflops-t3-next-pdrop-fastv"),
    (T4, "LLaVA-NeXT-7B vanilla", "llava-next-7b", 5, "vanilla", 20.8, 1, 0.5, "tflops-t4-next-vanilla"),
    (T4, "LLaVA-NeXT-7B λ=0.4", "llava-next-7b", 5, "pdrop", 8.22, 2, 0.4, "tflops-t4-next-lam0.4"),
    (T4, "LLaVA-NeXT-7B λ=0.5", "llava-next-7b", 5, "pdrop", 9.46, 2, 0.5, "tflops-t4-next-lam0.5"),
    (T4, "LLaVA-NeXT-7B λ=0.6", "llava-next-7b", 5, "pdrop", 11.0, 1, 0.6, "tflops-t4-next-lam0.6"),
    (T4, "LLaVA-1.5-7B vanilla", "llava-1.5-7b", 1, "vanilla", 3.82, 2, 0.5, "tflops-t4-llava15-vanilla"),
    (T4, "LLaVA-1.5-7B λ=0.4", "llava-1.5-7b", 1, "pdrop", 1.54, 2, 0.4, "tflops-t4-llava15-lam0.4"),
    (T4, "LLaVA-1.5-7B λ=0.5", "llava-1.5-7b", 1, "pdrop", 1.78, 2, 0.5, "tflops-t4-llava15-lam0.5"),
    (T4, "LLaVA-1.5-7B λ=0.6", "llava-1.5-7b", 1, "pdrop", 2.06, 2, 0.6, "tflops-t4-llava15-lam0.6"),
    (T5, "LLaVA-NeXT-7B vanilla", "llava-next-7b", 5, "vanilla", 20.8, 1, 0.5, "tflops-t5-next-vanilla"),
    (T5, "LLaVA-NeXT-7B FastV", "llava-next-7b", 5, "fastv", 10.6, 1, 0.5, "tflops-t5-next-fastv"),
    (T5, "LLaVA-NeXT-7B PDrop", "llava-next-7b", 5, "pdrop", 9.5, 1, 0.5, "tflops-t5-next-pdrop"),
    (T5, "LLaVA-1.5-7B vanilla", "llava-1.5-7b", 1, "vanilla", 3.82, 2, 0.5, "tflops-t5-llava15-vanilla"),
    (T5, "LLaVA-1.5-7B FastV", "llava-1.5-7b", 1, "fastv", 2.01, 2, 0.5, "tflops-t5-llava15-fastv"),
    (T5, "LLaVA-1.5-7B PDrop", "llava-1.5-7b", 1, "pdrop", 1.78, 2, 0.5, "tflops-t5-llava15-pdrop"),
]

CLAIMS = [
    Claim(id="flops-reduction-llava-next-7b", kind="analytic",
          description="Inference FLOPs saved by PyramidDrop on LLaVA-NeXT-7B (λ=0.5, layers 8/16/24)",
          reported=55, unit="%", tolerance=printed(0),
          setting={"model": "LLaVA-NeXT-7B (Vicuna-7B, 32 layers)", "image tokens": "2880 (AnyRes maximum)",
                   "layer_list": LAYERS, "lambda": 0.5, "convention": "PyramidDrop: image tokens only, 3ndm FFN",
                   "metric": "1 - FLOPs(PDrop)/FLOPs(baseline)"},
          source=ABSTRACT, measure=flops_next, method="pyramiddrop", params=PARAMS),
    *[Claim(id=f"kept-image-tokens-stage{s}", kind="analytic",
            description=f"Image tokens of LLaVA-1.5 in PyramidDrop's stage {s} (after layer {LAYERS[s - 1]})",
            reported=576 * 0.5 ** s, unit="tokens", tolerance=0,
            setting={"model": "LLaVA-1.5-7B (576 image tokens, 32 layers)", "layer_list": LAYERS,
                     "image_token_ratio_list": [0.5, 0.25, 0.125],
                     "metric": f"{0.5 ** s} × 576 image tokens from layer {LAYERS[s - 1]} on (README ratios)"},
            source=README, measure=kept_after(s), method="pyramiddrop", params=PARAMS) for s in (1, 2, 3)],
    *[_cell(*row[:7], lam=row[7], cid=row[8]) for row in CELLS],
]

PDROP_CODE = Official("Cooperx521/PyramidDrop", "6444f30")
PDROP_BF16 = ("the official pdrop_rank_drop rounds the attention probabilities to bfloat16 (softmax(..., "
              "dtype=float32).to(bfloat16)), averages heads and the query row in bfloat16 and takes top-k of bfloat16 "
              "values, where many tie; tokzoo ranks float32 probabilities computed from the layer's bf16 queries and "
              "keys, so partly other tokens are kept (the record's tokens_kept_by_tokzoo_only_per_reduction)")
CLAIMS += [conformance_claim(
    f"conformance-llava15-pdrop-8-16-24-lam0.5-{dtype}", method="pyramiddrop", params=PARAMS, official=PDROP_CODE,
    path="llava/model/modeling_llama_pdrop.py", where="LlamaModel.pdrop_forward and pdrop_rank_drop, driven by "
    "llava/model/language_model/llava_llama_pdrop.py LlavaLlamaForCausalLM_PDrop.forward (layer_list [8, 16, 24], "
    "image_token_ratio_list [1.0, 0.5, 0.25, 0.125])",
    compare="zoo.repro.harness.conformance_llm_tf4:pyramiddrop", dtype=dtype,
    description=f"tokzoo's PyramidDrop vs the official pdrop_forward on the same random LLaVA-1.5 layout ({dtype}), "
                "the official code in a transformers-4.37 interpreter",
    setting={"model": "LLaVA-1.5 layout: CLIP ViT-L/14-336 depth (576 patches), narrow; 32-layer Llama, 64 wide; "
                      "random weights", "layer_list": LAYERS, "lambda": 0.5,
             "compared": "kept token indices at the three stages, tokens per layer, lm_head input and output "
                         "(method off and on)",
             "official environment": "transformers 4.37.2, second interpreter "
                                     "(TOKZOO_OFFICIAL_PYTHON_COOPERX521_PYRAMIDDROP)"},
    known_deviation=PDROP_BF16 if dtype == "bfloat16" else "")
    for dtype in ("float64", "float32", "bfloat16")]

SPEC = PaperSpec(paper_id="pyramiddrop",
                 title="PyramidDrop: Accelerating Your Large Vision-Language Models via Pyramid Visual Redundancy Reduction",
                 arxiv="2410.17247", method="pyramiddrop", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
