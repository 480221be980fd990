"""Token operations along the time axis of a video: frame similarity, segments, frame sampling, pooling.

Shapes: a video's visual tokens are ``frames [T, N, C]`` (``T`` frames of ``N`` tokens each,
row-major over the frame's ``h x w`` grid when it has one) or ``grid [T, h, w, C]``. Segments
of consecutive frames are given by their sizes (a list of positive ints summing to ``T``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F


@dataclass
class VideoTokens:
    """The tokens a video reduction hands to the language model, in output order.

    ``tokens [M, C]``; ``index [M]`` (int64): for each output token, the frame-major index
    ``t * N + n`` of the input token it stands at (the token itself when kept, its
    representative when it is a merge of several: a cluster centre, a window's first frame);
    ``size [M]`` (float, optional): how many input tokens it stands for.
    """

    tokens: torch.Tensor
    index: torch.Tensor
    size: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.tokens.shape[0])


def token_similarity_to_next(frames: torch.Tensor) -> torch.Tensor:
    """``[T - 1, N]``: cosine similarity of token ``n`` of frame ``t`` with token ``n`` of frame ``t + 1``."""
    a = F.normalize(frames[:-1], p=2, dim=-1)
    b = F.normalize(frames[1:], p=2, dim=-1)
    return F.cosine_similarity(a, b, dim=-1)


def frame_similarity_to_next(global_features: torch.Tensor) -> torch.Tensor:
    """``[T - 1]``: cosine similarity of consecutive frame descriptors ``global_features [T, C]``."""
    g = global_features / global_features.norm(dim=1, keepdim=True)
    return (g[:-1] * g[1:]).sum(dim=1)


def segment_sizes_from_cuts(cuts: Sequence[int], n_frames: int) -> list[int]:
    """Sizes of the segments obtained by cutting between frame ``c`` and ``c + 1`` for every ``c`` in ``cuts``."""
    cuts = sorted({int(c) for c in cuts})
    if any(not 0 <= c < n_frames - 1 for c in cuts):
        raise ValueError(f"cuts {cuts} must lie within 0..{n_frames - 2} (between frames)")
    bounds = [-1, *cuts, n_frames - 1]
    return [bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1)]


def segment_sizes_from_labels(labels: torch.Tensor) -> list[int]:
    """Lengths of the runs of equal labels in ``labels [T]`` (consecutive frames with one label form a segment)."""
    labels = labels.reshape(-1)
    change = torch.nonzero(labels[1:] != labels[:-1]).reshape(-1) + 1
    bounds = [0, *change.tolist(), int(labels.numel())]
    return [bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1)]


def segment_starts(sizes: Sequence[int]) -> list[int]:
    """First frame of each segment."""
    out, start = [], 0
    for s in sizes:
        out.append(start)
        start += int(s)
    return out


def check_segments(sizes: Sequence[int], n_frames: int) -> None:
    """Raise ``ValueError`` unless ``sizes`` are positive and sum to ``n_frames``."""
    if any(int(s) <= 0 for s in sizes) or sum(int(s) for s in sizes) != n_frames:
        raise ValueError(f"segment sizes {list(sizes)} must be positive and sum to {n_frames} frames")


def linspace_frame_indices(n_frames: int, n_keep: int) -> list[int]:
    """``n_keep`` frame indices spread evenly over ``0..n_frames - 1``, both ends included
    (``numpy.linspace(0, T - 1, n).astype(int)``: the frame sampler of the LLaVA-OneVision/
    LLaVA-Video evaluation code)."""
    if not 1 <= n_keep <= n_frames:
        raise ValueError(f"cannot keep {n_keep} of {n_frames} frames (allowed: 1..{n_frames})")
    if n_keep == 1:
        return [0]
    step = (n_frames - 1) / (n_keep - 1)
    return [int(i * step + 1e-9) for i in range(n_keep)]


def stride_frame_indices(n_frames: int, n_keep: int) -> list[int]:
    """``n_keep`` frame indices: the start of each of ``n_keep`` equal spans of ``0..n_frames``
    (``torch.linspace(0, T, n + 1).to(int32)[:-1]``: SlowFast-LLaVA's slow-pathway frames)."""
    if not 1 <= n_keep <= n_frames:
        raise ValueError(f"cannot keep {n_keep} of {n_frames} frames (allowed: 1..{n_frames})")
    return torch.linspace(0, n_frames, n_keep + 1).to(torch.int32).tolist()[:-1]


def pool_grid(grid: torch.Tensor, size: tuple[int, int], mode: str = "avg") -> torch.Tensor:
    """Spatially pool every frame of ``grid [T, h, w, C]`` to ``[T, size[0], size[1], C]``.

    ``mode``: ``"avg"`` (``adaptive_avg_pool2d``), ``"max"`` (``adaptive_max_pool2d``) or
    ``"bilinear"`` (``interpolate``, ``align_corners=False``: LLaVA-OneVision's own video pooling).
    """
    x = grid.permute(0, 3, 1, 2)  # [T, C, h, w]
    if mode == "avg":
        x = F.adaptive_avg_pool2d(x, size)
    elif mode == "max":
        x = F.adaptive_max_pool2d(x, size)
    elif mode == "bilinear":
        x = F.interpolate(x, size=size, mode="bilinear")
    else:
        raise ValueError(f"pool mode {mode!r}; allowed: avg, max, bilinear")
    return x.permute(0, 2, 3, 1)


def pool_pairs(frames: torch.Tensor, mode: str = "max") -> torch.Tensor:
    """Pool every pair of consecutive tokens of each frame: ``[T, N, C] -> [T, N // 2, C]``
    (a 1-D pooling of kernel and stride 2 along the token axis; with a row-major grid of even
    width this pools horizontal neighbours)."""
    x = frames.transpose(1, 2)  # [T, C, N]
    if mode == "max":
        x = F.max_pool1d(x, kernel_size=2, stride=2)
    elif mode == "avg":
        x = F.avg_pool1d(x, kernel_size=2, stride=2)
    else:
        raise ValueError(f"pair pool mode {mode!r}; allowed: max, avg")
    return x.transpose(1, 2)
