"""DART: Stop Looking for "Important Tokens" in Multimodal Language Models: Duplication Matters More
(Wen et al., arXiv 2502.11494).

Duplication-Aware Reduction of Tokens: instead of ranking visual tokens by importance, pick a
few *pivot* tokens and keep the visual tokens least duplicated with them. Before decoder
layer ``K`` (after ``K`` layers saw every token), per row:

1. **Pivots** (``K``-norm): the keys of layer ``K - 1`` (after the rotary embedding, as its
   KV cache holds them, heads flattened) give every token an L1 norm; the
   ``pivot_image`` visual tokens and the ``pivot_text`` tokens after the visual span with
   the largest norms are the pivots.
2. **Duplication**: with ``h`` the hidden states entering layer ``K`` passed through the
   language model's final norm, each pivot in turn takes the ``t`` remaining visual tokens
   least similar to it (lowest cosine similarity of ``h``) out of the candidate pool, with
   ``t = int(n · keep_ratio / (pivot_image + pivot_text))``.
3. The kept visual tokens are the visual pivots and every token a pivot took (text pivots
   are never removed: every text token is kept), in their original order. That is
   ``pivot_image + (pivot_image + pivot_text) · t`` tokens, at most ``n · keep_ratio +
   pivot_image``.

The reference is LightCompress's port of the official code (ModelTC/LightCompress
``llmc/compression/token_reduction/dart.py`` at 9701d03; the authors' repository
ZichenWen1/DART could not be fetched here). Its details are kept: pivots are visited in the
order Python iterates the set of pivot indices (computed on each row's unpadded token
indices, so a padded batch row selects what the row selects alone), and the candidate pool
is re-listed from a Python set after every pivot, as there.

Budget: the official ``reduction_ratio`` is the pruned fraction; ``keep_ratio = 1 -
reduction_ratio`` (paper: 88.9% pruned, keep_ratio 0.111 -> 64 of 576 plus pivots); the
default 0.2222 keeps about 128 (``reduction_ratio`` 0.7778, LightCompress's example).
``k`` is the paper's pruning layer (default 2; LightCompress's example config uses 5).

Where it acts: the visual tokens of every decoder model tokzoo supports; a row's images and
video frames form one pool, the "text after the visual span" is every token after the
row's last visual token. Positions: survivors keep their original positions (1-D ids or
3-D M-RoPE positions), as the official port (``position_ids = keep_indexs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_int, check_ratio


@dataclass
class DART(Method):
    """DART: keep the visual tokens least duplicated with a few high key-norm pivot tokens."""

    k: int = 2
    keep_ratio: float | None = None
    keep_tokens: int | None = None
    reduction_ratio: float | None = None
    pivot_image: int = 4
    pivot_text: int = 4

    id: ClassVar[str] = "dart"
    arxiv: ClassVar[str] = "2502.11494"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("media-tokens", "decoder-attention")
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "K": "k: decoder layers 0..K-1 see every token; pruning before layer K, pivots from layer K-1's keys",
        "reduction_ratio": "reduction_ratio: pruned fraction of visual tokens; keep_ratio = 1 - reduction_ratio",
        "keep_ratio": "keep_ratio: fraction of visual tokens the duplication step keeps (visual pivots on top)",
        "pivot_image_token": "pivot_image: visual pivots (default 4)",
        "pivot_text_token": "pivot_text: text pivots after the visual span (default 4)",
    }

    def validate(self) -> None:
        check_int(self, "k", self.k, low=1)
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"reduction_ratio": self.reduction_ratio})
        if self.reduction_ratio is not None:
            check_ratio(self, "reduction_ratio", self.reduction_ratio, allow_zero=True)
            if self.reduction_ratio >= 1:
                _fail("reduction_ratio", self.reduction_ratio, "0 <= reduction_ratio < 1 (the pruned fraction)", self.id)
        if self.keep_ratio is None and self.keep_tokens is None and self.reduction_ratio is None:
            self.keep_ratio = 0.2222
        check_int(self, "pivot_image", self.pivot_image, low=1)
        check_int(self, "pivot_text", self.pivot_text, low=0)

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth("llm")
        if not 1 <= self.k < depth:
            _fail("k", self.k, f"1..{depth - 1} (the model has {depth} decoder layers)", self.id)

    def per_pivot(self, n: int) -> int:
        """Tokens each pivot takes (official ``TOKEN_TOPK``)."""
        pivots = self.pivot_image + self.pivot_text
        if self.keep_tokens is not None:
            return int(self.keep_tokens / pivots)
        ratio = 1.0 - self.reduction_ratio if self.reduction_ratio is not None else self.keep_ratio
        return int(n * ratio / pivots)

    def install(self, adapter, patch, run) -> None:
        from zoo.families.decoders.runtime import LlmEvent

        event = LlmEvent(layer=self.k, select=self._select, score_layer=self.k - 1)
        adapter.install_llm_reduction(patch, run, [event], positions="keep")

    def _select(self, ctx):
        import torch

        from zoo.families.decoders.runtime import PruneSelection

        keys = ctx.keys()  # [B, H_kv, N, D] of layer K - 1
        b, _, n, _ = keys.shape
        norms = keys.permute(0, 2, 1, 3).reshape(b, n, -1).norm(p=1, dim=-1)  # [B, N]
        state = ctx.final_norm(ctx.hidden)
        keep = ~ctx.image
        for row in range(b):
            valid = torch.nonzero(ctx.valid[row]).squeeze(1)
            offset = int(valid[0]) if valid.numel() else 0
            visual = torch.nonzero(ctx.image[row]).squeeze(1)
            if visual.numel() == 0:
                continue
            t = self.per_pivot(int(visual.numel()))
            if self.pivot_image + (self.pivot_image + self.pivot_text) * t >= visual.numel():
                keep[row, visual] = True  # the budget covers every visual token
                continue
            text_after = torch.arange(int(visual.max()) + 1, n, device=keys.device)
            kept = dart_row(norms[row], state[row], visual, text_after, self.pivot_image, self.pivot_text, t, offset)
            keep[row, kept] = True
        return PruneSelection(keep=ctx.keep_mask(keep))


def dart_row(norms, state, visual, text_after, pivot_image: int, pivot_text: int, per_pivot: int, offset: int):
    """Kept visual indices (into the row) of one row. ``norms [N]``: key L1 norms; ``state [N, C]``: normed hidden
    states; ``visual``/``text_after``: indices; ``offset``: subtracted from indices wherever their values set the
    official code's Python-set iteration order (the row's first non-padding token)."""
    import torch
    import torch.nn.functional as F

    image_pivots = (visual[torch.topk(norms[visual], min(pivot_image, visual.numel())).indices] - offset).tolist()
    text_pivots = []
    if pivot_text and text_after.numel():
        text_pivots = (text_after[torch.topk(norms[text_after], min(pivot_text, text_after.numel())).indices]
                       - offset).tolist()
    chosen = set(image_pivots + text_pivots)
    pool = set((visual - offset).tolist()) - set(image_pivots)
    for item in list(chosen):
        pool_list = list(pool)
        if not pool_list:
            break
        rows = torch.tensor(pool_list, device=state.device) + offset
        sim = -F.cosine_similarity(state[item + offset, :], state[rows, :], dim=-1)
        top = sim.topk(min(per_pivot, len(pool_list))).indices
        taken = [pool_list[i] for i in top.tolist()]
        chosen.update(taken)
        pool.difference_update(taken)
    chosen.difference_update(text_pivots)
    return torch.tensor(sorted(chosen), dtype=torch.long, device=state.device) + offset
