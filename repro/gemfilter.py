"""GemFilter: Discovering the Gems in Early Layers: Accelerating Long-Context LLMs with 1000x Input Token
Reduction (arXiv 2409.17422).

Run: ``tokzoo repro gemfilter``.

Zoo notation: the official ``topk`` is ``keep_tokens``; ``select_layer_idx`` is ``layer``
(0-based; 13 for LLaMA-3.1-8B-Instruct in the official code's default).

Claims: the token counts of the paper's Figure 1, which the official README shows
(SalesforceAIResearch/GemFilter ``assets/intro.png`` at 5f79b1a): a 108,172-token prompt filtered
to 100 tokens, "1,000 times compress". The kept count is the zoo's budget rule
(``zoo.flops.kept_tokens``, the rule ``zoo.core.select.keep_count`` the method uses) at
``keep_tokens=100``; the compression factor is 108,172 / 100 = 1,081.7, which the figure prints
as the round "1,000" (one significant digit, so the tolerance is 500).

Not claimed: the paper's other numbers are accuracies (Needle-in-a-Haystack, LongBench) and GPU
running time / memory of 8B-12B models on 32K-120K-token prompts (the README's
``assets/complexity.png``); they need the weights, the datasets, a long-context text harness
(not part of tokzoo yet) and a GPU. The official code (``my_baseline/GemFilter/gem_filter_utils.py``
and ``my_utils/my_generation.py`` at 5f79b1a) was run beside tokzoo on random weights instead:
same kept tokens and logits in float64, float32 and bfloat16 (see the method's docstring).
"""

from __future__ import annotations

from zoo.flops import kept_tokens
from zoo.repro import Claim, Measurement, PaperSpec, Source

FIGURE = Source("github.com/SalesforceAIResearch/GemFilter assets/intro.png@5f79b1a (README figure; the paper's Figure 1)",
                "boxes '108,172 tokens', '100 tokens', '1,000 times compress'",
                "https://github.com/SalesforceAIResearch/GemFilter/blob/5f79b1a15b4b281ddfc5d423009915eeab257d97/assets/intro.png")
PROMPT, KEEP = 108_172, 100
PARAMS = {"layer": 13, "keep_tokens": KEEP}


def kept(ctx) -> Measurement:
    return Measurement(kept_tokens(PROMPT, keep_tokens=KEEP), params=PARAMS,
                       details={"prompt_tokens": PROMPT, "rule": "keep_tokens clipped to the prompt (zoo.flops.kept_tokens)"})


def compression(ctx) -> Measurement:
    n = kept_tokens(PROMPT, keep_tokens=KEEP)
    return Measurement(PROMPT / n, params=PARAMS, details={"prompt_tokens": PROMPT, "kept_tokens": n})


CLAIMS = [
    Claim(id="kept-tokens-figure1", kind="analytic",
          description="Prompt tokens GemFilter keeps in the paper's Figure 1 example (keep_tokens=100)",
          reported=KEEP, unit="tokens", tolerance=0,
          setting={"model": "LLaMA-3.1-8B-Instruct (filter layer 13)", "prompt": "108,172 tokens",
                   "metric": "tokens the full model runs on after the filter layer's top-k"},
          source=FIGURE, measure=kept, method="gemfilter", params=PARAMS),
    Claim(id="compression-figure1", kind="analytic",
          description="Input compression factor of the Figure 1 example ('1,000 times compress')",
          reported=1000, unit="x", tolerance=500,
          setting={"model": "LLaMA-3.1-8B-Instruct (filter layer 13)", "prompt": "108,172 tokens", "kept": KEEP,
                   "metric": "prompt tokens / kept tokens", "precision": "printed as a round 1,000 (one significant digit)"},
          source=FIGURE, measure=compression, method="gemfilter", params=PARAMS),
]

SPEC = PaperSpec(paper_id="gemfilter", title="Discovering the Gems in Early Layers: Accelerating Long-Context LLMs "
                 "with 1000x Input Token Reduction", arxiv="2409.17422", method="gemfilter", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
