"""Top-k selection that keeps the original token order, and gather/scatter helpers."""

from __future__ import annotations

import torch


def topk_keep_indices(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` highest scores per row, sorted ascending (original order kept).

    scores: ``[B, N]``; returns ``[B, k]`` (int64). Ties break towards the lower index.
    """
    if not 0 <= k <= scores.shape[-1]:
        raise ValueError(f"k={k} must be within 0..{scores.shape[-1]}")
    idx = torch.argsort(scores, dim=-1, descending=True, stable=True)[..., :k]
    return torch.sort(idx, dim=-1).values


def gather_tokens(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Select tokens: x ``[B, N, C]``, idx ``[B, K]`` -> ``[B, K, C]``."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
