"""DART: Stop Looking for "Important Tokens" in Multimodal Language Models: Duplication Matters More
(arXiv 2502.11494).

Run: ``tokzoo repro dart``.

Zoo notation: the official ``reduction_ratio`` is the *pruned* fraction (``keep_ratio = 1 -
reduction_ratio``); ``k`` is the pruning layer; ``pivot_image``/``pivot_text`` the pivot counts
(4 + 4 in LightCompress's example config ``configs/sparsification/methods/DART/dart.yml`` at
9701d03, the reference port tokzoo follows; the authors' repository could not be fetched).

The abstract's headline is "DART can prune 88.9% vision tokens while maintaining comparable
performance" (arXiv:2502.11494v1). The claim checks the pruned share of LLaVA-1.5's 576
visual tokens at ``reduction_ratio = 0.889`` on the zoo's implementation (the LLaVA-1.5-7B
layout with narrow random weights). It deviates by construction, with the port's own
arithmetic: every pivot takes ``int(576 * 0.111 / 8) = int(7.99) = 7`` tokens, so 4 visual
pivots + 8 x 7 = 60 visual tokens survive (89.6% pruned), not 64 (88.9%). The abstract's
speed-ups (1.99x total, 2.99x prefill) need a GPU and the real model; they are not claimed.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source
from zoo.repro.analytic import llava_implementation_schedule

ABSTRACT = Source("arXiv:2502.11494v1", "Abstract: 'DART can prune 88.9% vision tokens'",
                  "https://arxiv.org/abs/2502.11494v1")
PARAMS = {"k": 2, "reduction_ratio": 0.889, "pivot_image": 4, "pivot_text": 4}


def pruned_share(ctx) -> Measurement:
    rec = llava_implementation_schedule("llava-1.5-7b", "dart", PARAMS, n_system=36, n_question=40)
    before, after = rec["input_tokens"]["llm"], rec["tokens"]["llm"][PARAMS["k"]]
    kept = 576 - (before - after)
    return Measurement(round(100.0 * (1 - kept / 576), 2), details={"kept_visual_tokens": kept, "record": rec},
                       params=PARAMS)


CLAIMS = [
    Claim(id="pruned-share-88.9", kind="analytic",
          description="Share of LLaVA-1.5's 576 visual tokens DART prunes at reduction_ratio 0.889",
          reported=88.9, unit="% of visual tokens", tolerance=0.05,
          setting={"model": "LLaVA-1.5-7B layout (576 visual tokens), narrow random weights", "K": 2,
                   "pivots": "4 visual + 4 text", "metric": "100 * (1 - kept visual tokens / 576)"},
          source=ABSTRACT, measure=pruned_share, method="dart", params=PARAMS,
          known_deviation=("the port's per-pivot count int(n (1 - r) / pivots) truncates 7.99 to 7: 4 + 8 x 7 = 60 "
                           "visual tokens kept (89.58% pruned), not the nominal 64 (88.9%)"),
          needs=("cpu", "package:torch", "package:transformers")),
]

SPEC = PaperSpec(paper_id="dart", title='Stop Looking for "Important Tokens" in Multimodal Language Models: '
                 "Duplication Matters More", arxiv="2502.11494", method="dart", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
