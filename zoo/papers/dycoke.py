"""DyCoke: Dynamic Compression of Tokens for Fast Video Large Language Models (Tao et al., CVPR 2025,
arXiv 2411.15024).

Two stages (official code: KD-TAO/DyCoke, ``llava/model/llava_arch.py::dycole_ttm`` and
``llava/model/language_model/modeling_qwen2.py::PrunableDynamicCache``):

**1. Token temporal merging (TTM), before the LLM.** The video's frames ``[T, N, C]`` (after the
model's own pooling, after the projector) are taken in windows of four frames ``f0 f1 f2 f3``:

- in each pair ``(f0, f1)``, ``(f2, f3)`` the second frame keeps only its ``int((1 - K) * N)``
  tokens *least* similar (cosine, per grid position) to the same position in the first frame;
- then, in each window, ``f2`` keeps only its ``int((1 - K) * N)`` tokens least similar to ``f0``;
- ``f0`` of every window is kept whole.

The paper calls this merging; the tokens similar to their predecessor are dropped, their
content being carried by the earlier frame. ``K`` is the paper's TTM pruning rate (official
default 0.7, i.e. 58 of 196 tokens survive in a pruned frame of LLaVA-OneVision).

**2. Dynamic KV-cache pruning (DP), at every decoding step.** At decoder layer ``L - 1`` the new
token's head-averaged attention ``a_t`` over the visual tokens is compared with the previous
step's ``a_{t-1}``; when ``cos(a_t, a_{t-1}) < 0.9`` (or at the first step) layers ``>= L`` see
only the ``int((1 - P) * n_visual)`` visual tokens with the highest ``a_t`` (text and generated
tokens stay visible). The pruned entries stay in the cache: the next step selects again.

Official-code behaviours tokzoo reproduces (tested against the official functions):

- the window pass runs for ``i in range(0, T - 4, 4)``: the last complete window's ``f2`` stays
  whole (for ``T = 32`` frame 30 is not pruned against frame 28);
- inside a pruned frame the survivors come in ascending similarity order (``topk(largest=False)``
  order), not in grid order (``token_order="similarity"``; ``"position"`` sorts them);
- when ``cos(a_t, a_{t-1}) >= 0.9`` the official code prunes nothing at that step (its cache
  index list is reset at layer 0 of every step and only rebuilt below the threshold);
  ``reuse="official"`` does the same, ``reuse="previous"`` keeps the previous step's selection
  (the paper's description of reusing the pruning decision).

Divergences (documented, tested): an odd number of frames makes the official code drop the last
frame entirely (its pair loop stops at ``T - 1``); tokzoo keeps it whole. The official DP treats
the last TTM token as text (``image_token_length = len - 1``); tokzoo prunes among all visual
tokens. The official DP state survives across ``generate`` calls; tokzoo starts fresh per prefill.

Budget vocabulary: ``keep_ratio = 1 - K`` (fraction of tokens kept in a pruned frame);
``decode_keep_ratio = 1 - P`` (fraction of visual tokens visible at a decoding step);
``layer = L``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from zoo.core.temporal import VideoTokens
from zoo.papers.video_budgets import kept_per_frame, ttm_plan, ttm_token_count  # noqa: F401 (public here too)


def temporal_token_merging(frames: torch.Tensor, keep_ratio: float = 0.3, *,
                           token_order: str = "similarity") -> VideoTokens:
    """DyCoke's TTM on one video ``frames [T, N, C]``.

    Returns the surviving tokens frame after frame (``VideoTokens.index`` = ``t * N + n``).
    ``token_order``: ``"similarity"`` (official: ascending similarity inside a pruned frame) or
    ``"position"`` (grid order).
    """
    if token_order not in ("similarity", "position"):
        raise ValueError(f"token_order={token_order!r}; allowed: similarity, position")
    t, n, _ = frames.shape
    k = kept_per_frame(n, keep_ratio)
    pieces = []
    for frame, ref in ttm_plan(t):
        if ref is None:
            idx = torch.arange(n, device=frames.device)
        else:
            a, b = frames[ref], frames[frame]
            if ref == frame - 1:  # the pair pass normalises first (official), the window pass does not
                a, b = F.normalize(a, p=2, dim=1), F.normalize(b, p=2, dim=1)
            sim = F.cosine_similarity(a, b, dim=1)  # [N]
            idx = sim.topk(k, largest=False).indices
            if token_order == "position":
                idx = idx.sort().values
        pieces.append(idx + frame * n)
    index = torch.cat(pieces)
    return VideoTokens(tokens=frames.reshape(t * n, -1)[index], index=index)


@dataclass
class DecodeStepPruner:
    """DyCoke's DP decision for one sequence across decoding steps (state: the previous step's attention).

    ``keep``: visual tokens kept visible when a step prunes; ``threshold``: the cosine similarity
    (0.9) below which the selection is recomputed; ``reuse``: see the module docstring.
    """

    keep: int
    threshold: float = 0.9
    reuse: str = "official"
    previous: torch.Tensor | None = None
    selection: torch.Tensor | None = None

    REUSE: ClassVar[tuple[str, ...]] = ("official", "previous")

    def step(self, attention: torch.Tensor) -> torch.Tensor | None:
        """``attention [n_visual]``: this step's head-averaged attention of the new token over the
        visual tokens at layer ``L - 1``. Returns the visual tokens kept visible (indices, ascending)
        or ``None`` when nothing is hidden at this step."""
        if self.reuse not in self.REUSE:
            raise ValueError(f"reuse={self.reuse!r}; allowed: {', '.join(self.REUSE)}")
        similar = False
        if self.previous is not None and self.previous.shape == attention.shape:
            similar = bool(F.cosine_similarity(attention.float(), self.previous.float(), dim=0) >= self.threshold)
        self.previous = attention
        if not similar:
            k = min(self.keep, attention.shape[0])
            self.selection = torch.topk(attention, k).indices.sort().values
            return self.selection
        return self.selection if self.reuse == "previous" else None


# ----------------------------------------------------------------------------- the method
from dataclasses import dataclass as _dataclass  # noqa: E402
from typing import Any  # noqa: E402

from zoo.interface import Method, _fail, check_choice, check_int, check_number, check_ratio  # noqa: E402
from zoo.papers._video import VIDEO_NEEDS, VideoFamilies, VideoReasons, check_video_model, layout_for, video_event  # noqa: E402


@_dataclass
class DyCoke(Method):
    """DyCoke: drop frame tokens similar to the previous frame (TTM), then hide low-attention visual tokens per decoding step."""

    K: float | None = None
    P: float | None = None
    keep_ratio: float | None = None
    decode_keep_ratio: float | None = None
    layer: int = 3
    threshold: float = 0.9
    reuse: str = "official"
    token_order: str = "similarity"
    decode_pruning: bool = True

    id: ClassVar[str] = "dycoke"
    arxiv: ClassVar[str] = "2411.15024"
    needs: ClassVar[tuple[str, ...]] = (*VIDEO_NEEDS, "decoder-attention")
    families = VideoFamilies()
    unsupported_reasons = VideoReasons()
    placement: ClassVar[str] = "llm-decode"
    paper_notation: ClassVar[dict[str, str]] = {
        "K": "K: TTM pruning rate of the pruned frames (official default 0.7); keep_ratio = 1 - K",
        "P": "P: decoding-stage pruning rate of the visual tokens (official 0.7); decode_keep_ratio = 1 - P",
        "L": "layer: the decoder layer from which decoding steps see only the kept visual tokens (official 3; "
             "scores: layer L - 1's attention of the new token)",
        "0.9": "threshold: cosine similarity of consecutive steps' attention above which the selection is not redone",
    }

    def validate(self) -> None:
        for name, paper, ours in (("K", self.K, self.keep_ratio), ("P", self.P, self.decode_keep_ratio)):
            if paper is not None and ours is not None:
                raise ValueError(f"dycoke: give {name} or its keep ratio, not both")
            if paper is not None:
                check_number(self, name, paper, low=0.0, high=1.0)
                if paper >= 1:
                    _fail(name, paper, f"0 <= {name} < 1 (a pruning rate)", self.id)
        if self.keep_ratio is not None:
            check_ratio(self, "keep_ratio", self.keep_ratio)
        if self.decode_keep_ratio is not None:
            check_ratio(self, "decode_keep_ratio", self.decode_keep_ratio)
        if self.keep_ratio is None:
            self.keep_ratio = round(1 - (0.7 if self.K is None else self.K), 12)
        if self.decode_keep_ratio is None:
            self.decode_keep_ratio = round(1 - (0.7 if self.P is None else self.P), 12)
        self.K = self.P = None
        check_int(self, "layer", self.layer, low=1)
        check_number(self, "threshold", self.threshold, low=-1.0, high=1.0)
        check_choice(self, "reuse", self.reuse, DecodeStepPruner.REUSE)
        check_choice(self, "token_order", self.token_order, ("similarity", "position"))
        check_choice(self, "decode_pruning", self.decode_pruning, (True, False))

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)
        depth = adapter.depth("llm")
        if not 1 <= self.layer < depth:
            _fail("layer", self.layer, f"1..{depth - 1} (the model has {depth} decoder layers)", self.id)

    def install(self, adapter, patch, run) -> None:
        order = self.token_order if layout_for(adapter, "compact") == "sequence" else "position"

        def reduce(view):
            return temporal_token_merging(view.frames, self.keep_ratio, token_order=order)

        if self.keep_ratio < 1:  # keep_ratio = 1 (K = 0) is the no-op: TTM would only reorder the tokens
            adapter.install_llm_reduction(patch, run, [video_event(adapter, reduce, positions="compact")], positions="compact")
        if self.decode_pruning and self.decode_keep_ratio < 1:
            adapter.install_decode_reduction(patch, run, [self._decode_event()])

    def _decode_event(self):
        import torch

        from zoo.families.decoders.runtime import DecodeEvent, DecodeSelection

        pruners: dict[int, DecodeStepPruner] = {}
        method = self

        def select(ctx):
            if ctx.step == 0:
                pruners.clear()
            att = ctx.attention_over_prompt().mean(dim=1)[:, -1]  # [B, N0]: head mean, the step's (last) query
            present = ctx.key_columns(method.layer - 1)
            in_cache = torch.zeros_like(ctx.input_image)
            for b in range(present.shape[0]):
                cols = present[b][present[b] >= 0]
                in_cache[b, cols] = True
            candidates = ctx.input_image & in_cache & ctx.input_valid
            hide = torch.zeros_like(candidates)
            for b in range(att.shape[0]):
                cols = torch.nonzero(candidates[b]).reshape(-1)
                if cols.numel() == 0:
                    continue
                pruner = pruners.setdefault(b, DecodeStepPruner(keep=int(cols.numel() * method.decode_keep_ratio),
                                                                threshold=method.threshold, reuse=method.reuse))
                kept = pruner.step(att[b, cols])
                if kept is not None:
                    hide[b, cols] = True
                    hide[b, cols[kept]] = False
            return DecodeSelection(hide=hide)

        return DecodeEvent(layer=self.layer, select=select, score_layer=self.layer - 1)
