"""A-ToMe: Accelerating Transducers through Adjacent Token Merging
(Li, Wu, Li, Liu, Interspeech 2023, arXiv 2306.16009).

Speech encoders emit frames at a high, fixed rate although acoustic units vary in length, and
in speech the temporal order matters, so ToMe's merging of arbitrary tokens does not fit. A-ToMe
merges only *adjacent* tokens: inside a transformer block (between the attention and the
feed-forward), the similarity of each pair of neighbouring frames is the cosine of their
attention keys (averaged over heads), ``s_t = cos(k_t, k_{t+1})``, and the most similar pairs
merge. The paper gives two rules: a fixed *merge ratio* (the most similar pairs, a fixed share
of the tokens) and a fixed *threshold* (every pair above it, so the number of merges adapts to
the input); stacking modules in several blocks gives an adaptive frame rate.

tokzoo's reading (the paper's text was not available here; the abstract and the method summary
were): selected neighbour links that share a frame chain into one group of consecutive frames,
so a run of ``m`` selected links merges ``m + 1`` frames and removes exactly ``m`` tokens; a
group becomes its size-weighted average, sizes add, the order of the groups is the order of the
frames, and proportional attention (``log size``) follows the sizes as in ToMe (``prop_attn``).
With the threshold rule, images/utterances of a batch merge different numbers of frames: the
shorter rows end in size-0 padding slots, hidden from every attention and never merged.
Protected prefix tokens (CLS, distillation tokens of AST) never merge.

Budget: ``merge_ratio`` (paper: the share of the block's tokens removed, i.e. links merged) or
``threshold`` (paper: the cosine above which neighbours merge), at each block of ``layers``;
``keep_ratio``/``keep_tokens`` (zoo: what is left after the last acting block) become an even
per-block count as ToMe's ``keep_ratio`` does. Defaults (every block, ``merge_ratio=0.1``) are
tokzoo's, not settings taken from the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from zoo.core.reduce import BlockReducer
from zoo.core.schedule import spread
from zoo.core.select import keep_count
from zoo.core.tokens import TokenState
from zoo.interface import Method, _fail, check_budget, check_layer, check_number
from zoo.papers._vit import VIT_FAMILIES, as_layers


def adjacent_similarity(metric: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each token with the next one: metric ``[B, T, d]`` -> ``[B, T - 1]``."""
    m = metric / metric.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return (m[:, :-1] * m[:, 1:]).sum(dim=-1)


def merge_adjacent(state: TokenState, links: torch.Tensor) -> tuple[TokenState, torch.Tensor]:
    """Merge runs of consecutive reducible tokens joined by selected ``links`` ``[B, T - 1]`` (bool:
    link ``t`` joins tokens ``t`` and ``t + 1``) into their size-weighted averages, in order.

    Rows merging fewer tokens than others end in size-0 padding slots (x = 0). Returns the new
    state and ``rep`` ``[B, N']`` (each group's first token; padding slots: the last token)."""
    p, b = state.n_prefix, state.x.shape[0]
    x, sizes = state.x[:, p:], state.sizes()[:, p:]
    t, c = x.shape[1], x.shape[2]
    group = torch.cat([torch.zeros(b, 1, dtype=torch.long, device=x.device), (~links).long().cumsum(1)], dim=1)
    width = int(group[:, -1].max()) + 1
    index = group.unsqueeze(-1)
    new_size = sizes.new_zeros(b, width, 1).scatter_add_(1, index, sizes)
    summed = x.new_zeros(b, width, c).scatter_add_(1, index.expand(-1, -1, c), x * sizes)
    new_x = summed / new_size.clamp_min(torch.finfo(new_size.dtype).tiny)
    positions = torch.arange(t, device=x.device).expand(b, t)
    first = torch.full((b, width), t - 1, dtype=torch.long, device=x.device).scatter_reduce(
        1, group, positions, reduce="amin", include_self=True)
    source = None
    if state.source is not None:
        src = state.source[:, p:]
        source = src.new_zeros(b, width, src.shape[-1]).scatter_reduce(
            1, index.expand(-1, -1, src.shape[-1]), src, reduce="amax", include_self=True)
        source = torch.cat([state.source[:, :p], source], dim=1)
    prefix = torch.arange(p, device=x.device).expand(b, p)
    new = TokenState(x=torch.cat([state.x[:, :p], new_x], dim=1), size=torch.cat([state.sizes()[:, :p], new_size], 1),
                     source=source, n_prefix=p)
    return new, torch.cat([prefix, first + p], dim=1)


