"""DivPrune: Diversity-based Visual Token Pruning for Large Multimodal Models (Alvar et al., CVPR 2025,
arXiv 2503.02175).

Keeping a subset of visual tokens is cast as a Max-Min Diversity Problem: choose the ``k``
tokens whose smallest pairwise distance is as large as possible, solved greedily. As the
official code (vbdi/divprune, ``LLaVA/llava/model/llava_arch.py``, ``DivPrune`` and
``pairwise_cosine_similarity``), on the visual tokens entering the language model (the
projected features, ``[n, C]`` per row):

1. ``D = 1 - cos(x_i, x_j)`` for all pairs (``x / ||x||`` then a matrix product, in the
   features' dtype).
2. The first token is the one whose nearest other token is farthest away: ``argmax_j`` of
   the second-smallest entry of column ``j`` (the smallest is the token itself).
3. Each next token maximises its distance to the tokens chosen so far: ``argmax_j min_{s in S}
   D[s, j]`` (``torch.argmax``: the first of equal maxima). tokzoo keeps the running minimum
   instead of re-reducing the chosen rows each step (the same values, ``O(n k)``).
4. The ``k`` chosen tokens are kept in their original order; every text token is kept.

Budget: the official ``SUBSET_RATIO`` is the kept fraction (paper: 0.098 of 576 = 56
tokens); ``keep_ratio`` is that fraction, counted as the official ``int(round(r * n))``;
``keep_tokens`` gives ``k`` directly.

Where it acts: before decoder layer 0 (the official ``LAYER_INDEX=0``), on every row's
visual tokens taken together (images and video frames of a row form one pool; the official
code handles one image per prompt). Positions: on 1-D RoPE models the shortened prompt is
renumbered contiguously (the official code builds a shorter input with fresh positions); on
Qwen2-VL/2.5-VL the survivors keep their original 3-D M-RoPE positions (as LightCompress's
Qwen2.5-VL port gathers ``position_ids``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, check_budget


@dataclass
class DivPrune(Method):
    """DivPrune: keep the most diverse visual tokens (greedy max-min cosine distance) at the LLM input."""

    keep_ratio: float | None = None
    keep_tokens: int | None = None

    id: ClassVar[str] = "divprune"
    arxiv: ClassVar[str] = "2503.02175"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("media-tokens",)
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "SUBSET_RATIO": "keep_ratio: fraction of visual tokens kept (paper: 0.098), count int(round(r * n))",
        "LAYER_INDEX=0": "acts on the language model's input (before decoder layer 0)",
        "keep_tokens": "keep_tokens: visual tokens kept",
    }

    def validate(self) -> None:
        check_budget(self, self.keep_ratio, self.keep_tokens)
        if self.keep_ratio is None and self.keep_tokens is None:
            self.keep_ratio = 0.098

    def count(self, n: int) -> int:
        """Visual tokens kept out of ``n`` (official ``int(round(ratio * n))``)."""
        if self.keep_tokens is not None:
            return min(n, self.keep_tokens)
        return min(n, int(round(self.keep_ratio * n)))

    def install(self, adapter, patch, run) -> None:
        from zoo.families.decoders.runtime import LlmEvent

        adapter.install_llm_reduction(patch, run, [LlmEvent(layer=0, select=self._select)], positions="compact")

    def _select(self, ctx):
        import torch

        from zoo.families.decoders.runtime import PruneSelection

        keep = ~ctx.image  # text tokens (and padding) stay where they are
        for b in range(ctx.hidden.shape[0]):
            cols = torch.nonzero(ctx.image[b] & ctx.valid[b]).squeeze(1)
            k = self.count(int(cols.numel()))
            if k >= cols.numel():
                keep[b, cols] = True
                continue
            chosen = max_min_diverse(ctx.hidden[b, cols], k)
            keep[b, cols[chosen]] = True
        return PruneSelection(keep=ctx.keep_mask(keep))


def cosine_distances(x):
    """``D [n, n] = 1 - cos(x_i, x_j)`` for ``x [n, C]``, as the official ``pairwise_cosine_similarity``."""
    import torch

    unit = x / x.norm(dim=1, keepdim=True)
    return 1.0 - torch.mm(unit, unit.t())


def max_min_diverse(x, k: int):
    """Indices (in selection order) of ``k`` rows of ``x [n, C]`` chosen greedily for max-min cosine distance."""
    import torch

    dist = cosine_distances(x)
    chosen = torch.empty(k, dtype=torch.long, device=x.device)
    if k == 0:
        return chosen
    first = torch.argmax(torch.topk(dist, 2, dim=0, largest=False).values[1, :])
    chosen[0] = first
    nearest = dist[first].clone()  # min over the chosen rows, per column
    for i in range(1, k):
        nxt = torch.argmax(nearest)
        chosen[i] = nxt
        nearest = torch.minimum(nearest, dist[nxt])
    return chosen
