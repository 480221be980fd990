"""VisionZip: Longer is Better but Not Necessary in Vision Language Models (arXiv 2412.04467).

Run: ``tokzoo repro visionzip``.

Zoo notation: ``dominant`` (kept by [CLS] attention, [CLS] included) and ``contextual``
(merged) tokens, the paper's own names; ``keep_tokens = dominant + contextual``.

Numbers checked (pure arithmetic on the zoo's budget rule; that the implementation hands
exactly these counts to the LLM is checked by ``tests/test_repro_schedules.py``):

- the README's usage example (main branch, 8f86b55): ``visionzip(model, dominant=54,
  contextual=10)``, i.e. 64 visual tokens for LLaVA-1.5;
- Table 1 of arXiv:2412.04467v1 (LLaVA-1.5, 576 tokens): "Retain 192 / 128 / 64 Tokens
  (↓ 66.7% / 77.8% / 88.9%)", with the paper's splits 162 + 30, 108 + 20, 54 + 10;
- Table 2 (LLaVA-NeXT, 2880 tokens = 5 crops of 576): "Retain 640 / 320 / 160 Tokens
  (↓ 77.8% / 88.9% / 94.4%)", i.e. 128 / 64 / 32 tokens per crop. The zoo's VisionZip
  supports LLaVA-1.5 only; these claims check the paper's count (the per-crop budget times
  five crops), not a run on LLaVA-NeXT.

- Tables 8 and 9 (appendix): the dominant / contextual split of every budget, LLaVA-1.5 54 + 10,
  108 + 20, 162 + 30 and LLaVA-NeXT 135 + 25, 270 + 50, 540 + 100: the zoo's ``keep_tokens`` split
  (contextual = round(T x 10 / 64) per crop of 576) times the crops. Mini-Gemini's row repeats
  LLaVA-1.5's and is not claimed twice.

Table text read from the extraction in github.com/deep-diver/ai-paper-reviewer
``content/paper-reviews/2412.04467/index.md`` at 4799e7e (of the v1 HTML). Not claimed: Table 3
(Video-LLaVA 2048 → 136 tokens; no video family here), the efficiency tables (GPU times) and
the abstract's "8x prefilling time" (no budget named).
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.conformance import Official, conformance_claim

README = Source("github.com/dvlab-research/VisionZip README.md@8f86b55 (main branch)",
                "usage example: visionzip(model, dominant=54, contextual=10)",
                "https://github.com/dvlab-research/VisionZip/blob/8f86b55c6f000eb033e6912538af2dd7dcb30502/README.md")
TABLE_COPY = ("table text from github.com/deep-diver/ai-paper-reviewer content/paper-reviews/2412.04467/index.md@4799e7e "
              "(extracted from the arXiv v1 HTML)")
PAPER_URL = "https://arxiv.org/abs/2412.04467v1"
SPLITS = {64: (54, 10), 128: (108, 20), 192: (162, 30)}
CROP_TOKENS = 576


def split(tokens: int) -> tuple[int, int]:
    """The zoo's ``keep_tokens`` split (``zoo.papers.visionzip``): contextual = round(T · 10 / 64)."""
    contextual = int(tokens * 10 / 64 + 0.5)
    return max(1, tokens - contextual), contextual


def tokens_to_llm(ctx) -> Measurement:
    dominant, contextual = 54, 10
    return Measurement(dominant + contextual, params={"dominant": 54, "contextual": 10},
                       details={"dominant": dominant, "contextual": contextual, "image_tokens": CROP_TOKENS})


def reduction(per_crop: int, crops: int):
    def measure(ctx) -> Measurement:
        dominant, contextual = split(per_crop)
        kept = crops * (dominant + contextual)
        total = crops * CROP_TOKENS
        return Measurement(100 * (1 - kept / total), params={"dominant": dominant, "contextual": contextual},
                           details={"kept_tokens": kept, "image_tokens": total, "crops": crops,
                                    "per_crop": {"dominant": dominant, "contextual": contextual},
                                    "paper_split": SPLITS.get(per_crop), "table_copy": TABLE_COPY})

    return measure


