"""LLaVA-PruMerge: Adaptive Token Reduction for Efficient Large Multimodal Models (Shang et al.,
arXiv 2403.15388).

As the official code does (42Shawn/LLaVA-PruMerge, ``token_prune_merge_advanced``):

1. **Score**: the [CLS] row of one vision-tower layer's attention, computed as a single head
   over the full width (``softmax(q_cls · Kᵀ · C^-1/2)``, ``C`` the vision hidden size) from
   that layer's ``q_proj``/``k_proj`` (the official code hooks ``layers[23]``, the last
   layer of CLIP-L: ``score_layer=-1``), read at the patch columns.
2. **Prune (adaptive)**: the kept count is ``int(n · ratio)`` where ``ratio`` is the fraction
   of scores above ``Q3 + 1.5 · IQR`` (interquartile-range outliers), per image, computed as
   the official ``outlier_dectection`` does: quartiles of the float32 scores, then the
   Python float ``count / n`` (a float32 fraction would truncate ``int(n · ratio)`` one token
   too low for many counts). The kept tokens are the top-scoring patches, in descending
   score order (as the official code).
3. **Merge**: every kept token ``i`` absorbs its ``neighbors`` (32) most similar other patch
   tokens (cosine similarity of the same layer's keys): ``x_i + Σ_j attn_j · x_j`` with the
   unnormalised [CLS] attention as weights; one extra token ``Σ_{pruned j} attn_j · x_j``
   summarises the pruned tokens. The features are those LLaVA feeds to the projector.

``plus=True`` is PruMerge+ (official ``token_prune_merge_advanced_plus``, adaptive path):
before merging, spatially uniform tokens are added to the kept set: the patches
``0, s, 2s, ... < n - 1`` not already kept, with ``s = int(int(1 / ratio) / 3)`` (the
official ``int(step_length / 3)`` with ``step_length = int(1 / ratio)``; tokzoo uses at least
1 where the official step would be 0). For a ratio in ``(1/6, 1/3]`` the step is 1: every
patch is kept and, with the summary token, the image gives ``n + 1`` tokens (577 for 576
patches, as the official code returns); the prompt's image span grows to match.

Budget: the paper's method is adaptive (``keep_ratio=None``). ``keep_ratio``/``keep_tokens``
fix the kept count instead; without ``plus`` this is the official non-adaptive path
(``if_adaptive=False``, ``reduction_ratio``). With ``plus=True`` and a fixed budget tokzoo
applies the adaptive path's grid rule with that ratio; the official non-adaptive PruMerge+
branch is a training-time variant (a fixed grid offset by ``step / 2``, duplicates allowed)
that tokzoo does not reproduce. ``keep_ratio=1`` leaves the features untouched. Counts
differ per image, so a batch gets padded prompts (handled by the adapter).

Where it acts: the vision tower's [CLS] attention and keys before the projector (LLaVA-1.5
layout, CLIP tower). Positions: the shortened prompt is renumbered contiguously (1-D), as if
the image had produced fewer tokens (as the official code, which builds a shorter input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_int


@dataclass
class PruMerge(Method):
    """LLaVA-PruMerge: keep IQR-outlier [CLS]-attention tokens, merge their key-space neighbours in."""

    keep_ratio: float | None = None
    keep_tokens: int | None = None
    plus: bool = False
    neighbors: int = 32
    score_layer: int = -1

    id: ClassVar[str] = "llava-prumerge"
    arxiv: ClassVar[str] = "2403.15388"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("vision-cls",)
    placement: ClassVar[str] = "vision-encoder"
    paper_notation: ClassVar[dict[str, str]] = {
        "adaptive (IQR)": "keep_ratio=None, keep_tokens=None: kept count from the IQR outliers (paper default)",
        "reduction_ratio": "keep_ratio: fixed fraction of patch tokens kept (official non-adaptive path, 1/8; "
                           "with plus=True the adaptive path's grid rule at that ratio)",
        "PruMerge+": "plus=True: add spatially uniform tokens before merging",
        "k=32": "neighbors: tokens merged into each kept token (official: 32)",
        "layers[23]": "score_layer: vision layer giving q/k (official: the last layer of CLIP-L, -1)",
    }

    def validate(self) -> None:
        check_budget(self, self.keep_ratio, self.keep_tokens)
        if not isinstance(self.plus, bool):
            _fail("plus", self.plus, "True or False", self.id)
        check_int(self, "neighbors", self.neighbors, low=1)
        if not isinstance(self.score_layer, int) or isinstance(self.score_layer, bool):
            _fail("score_layer", self.score_layer, "a vision layer index (negative counts from the end)", self.id)

    def check_model(self, adapter: Any) -> None:
        try:
            adapter.resolve_vision_layer(self.score_layer)
        except ValueError as exc:
            _fail("score_layer", self.score_layer, str(exc), self.id)

    def install(self, adapter, patch, run) -> None:
        method = self
        layer = adapter.resolve_vision_layer(self.score_layer)

        def reduce(ctx):
            return _prumerge(ctx, layer, method)

        adapter.install_vision_reduction(patch, run, reduce, probe_layers=(layer,))


def iqr_outlier_fraction(scores) -> float:
    """Fraction of ``scores [n]`` above ``Q3 + 1.5 * IQR`` (linear-interpolated float32 quartiles, as
    numpy's ``percentile``), as the Python float ``count / n`` (the official ``outlier_dectection``)."""
    import torch

    s = scores.float().flatten()
    q1, q3 = torch.quantile(s, 0.25), torch.quantile(s, 0.75)
    return int((s > q3 + 1.5 * (q3 - q1)).sum()) / s.numel()


def plus_grid_step(ratio: float) -> int:
    """PruMerge+'s grid step for a kept fraction ``ratio``: official ``int(int(1 / ratio) / 3)``, at least 1."""
    return max(1, int(int(1 / max(ratio, 1e-6)) / 3))


def _prumerge(ctx: Any, layer: int, m: PruMerge):
    import torch

    from zoo.core.select import keep_count
    from zoo.families.decoders.runtime import VisionSelection

    feats = ctx.features  # [I, n, C]
    i_img, n, c = feats.shape
    q, k, _ = ctx.queries_keys(layer)  # [I, H, T, D]
    q = q.transpose(1, 2).reshape(i_img, q.shape[2], -1)
    k = k.transpose(1, 2).reshape(i_img, k.shape[2], -1)
    width = q.shape[-1]
    from zoo.families.decoders.sequence import accumulation_dtype

    acc = accumulation_dtype(q)  # float32, or float64 for float64 models (the official code: the model's dtype)
    attn = torch.softmax(torch.matmul(q[:, :1].to(acc), k.to(acc).transpose(1, 2)) * width ** -0.5, dim=-1)
    cls_attn = attn[:, 0, 1:]  # [I, n]
    keys = torch.nn.functional.normalize(k[:, 1:].to(acc), dim=-1)  # [I, n, width]
    outs, kept_all, counts = [], [], []
    for img in range(i_img):
        a = cls_attn[img]
        if m.keep_ratio is None and m.keep_tokens is None:
            ratio = iqr_outlier_fraction(a)
            n_keep = int(n * ratio)
        else:
            ratio = m.keep_ratio if m.keep_ratio is not None else m.keep_tokens / n
            n_keep = keep_count(n, m.keep_ratio, m.keep_tokens)
            if n_keep >= n:
                return None
        n_keep = max(1, n_keep)
        idx = torch.topk(a, n_keep).indices  # descending score order (official)
        if m.plus:
            step = plus_grid_step(ratio)
            grid = torch.arange(0, n - 1, step, device=a.device)
            extra = grid[~torch.isin(grid, idx)]
            idx = torch.cat([idx, extra])
        pruned = torch.ones(n, dtype=torch.bool, device=a.device)
        pruned[idx] = False
        sim = keys[img][idx] @ keys[img].T  # [K, n]
        sim[torch.arange(idx.shape[0]), idx] = float("-inf")  # never the token itself
        nb = torch.topk(sim, min(m.neighbors, n - 1), dim=1).indices  # [K, nb]
        w = a[nb].to(feats.dtype)[..., None]
        updated = feats[img][idx] + (feats[img][nb] * w).sum(dim=1)
        summary = (feats[img][pruned] * a[pruned].to(feats.dtype)[:, None]).sum(dim=0, keepdim=True)
        outs.append(torch.cat([updated, summary], dim=0))
        kept_all.append(torch.cat([idx, idx.new_full((1,), -1)]))
        counts.append(outs[-1].shape[0])
    width_out = max(counts)
    features = feats.new_zeros((i_img, width_out, c))
    kept = torch.full((i_img, width_out), -1, dtype=torch.long, device=feats.device)
    for img, (o, kk) in enumerate(zip(outs, kept_all)):
        features[img, : o.shape[0]] = o
        kept[img, : kk.shape[0]] = kk
    return VisionSelection(features=features, counts=torch.tensor(counts, device=feats.device), kept=kept)
