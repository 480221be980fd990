"""GemFilter: Discovering the Gems in Early Layers: Accelerating Long-Context LLMs with 1000x Input Token
Reduction (arXiv 2409.17422).

Run: ``tokzoo repro gemfilter``.

Zoo notation: the official ``topk`` is ``keep_tokens``; ``select_layer_idx`` is ``layer``
(0-based; 13 for LLaMA-3.1-8B-Instruct in the official code's default).

No claim yet. The paper's numbers are accuracies (Needle-in-a-Haystack, LongBench) and GPU
running time/memory of 8B-12B models on 32K-120K-token prompts: they need the weights, the
datasets, a long-context text harness (not part of tokzoo yet) and a GPU. The official code
(SalesforceAIResearch/GemFilter at 5f79b1a, ``my_baseline/GemFilter/gem_filter_utils.py`` and
``my_utils/my_generation.py``) was run beside tokzoo on random weights instead: same kept
tokens and logits in float64, float32 and bfloat16 (see the method's docstring).
"""

from __future__ import annotations

from zoo.repro import PaperSpec

CLAIMS: list = []

SPEC = PaperSpec(paper_id="gemfilter", title="Discovering the Gems in Early Layers: Accelerating Long-Context LLMs "
                 "with 1000x Input Token Reduction", arxiv="2409.17422", method="gemfilter", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