CLAIMS = [
    Claim(id="image-tokens-54-10", kind="analytic",
          description="Image tokens VisionZip hands to the LLM of LLaVA-1.5 with dominant=54, contextual=10",
          reported=64, unit="tokens", tolerance=0,
          setting={"model": "LLaVA-1.5-7B (CLIP ViT-L/14-336, 576 patches)", "dominant": 54, "contextual": 10,
                   "metric": "image tokens in the LLM input: dominant + contextual"},
          source=README, measure=tokens_to_llm, method="visionzip", params={"dominant": 54, "contextual": 10}),
]
for model, crops, rows, table in (("LLaVA-1.5", 1, ((192, 66.7), (128, 77.8), (64, 88.9)), "Table 1"),
                                  ("LLaVA-NeXT", 5, ((128, 77.8), (64, 88.9), (32, 94.4)), "Table 2")):
    for per_crop, value in rows:
        total = per_crop * crops
        d, c = split(per_crop)
        CLAIMS.append(Claim(
            id=f"reduction-{model.lower().replace('.', '')}-{total}", kind="analytic",
            description=f"Visual-token reduction of VisionZip on {model} retaining {total} tokens",
            reported=value, unit="%", tolerance=printed(1),
            setting={"model": f"{model} ({crops * CROP_TOKENS} image tokens{', 5 crops of 576' if crops > 1 else ''})",
                     "retained": total, "per crop": f"dominant {d} + contextual {c}",
                     "metric": "1 - retained / image tokens (the table's '↓' figure)", "table_copy": TABLE_COPY,
                     **({"note": "the zoo's VisionZip supports LLaVA-1.5 only: the paper's count is checked"}
                        if crops > 1 else {})},
            source=Source("arXiv:2412.04467v1", f"{table}, row 'Retain {total} Tokens (↓ {value}%)'", PAPER_URL),
            measure=reduction(per_crop, crops), method="visionzip", params={"dominant": d, "contextual": c}))

for model, crops, budgets, table in (("LLaVA-1.5", 1, (64, 128, 192), "Table 8"),
                                     ("LLaVA-NeXT", 5, (32, 64, 128), "Table 9")):
    for per_crop in budgets:
        total = per_crop * crops
        paper = {64: (54, 10), 128: (108, 20), 192: (162, 30)}.get(per_crop) if crops == 1 else \
            {32: (135, 25), 64: (270, 50), 128: (540, 100)}[per_crop]
        for part, value in zip(("dominant", "contextual"), paper):
            CLAIMS.append(Claim(
                id=f"split-{model.lower().replace('.', '')}-{total}-{part}", kind="analytic",
                description=f"{part.capitalize()} tokens of VisionZip's {total}-token setting on {model} ({table})",
                reported=value, unit="tokens", tolerance=0,
                setting={"model": f"{model} ({crops * CROP_TOKENS} image tokens{', 5 crops of 576' if crops > 1 else ''})",
                         "retained": total, "metric": f"{part} tokens: the zoo's split (contextual = round(T * 10 / 64) per "
                         "crop) times the crops", "table_copy": TABLE_COPY},
                source=Source("arXiv:2412.04467v1", f"{table} (token number settings), 'Retain {total}', {part.capitalize()}",
                              PAPER_URL),
                measure=lambda ctx, pc=per_crop, c=crops, i=(0 if part == "dominant" else 1): Measurement(
                    c * split(pc)[i], params=dict(zip(("dominant", "contextual"), split(pc))),
                    details={"per_crop": dict(zip(("dominant", "contextual"), split(pc))), "crops": c}),
                method="visionzip", params=dict(zip(("dominant", "contextual"), split(per_crop)))))

VISIONZIP_CODE = Official("dvlab-research/VisionZip", "3151f6d")
CLAIMS.append(conformance_claim(
    "conformance-llava15-54-10-float64", method="visionzip", params={"dominant": 54, "contextual": 10},
    official=VISIONZIP_CODE, path="visionzip/clip_encoder.py",
    where="CLIPVisionTower_VisionZip.forward with utils.CLIPAttention_forward / CLIP_EncoderLayer_forward and "
    "apply_info (bound per instance to the model's CLIP layers)",
    compare="zoo.repro.harness.conformance_vlm:visionzip", dtype="float64",
    description="tokzoo's VisionZip vs the official vision tower on the same random LLaVA-1.5 layout (float64)",
    setting={"model": "LLaVA-1.5 layout (CLIP ViT-L/14-336 depth, 576 patches), narrow, random weights, SDPA",
             "dominant": 54, "contextual": 10, "compared": "image features into the projector; dominant indices"}))

SPEC = PaperSpec(paper_id="visionzip", title="VisionZip: Longer is Better but Not Necessary in Vision Language Models",
                 arxiv="2412.04467", method="visionzip", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
