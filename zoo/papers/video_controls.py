"""Controls for video token reduction (not papers, no catalog entry): what every video method must beat.

- ``frame-subsample``: keep ``n_frames`` of the video's frames, evenly spread
  (``numpy.linspace(0, T - 1, n)`` truncated: the frame sampler of the LLaVA-OneVision /
  LLaVA-Video evaluation code), all their tokens, drop the others: the same as sampling fewer
  frames at the input, at the cost of encoding them all. ``keep_ratio`` gives the frame count as
  ``max(1, round(keep_ratio * T))``.
- ``video-random``: keep a seeded random subset of each video's grid tokens (``keep_ratio``,
  ``zoo.core.select.keep_count`` rounding), in their original order, before the language model:
  the same-budget random control of the pre-LLM video methods (the ``random`` control prunes
  after a decoder layer instead).

Both act at decoder layer 0 on every video of every row (``zoo.papers._video``); positions are
renumbered on 1-D RoPE models (as if the video were shorter) and kept on 3-D M-RoPE models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.interface import Method, check_budget, check_int, check_ratio
from zoo.papers._video import VIDEO_NEEDS, VideoFamilies, VideoReasons, check_video_model, video_event


def _kept_frames(method, t: int) -> list[int]:
    from zoo.core.temporal import linspace_frame_indices

    n = method.n_frames if method.n_frames is not None else max(1, round(method.keep_ratio * t))
    return linspace_frame_indices(t, min(n, t))


@dataclass
class FrameSubsample(Method):
    """Uniform frame subsampling control: keep n evenly spread frames of each video, drop the rest."""

    n_frames: int | None = None
    keep_ratio: float | None = None

    id: ClassVar[str] = "frame-subsample"
    arxiv: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = VIDEO_NEEDS
    families = VideoFamilies()
    unsupported_reasons = VideoReasons()
    placement: ClassVar[str] = "projector"
    paper_notation: ClassVar[dict[str, str]] = {
        "n_frames": "n_frames: frames kept per video (evenly spread)",
        "keep_ratio": "keep_ratio: fraction of the frames kept (default 0.5)",
    }

    def validate(self) -> None:
        if self.n_frames is not None and self.keep_ratio is not None:
            raise ValueError("frame-subsample: give n_frames or keep_ratio, not both")
        if self.n_frames is not None:
            check_int(self, "n_frames", self.n_frames, low=1)
        else:
            if self.keep_ratio is None:
                self.keep_ratio = 0.5
            check_ratio(self, "keep_ratio", self.keep_ratio)

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)

    def install(self, adapter, patch, run) -> None:
        import torch

        from zoo.core.temporal import VideoTokens

        def reduce(view):
            t, n, c = view.frames.shape
            frames = _kept_frames(self, t)
            index = (torch.tensor(frames, device=view.frames.device)[:, None] * n
                     + torch.arange(n, device=view.frames.device)[None]).reshape(-1)
            return VideoTokens(view.frames.reshape(t * n, c)[index], index)

        adapter.install_llm_reduction(patch, run, [video_event(adapter, reduce, positions="compact")],
                                      positions="compact")


@dataclass
class VideoRandom(Method):
    """Random control before the LLM: keep a seeded random subset of each video's tokens at the same budget."""

    keep_ratio: float | None = None
    keep_tokens: int | None = None
    seed: int = 0

    id: ClassVar[str] = "video-random"
    arxiv: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = VIDEO_NEEDS
    families = VideoFamilies()
    unsupported_reasons = VideoReasons()
    placement: ClassVar[str] = "projector"
    paper_notation: ClassVar[dict[str, str]] = {
        "keep_ratio": "keep_ratio: fraction of each video's grid tokens kept (default 0.25)",
        "keep_tokens": "keep_tokens: grid tokens kept per video",
        "seed": "seed: generator seed, reseeded for every video at every forward",
    }

    def validate(self) -> None:
        check_budget(self, self.keep_ratio, self.keep_tokens)
        if self.keep_ratio is None and self.keep_tokens is None:
            self.keep_ratio = 0.25
        check_int(self, "seed", self.seed, low=0)

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)

    def install(self, adapter, patch, run) -> None:
        import torch

        from zoo.core.select import keep_count
        from zoo.core.temporal import VideoTokens

        def reduce(view):
            t, n, c = view.frames.shape
            k = keep_count(t * n, self.keep_ratio, self.keep_tokens)
            gen = torch.Generator(device=view.frames.device).manual_seed(self.seed)
            scores = torch.rand(t * n, generator=gen, device=view.frames.device)
            index = torch.topk(scores, k).indices.sort().values
            return VideoTokens(view.frames.reshape(t * n, c)[index], index)

        adapter.install_llm_reduction(patch, run, [video_event(adapter, reduce, positions="compact")],
                                      positions="compact")
