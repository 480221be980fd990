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

Table cells (read from a text extraction of the paper in the library's GitHub file index, file
id 61738807583; it names SparseVLM "ICML25", so it is the June 2025 v2, not v1):

- Tables 1 and 3 print retained counts with their reductions: 192 / 128 / 64 of LLaVA-1.5's 576
  (↓ 66.7 / 77.8 / 88.9%) and 320 of LLaVA-NeXT-7B's 2,880 (↓ 88.9%; "11.1% tokens" in
  Section 4.1): arithmetic on the configs' token counts (576; 2,880 = 5 crops of 576).
- Table 2 gives DART's FLOPs on LLaVA-NeXT-7B as 12.8% of the vanilla model (320 of 2,880 tokens,
  pruned after layer 2). FastV's Eq. 5 with that schedule gives 15.5% (and no other-token count
  gives 12.8% with K = 2 under FastV's, PyramidDrop's or tokzoo's count; K = 1 with 5-7 or K = 0
  with 112-115 other tokens would): deviates. The FastV and SparseVLM rows (12.8%, 15.6%) do not
  state their settings; the KV-cache column (168.0 = 1512.1 x 320 / 2880 MB) and the times are
  not claimed.
"""

from __future__ import annotations

from zoo.flops import drop_schedule, flops_ratio, full_schedule
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder, llava_implementation_schedule

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

V2 = "https://arxiv.org/abs/2502.11494v2"
TABLE_COPY = "text extraction of the paper (v2) in the library's GitHub file index, file id 61738807583"


def _reduction(kept: int, total: int, as_share: bool = False):
    def measure(ctx) -> Measurement:
        return Measurement(100 * (kept / total if as_share else 1 - kept / total),
                           details={"kept_tokens": kept, "visual_tokens": total, "table_copy": TABLE_COPY})
    return measure


def _next_flops(ctx) -> Measurement:
    cfg = decoder("llava-next-7b")

    def ratio(n_other: int, k: int = 2) -> float:
        return 100 * flops_ratio(drop_schedule(cfg.num_layers, 2880, n_other, boundaries=[k], image_tokens=[320]),
                                 full_schedule(cfg.num_layers, 2880, n_other), cfg, "fastv")

    return Measurement(ratio(0), params={"k": 2, "reduction_ratio": 0.889}, details={
        "convention": "fastv (Eq. 5, prefill)", "visual_tokens": [2880, 320], "non_visual_tokens": 0,
        "ratio_with_k1_6_other": ratio(6, 1), "table_copy": TABLE_COPY})


for _kept, _total, _value, _where, _model in ((192, 576, 66.7, "Table 1, 'Retain 192 Tokens (↓ 66.7%)'", "LLaVA-1.5-7B"),
                                              (128, 576, 77.8, "Table 1, 'Retain 128 Tokens (↓ 77.8%)'", "LLaVA-1.5-7B"),
                                              (64, 576, 88.9, "Table 1, 'Retain 64 Tokens (↓ 88.9%)'", "LLaVA-1.5-7B"),
                                              (320, 2880, 88.9, "Table 3, 'Retain 320 Tokens (↓ 88.9%)'", "LLaVA-NeXT-7B")):
    CLAIMS.append(Claim(
        id=f"reduction-{_model.lower().replace('.', '').replace('-7b', '')}-{_kept}", kind="analytic",
        description=f"Visual-token reduction of the table's {_kept}-token setting on {_model}",
        reported=_value, unit="%", tolerance=printed(1),
        setting={"model": f"{_model} ({_total} visual tokens{', 5 crops of 576' if _total == 2880 else ''})",
                 "retained": _kept, "metric": "1 - retained / visual tokens", "table_copy": TABLE_COPY},
        source=Source("arXiv:2502.11494v2", _where, V2), measure=_reduction(_kept, _total)))
CLAIMS += [
    Claim(id="kept-share-llava-next-320", kind="analytic", description="Share of LLaVA-NeXT-7B's tokens DART keeps ('11.1%')",
          reported=11.1, unit="%", tolerance=printed(1),
          setting={"model": "LLaVA-NeXT-7B (2880 visual tokens)", "retained": 320, "metric": "100 * 320 / 2880",
                   "table_copy": TABLE_COPY},
          source=Source("arXiv:2502.11494v2", "Section 4.1 ('93.9% with only 11.1% tokens')", V2),
          measure=_reduction(320, 2880, as_share=True)),
    Claim(id="flops-ratio-llava-next-320", kind="analytic",
          description="FLOPs of LLaVA-NeXT-7B with DART (320 of 2880 tokens after layer 2) relative to the vanilla model",
          reported=12.8, unit="%", tolerance=printed(1),
          setting={"model": "LLaVA-NeXT-7B (Vicuna-7B, 32 layers, 2880 visual tokens)", "K": 2, "retained": 320,
                   "metric": "FLOPs(DART) / FLOPs(vanilla), FastV Eq. 5 prefill", "table_copy": TABLE_COPY},
          source=Source("arXiv:2502.11494v2", "Table 2, row '+DART', column 'FLOPs'", V2), measure=_next_flops,
          method="dart", params={"k": 2, "reduction_ratio": 0.889, "pivot_image": 4, "pivot_text": 4},
          known_deviation="FastV's Eq. 5 with 320 of 2880 visual tokens from layer 2 gives 15.5%; no count of other "
                          "tokens gives 12.8% with K = 2 under the fastv, pdrop or tokzoo conventions (K = 1 with 5-7 "
                          "other tokens, or K = 0 with 112-115, would)"),
]

SPEC = PaperSpec(paper_id="dart", title='Stop Looking for "Important Tokens" in Multimodal Language Models: '
                 "Duplication Matters More", arxiv="2502.11494", method="dart", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
