"""ToDo: Token Downsampling for Efficient Generation of High-Resolution Images (Smith et al., IJCAI 2024,
arXiv 2402.13573).

In the self-attention of the highest-resolution transformer blocks, the *keys and values* are
computed from a downsampled token grid while every query is kept, so nothing needs unmerging:

1. the self-attention input ``x`` ``[B, N, C]`` (``N = h * w``) is resized to
   ``(h // f, w // f)`` by ``downsample_method`` (nearest-exact by default): ``[B, M, C]`` with
   ``M = (h // f) * (w // f)``;
2. ``K = x_down W_k``, ``V = x_down W_v`` ``[B, M, C]``; ``Q = x W_q`` ``[B, N, C]``: attention
   costs ``N * M`` instead of ``N * N``; the output keeps ``N`` tokens.

``f`` is ``downsample_factor`` in blocks with no downsampling (the latent's own resolution) and
``downsample_factor_level_2`` in blocks downsampled once (level 2); other blocks are untouched.
Optionally (the official code's timestep switch), when ``timestep / 1000 <=
timestep_threshold_switch`` the keys/values are reduced by ``secondary_method`` instead:
``"similarity"`` merges them with ToMeSD's 2-D bipartite matching (``similarity_ratio`` of the
tokens merged away, on the keys/values input itself), ``"downsample"`` keeps downsampling,
``"none"`` stops; at or below ``timestep_threshold_stop`` nothing is reduced. The defaults
(switch 0.0, stop 0.0) are the paper's pure downsampling, the setting of the authors' demo.

Paper notation -> zoo: the downsampling factor is ``downsample_factor`` (2 at 1024 px in the
authors' demo, 3 at 1536, 4 at 2048); the zoo's ``keep_ratio`` is the fraction of keys/values
kept at the first level, ``1 / f**2`` (giving ``keep_ratio`` sets ``f``). Levels: the official code
decides the level by the channel count (320: level 1, 640: level 2, the SD 1.x/SDXL widths); the
zoo decides it by the block's downsampling, which gives the same blocks on SD 1.x/2.x and SDXL and
works for any width. Grid: ``(H0 // d, W0 // d)`` as the official code. Acts on the key/value
projections of the self-attention (``to_k``/``to_v``), so it runs under any attention backend.

Official code: github.com/ethansmith2000/ImprovedTokenMerge (``merge.py``, ``utils.py``@81928e4);
written for tokzoo from the paper and that code's algorithm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from zoo.core.grid import RESAMPLE_MODES, grid_bipartite_merge, grid_resample, window_destinations
from zoo.families.diffusion.runtime import BlockAction, DenoiserReducer
from zoo.interface import Method, _fail, check_choice, check_int, check_number
from zoo.papers._diffusion import (DIFFUSION_FAMILIES, PLACEMENT, ForkedGenerator, check_bool, check_seed,
                                   check_signals, check_stride)

SECONDARY = ("similarity", "downsample", "none")


@dataclass
class ToDo(Method):
    """Token Downsampling: keys/values of the high-resolution self-attention from a downsampled grid (training-free)."""

    downsample_factor: int | None = None
    keep_ratio: float | None = None
    downsample_factor_level_2: int = 1
    downsample_method: str = "nearest-exact"
    timestep_threshold_switch: float = 0.0
    timestep_threshold_stop: float = 0.0
    secondary_method: str = "similarity"
    similarity_ratio: float = 0.5
    similarity_ratio_level_2: float = 0.5
    sx: int = 2
    sy: int = 2
    use_rand: bool = True
    seed: int | None = None

    id: ClassVar[str] = "todo"
    arxiv: ClassVar[str] = "2402.13573"
    families: ClassVar[tuple[str, ...]] = DIFFUSION_FAMILIES
    placement: ClassVar[str] = PLACEMENT
    default_factor: ClassVar[int] = 2
    needs: ClassVar[frozenset[str]] = frozenset({"grid", "timestep"})
    paper_notation: ClassVar[dict[str, str]] = {
        "downsampling factor": "downsample_factor: keys/values grid shrunk by f per side in level-1 blocks (default 2)",
        "keep_ratio": "not in the paper: keys/values kept at level 1, 1/f**2 (1, 0.25, 1/9, 0.0625 ...)",
        "level 2": "downsample_factor_level_2: the same for blocks downsampled once (default 1: off)",
        "downsample method": "downsample_method: nearest-exact (default), nearest, bilinear, bicubic, area, avg_pool, "
                             "max_pool",
        "timestep switch/stop": "timestep_threshold_switch/stop: t/1000 at or below which the secondary method / "
                                "nothing runs (official code options; 0.0 = off)",
        "secondary method": "secondary_method, similarity_ratio(_level_2), sx, sy, use_rand, seed: the official "
                            "code's late-step ToMe merge of the keys/values",
    }

    def validate(self) -> None:
        if self.downsample_factor is not None and self.keep_ratio is not None:
            raise ValueError("todo: give one budget, not downsample_factor and keep_ratio; "
                             "allowed: one of downsample_factor, keep_ratio")
        if self.keep_ratio is not None:
            check_number(self, "keep_ratio", self.keep_ratio, low=0, high=1, low_open=True)
            f = round(1 / math.sqrt(self.keep_ratio))
            if abs(1 / f ** 2 - self.keep_ratio) > 1e-9:
                _fail("keep_ratio", self.keep_ratio, "1/f**2 for an integer factor f (1, 0.25, 1/9, 0.0625, ...)",
                      self.id)
            self.downsample_factor, self.keep_ratio = f, None
        if self.downsample_factor is None:
            self.downsample_factor = self.default_factor
        check_int(self, "downsample_factor", self.downsample_factor, low=1)
        check_int(self, "downsample_factor_level_2", self.downsample_factor_level_2, low=1)
        check_choice(self, "downsample_method", self.downsample_method, RESAMPLE_MODES)
        check_choice(self, "secondary_method", self.secondary_method, SECONDARY)
        for name in ("timestep_threshold_switch", "timestep_threshold_stop", "similarity_ratio",
                     "similarity_ratio_level_2"):
            check_number(self, name, getattr(self, name), low=0, high=1)
        check_stride(self, self.sx, self.sy)
        check_bool(self, "use_rand", self.use_rand)
        check_seed(self, self.seed)

    def check_model(self, adapter) -> None:
        check_signals(self, adapter, self.needs)

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _ToDoReducer(self))


class _ToDoReducer(DenoiserReducer):
    needs = ToDo.needs
    uses_kv = True

    def __init__(self, method: ToDo) -> None:
        self.m = method
        self.generator = ForkedGenerator(method.seed)

    def act(self, ctx, x):
        m = self.m
        if ctx.downsample == 1:
            factor, ratio = m.downsample_factor, m.similarity_ratio
        elif ctx.downsample == 2:
            factor, ratio = m.downsample_factor_level_2, m.similarity_ratio_level_2
        else:
            return None
        t = None if ctx.timestep is None else ctx.timestep / 1000
        if t is not None and t <= m.timestep_threshold_stop:
            return None
        how = "downsample" if t is None or t > m.timestep_threshold_switch else m.secondary_method
        if how == "downsample" and factor > 1 and ctx.floor_grid is not None:
            h, w = ctx.floor_grid
            nh, nw = h // factor, w // factor
            mode = m.downsample_method
            return BlockAction(kind="downsample-kv", placements=frozenset(),
                               kv=lambda y: grid_resample(y, h, w, nh, nw, mode), kv_tokens=nh * nw)
        if how == "similarity" and ratio > 0 and ctx.grid is not None:
            r = int(ctx.n_tokens * ratio)
            if r <= 0:
                return None
            return BlockAction(kind="merge-kv", placements=frozenset(),
                               kv=lambda y: self._merge(y, ctx, r), kv_tokens=ctx.n_tokens - self._cap(ctx, r))
        return None

    def _cap(self, ctx, r: int) -> int:
        h, w = ctx.grid
        return min(r, ctx.n_tokens - (h // self.m.sy) * (w // self.m.sx))

    def _merge(self, y, ctx, r: int):
        import torch

        m = self.m
        gen = self.generator.get(y.device)
        h, w = ctx.grid
        choice = None
        if m.use_rand and y.shape[0] % 2 == 0:
            choice = torch.randint(m.sx * m.sy, size=(h // m.sy, w // m.sx, 1), device=gen.device,
                                   generator=gen).to(y.device)[..., 0]
        dst, src = window_destinations(h, w, m.sx, m.sy, choice, y.device)
        plan = grid_bipartite_merge(y, dst, src, r)
        return y if plan is None else plan.reduce(y)
