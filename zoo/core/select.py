"""Top-k selection that keeps the original token order, gather helpers, and budget counts."""

from __future__ import annotations

import math

import torch


def keep_count(n: int, keep_ratio: float | None = None, keep_tokens: int | None = None) -> int:
    """Number of tokens kept out of ``n`` reducible tokens under the zoo's budget vocabulary.

    ``keep_tokens`` wins when given (clipped to ``n``); otherwise ``ceil(keep_ratio * n)``
    (EViT's rounding; a tiny tolerance keeps ``0.07 * 100`` at 7), at least 1 when ``n > 0``.
    Neither given: keep everything.
    """
    if keep_tokens is not None:
        return max(0, min(int(keep_tokens), n))
    if keep_ratio is None:
        return n
    if n <= 0:
        return 0
    return max(1, min(n, math.ceil(keep_ratio * n - 1e-9)))


def topk_keep_indices(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` highest scores per row, sorted ascending (original order kept).

    scores: ``[B, N]``; returns ``[B, k]`` (int64). Ties break towards the lower index.
    """
    if not 0 <= k <= scores.shape[-1]:
        raise ValueError(f"k={k} must be within 0..{scores.shape[-1]}")
    if k == scores.shape[-1]:
        return torch.arange(k, device=scores.device).expand(scores.shape[0], k).contiguous()
    idx = torch.argsort(scores, dim=-1, descending=True, stable=True)[..., :k]
    return torch.sort(idx, dim=-1).values


def split_topk(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Kept and dropped indices for the ``k`` highest scores: ``([B, k], [B, N - k])``, each ascending."""
    n = scores.shape[-1]
    if not 0 <= k <= n:
        raise ValueError(f"k={k} must be within 0..{n}")
    order = torch.argsort(scores, dim=-1, descending=True, stable=True)
    kept = torch.sort(order[..., :k], dim=-1).values
    dropped = torch.sort(order[..., k:], dim=-1).values
    return kept, dropped


def gather_tokens(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Select tokens: x ``[B, N, C]``, idx ``[B, K]`` -> ``[B, K, C]``."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def with_prefix(idx: torch.Tensor, n_prefix: int) -> torch.Tensor:
    """Indices into the reducible tokens ``[B, K]`` -> indices into all tokens ``[B, n_prefix + K]``.

    The ``n_prefix`` protected tokens (CLS, registers) come first, in order.
    """
    if n_prefix == 0:
        return idx
    prefix = torch.arange(n_prefix, device=idx.device, dtype=idx.dtype).expand(idx.shape[0], n_prefix)
    return torch.cat([prefix, idx + n_prefix], dim=1)
