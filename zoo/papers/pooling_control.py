"""The ``pooling`` control: reach a token budget by plain spatial pooling of the visual tokens.

Not a paper (``arxiv = ""``, no catalog entry). Recent benchmarks of visual token
compression find that plain downsampling, like random pruning (the ``random`` control), is a
strong baseline; showing it next to every method keeps comparisons honest. No token is
scored: every frame of every image/video is downsampled on its own token grid.

What it computes, per row, per visual item (:class:`zoo.families.decoders.layout.VisualItem`),
per grid part (LLaVA-NeXT/OneVision: base tile and high-resolution grid) and per frame: the
``h x w`` grid of tokens entering the language model (after the projector) is partitioned
into ``h' x w'`` windows (token ``(y, x)`` falls in window ``(floor(y h' / h), floor(x w' /
w))``; with ``stride`` the windows are ``stride x stride`` blocks, cut at the edges); each
window becomes one token, its members' mean (``mode="avg"``) or element-wise maximum
(``mode="max"``). Tokens off the grid (LLaVA-NeXT/OneVision newline tokens) are kept as they
are; text tokens are never touched.

Budget: ``keep_ratio`` (default 0.25) sets ``h' = max(1, round(h sqrt(r)))`` and ``w'``
likewise, so each frame keeps about ``r`` of its tokens (exactly ``r`` when ``h sqrt(r)``
and ``w sqrt(r)`` are whole: 0.25 of 24 x 24 is 12 x 12 = 144); ``stride`` gives
``ceil(h / s) x ceil(w / s)`` windows instead.

Where it acts: before decoder layer 0 (on the language model's input). Positions: each
pooled token takes the place of its window's first token (in prompt order); on 1-D RoPE
models the shortened prompt is renumbered contiguously (as if the image had been smaller),
on Qwen2-VL/2.5-VL the pooled token keeps that first token's 3-D M-RoPE position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, check_budget, check_choice, check_int


@dataclass
class SpatialPooling(Method):
    """Pooling control: average (or max) each frame's visual-token grid down to the same budget, no scores."""

    keep_ratio: float | None = None
    stride: int | None = None
    mode: str = "avg"

    id: ClassVar[str] = "pooling"
    arxiv: ClassVar[str] = ""
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("visual-tokens", "item-grid")
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "keep_ratio": "keep_ratio: fraction of each frame's grid tokens kept (default 0.25, i.e. 2x2 pooling)",
        "stride": "stride: pool stride x stride windows instead of a ratio",
        "mode": "mode: 'avg' (mean of the window) or 'max'",
    }

    def validate(self) -> None:
        check_budget(self, self.keep_ratio, None, others={"stride": self.stride})
        if self.stride is not None:
            check_int(self, "stride", self.stride, low=1)
        if self.keep_ratio is None and self.stride is None:
            self.keep_ratio = 0.25
        check_choice(self, "mode", self.mode, ("avg", "max"))

    def target(self, h: int, w: int) -> tuple[int, int]:
        """Windows ``(h', w')`` for an ``h x w`` grid."""
        if self.stride is not None:
            return math.ceil(h / self.stride), math.ceil(w / self.stride)
        f = math.sqrt(self.keep_ratio)
        return max(1, min(h, round(h * f))), max(1, min(w, round(w * f)))

    def install(self, adapter, patch, run) -> None:
        from zoo.families.decoders.runtime import LlmEvent

        adapter.install_llm_reduction(patch, run, [LlmEvent(layer=0, select=self._select)], positions="compact")

    def windows(self, item) -> "list":
        """Per window of ``item``: the positions (into ``item.columns``) of its members, in prompt order."""
        import torch

        coords = item.coords
        on_grid = coords[:, 0] >= 0
        out = []
        for part, (_, h, w) in enumerate(item.grids):
            th, tw = self.target(h, w)
            sel = on_grid & (coords[:, 0] == part)
            idx = torch.nonzero(sel).squeeze(1)
            if idx.numel() == 0:
                continue
            f, y, x = coords[idx, 1], coords[idx, 2], coords[idx, 3]
            if self.stride is not None:
                wy, wx = y // self.stride, x // self.stride
            else:
                wy, wx = (y * th) // h, (x * tw) // w
            key = (f * th + wy) * tw + wx
            order = torch.argsort(key * (coords.shape[0] + 1) + idx)  # by window, then prompt order
            key, idx = key[order], idx[order]
            bounds = torch.nonzero(torch.diff(key, prepend=key[:1] - 1)).squeeze(1).tolist() + [key.numel()]
            out.extend(idx[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
        return out

    def _select(self, ctx):
        import torch

        from zoo.families.decoders.runtime import PruneSelection

        keep = ~ctx.image
        hidden = ctx.hidden.clone()
        for row, items in enumerate(ctx.items):
            for item in items:
                cols = item.columns.to(ctx.hidden.device)
                keep[row, cols[item.coords[:, 0].to(cols.device) < 0]] = True  # newline tokens stay
                for members in self.windows(item):
                    tokens = ctx.hidden[row, cols[members]]
                    first = cols[members[0]]
                    hidden[row, first] = tokens.mean(0) if self.mode == "avg" else tokens.max(0).values
                    keep[row, first] = True
        order = ctx.keep_mask(keep)
        replace = torch.gather(hidden, 1, order.clamp(min=0)[..., None].expand(-1, -1, hidden.shape[-1]))
        return PruneSelection(keep=order, replace=replace)
