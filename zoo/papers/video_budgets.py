"""Token budgets of the video methods as plain arithmetic (no tensors, no torch).

The method modules use these functions for their budgets; ``repro/`` scripts use them for
analytic claims, which must run with the core install alone.
"""

from __future__ import annotations


def kept_per_frame(n_tokens: int, keep_ratio: float) -> int:
    """Tokens a pruned frame keeps: ``int(keep_ratio * N)`` (the official truncation; 58 of 196 at 0.3)."""
    return int(keep_ratio * n_tokens)


def ttm_plan(n_frames: int) -> list[tuple[int, int | None]]:
    """For every frame ``t``, ``(t, ref)``: the frame whose tokens it is compared with (``None``: kept whole).

    Pairs ``(2i, 2i + 1)``; windows ``(4j, 4j + 2)`` for ``4j < T - 4`` (the official loop bounds);
    a trailing odd frame is kept whole.
    """
    ref: list[int | None] = [None] * n_frames
    for i in range(0, n_frames - 1, 2):
        ref[i + 1] = i
    for i in range(0, n_frames - 4, 4):
        ref[i + 2] = i
    return list(enumerate(ref))


def ttm_token_count(n_frames: int, n_tokens: int, keep_ratio: float) -> int:
    """Tokens left by TTM for ``T`` frames of ``N`` tokens (no tensors needed)."""
    k = kept_per_frame(n_tokens, keep_ratio)
    return sum(n_tokens if ref is None else k for _, ref in ttm_plan(n_frames))


def fastvid_budget(n_tokens: int, keep_ratio: float, d: float) -> tuple[int, int]:
    """``(salient, context)`` tokens per frame: ``R = int(N * r)``, ``s = R - int(R * d)``, ``R - s``."""
    retain = int(n_tokens * keep_ratio)
    salient = retain - int(retain * d)
    return salient, retain - salient
