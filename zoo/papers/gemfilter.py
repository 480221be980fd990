"""GemFilter: Discovering the Gems in Early Layers: Accelerating Long-Context LLMs with 1000x Input Token
Reduction (Shi et al., arXiv 2409.17422).

An early layer of the LLM already attends to the prompt tokens that matter; GemFilter uses
it as a filter and then runs the whole model on the selected tokens only. As the official
code (SalesforceAIResearch/GemFilter at 5f79b1a: ``my_baseline/GemFilter/gem_filter_utils.py``
``find_context``/``standard_dis_index`` and ``my_utils/my_generation.py``
``my_greedy_generate_selection``), per row:

1. Run decoder layers ``0 .. layer - 1`` on the full prompt (no KV cache kept).
2. At layer ``layer``: the query of the **last prompt token** and the keys of all tokens
   (after the rotary embedding, grouped KV heads repeated); the raw inner products
   ``q · k`` (no scaling, no softmax), **summed over heads**, ``[N]``.
3. Smooth them with a 1-D average pool (kernel 5, stride 1, zero padding 2: the official
   ``F.avg_pool1d(..., kernel_size=5, padding=2)``) and keep the ``keep_tokens`` highest
   (``topk``; ``min(keep_tokens, N)``), in their original order.
4. Run the whole model from layer 0 on the kept tokens only, renumbered ``0 .. k - 1`` (the
   official second pass feeds the selected ``input_ids`` as a new sequence); decoding
   continues from position ``k``.

tokzoo runs step 4 as a reduction before decoder layer 0 of the same forward, so the KV
cache holds only the kept tokens and ``generate()`` works unchanged. The official code runs
layer ``layer`` whole in step 1 (tokzoo computes only its q/k projection); the selected
tokens are the same. The scores are computed in the model's own dtype, as the official code
(so bf16/fp16 models rank with half-precision scores, as there). The look-ahead layers are recorded as a ``"lookahead"`` event, and
their cost belongs to the method's cost.

Budget: ``keep_tokens`` is the paper's ``topk`` (1024 / 2048 / 4096 in its tables); or
``keep_ratio`` of the prompt (``ceil``). ``layer`` is the filter layer (paper: 13 for
LLaMA-3.1-8B-Instruct, 19 for Mistral-NeMo-12B and Phi-3.5-mini; 0-based, as the official
``select_layer_idx``). Every prompt token is a candidate, the last one included.

Where it acts: the prompt tokens of text-only causal LMs (Llama, Qwen2, Mistral).
Positions: renumbered contiguously (1-D).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_int


@dataclass
class GemFilter(Method):
    """GemFilter: an early layer's last-token attention picks the prompt tokens the whole model then runs on."""

    layer: int = 13
    keep_tokens: int | None = None
    keep_ratio: float | None = None
    kernel_size: int = 5

    id: ClassVar[str] = "gemfilter"
    arxiv: ClassVar[str] = "2409.17422"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("prompt-tokens", "decoder-attention")
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "select_layer_idx": "layer: the filter layer, 0-based (paper: 13 for LLaMA-3.1-8B, 19 for Mistral-NeMo)",
        "topk": "keep_tokens: prompt tokens kept (paper: 1024 / 2048 / 4096)",
        "keep_ratio": "keep_ratio: fraction of the prompt kept instead of a count",
        "kernel_size=5": "kernel_size: the average pool smoothing the scores (official: 5)",
    }

    def validate(self) -> None:
        check_int(self, "layer", self.layer, low=0)
        check_budget(self, self.keep_ratio, self.keep_tokens)
        if self.keep_ratio is None and self.keep_tokens is None:
            self.keep_tokens = 1024
        check_int(self, "kernel_size", self.kernel_size, low=1)
        if self.kernel_size % 2 == 0:
            _fail("kernel_size", self.kernel_size, "an odd integer (the official pool pads kernel_size // 2)", self.id)

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth("llm")
        if not 0 <= self.layer < depth:
            _fail("layer", self.layer, f"0..{depth - 1} (the model has {depth} decoder layers)", self.id)

    def count(self, n: int) -> int:
        from zoo.core.select import keep_count

        return keep_count(n, self.keep_ratio, self.keep_tokens)

    def install(self, adapter, patch, run) -> None:
        from zoo.families.decoders.runtime import LlmEvent

        adapter.install_llm_reduction(patch, run, [LlmEvent(layer=0, select=self._select)], positions="compact")

    def _select(self, ctx):
        import torch

        from zoo.families.decoders.runtime import PruneSelection

        probe = ctx.lookahead(self.layer)
        last = ctx.last_valid()[:, None]
        scores = probe.logits(last, scaled=False, native=True).sum(dim=1)[:, 0]  # [B, N]: q_last . k, head sum
        keep = torch.zeros_like(ctx.valid)
        for b in range(scores.shape[0]):
            cols = torch.nonzero(ctx.valid[b]).squeeze(1)
            row = pooled_scores(scores[b, cols], self.kernel_size)
            k = self.count(int(cols.numel()))
            keep[b, cols[torch.topk(row, k).indices]] = True
        return PruneSelection(keep=ctx.keep_mask(keep))


def pooled_scores(scores, kernel_size: int = 5):
    """``[N]`` scores smoothed as the official ``F.avg_pool1d(kernel_size, stride=1, padding=kernel_size // 2)``."""
    import torch.nn.functional as F

    return F.avg_pool1d(scores[None, None], kernel_size=kernel_size, padding=kernel_size // 2, stride=1)[0, 0]
