"""FastV: An Image is Worth 1/2 Tokens After Layer 2: Plug-and-Play Inference Acceleration for
Large Vision-Language Models (Chen et al., ECCV 2024, arXiv 2403.06764).

After the first ``K`` decoder layers have seen every token, the image tokens are ranked by
the attention they receive and only the top ``1 - R`` of them go on to layers ``K..L-1``
(text tokens are never removed). The ranking is the one of the official code
(pkunlp-icler/FastV): layer ``K - 1``'s attention probabilities, averaged over heads, in the
row of the **last prompt token** (the last non-padding token of each row), read at the image
columns.

What tokzoo computes, and why it is fast: no layer is switched to eager attention and no
attention map is materialised. A hook keeps the normalised input of layer ``K - 1``'s
self-attention; before layer ``K`` runs, tokzoo recomputes that layer's query of the last
token and the keys of all tokens (its own ``q_proj``/``k_proj``, rotary embedding at the
tokens' positions, grouped-query heads repeated), applies the causal/padding mask, and
takes one softmax row per head: ``O(N d)`` extra work, the same numbers as
``output_attentions`` under eager attention (a test checks this). Pruned tokens are removed
physically (``variant="drop"``, the paper's in-place KV-cache variant): later layers, and
their KV cache, hold only the survivors.

Where it acts: every visual token (images and video frames alike, ranked together) of
every decoder model tokzoo supports (LLaVA-1.5/NeXT/OneVision/NeXT-Video, Qwen2-VL,
Qwen2.5-VL); text tokens are never removed.

Positions: survivors keep their **original position ids** (as the official code): on 1-D
RoPE models the ids they had in the full prompt, on Qwen2-VL/2.5-VL their original 3-D
M-RoPE positions; decoding continues with the unreduced prompt's positions
(``rope_deltas`` unchanged).

``variant="mask"`` instead hides the pruned tokens from layers ``>= K`` with the attention
mask (the code path behind the paper's accuracy tables); it saves no compute. Two
differences from the official mask path remain, by design: a pruned token still attends to
itself (its own query row is never fully masked, which would give NaNs), and the selection
made at prefill is kept during generation (the cached decoding steps see the same hidden
tokens), whereas the official mask path, which recomputes the whole sequence, re-selects at
every step from the then-last token's attention.

Budget: ``keep_ratio`` (default 0.5) is the fraction of image tokens kept,
``zoo.core.select.keep_count`` rounding (``ceil``; 288 / 144 / 72 of 576 for R = 50 / 75 /
87.5 %). The ``random`` control at the same place and budget is
``zoo.apply(model, "random", layers=K - 1, keep_ratio=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_choice, check_int, check_ratio


@dataclass
class FastV(Method):
    """FastV: after layer K, keep the image tokens the last prompt token attends to most."""

    k: int = 2
    keep_ratio: float | None = None
    keep_tokens: int | None = None
    R: float | None = None
    variant: str = "drop"

    id: ClassVar[str] = "fastv"
    arxiv: ClassVar[str] = "2403.06764"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("media-tokens", "decoder-attention")
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "K": "k: same value; decoder layers 0..K-1 see every token, the image tokens are pruned before layer K "
             "(scores: layer K-1's attention)",
        "R": "R: fraction of image tokens pruned (paper: 50%, 75%); keep_ratio = 1 - R",
        "keep_ratio": "keep_ratio: fraction of image tokens kept (default 0.5, i.e. R = 50%)",
        "keep_tokens": "keep_tokens: image tokens kept (the official code's ATTENTION_RANK, e.g. 288 of 576)",
        "variant": "variant: 'drop' removes the tokens (real speedup, in-place KV cache code); 'mask' hides them "
                   "with the attention mask (the official code's default path; accuracy only)",
    }

    def validate(self) -> None:
        check_int(self, "k", self.k, low=1)
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"R": self.R})
        if self.R is not None:
            check_ratio(self, "R", self.R, allow_zero=True)
            if self.R >= 1:
                _fail("R", self.R, "0 <= R < 1 (R is the pruned fraction)", self.id)
        if self.keep_ratio is None and self.keep_tokens is None and self.R is None:
            self.keep_ratio = 0.5
        check_choice(self, "variant", self.variant, ("drop", "mask"))

    def budget(self) -> dict[str, Any]:
        """The budget in the zoo's vocabulary: ``{"keep_ratio": ...}`` or ``{"keep_tokens": ...}``."""
        if self.keep_tokens is not None:
            return {"keep_tokens": self.keep_tokens}
        return {"keep_ratio": 1.0 - self.R if self.R is not None else self.keep_ratio}

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth("llm")
        if not 1 <= self.k < depth:
            _fail("k", self.k, f"1..{depth - 1} (K layers see all tokens; the model has {depth} decoder layers)",
                  self.id)

    def install(self, adapter, patch, run) -> None:
        from zoo.core.select import keep_count
        from zoo.families.decoders.runtime import LlmEvent, PruneSelection

        budget = self.budget()

        def select(ctx):
            k = [keep_count(int(n), budget.get("keep_ratio"), budget.get("keep_tokens")) for n in ctx.image_counts]
            last = ctx.last_valid()[:, None]  # [B, 1]
            scores = ctx.attention(last).mean(dim=1)[:, 0]  # [B, N]: head-averaged last row
            return PruneSelection(keep=ctx.keep_top_images(scores, k))

        event = LlmEvent(layer=self.k, select=select, score_layer=self.k - 1)
        adapter.install_llm_reduction(patch, run, [event], positions="keep", mode=self.variant)
