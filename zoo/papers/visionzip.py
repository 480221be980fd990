"""VisionZip: Longer is Better but Not Necessary in Vision Language Models (Yang et al., CVPR 2025,
arXiv 2412.04467).

Two kinds of tokens leave the vision tower (official code: dvlab-research/VisionZip,
``visionzip/clip_encoder.py``), both taken from the layer LLaVA feeds to the projector:

- **dominant** tokens: the [CLS] token plus the ``dominant - 1`` patch tokens receiving the
  most [CLS] attention in that layer (softmax per head, summed over heads), in their
  original order after [CLS];
- **contextual** tokens: the remaining patches are split into ``contextual`` targets
  (every ``step``-th remaining token, ``step = max(1, remaining // contextual)``) and the
  others, each other token is assigned to its most similar target (cosine similarity of
  the layer's keys averaged over heads), and every target becomes
  ``target + mean(assigned tokens)`` (the official code's formula).

The projector then sees ``dominant + contextual`` tokens per image (the [CLS] hidden state
included, as in the official code). The [CLS] attention row and the keys are recomputed from
that layer's input with its own projections; no attention map is materialised.

Budget: the paper's settings 64 / 128 / 192 are ``dominant + contextual`` = 54 + 10,
108 + 20, 162 + 30 (official ``visionzip(model, dominant, contextual)``). ``keep_tokens = T``
splits the same way: ``contextual = round(T * 10 / 64)``, ``dominant = T - contextual``;
``keep_ratio`` is ``T / n``. A budget of at least the image's ``n`` tokens leaves the
features untouched.

Where it acts: the vision tower's [CLS] attention and keys before the projector (LLaVA-1.5;
LLaVA-NeXT per anyres tile, see :class:`zoo.families.decoders.llava.LlavaNextAdapter`).
Positions: the shortened prompt is renumbered contiguously (1-D), as if the image had
produced fewer tokens (the official code builds a shorter input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_int


@dataclass
class VisionZip(Method):
    """VisionZip: keep [CLS]-attended dominant tokens and merge the rest into contextual tokens."""

    dominant: int | None = None
    contextual: int | None = None
    keep_tokens: int | None = None
    keep_ratio: float | None = None

    id: ClassVar[str] = "visionzip"
    arxiv: ClassVar[str] = "2412.04467"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("vision-cls",)
    placement: ClassVar[str] = "vision-encoder"
    paper_notation: ClassVar[dict[str, str]] = {
        "dominant": "dominant: dominant tokens, [CLS] included (paper: 54 / 108 / 162)",
        "contextual": "contextual: merged contextual tokens (paper: 10 / 20 / 30)",
        "retained tokens": "keep_tokens: dominant + contextual (paper: 64 / 128 / 192), split 54:10",
        "keep_ratio": "keep_ratio: (dominant + contextual) / image tokens",
    }

    def validate(self) -> None:
        paper = None if self.dominant is None and self.contextual is None else (self.dominant, self.contextual)
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"dominant/contextual": paper})
        if paper is not None:
            if self.dominant is None or self.contextual is None:
                _fail("dominant/contextual", paper, "both dominant and contextual", self.id)
            check_int(self, "dominant", self.dominant, low=1)
            check_int(self, "contextual", self.contextual, low=0)
        if paper is None and self.keep_ratio is None and self.keep_tokens is None:
            self.dominant, self.contextual = 54, 10

    def split(self, n: int) -> tuple[int, int]:
        """``(dominant, contextual)`` for an image of ``n`` patch tokens."""
        if self.dominant is not None:
            return self.dominant, self.contextual
        from zoo.core.select import keep_count

        total = keep_count(n, self.keep_ratio, self.keep_tokens)
        contextual = int(total * 10 / 64 + 0.5)
        return max(1, total - contextual), contextual

    def install(self, adapter, patch, run) -> None:
        layer = adapter.vision_feature_layer_index
        method = self

        def reduce(ctx):
            n = ctx.features.shape[1]
            dominant, contextual = method.split(n)
            if dominant + contextual >= n:
                return None
            if ctx.cls is None:
                raise ValueError("visionzip needs a vision tower with a [CLS] token")
            return _visionzip(ctx, layer, dominant, contextual)

        adapter.install_vision_reduction(patch, run, reduce, probe_layers=(layer,))


def _visionzip(ctx: Any, layer: int, dominant: int, contextual: int):
    import torch

    from zoo.core.select import topk_keep_indices
    from zoo.families.decoders.runtime import VisionSelection

    feats = ctx.features  # [I, n, C] patch tokens
    i, n, c = feats.shape
    attn = ctx.cls_attention(layer).sum(dim=1)  # [I, n]
    _, k = ctx.queries_keys(layer)[:2]
    metric = k[:, :, 1:].mean(dim=1)  # [I, n, D]: keys of the patches, averaged over heads
    top = topk_keep_indices(attn, dominant - 1)  # [I, d-1] ascending
    chosen = torch.zeros((i, n), dtype=torch.bool, device=feats.device)
    chosen.scatter_(1, top, True)
    dominant_tokens = torch.cat([ctx.cls[:, None].to(feats.dtype),
                                 torch.gather(feats, 1, top[..., None].expand(-1, -1, c))], dim=1)
    cls_marker = torch.full((i, 1), -1, dtype=top.dtype, device=top.device)  # the [CLS] token: no patch index
    if contextual == 0:
        return VisionSelection(features=dominant_tokens, kept=torch.cat([cls_marker, top], dim=1))
    rest = torch.sort(torch.where(chosen, n, torch.arange(n, device=feats.device).expand(i, n)), dim=1).values
    rest = rest[:, : n - (dominant - 1)]  # [I, r] ascending indices of the remaining patches
    r = rest.shape[1]
    rest_feats = torch.gather(feats, 1, rest[..., None].expand(-1, -1, c))
    rest_metric = torch.gather(metric, 1, rest[..., None].expand(-1, -1, metric.shape[-1]))
    rest_metric = rest_metric / rest_metric.norm(dim=-1, keepdim=True)
    step = max(1, r // contextual)
    targets = torch.arange(0, r, step, device=feats.device)[:contextual]
    is_target = torch.zeros(r, dtype=torch.bool, device=feats.device)
    is_target[targets] = True
    others = (~is_target).nonzero().squeeze(1)
    sim = torch.bmm(rest_metric[:, others], rest_metric[:, targets].transpose(1, 2))  # [I, o, t]
    assign = torch.zeros_like(sim, dtype=feats.dtype).scatter_(2, sim.argmax(dim=2, keepdim=True), 1.0)
    counts = assign.sum(dim=1).clamp(min=1)[..., None]  # [I, t, 1]
    merged = torch.bmm(assign.transpose(1, 2), rest_feats[:, others]) / counts
    contextual_tokens = rest_feats[:, targets] + merged
    kept = torch.cat([cls_marker, top, rest[:, targets]], dim=1)
    return VisionSelection(features=torch.cat([dominant_tokens, contextual_tokens], dim=1), kept=kept)