@dataclass
class AToMe(Method):
    """A-ToMe: merge adjacent tokens whose keys are most similar, keeping temporal order."""

    merge_ratio: float | None = None
    threshold: float | None = None
    keep_ratio: float | None = None
    keep_tokens: int | None = None
    layers: tuple[int, ...] | int | None = None
    prop_attn: bool = True

    id: ClassVar[str] = "a-tome"
    arxiv: ClassVar[str] = "2306.16009"
    families: ClassVar[tuple[str, ...]] = VIT_FAMILIES
    placement: ClassVar[str] = "backbone"
    paper_notation: ClassVar[dict[str, str]] = {
        "merge ratio": "merge_ratio: share of a block's reducible tokens removed by merging neighbours",
        "merge threshold": "threshold: cosine of neighbouring keys above which they merge (adaptive count)",
        "keep_ratio": "keep_ratio: fraction of reducible tokens left after the last acting block (even spread)",
        "A-ToMe modules": "layers: blocks holding a module (default: every block)",
    }

    def validate(self) -> None:
        if self.layers is not None:
            self.layers = as_layers(self, "layers", self.layers)
        check_budget(self, self.keep_ratio, self.keep_tokens,
                     others={"merge_ratio": self.merge_ratio, "threshold": self.threshold})
        if all(v is None for v in (self.merge_ratio, self.threshold, self.keep_ratio, self.keep_tokens)):
            self.merge_ratio = 0.1
        if self.merge_ratio is not None:
            check_number(self, "merge_ratio", self.merge_ratio, low=0.0, high=0.5)
        if self.threshold is not None:
            check_number(self, "threshold", self.threshold, low=-1.0, high=1.0)
        if not isinstance(self.prop_attn, bool):
            _fail("prop_attn", self.prop_attn, "True or False", self.id)

    def acting(self, depth: int) -> tuple[int, ...]:
        return self.layers if self.layers is not None else tuple(range(depth))

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth(adapter.pruning_stage)
        for layer in self.acting(depth):
            check_layer(self, "layers", layer, depth)

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _AToMeReducer(self, adapter.depth(adapter.pruning_stage)))


class _AToMeReducer(BlockReducer):
    kind = "merge"

    def __init__(self, method: AToMe, depth: int) -> None:
        self.m = method
        self.layers = method.acting(depth)
        self.prop_attn = method.prop_attn
        self.plan: list[int] = []

    def begin(self, state, depth, grid, scratch) -> None:
        m = self.m
        self.plan = []
        if m.keep_ratio is not None or m.keep_tokens is not None:
            n = state.n_reducible
            self.plan = spread(n - keep_count(n, m.keep_ratio, m.keep_tokens), self.layers, depth)

    def acts_at(self, index: int) -> bool:
        if index not in self.layers or self.m.merge_ratio == 0:
            return False
        return not self.plan or self.plan[index] > 0

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"keys"})

    def reduce(self, view):
        state = view.state
        p = state.n_prefix
        t = state.n_reducible
        if t < 2:
            return None
        real = state.sizes()[:, p:, 0] > 0  # size-0 slots: padding from an earlier threshold block
        sim = adjacent_similarity(view.keys[:, p:].float())
        allowed = real[:, :-1] & real[:, 1:]
        if self.m.threshold is not None:
            links = (sim > self.m.threshold) & allowed
        else:
            n_real = int(real.sum(dim=1).min())
            r = self.plan[view.index] if self.plan else math.floor(self.m.merge_ratio * n_real)
            r = min(r, n_real - 1)
            if r <= 0:
                return None
            scores = sim.masked_fill(~allowed, float("-inf"))
            top = scores.topk(r, dim=1).indices
            links = torch.zeros_like(allowed).scatter_(1, top, True) & allowed
        if not bool(links.any()):
            return None
        return merge_adjacent(state, links)
