"""VidCom²: Video Compression Commander: Plug-and-Play Inference Acceleration for Video Large
Language Models (Liu, Wang, Ma, Zhang; EMNLP 2025, arXiv 2505.14454).

Before the LLM, each frame keeps its most *unique* tokens, and more unique frames keep more
(official code: xuyang-liu16/VidCom2, ``token_compressor/vidcom2/vidcom2.py``). For one video
``frames [T, N, C]``:

1. keep the ``C // 2`` channels with the lowest variance over all the video's tokens;
2. L2-normalise every token over those channels; ``v_tn`` / ``f_tn``: multi-scale Gaussian
   similarity ``sum_a exp(-||x_tn - c||^2 / (2a))``, ``a in {1/8, 1/4, 1/2, 1, 2}``, to the video
   centre ``c`` (mean of all tokens) and to the frame centre (mean of frame ``t``);
3. frame uniqueness ``u_t = -mean_n v_tn``; frame budgets
   ``s_t = min(1, base * (1 + p_t - mean(p)))`` with ``p = softmax((u - max u) / 0.01)``;
4. frame ``t`` keeps its ``max(1, round(s_t * N))`` tokens with the *lowest* ``v_tn + f_tn``
   (least similar to both centres), in grid order.

Budget vocabulary: ``keep_ratio`` is the paper's base retention ``base_scale`` (0.25 in the
paper's main setting); the kept count per frame varies around ``keep_ratio * N``.
``keep_ratio = 1`` is tokzoo's no-op budget: nothing is reduced (the official formula would
still drop tokens of frames less unique than average). Positions:
the kept tokens are a subset; tokzoo keeps their original positions (M-RoPE) or renumbers
them (1-D RoPE), as the official code's shortened sequence does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo.core.temporal import VideoTokens

ALPHAS = tuple(2.0 ** e for e in range(-3, 2))
TEMPERATURE = 0.01


def low_variance_channels(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """``x [M, C]`` restricted to its ``int(C * ratio)`` lowest-variance channels (population variance)."""
    var = x.var(dim=0, unbiased=False)
    return x[:, torch.topk(var, k=int(x.shape[-1] * ratio), largest=False).indices]


def gaussian_similarity(x: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """``sum_a exp(-||x - centre||^2 / (2a))`` over :data:`ALPHAS` (broadcasting over the last dim)."""
    d2 = ((x - centre) ** 2).sum(dim=-1)
    return sum(torch.exp(-d2 / (2 * a)) for a in ALPHAS)


def frame_scales(uniqueness: torch.Tensor, keep_ratio: float) -> torch.Tensor:
    """``[T]`` per-frame keep ratios from frame uniqueness ``[T]`` (softmax at temperature 0.01)."""
    p = F.softmax((uniqueness - uniqueness.max()) / TEMPERATURE, dim=0)
    return (keep_ratio * (1 + p - p.mean())).clamp(max=1.0)


def vidcom2(frames: torch.Tensor, keep_ratio: float = 0.25) -> VideoTokens:
    """VidCom² on one video ``frames [T, N, C]``; tokens in frame and grid order."""
    t, n, c = frames.shape
    sel = low_variance_channels(frames.reshape(t * n, c))
    unit = F.normalize(sel.reshape(t, n, -1), dim=-1)
    v = gaussian_similarity(unit, unit.mean(dim=(0, 1), keepdim=True))  # [T, N]
    f = gaussian_similarity(unit, unit.mean(dim=1, keepdim=True))
    scales = frame_scales(-v.mean(dim=-1), keep_ratio)
    ks = (scales * n).round().long().clamp(min=1).tolist()
    score = v + f
    index = torch.cat([torch.topk(score[i], k=k, largest=False, sorted=False).indices.sort().values + i * n
                       for i, k in enumerate(ks)])
    return VideoTokens(tokens=frames.reshape(t * n, c)[index], index=index)


# ----------------------------------------------------------------------------- the method
from dataclasses import dataclass  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

from zoo.interface import Method, check_ratio  # noqa: E402
from zoo.papers._video import VIDEO_NEEDS, VideoFamilies, VideoReasons, check_video_model, video_event  # noqa: E402


@dataclass
class VidCom2(Method):
    """VidCom2: per frame, keep the tokens least similar to the video and frame centres; unique frames keep more."""

    keep_ratio: float = 0.25

    id: ClassVar[str] = "vidcom2"
    arxiv: ClassVar[str] = "2505.14454"
    needs: ClassVar[tuple[str, ...]] = VIDEO_NEEDS
    families = VideoFamilies()
    unsupported_reasons = VideoReasons()
    placement: ClassVar[str] = "projector"
    paper_notation: ClassVar[dict[str, str]] = {
        "base_scale": "keep_ratio: the base retention ratio (paper: 25% / 15%); per-frame ratios vary around it",
    }

    def validate(self) -> None:
        check_ratio(self, "keep_ratio", self.keep_ratio)

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)

    def install(self, adapter, patch, run) -> None:
        if self.keep_ratio >= 1:  # the no-op budget (the official formula would still drop tokens of common frames)
            return
        event = video_event(adapter, lambda view: vidcom2(view.frames, self.keep_ratio), positions="compact")
        adapter.install_llm_reduction(patch, run, [event], positions="compact")
