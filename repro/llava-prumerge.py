"""LLaVA-PruMerge: Adaptive Token Reduction for Efficient Large Multimodal Models (arXiv 2403.15388).

Run: ``tokzoo repro llava-prumerge`` (needs a GPU and the LLaVA-1.5-7B weights).

PruMerge keeps a data-dependent number of visual tokens (IQR outliers of the [CLS]
attention, zoo default ``keep_ratio=None``). The abstract (v2) reports that on LLaVA-1.5 it
compresses the visual tokens "by 18 times on average" (v1: 14 times). tokzoo measures the
mean of 576 / (tokens kept) over benchmark images with the real CLIP ViT-L/14-336 weights
of the HF LLaVA-1.5-7B, read from the implementation's own record. The abstract does not
name the images; TextVQA val (lmms-lab/textvqa) is the default here, the record says which.

No analytic claim: PruMerge's compression figures (abstract v1 "14 times", v2 "18 times",
i.e. about 32 of 576 tokens) are averages of its adaptive, data-dependent token count over
real images with the real CLIP weights: the fidelity claim above, not arithmetic on configs.

Conformance: tokzoo's PruMerge and PruMerge+ against the official ``clip_encoder.py``
(42Shawn/LLaVA-PruMerge at 097c041) on the same random LLaVA-1.5 layout, float64
(``--kind conformance --official PATH``). Both were recorded as deviating before the issue-14 fixes
(float32 scores, a float32 outlier fraction); after them (scores in the model's dtype, the Python-float
fraction and grid step) both agree to ~5e-17.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source
from zoo.repro.conformance import Official, conformance_claim
from zoo.repro.harness import methods

ABSTRACT = Source("arXiv:2403.15388v2", "Abstract ('compress the visual tokens by 18 times on average')",
                  "https://arxiv.org/abs/2403.15388v2")
HUB = "llava-hf/llava-1.5-7b-hf"
DATA = "lmms-lab/textvqa"


def compression(ctx) -> Measurement:
    import torch

    from zoo.repro.harness.vlm import load_examples, load_llava

    methods.require_method("llava-prumerge")
    model, processor = load_llava(ctx, HUB)
    examples = load_examples(ctx, DATA, split="validation")
    if ctx.options.limit:
        examples = examples[: int(ctx.options.limit)]
    factors = []
    for i, ex in enumerate(examples):
        ctx.progress(f"image {i + 1}/{len(examples)}")
        inputs = processor(images=ex["image"].convert("RGB"), text="USER: <image>\nDescribe. ASSISTANT:",
                           return_tensors="pt").to(ctx.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        with methods.apply(model, "llava-prumerge", {}) as h, torch.inference_mode():
            model(**inputs)
            kept = h.run.tokens["vision"][-1]
        factors.append(576 / kept)
    return Measurement(sum(factors) / len(factors), details={"images": len(factors), "dataset": DATA,
                                                             "min": min(factors), "max": max(factors)},
                       label="real weights")


CLAIMS = [
    Claim(id="compression-factor-llava-1.5", kind="fidelity",
          description="Average visual-token compression of PruMerge on LLaVA-1.5 (data-dependent token count)",
          reported=18, unit="x", tolerance=2.0,
          setting={"model": "LLaVA-1.5-7B (HF port)", "method": "PruMerge (adaptive IQR selection)",
                   "images": f"{DATA} validation", "metric": "mean of 576 / visual tokens kept"},
          source=ABSTRACT, measure=compression, needs=("cuda", f"weights:{HUB}", f"dataset:{DATA}"),
          method="llava-prumerge"),
]

PRUMERGE_CODE = Official("42Shawn/LLaVA-PruMerge", "097c041")
CLAIMS += [conformance_claim(
    f"conformance-llava15-{'plus' if plus else 'prumerge'}-float64", method="llava-prumerge",
    params={"plus": True} if plus else {}, official=PRUMERGE_CODE, path="llava/model/multimodal_encoder/clip_encoder.py",
    where=("CLIPVisionTower.token_prune_merge_advanced_plus" if plus else "CLIPVisionTower.token_prune_merge_advanced")
    + " (adaptive IQR selection) on the model's CLIP vision model",
    compare="zoo.repro.harness.conformance_vlm:prumerge", dtype="float64",
    description=f"tokzoo's {'PruMerge+' if plus else 'PruMerge'} vs the official vision tower, same random LLaVA-1.5 "
                "layout (float64)",
    setting={"model": "LLaVA-1.5 layout (CLIP ViT-L/14-336 depth, 576 patches), narrow, random weights",
             "mode": "adaptive (keep_ratio=None)", "compared": "image features into the projector, rows matched"},
    ) for plus in (False, True)]

SPEC = PaperSpec(paper_id="llava-prumerge", title="LLaVA-PruMerge: Adaptive Token Reduction for Efficient Large Multimodal Models",
                 arxiv="2403.15388", method="llava-prumerge", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
