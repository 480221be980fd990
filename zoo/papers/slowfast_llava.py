"""SlowFast-LLaVA: A Strong Training-Free Baseline for Video Large Language Models (Xu et al.,
arXiv 2407.15841).

A fixed two-pathway token layout built from the video's per-frame grids ``[T, h, w, C]``
(official code: apple/ml-slowfast-llava, ``slowfast_llava/llava/model/llava_arch.py::
prepare_slowfast`` and ``temporal_aggregation``):

- **slow pathway**: ``n_slow`` frames (``torch.linspace(0, T, n_slow + 1)`` truncated, last
  dropped), each keeping many tokens: the paper's default ``spatial_1d_max_pool`` max-pools every
  two consecutive tokens of the flattened grid (horizontal neighbours), ``h * w / 2`` per frame;
- **fast pathway**: all ``T`` frames, each average-pooled (``adaptive_avg_pool2d``) to a small
  ``fast_size`` grid (4 x 4).

The LLM receives ``[slow tokens frame by frame, fast tokens frame by frame]``: 10 x 288 + 50 x 16
= 3,680 tokens for the paper's 50 frames of 24 x 24 LLaVA-NeXT tokens. tokzoo applies it to the
per-frame grids the video model produces after its own pooling (e.g. 14 x 14 on
LLaVA-OneVision). Positions are renumbered (1-D RoPE); the output is a new token sequence,
each token standing at its window's first grid cell (``VideoTokens.index``).

Budget vocabulary: the layout is the budget (``n_slow``, ``slow_pool``, ``fast_size``);
:func:`token_count` gives the resulting number of tokens. ``fast_size = (0, 0)`` drops the fast
pathway; with ``n_slow = T`` and ``slow_pool = "concat"`` that is the unreduced video (the no-op).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo.core.temporal import VideoTokens, pool_grid, pool_pairs, stride_frame_indices

SLOW_POOLS = ("spatial_1d_max_pool", "spatial_1d_avg_pool", "spatial_2d_max_pool", "spatial_2d_avg_pool", "concat")


def _slow(grid: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Slow-pathway tokens ``[S, M, C]`` of ``grid [S, h, w, C]`` and each token's first cell ``[S, M]``."""
    s, h, w, c = grid.shape
    cells = torch.arange(h * w, device=grid.device).reshape(h, w)
    if mode == "concat":
        return grid.reshape(s, h * w, c), cells.reshape(1, -1).expand(s, -1)
    if mode.startswith("spatial_1d"):
        pooled = pool_pairs(grid.reshape(s, h * w, c), "max" if "max" in mode else "avg")
        return pooled, cells.reshape(-1)[0::2][: pooled.shape[1]].expand(s, -1)
    x = grid.permute(0, 3, 1, 2)  # [S, C, h, w]; kernel 2, stride 2 (an odd last row/column is dropped)
    x = F.max_pool2d(x, 2, 2) if "max" in mode else F.avg_pool2d(x, 2, 2)
    first = cells[0:2 * (h // 2):2, 0:2 * (w // 2):2].reshape(1, -1).expand(s, -1)
    return x.permute(0, 2, 3, 1).reshape(s, -1, c), first


def _fast_cells(h: int, w: int, size: tuple[int, int], device) -> torch.Tensor:
    """First grid cell of every adaptive-pooling bin (``floor(i * h / out)``)."""
    ys = [(i * h) // size[0] for i in range(size[0])]
    xs = [(j * w) // size[1] for j in range(size[1])]
    return torch.tensor([y * w + x for y in ys for x in xs], dtype=torch.long, device=device)


def slowfast(grid: torch.Tensor, *, n_slow: int = 10, slow_pool: str = "spatial_1d_max_pool",
             fast_size: tuple[int, int] = (4, 4)) -> VideoTokens:
    """SlowFast-LLaVA's layout for one video ``grid [T, h, w, C]``: ``[slow tokens, fast tokens]``."""
    if slow_pool not in SLOW_POOLS:
        raise ValueError(f"slow_pool={slow_pool!r}; allowed: {', '.join(SLOW_POOLS)}")
    t, h, w, c = grid.shape
    frames = stride_frame_indices(t, min(n_slow, t))
    slow, slow_cells = _slow(grid[frames], slow_pool)
    if tuple(fast_size) == (0, 0):  # no fast pathway
        fast = grid.new_zeros(t, 0, c)
    else:
        fast = pool_grid(grid, tuple(fast_size), "avg").reshape(t, -1, c)
    frame_t = torch.tensor(frames, device=grid.device)[:, None]
    slow_index = (frame_t * (h * w) + slow_cells).reshape(-1)
    fast_index = (torch.arange(t, device=grid.device)[:, None] * (h * w)
                  + _fast_cells(h, w, tuple(fast_size), grid.device)[None]).reshape(-1)[: t * fast.shape[1]]
    return VideoTokens(tokens=torch.cat([slow.reshape(-1, c), fast.reshape(-1, c)]),
                       index=torch.cat([slow_index, fast_index]))


def token_count(n_frames: int, h: int, w: int, *, n_slow: int = 10, slow_pool: str = "spatial_1d_max_pool",
                fast_size: tuple[int, int] = (4, 4)) -> int:
    """Tokens SlowFast-LLaVA gives the LLM for ``T`` frames of ``h x w`` tokens."""
    s = min(n_slow, n_frames)
    per_slow = {"concat": h * w, "spatial_1d_max_pool": (h * w) // 2, "spatial_1d_avg_pool": (h * w) // 2}.get(
        slow_pool, (h // 2) * (w // 2))
    return s * per_slow + n_frames * fast_size[0] * fast_size[1]


# ----------------------------------------------------------------------------- the method
from dataclasses import dataclass  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

from zoo.interface import Method, _fail, check_choice, check_int  # noqa: E402
from zoo.papers._video import VIDEO_NEEDS, VideoFamilies, VideoReasons, check_video_model, video_event  # noqa: E402


@dataclass
class SlowFastLLaVA(Method):
    """SlowFast-LLaVA: a few frames with many tokens (slow) plus every frame with 4x4 pooled tokens (fast)."""

    n_slow: int = 10
    slow_pool: str = "spatial_1d_max_pool"
    fast_size: tuple[int, int] = (4, 4)

    id: ClassVar[str] = "slowfast-llava"
    arxiv: ClassVar[str] = "2407.15841"
    needs: ClassVar[tuple[str, ...]] = VIDEO_NEEDS
    #: its tokens are pooled windows of a new sequence with no grid position: not on 3-D M-RoPE models
    families = VideoFamilies(exclude=("qwen2-vl", "qwen2.5-vl"))
    unsupported_reasons = VideoReasons({n: "its tokens are pooled windows of a new sequence with no grid position; "
                                           "this model encodes a 3-D grid position in every token (M-RoPE)"
                                        for n in ("qwen2-vl", "qwen2.5-vl")})
    placement: ClassVar[str] = "projector"
    paper_notation: ClassVar[dict[str, str]] = {
        "S_FRMS": "n_slow: frames of the slow pathway (paper: 10 of 50)",
        "S_POOL": "slow_pool: the slow pathway's pooling (paper: spatial_1d_max_pool, halving each frame's tokens)",
        "F_OH x F_OW": "fast_size: tokens per frame of the fast pathway (paper: 4 x 4); (0, 0) drops it",
    }

    def validate(self) -> None:
        check_int(self, "n_slow", self.n_slow, low=1)
        check_choice(self, "slow_pool", self.slow_pool, SLOW_POOLS)
        fs = tuple(self.fast_size) if isinstance(self.fast_size, (tuple, list)) else None
        if fs is None or len(fs) != 2 or any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in fs) \
                or (0 in fs and fs != (0, 0)):
            _fail("fast_size", self.fast_size, "a pair of positive ints (height, width), or (0, 0) for no fast pathway",
                  self.id)
        self.fast_size = fs

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)
        if adapter.position_kind == "mrope":
            raise TypeError(f"slowfast-llava builds a new token sequence (two pathways of pooled windows) whose tokens "
                            f"have no grid position; {adapter.name} encodes a 3-D grid position in every token's "
                            "rotary embedding (M-RoPE). Supported: 1-D RoPE video models "
                            f"({', '.join(type(self).families)})")

    def install(self, adapter, patch, run) -> None:
        def reduce(view):
            t, h, w = view.grid
            return slowfast(view.frames.reshape(t, h, w, -1), n_slow=self.n_slow, slow_pool=self.slow_pool,
                            fast_size=self.fast_size)

        adapter.install_llm_reduction(patch, run, [video_event(adapter, reduce, positions="compact")],
                                      positions="compact")
