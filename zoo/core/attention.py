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
    """Softmax attention ``[B, H, Nq, N]`` for queries q ``[B, H, Nq, d]`` and keys k ``[B, H, N, d]``.

    In bfloat16/float16 the scale and a key bias (``[B|1, 1, 1, N]``, e.g. proportional attention)
    are fused into the product (``baddbmm``: one rounding, no elementwise passes over ``N^2``
    logits; measured about 15% faster on CPU for ViT shapes); otherwise ``(q * scale) k^T + bias``.
    The softmax overwrites the logits (outside autograd): one ``[B, H, Nq, N]`` buffer instead of
    two, which for long inputs (AST, 1214 tokens: 70 MB per block in bfloat16) also halves the
    fresh pages the allocator maps and faults in.
    """
    if q.dtype in (torch.bfloat16, torch.float16) and q.dim() == 4 and (
            bias is None or (bias.dim() == 4 and bias.shape[1] == 1 and bias.shape[2] == 1)):
        b, h, nq, d = q.shape
        n = k.shape[-2]
        q3, k3 = q.reshape(b * h, nq, d), k.reshape(b * h, n, d).transpose(1, 2)
        if bias is None:
            logits = torch.bmm(q3, k3).mul_(scale)
        else:
            logits = torch.baddbmm(bias.expand(b, h, 1, n).reshape(b * h, 1, n).to(q.dtype), q3, k3, alpha=scale)
        return _softmax_in_place(logits).view(b, h, nq, n)
    logits = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        logits = logits + bias
    return _softmax_in_place(logits)


def _softmax_in_place(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension written into ``logits`` (a fresh buffer of the caller), or a
    new tensor when autograd needs the input."""
    if logits.requires_grad:
        return logits.softmax(dim=-1)
    return torch.softmax(logits, dim=-1, out=logits)


def value_norms(v: torch.Tensor) -> torch.Tensor:
    """L2 norm of each token's value vector over all heads: v ``[B, H, N, d]`` -> ``[B, N]`` (ATS, PPT)."""
    return v.transpose(1, 2).flatten(2).norm(dim=-1)


#: Above this many tokens fused SDPA wins on CPU in every dtype (see :func:`prefer_explicit`).
EXPLICIT_MAX_TOKENS = 384


def prefer_explicit(dtype: torch.dtype, device: torch.device | str, n_tokens: int) -> bool:
    """Whether an explicit ``softmax(q k^T) v`` is faster than fused SDPA for these inputs.

    Chosen by measurement (``benchmarks/attention_paths.py``, record
    ``benchmarks/results/attention-paths.json``): on CPU in bfloat16/float16 the explicit
    product is faster than ``scaled_dot_product_attention`` up to a few hundred tokens (ViT-B
    shapes about 1.5-2x), in float32 the fused kernel is faster; on CUDA the fused kernels win.
    """
    kind = device.split(":")[0] if isinstance(device, str) else device.type
    return kind == "cpu" and dtype in _HALF and n_tokens <= EXPLICIT_MAX_TOKENS


_HALF = (torch.bfloat16, torch.float16)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, scale: float, bias: torch.Tensor | None = None,
           needs: frozenset[str] = frozenset(), explicit: bool = False, dropout_p: float = 0.0,
           is_causal: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Multi-head attention with the signals a token-reduction method asks for.

    q, k, v ``[B, H, N, d]``; ``bias`` additive, broadcasting to ``[B, H, N, N]`` (padding,
    proportional attention, masks). Returns ``out`` ``[B, H, N, d]`` and a dict with the
    requested entries: ``attn`` (probabilities ``[B, H, N, N]``), ``cls_attn`` (row of the first
    query ``[B, H, N]``), ``keys`` (``k`` averaged over heads ``[B, N, d]``), ``values`` (``v``).
    The full attention (``attn``) or ``explicit=True`` computes ``softmax((q * scale) k^T + bias) v``;
    otherwise fused SDPA runs and only the first query's row is computed explicitly when
    ``cls_attn`` is asked for.
    """
    import torch.nn.functional as F

    n = q.shape[-2]
    if is_causal and bias is not None:
        bias, is_causal = bias + causal_bias(n, q.dtype, q.device), False
    info: dict[str, torch.Tensor] = {}
    if "attn" in needs or explicit:
        probs = attention_probs(q, k, scale, causal_bias(n, q.dtype, q.device) if is_causal else bias)
        out = (F.dropout(probs, dropout_p, training=True) if dropout_p > 0 else probs) @ v
        if "attn" in needs:
            info["attn"] = probs
        if "cls_attn" in needs:
            info["cls_attn"] = probs[:, :, 0]
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p, is_causal=is_causal,
                                             scale=scale)
        if "cls_attn" in needs:
            row_bias = None if bias is None else (bias[..., :1, :] if bias.shape[-2] > 1 else bias)
            if is_causal:
                row_bias = causal_bias(n, q.dtype, q.device)[:1]
            info["cls_attn"] = attention_probs(q[:, :, :1], k, scale, row_bias)[:, :, 0]
    if "keys" in needs:
        info["keys"] = k.mean(1)
    if "values" in needs:
        info["values"] = v
    return out, info
