"""FasterVLM: [CLS] Attention is All You Need for Training-Free Visual Token Pruning: Make VLM
Inference Faster (Zhang et al., arXiv 2412.01818).

Before the projector, the image patch tokens are ranked by the attention the vision tower's
[CLS] token pays them in the layer whose output LLaVA uses (``vision_feature_layer``, the
penultimate layer of LLaVA-1.5's CLIP): softmax over all tokens per head, the [CLS] row read
at the patch columns, averaged over heads (official code: Theia-4869/FasterVLM). The top
tokens are kept in their original order; nothing is merged. Only that one attention row is
recomputed (the layer's ``q_proj`` of [CLS] and ``k_proj`` of all tokens), never the full map.

Budget: the paper's reduction ratio ``R`` (75 / 90 / 95 %) is ``keep_ratio = 1 - R``, counted
with ``zoo.core.select.keep_count`` (``ceil``): 144 / 58 / 29 of 576, the official
``visual_token_num`` values. ``keep_tokens`` gives the count directly.

Where it acts: before the projector (LLaVA-1.5; LLaVA-NeXT per anyres tile). Positions: the
shortened prompt is renumbered contiguously (1-D), as if the image had produced fewer tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_ratio


@dataclass
class FasterVLM(Method):
    """FasterVLM: keep the patch tokens with the highest vision-tower [CLS] attention."""

    keep_ratio: float | None = None
    keep_tokens: int | None = None
    R: float | None = None

    id: ClassVar[str] = "fastervlm"
    arxiv: ClassVar[str] = "2412.01818"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("vision-cls",)
    placement: ClassVar[str] = "vision-encoder"
    paper_notation: ClassVar[dict[str, str]] = {
        "reduction ratio": "R: fraction of image tokens removed (paper: 75%, 90%, 95%); keep_ratio = 1 - R",
        "keep_ratio": "keep_ratio: fraction of image tokens kept (default 0.25, i.e. R = 75%)",
        "visual_token_num": "keep_tokens: image tokens kept (official: 144 / 58 / 29 of 576)",
    }

    def validate(self) -> None:
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"R": self.R})
        if self.R is not None:
            check_ratio(self, "R", self.R, allow_zero=True)
            if self.R >= 1:
                _fail("R", self.R, "0 <= R < 1 (R is the removed fraction)", self.id)
        if self.keep_ratio is None and self.keep_tokens is None and self.R is None:
            self.keep_ratio = 0.25

    def install(self, adapter, patch, run) -> None:
        import torch

        from zoo.core.select import keep_count, topk_keep_indices
        from zoo.families.decoders.runtime import VisionSelection

        ratio = 1.0 - self.R if self.R is not None else self.keep_ratio
        tokens = self.keep_tokens
        layer = adapter.vision_feature_layer_index

        def reduce(ctx):
            n = ctx.features.shape[1]
            k = keep_count(n, ratio, tokens)
            if k >= n:
                return None
            scores = ctx.cls_attention(layer).mean(dim=1)  # [I, n]
            kept = topk_keep_indices(scores, k)
            feats = torch.gather(ctx.features, 1, kept[..., None].expand(-1, -1, ctx.features.shape[-1]))
            return VisionSelection(features=feats, kept=kept)

        adapter.install_vision_reduction(patch, run, reduce, probe_layers=(layer,))
