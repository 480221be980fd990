"""PyramidDrop (arXiv 2410.17247): drop image tokens stage by stage inside the LLM.

Run: ``tokzoo repro pyramiddrop``.

Setting (the README's inference options): ``--layer_list [8,16,24]`` and
``--image_token_ratio_list [0.5,0.25,0.125]``, i.e. λ = 0.5: after layers 8, 16 and 24 the
image tokens are 50%, 25% and 12.5% of the original. Zoo notation: ``layers=(8, 16, 24)``,
``lam=0.5`` (λ).

FLOPs follow PyramidDrop's own count (``zoo.flops`` convention ``"pdrop"``): per layer
4nd² + 2n²d + 3ndm with n the *image* tokens only (three FFN matrices of the SwiGLU MLP).
LLaVA-NeXT's image-token count is taken at AnyRes' upper bound, 2880 = 5 × 576 (one base
image and four 336-px tiles); the record lists the range of counts that reproduce the
printed number.
"""

from __future__ import annotations

from zoo.flops import drop_schedule, flops_reduction, full_schedule
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder, llava_implementation_schedule, reproducing_range, schedule_measurement
from zoo.repro.loader import load_config

ABSTRACT = Source("arXiv:2410.17247v2", "Abstract ('55% inference FLOPs acceleration of LLaVA-NeXT')",
                  "https://arxiv.org/abs/2410.17247")
README = Source("github.com/Cooperx521/PyramidDrop README.md@072d101",
                "section 'Efficient Inference', options --layer_list '[8,16,24]' and --image_token_ratio_list",
                "https://github.com/Cooperx521/PyramidDrop/blob/072d10176005ae1b806696a62b0795752e03faac/README.md")
LAYERS = [8, 16, 24]
PARAMS = {"layers": LAYERS, "lam": 0.5}


def _pdrop(n_img: int):
    return drop_schedule(32, n_img, 0, boundaries=LAYERS, image_tokens=[n_img // 2, n_img // 4, n_img // 8])


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


def kept_after_24(ctx) -> Measurement:
    rec = llava_implementation_schedule("llava-1.5-7b", "pyramiddrop", PARAMS)
    llm = rec["tokens"]["llm"]
    n_other = rec["input_tokens"]["llm"] - 576
    return Measurement(llm[-1] - n_other, details={"llm_tokens_after_layer": llm, "non_image_tokens": n_other,
                                                   "note": "narrow LLaVA-1.5-7B (32 layers, 576 image tokens)"},
                       params=PARAMS)


CLAIMS = [
    Claim(id="flops-reduction-llava-next-7b", kind="analytic",
          description="Inference FLOPs saved by PyramidDrop on LLaVA-NeXT-7B (λ=0.5, layers 8/16/24)",
          reported=55, unit="%", tolerance=printed(0),
          setting={"model": "LLaVA-NeXT-7B (Vicuna-7B, 32 layers)", "image tokens": "2880 (AnyRes maximum)",
                   "layer_list": LAYERS, "lambda": 0.5, "convention": "PyramidDrop: image tokens only, 3ndm FFN",
                   "metric": "1 - FLOPs(PDrop)/FLOPs(baseline)"},
          source=ABSTRACT, measure=flops_next, method="pyramiddrop", params=PARAMS),
    Claim(id="kept-image-tokens-last-stage", kind="analytic",
          description="Image tokens the zoo's PyramidDrop keeps in the last stage (layers 24-31) of LLaVA-1.5-7B",
          reported=72, unit="tokens", tolerance=0,
          setting={"model": "LLaVA-1.5-7B layout (576 image tokens, 32 layers), narrow random weights",
                   "image_token_ratio_list": [0.5, 0.25, 0.125], "layer_list": LAYERS,
                   "metric": "0.125 × 576 image tokens left after the last stage (README ratios)"},
          source=README, measure=kept_after_24, method="pyramiddrop", params=PARAMS),
]

SPEC = PaperSpec(paper_id="pyramiddrop",
                 title="PyramidDrop: Accelerating Your Large Vision-Language Models via Pyramid Visual Redundancy Reduction",
                 arxiv="2410.17247", method="pyramiddrop", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
