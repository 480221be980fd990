"""VisionZip: Longer is Better but Not Necessary in Vision Language Models (arXiv 2412.04467).

Run: ``tokzoo repro visionzip``.

Zoo notation: ``dominant`` (kept by [CLS] attention, [CLS] included) and ``contextual``
(merged) tokens, the paper's own names; ``keep_tokens = dominant + contextual``.

The only number sourced so far is the README's usage example (main branch, commit
8f86b55c): ``visionzip(model, dominant=54, contextual=10)``, i.e. 64 visual tokens for
LLaVA-1.5. That README is not in our stored copy of the repository (which holds the
demo-chat branch); the call is quoted identically in several downstream evaluation scripts.
The claim checks that the zoo's VisionZip hands exactly 64 image tokens to the LLM on the
LLaVA-1.5-7B layout (CLIP ViT-L/14-336: 24 layers, 576 patches). The abstract's speed claims
("prefilling time 8x", "LLaVA-NeXT 13B faster than LLaVA-NeXT 7B") name no token budget, so
they are not claimed here.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source
from zoo.repro.analytic import llava_implementation_schedule

README = Source("github.com/dvlab-research/VisionZip README.md@8f86b55 (main branch)",
                "usage example: visionzip(model, dominant=54, contextual=10)",
                "https://github.com/dvlab-research/VisionZip/blob/8f86b55c6f000eb033e6912538af2dd7dcb30502/README.md")
PARAMS = {"dominant": 54, "contextual": 10}


def image_tokens_to_llm(ctx) -> Measurement:
    base = llava_implementation_schedule("llava-1.5-7b", "visionzip", PARAMS, n_system=36, n_question=40)
    n_llm = base["input_tokens"]["llm"]
    return Measurement(n_llm - 76, details={"llm_input_tokens": n_llm, "text_tokens": 76, "record": base},
                       params=PARAMS)


CLAIMS = [
    Claim(id="image-tokens-54-10", kind="analytic",
          description="Image tokens VisionZip hands to the LLM of LLaVA-1.5 with dominant=54, contextual=10",
          reported=64, unit="tokens", tolerance=0,
          setting={"model": "LLaVA-1.5-7B layout (CLIP ViT-L/14-336, 576 patches), narrow random weights",
                   "dominant": 54, "contextual": 10, "metric": "image tokens in the LLM input"},
          source=README, measure=image_tokens_to_llm, method="visionzip", params=PARAMS),
]

SPEC = PaperSpec(paper_id="visionzip", title="VisionZip: Longer is Better but Not Necessary in Vision Language Models",
                 arxiv="2412.04467", method="visionzip", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
