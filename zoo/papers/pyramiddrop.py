"""PyramidDrop: Accelerating Your Large Vision-Language Models via Pyramid Visual Redundancy
Reduction (Xing et al., CVPR 2025, arXiv 2410.17247).

The decoder is split into stages at ``layers`` (paper, LLaVA-1.5-7B: 8, 16, 24). At the start
of stage ``s`` (before layer ``layers[s-1]`` runs) only ``int(n * λ ** s)`` of the ``n``
original image tokens are kept (λ = 0.5: 288, 144, 72 of 576), ranked by a light-weight
attention computed as in the official code (Cooperx521/PyramidDrop, ``pdrop_rank_drop``):
the boundary layer's own ``input_layernorm``, ``q_proj`` and ``k_proj`` applied to the
hidden states entering it, rotary embedding at the current positions, causal/padding mask,
softmax; the row of the **last instruction token** (the last prompt token), averaged over
heads, read at the image columns. Only that one query row is computed (no attention map).

Where it acts: every visual token (images and video frames, ranked together) of every
decoder model tokzoo supports. Positions: on 1-D RoPE models (LLaVA family) the position
ids are renumbered contiguously after each drop (``positions="compact"``, as the official
code) and decoding steps use the matching shifted positions in every stage; on Qwen2-VL/
2.5-VL the survivors keep their original 3-D M-RoPE positions (renumbering a 3-D grid
position has no defined meaning, see :mod:`zoo.families.decoders.runtime`).

Budget: ``lam`` is the paper's λ (fraction of the previous stage's image tokens kept at each
boundary, default 0.5); ``keep_ratio`` is the fraction surviving the last stage, i.e.
``λ ** len(layers)`` (``keep_ratio = 0.125`` with three boundaries is λ = 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_int, check_ratio


@dataclass
class PyramidDrop(Method):
    """PyramidDrop: drop image tokens in stages, ranked by the last instruction token's attention."""

    layers: tuple[int, ...] = (8, 16, 24)
    lam: float | None = None
    keep_ratio: float | None = None

    id: ClassVar[str] = "pyramiddrop"
    arxiv: ClassVar[str] = "2410.17247"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("media-tokens", "decoder-attention")
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "layer_list": "layers: stage boundaries, same values (paper, 32-layer LLaVA-1.5: 8, 16, 24); tokens are "
                      "dropped before these decoder layers",
        "λ": "lam: fraction of image tokens kept at each boundary (paper: 0.5); stage s keeps int(n * λ^s)",
        "keep_ratio": "keep_ratio: fraction of image tokens left after the last stage = λ ** len(layers)",
    }

    def validate(self) -> None:
        items = [self.layers] if isinstance(self.layers, int) else list(self.layers)
        for v in items:
            check_int(self, "layers", v, low=1)
        if items != sorted(set(items)) or not items:
            _fail("layers", self.layers, "a non-empty strictly increasing list of decoder layers", self.id)
        self.layers = tuple(items)
        check_budget(self, self.keep_ratio, None, others={"lam": self.lam})
        if self.lam is None and self.keep_ratio is None:
            self.lam = 0.5
        if self.lam is not None:
            check_ratio(self, "lam", self.lam)

    @property
    def ratio(self) -> float:
        """λ, the per-boundary keep fraction."""
        return self.lam if self.lam is not None else self.keep_ratio ** (1.0 / len(self.layers))

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth("llm")
        for v in self.layers:
            if not 1 <= v < depth:
                _fail("layers", self.layers, f"decoder layers within 1..{depth - 1} (the model has {depth})",
                      self.id)

    def install(self, adapter, patch, run) -> None:
        import torch

        from zoo.families.decoders.runtime import LlmEvent, PruneSelection

        lam = self.ratio
        original: dict[str, Any] = {}

        def make(stage: int):
            def select(ctx):
                if stage == 1:
                    original["n"] = ctx.image_counts
                counts = [int(n * lam ** stage) for n in original["n"].tolist()]  # int(): the official count
                keep = torch.minimum(torch.tensor(counts, device=ctx.image.device), ctx.image_counts)
                last = ctx.last_valid()[:, None]
                scores = ctx.attention(last).mean(dim=1)[:, 0]  # [B, N]: head average of the last row
                return PruneSelection(keep=ctx.keep_top_images(scores, keep))
            return select

        events = [LlmEvent(layer=layer, select=make(s), score_layer=layer) for s, layer in enumerate(self.layers, 1)]
        adapter.install_llm_reduction(patch, run, events, positions="compact")
