"""ToMeSD: Token Merging for Fast Stable Diffusion (Bolya & Hoffman, CVPRW 2023, arXiv 2303.17604).

In every transformer block whose downsampling ``d`` (latent tokens / block tokens, ToMeSD's
``ceil(sqrt(N0 // N))``) is at most ``max_downsample``, before the self-attention:

1. the block's ``N = h * w`` tokens are tiled by ``sy x sx`` windows; one token per window is a
   *destination* (chosen at random, or the top-left one), all others are *sources*;
2. every source proposes its most similar destination (cosine similarity of the block input
   ``x`` ``[B, N, C]``, before the block's norm); the ``r = int(N * ratio)`` strongest proposals
   are merged (mean of the destination and its sources), so ``N - r`` tokens remain;
3. the sub-layer (self-attention by default; cross-attention and MLP optional) runs on those
   ``N - r`` tokens, and its output is *unmerged*: every source receives its destination's output.

Shapes: ``x`` ``[B, N, C]`` -> merged ``[B, N - r, C]`` -> unmerged ``[B, N, C]``. ``r`` is capped
at the number of sources, ``N - (h // sy) * (w // sx)``, so the largest effective ratio is
``1 - 1/(sx*sy)`` when the windows tile the grid (0.75 for 2x2 windows).

Paper notation -> zoo: ToMeSD's ratio ``r%`` is ``ratio`` (fraction *merged away*); the zoo's
``keep_ratio = 1 - ratio`` (either may be given). The random destination choice draws
``randint(sx*sy)`` per window from a generator forked from torch's global state at first use
(``seed=None``, as the official package) or seeded (``seed``); with an odd batch it is off, as in
the official code (prompted and unprompted halves of a CFG batch could not share a choice).

Equal to the official ``tomesd`` package (``tomesd.apply_patch``, 0.1.3) on the same model and
generator state: same destinations, same merged sets, same token order (their sort calls),
outputs equal to float rounding (tested in CI, ``tests/test_diffusion_conformance.py``).
Written for tokzoo from the paper and the official code's algorithm; shared ops in
``zoo.core.grid``, the block plumbing in ``zoo.families.diffusion``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from zoo.core.grid import grid_bipartite_merge, window_destinations
from zoo.families.diffusion.runtime import BlockAction, DenoiserReducer
from zoo.interface import Method, _fail, check_int, check_number
from zoo.papers._diffusion import (DIFFUSION_FAMILIES, PLACEMENT, ForkedGenerator, check_bool, check_seed,
                                   check_signals, check_stride, placements)


@dataclass
class ToMeSD(Method):
    """ToMe for SD: merge similar tokens in 2-D windows before attention, unmerge after (training-free)."""

    ratio: float | None = None
    keep_ratio: float | None = None
    max_downsample: int = 1
    sx: int = 2
    sy: int = 2
    use_rand: bool = True
    merge_attn: bool = True
    merge_crossattn: bool = False
    merge_mlp: bool = False
    seed: int | None = None

    id: ClassVar[str] = "tomesd"
    arxiv: ClassVar[str] = "2303.17604"
    families: ClassVar[tuple[str, ...]] = DIFFUSION_FAMILIES
    placement: ClassVar[str] = PLACEMENT
    default_ratio: ClassVar[float] = 0.5
    needs: ClassVar[frozenset[str]] = frozenset({"block_input", "grid"})
    paper_notation: ClassVar[dict[str, str]] = {
        "r% (ratio)": "ratio: fraction of a patched block's tokens merged away, r = int(N * ratio) (default 0.5)",
        "keep_ratio": "not in the paper: 1 - ratio (give ratio or keep_ratio)",
        "max_downsample": "max_downsample: patch blocks whose downsampling is at most this (1, 2, 4 or 8)",
        "sx, sy": "sx, sy: destination window stride (one destination per sy x sx window)",
        "use_rand": "use_rand: random destination per window (else top-left); off for odd batches",
        "merge_attn/merge_crossattn/merge_mlp": "where merging acts: self-attention, cross-attention, MLP",
        "seed": "seed: None forks torch's global RNG at first use (official behaviour); an int seeds it",
    }

    def validate(self) -> None:
        if self.ratio is not None and self.keep_ratio is not None:
            raise ValueError("tomesd: give one budget, not ratio and keep_ratio; allowed: one of ratio, keep_ratio")
        if self.keep_ratio is not None:
            check_number(self, "keep_ratio", self.keep_ratio, low=0, high=1, low_open=True)
            self.ratio, self.keep_ratio = 1.0 - self.keep_ratio, None
        if self.ratio is None:
            self.ratio = self.default_ratio
        check_number(self, "ratio", self.ratio, low=0, high=1)
        if self.ratio >= 1:
            _fail("ratio", self.ratio, "0 <= ratio < 1 (at most 1 - 1/(sx*sy) takes effect)", self.id)
        check_int(self, "max_downsample", self.max_downsample, low=1)
        check_stride(self, self.sx, self.sy)
        for name in ("use_rand", "merge_attn", "merge_crossattn", "merge_mlp"):
            check_bool(self, name, getattr(self, name))
        check_seed(self, self.seed)

    def check_model(self, adapter) -> None:
        check_signals(self, adapter, self.needs)

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _ToMeSDReducer(self))


class _ToMeSDReducer(DenoiserReducer):
    needs = ToMeSD.needs

    def __init__(self, method: ToMeSD) -> None:
        self.m = method
        self.placements = placements(method.merge_attn, method.merge_crossattn, method.merge_mlp)
        self.generator = ForkedGenerator(method.seed)

    def act(self, ctx, x):
        m = self.m
        if not self.placements or ctx.grid is None or ctx.downsample > m.max_downsample:
            return None
        import torch

        gen = self.generator.get(x.device)
        r = int(ctx.n_tokens * m.ratio)
        if r <= 0:
            return None
        h, w = ctx.grid
        choice = None
        if m.use_rand and ctx.batch % 2 == 0:
            choice = torch.randint(m.sx * m.sy, size=(h // m.sy, w // m.sx, 1), device=gen.device,
                                   generator=gen).to(x.device)[..., 0]
        dst, src = window_destinations(h, w, m.sx, m.sy, choice, x.device)
        plan = grid_bipartite_merge(x, dst, src, r)
        return None if plan is None else BlockAction(kind="merge", tokens=plan, placements=self.placements)
