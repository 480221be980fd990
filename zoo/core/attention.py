"""Attention helpers shared by the methods: proportional attention and the scores methods read.

Shapes: q, k, v ``[B, H, N, d]``; additive biases broadcast to ``[B, H, N, N]``.
"""

from __future__ import annotations

import torch


def size_bias(size: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Proportional attention (ToMe): ``log(size)`` added to the logits of each key.

    size ``[B, N, 1]`` -> additive bias ``[B, 1, 1, N]``; a token standing for ``s`` tokens
    gets the weight ``s`` identical tokens would get.
    """
    return size.log().to(dtype).transpose(1, 2).unsqueeze(1)


def as_additive(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """An SDPA ``attn_mask`` (bool: True = attend, or additive float) as an additive float bias."""
    if mask is None or mask.dtype != torch.bool:
        return None if mask is None else mask.to(dtype)
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return bias.masked_fill_(~mask, float("-inf"))


def add_biases(*biases: torch.Tensor | None) -> torch.Tensor | None:
    """Sum the additive biases that are not ``None`` (broadcasting), or ``None``."""
    out = None
    for b in biases:
        if b is not None:
            out = b if out is None else out + b
    return out


def causal_bias(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Additive causal mask ``[N, N]``."""
    return torch.full((n, n), float("-inf"), dtype=dtype, device=device).triu_(1)


def attention_probs(q: torch.Tensor, k: torch.Tensor, scale: float, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax attention ``[B, H, Nq, N]`` for queries q ``[B, H, Nq, d]`` and keys k ``[B, H, N, d]``."""
    logits = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        logits = logits + bias
    return logits.softmax(dim=-1)


def value_norms(v: torch.Tensor) -> torch.Tensor:
    """L2 norm of each token's value vector over all heads: v ``[B, H, N, d]`` -> ``[B, N]`` (ATS, PPT)."""
    return v.transpose(1, 2).flatten(2).norm(dim=-1)
