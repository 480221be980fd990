"""ATS: Adaptive Token Sampler For Efficient Vision Transformers (Fayyaz et al., ECCV 2022,
arXiv 2111.15667).

At each acting block, after attention, every patch token gets a significance score (the CLS
token's attention to it summed over heads, times the norm of its value vector, normalised
to sum 1). The scores, sorted ascending, define a cumulative distribution; ``K - 1`` evenly
spaced points of its (min-max normalised) range are mapped back to tokens by inverse
transform sampling (deterministic, nearest CDF value), and the distinct tokens hit are
kept. Significant tokens attract many samples but are kept once, so the number of kept
tokens adapts to the image. As in the official code the number of sample points is the
number of input patch tokens; ``K - 1`` (``keep_tokens``) caps the tokens kept (the most
significant hits are kept when more are hit).

Different images keep different numbers of tokens; a batch keeps the largest count and
pads the shorter images with size-0 tokens, which proportional attention (``log 0 = -inf``)
hides from every attention, as ATS's own policy mask does. The run records the padded
count (the work actually done). Written for tokzoo from the paper and the idea of the
official code (adaptive-token-sampling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from zoo.core.reduce import BlockReducer
from zoo.core.select import keep_count, topk_keep_indices
from zoo.core.tokens import keep
from zoo.interface import Method, check_budget, check_layer
from zoo.papers._vit import VIT_FAMILIES, as_layers
from zoo.papers.ppt import significance


def inverse_transform_sample(scores: torch.Tensor, n_samples: int, valid: torch.Tensor | None = None) -> torch.Tensor:
    """ATS's deterministic inverse transform sampling. scores ``[B, n]`` (>= 0) -> bool mask
    ``[B, n]`` of the distinct tokens hit by ``n_samples`` evenly spaced points of the CDF.

    ``valid`` ``[B, n]`` (bool) excludes padding: the CDF is built over the valid tokens only,
    so padding never changes which tokens are sampled.
    """
    b, n = scores.shape
    if valid is None:
        valid = torch.ones_like(scores, dtype=torch.bool)
    keyed = torch.where(valid, scores, torch.full_like(scores, -1.0))  # padding sorts first
    sorted_keys, order = keyed.sort(dim=1, stable=True)
    sorted_valid = valid.gather(1, order)
    cdf = sorted_keys.clamp_min(0).cumsum(dim=1)
    inf = torch.full_like(cdf, float("inf"))
    lo = torch.where(sorted_valid, cdf, inf).amin(dim=1, keepdim=True)
    hi = cdf[:, -1:]
    ncdf = (cdf - lo) / (hi - lo).clamp_min(1e-12)
    start = torch.where(sorted_valid & (ncdf > 0), ncdf, inf).amin(dim=1, keepdim=True)
    start = torch.where(torch.isfinite(start), start, torch.zeros_like(start))
    if n_samples == 1:
        steps = torch.ones(1, device=scores.device, dtype=ncdf.dtype)
    else:
        steps = torch.linspace(0, 1, n_samples, device=scores.device, dtype=ncdf.dtype)
    ys = start + steps.unsqueeze(0) * (1 - start)  # [B, n_samples] from the first non-zero CDF value to 1
    dist = (ys.unsqueeze(-1) - ncdf.unsqueeze(1)).abs().masked_fill(~sorted_valid.unsqueeze(1), float("inf"))
    pick = dist.argmin(dim=-1)  # positions in the sorted order
    hit = torch.zeros(b, n, dtype=torch.bool, device=scores.device)
    return hit.scatter_(1, order.gather(1, pick), True) & valid


@dataclass
class ATS(Method):
    """Adaptive Token Sampler: keep the distinct tokens hit by inverse transform sampling of significance."""

    layers: tuple[int, ...] | None = None
    keep_ratio: float | None = None
    keep_tokens: int | None = None

    id: ClassVar[str] = "ats"
    arxiv: ClassVar[str] = "2111.15667"
    families: ClassVar[tuple[str, ...]] = VIT_FAMILIES
    placement: ClassVar[str] = "backbone"
    paper_notation: ClassVar[dict[str, str]] = {
        "K": "keep_tokens = K - 1: at most this many patch tokens sampled per block (K counts the CLS token)",
        "keep_ratio": "keep_ratio: K - 1 as a fraction of the input patch tokens (default 1.0: purely adaptive)",
        "ATS stages": "layers: 0-based blocks with a sampler (default: 3 .. depth - 1, the paper's DeiT setting)",
    }

    def validate(self) -> None:
        if self.layers is not None:
            self.layers = as_layers(self, "layers", self.layers)
        check_budget(self, self.keep_ratio, self.keep_tokens)
        if self.keep_ratio is None and self.keep_tokens is None:
            self.keep_ratio = 1.0

    def acting(self, depth: int) -> tuple[int, ...]:
        return self.layers if self.layers is not None else tuple(range(min(3, depth - 1), depth))

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth(adapter.pruning_stage)
        for layer in self.acting(depth):
            check_layer(self, "layers", layer, depth)
        if not adapter.has_class_token:
            raise ValueError("ats: the model has no class token; ATS scores tokens by the CLS token's attention "
                             "(supported: models with class_token=True)")

    def required_signals(self) -> dict[str, str]:
        return {"class_token": "ATS's significance is the class token's attention times value norms"}

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _ATSReducer(self, adapter.depth(adapter.pruning_stage)))


class _ATSReducer(BlockReducer):
    kind = "sample"
    prop_attn = True  # size-0 padding tokens must stay invisible

    def __init__(self, method: ATS, depth: int) -> None:
        self.m = method
        self.layers = method.acting(depth)
        self.n_points = self.budget = 0

    def begin(self, state, depth, grid, scratch) -> None:
        self.n_points = state.n_reducible  # ATS samples as many CDF points as there were input tokens
        self.budget = keep_count(state.n_reducible, self.m.keep_ratio, self.m.keep_tokens)

    def acts_at(self, index: int) -> bool:
        return index in self.layers

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"cls_attn", "values"})

    def reduce(self, view):
        state = view.state
        p, n = state.n_prefix, state.n_reducible
        sizes = state.sizes()[:, p:, 0]
        real = sizes > 0
        scores = significance(view.cls_attn, view.values, p)
        hit = inverse_transform_sample(scores, self.n_points, real)
        if int(hit.sum(dim=1).max()) > self.budget:  # at most K - 1 tokens: the most significant hits
            top = topk_keep_indices(torch.where(hit, scores, torch.full_like(scores, -1.0)), self.budget)
            hit = torch.zeros_like(hit).scatter_(1, top, True) & hit
        counts = hit.sum(dim=1)
        width = int(counts.max())
        if width >= n and bool(real.all()):
            return None
        # hits first in their original order, then (only to pad shorter images) non-hits
        kept = torch.argsort((~hit).to(torch.int8), dim=1, stable=True)[:, :width]
        new, rep = keep(state, kept)
        valid = hit.gather(1, kept)
        if not bool(valid.all()):
            pad = torch.cat([torch.ones_like(valid[:, :p]), valid], dim=1).unsqueeze(-1)
            new.size = new.sizes() * pad.to(new.x.dtype)
            if new.source is not None:
                new.source = new.source * pad.to(new.source.dtype)
        return new, rep
