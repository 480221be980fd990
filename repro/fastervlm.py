"""FasterVLM: [CLS] Attention is All You Need for Training-Free Visual Token Pruning (arXiv 2412.01818).

Run: ``tokzoo repro fastervlm`` (the claim needs a GPU, the LLaVA-1.5-7B weights and
lmms-eval: ``pip install 'tokzoo[eval]'``).

Zoo notation: FasterVLM's reduction ratio R is a *prune* ratio; ``keep_ratio = 1 - R``.

The abstract's claim: pruning 95% of the visual tokens keeps 90% of LLaVA-1.5-7B's
performance. tokzoo measures it as the mean over benchmarks of 100 · score(FasterVLM) /
score(LLaVA-1.5-7B), both measured in the same run through lmms-eval with the HF port of
LLaVA-1.5-7B. The paper averages over its own ten benchmarks with LLaVA's evaluation
scripts; tokzoo uses the subset lmms-eval scores without an external judge (listed in the
record) — a difference of protocol stated in the setting.
"""

from __future__ import annotations

from zoo.flops import kept_tokens
from zoo.repro import Claim, Measurement, PaperSpec, Source
from zoo.repro.conformance import Official, conformance_claim
from zoo.repro.harness.vlm import relative_performance

ABSTRACT = Source("arXiv:2412.01818v1", "Abstract", "https://arxiv.org/abs/2412.01818v1")
HUB = "llava-hf/llava-1.5-7b-hf"
TASKS = [("gqa", "exact_match"), ("textvqa_val", "exact_match"), ("pope", "pope_accuracy"),
         ("mme", "mme_percetion_score"), ("scienceqa_img", "exact_match"), ("vizwiz_vqa_val", "exact_match")]
PARAMS = {"keep_ratio": 0.05}

README = "github.com/Theia-4869/FasterVLM README.md@f5d5f12"
README_URL = "https://github.com/Theia-4869/FasterVLM/blob/f5d5f12037e105a51865ecb4b28a73cd86eb4921/README.md"


def kept(ratio: float, crops: int):
    def measure(ctx) -> Measurement:
        per_crop = kept_tokens(576, keep_ratio=1 - ratio)
        return Measurement(per_crop * crops, params={"keep_ratio": round(1 - ratio, 10)},
                           details={"per_crop": per_crop, "crops": crops, "rule": "ceil((1 - R) * 576) per crop",
                                    "exact": 576 * (1 - ratio)})

    return measure


CLAIMS = [
    *[Claim(id=f"kept-tokens-llava15-r{int(r * 100)}", kind="analytic",
            description=f"Visual tokens FasterVLM keeps on LLaVA-1.5 at reduction ratio {r:.0%}",
            reported=n, unit="tokens", tolerance=0,
            setting={"model": "LLaVA-1.5 (576 image tokens)", "reduction ratio": f"{r:.0%}",
                     "metric": "remaining visual tokens, the README's 576 * (1 - R)"},
            source=Source(README, f"section 'Evaluation': '{r:.0%} reduction ratio (576 * (1 - {r}) = {n})'", README_URL),
            measure=kept(r, 1), method="fastervlm", params={"keep_ratio": round(1 - r, 10)})
      for r, n in ((0.75, 144), (0.9, 58), (0.95, 29))],
    Claim(id="kept-tokens-llava-next-r95", kind="analytic",
          description="Visual tokens FasterVLM keeps on LLaVA-NeXT at reduction ratio 95% (5 crops)",
          reported=145, unit="tokens", tolerance=0,
          setting={"model": "LLaVA-NeXT (5 crops of 576 image tokens)", "reduction ratio": "95%",
                   "metric": "remaining visual tokens: 29 per crop × 5",
                   "note": "the zoo's FasterVLM supports LLaVA-1.5 only: the paper's count is checked"},
          source=Source(README, "section 'Evaluation': 'The total number of remaining visual tokens is 29 * 5 = 145'",
                        README_URL),
          measure=kept(0.95, 5), method="fastervlm", params={"keep_ratio": 0.05}),
    Claim(id="relative-performance-7b-r95", kind="accuracy",
          description="Share of LLaVA-1.5-7B's benchmark performance kept when FasterVLM prunes 95% of visual tokens",
          reported=90, unit="%", tolerance=0.0, direction="higher",
          setting={"model": "LLaVA-1.5-7B (HF port llava-hf/llava-1.5-7b-hf)", "reduction ratio": "95%",
                   "benchmarks": [t for t, _ in TASKS], "harness": "lmms-eval",
                   "metric": "mean over benchmarks of 100 * score(FasterVLM) / score(baseline), same run",
                   "protocol note": "paper: 10 benchmarks with LLaVA's scripts; here: the judge-free lmms-eval subset"},
          source=ABSTRACT,
          measure=lambda ctx: relative_performance(ctx, HUB, TASKS, "fastervlm", PARAMS,
                                                   control_params={"layers": [0], "keep_ratio": 0.05}),
          needs=("cuda", f"weights:{HUB}", "dataset:lmms-lab/GQA", "dataset:lmms-lab/textvqa", "dataset:lmms-lab/POPE",
                 "dataset:lmms-lab/MME", "dataset:lmms-lab/ScienceQA", "dataset:lmms-lab/VizWiz-VQA"),
          method="fastervlm", params=PARAMS),
]

FASTERVLM_CODE = Official("Theia-4869/FasterVLM", "f5d5f12")
CLAIMS.append(conformance_claim(
    "conformance-llava15-keep0.25-float64", method="fastervlm", params={"keep_ratio": 0.25}, official=FASTERVLM_CODE,
    path="llava/model/llava_arch.py", where="LlavaMetaForCausalLM.encode_images with the official CLIPVisionTower "
    "(llava/model/multimodal_encoder/clip_encoder.py) around the model's CLIP vision model",
    compare="zoo.repro.harness.conformance_vlm:fastervlm", dtype="float64",
    description="tokzoo's FasterVLM vs the official encode_images on the same random LLaVA-1.5 layout (float64)",
    setting={"model": "LLaVA-1.5 layout (CLIP ViT-L/14-336 depth, 576 patches), narrow, random weights",
             "reduction ratio": "75% (144 of 576 kept)", "compared": "projected kept image features; kept indices"}))

SPEC = PaperSpec(paper_id="fastervlm",
                 title="[CLS] Attention is All You Need for Training-Free Visual Token Pruning: Make VLM Inference Faster",
                 arxiv="2412.01818", method="fastervlm", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
