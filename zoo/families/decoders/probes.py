"""Attention scores computed on demand, without materialising attention maps in the model.

Token-reduction methods rank tokens by a few rows of one layer's attention (FastV: the last
query row; PyramidDrop: the last instruction token; SparseVLM: text "raters"; FasterVLM,
VisionZip, PruMerge: the vision tower's [CLS] row). Asking the model for
``output_attentions`` forces eager attention and full ``[B, H, N, N]`` maps on every layer;
these helpers instead recompute only the needed rows from one layer's (normalised) input,
with the layer's own projections, rotary embedding and scaling.
"""

from __future__ import annotations

import sys

import torch

from zoo.families.decoders.sequence import accumulation_dtype, gather_tokens


def _rotary_fn(attn: torch.nn.Module):
    fn = getattr(sys.modules.get(type(attn).__module__), "apply_rotary_pos_emb", None)
    if fn is None:
        raise TypeError(f"{type(attn).__name__}: no apply_rotary_pos_emb next to the attention class; "
                        "tokzoo's decoder attention probe supports Llama-style rotary attention")
    return fn


def check_decoder_attention(attn: torch.nn.Module) -> None:
    """Raise ``TypeError`` if ``attn`` lacks what :func:`decoder_attention_rows` needs."""
    missing = [a for a in ("q_proj", "k_proj", "head_dim", "scaling") if not hasattr(attn, a)]
    if missing:
        raise TypeError(f"{type(attn).__name__} has no {', '.join(missing)}: tokzoo's decoder attention "
                        "probe supports Llama-style attention (Llama, Mistral, Qwen2/3, Vicuna)")
    _rotary_fn(attn)


def decoder_queries_keys(attn: torch.nn.Module, hidden: torch.Tensor, position_embeddings,
                         queries: torch.Tensor | None):
    """Per-head queries of some rows and keys of all tokens of one decoder self-attention layer.

    attn: the layer's attention module; hidden ``[B, N, C]``: its (already normalised) input;
    position_embeddings: the ``(cos, sin)`` pair the layer receives (``[B or 1, N, D]``; for
    Qwen's M-RoPE the already composed 3-D tables); queries ``[B, q]`` row indices or
    ``None`` (no queries). Returns ``q [B, H, q, D]`` (or ``None``) and ``k [B, H_kv, N, D]``,
    both after the rotary embedding, as the layer computes them (the keys are what its KV
    cache stores).
    """
    b, n, _ = hidden.shape
    hd = attn.head_dim
    k = attn.k_proj(hidden).view(b, n, -1, hd)
    q = None
    if queries is not None:
        q = attn.q_proj(gather_tokens(hidden, queries)).view(b, queries.shape[1], -1, hd)
    if hasattr(attn, "q_norm"):
        k = attn.k_norm(k)
        q = attn.q_norm(q) if q is not None else None
    k = k.transpose(1, 2)
    cos, sin = position_embeddings
    rotate = _rotary_fn(attn)
    k = rotate(k, k, cos.expand(b, *cos.shape[1:]), sin.expand(b, *sin.shape[1:]))[0]
    if q is not None:
        q = q.transpose(1, 2)
        q = rotate(q, q, gather_tokens(cos, queries), gather_tokens(sin, queries))[0]
    return q, k


def _repeat_heads(k: torch.Tensor, heads: int) -> torch.Tensor:
    return k if k.shape[1] == heads else k.repeat_interleave(heads // k.shape[1], dim=1)


def decoder_attention_logits(attn: torch.nn.Module, hidden: torch.Tensor, position_embeddings,
                             queries: torch.Tensor, *, scaled: bool = True, native: bool = False) -> torch.Tensor:
    """``[B, H, q, N]`` pre-softmax scores ``q . k`` (times the layer's scaling when ``scaled``) of query
    rows ``queries [B, q]``, in float32 (float64 for float64 models; ``native``: in the model's own dtype,
    as official codes that score in half precision); grouped KV heads repeated; no mask."""
    q, k = decoder_queries_keys(attn, hidden, position_embeddings, queries)
    k = _repeat_heads(k, q.shape[1])
    acc = q.dtype if native else accumulation_dtype(q)
    logits = torch.matmul(q.to(acc), k.to(acc).transpose(-1, -2))
    return logits * attn.scaling if scaled else logits


def decoder_attention_rows(attn: torch.nn.Module, hidden: torch.Tensor, position_embeddings,
                           allowed: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Softmax attention of some query rows of one decoder self-attention layer.

    attn: the layer's attention module; hidden ``[B, N, C]``: its (already normalised) input;
    position_embeddings: the ``(cos, sin)`` pair the layer receives (``[B or 1, N, D]``);
    allowed ``[B, q, N]`` bool: which keys each query may see (causality and padding);
    queries ``[B, q]``: row indices. Returns ``[B, H, q, N]`` probabilities (float32; float64 for
    float64 models), equal to
    rows of the layer's own attention map (``output_attentions`` under eager attention).
    """
    logits = decoder_attention_logits(attn, hidden, position_embeddings, queries)
    logits = logits.masked_fill(~allowed[:, None], float("-inf"))
    return torch.softmax(logits, dim=-1)


def decoder_attention_received(attn: torch.nn.Module, hidden: torch.Tensor, position_embeddings,
                               valid: torch.Tensor, *, chunk: int = 128) -> torch.Tensor:
    """``[B, N]``: the attention every token receives from every non-padding query of the layer, summed over
    the queries and then the heads (causal, padding masked; float32, float64 for float64 models).

    Queries and keys are projected once; the softmax runs on ``chunk`` query rows at a time, so
    the ``[B, H, N, N]`` map is never held (FastAdaSP's merge weights, H2O-style scores)."""
    b, n = valid.shape
    q, k = decoder_queries_keys(attn, hidden, position_embeddings, torch.arange(n, device=valid.device).expand(b, n))
    acc = accumulation_dtype(q)
    k = _repeat_heads(k, q.shape[1]).to(acc)
    keys = torch.arange(n, device=valid.device)
    out = torch.zeros((b, n), dtype=acc, device=valid.device)
    for start in range(0, n, chunk):
        rows = keys[start:start + chunk]
        logits = torch.matmul(q[:, :, start:start + chunk].to(acc), k.transpose(-1, -2)).mul_(attn.scaling)
        allowed = (keys[None, None, :] <= rows[None, :, None]) & valid[:, None, :]  # [B, q, N]
        att = torch.softmax(logits.masked_fill_(~allowed[:, None], float("-inf")), dim=-1)
        att.masked_fill_(~valid[:, None, start:start + chunk, None], 0.0)  # padding queries give nothing
        out += att.sum(dim=2).sum(dim=1)
    return out


def causal_allowed(queries: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``[B, q, N]`` bool: key ``j`` visible to query row ``i`` iff ``j <= i`` and ``j`` is not padding."""
    keys = torch.arange(valid.shape[1], device=valid.device)
    return (keys[None, None, :] <= queries[:, :, None]) & valid[:, None, :]


def vision_queries_keys(attn: torch.nn.Module, hidden: torch.Tensor):
    """Per-head queries and keys of a ViT attention layer (CLIP, SigLIP).

    hidden ``[B, T, C]`` (the layer's normalised input). Returns ``q, k`` as
    ``[B, H, T, D]`` (no scaling applied) and the layer's scale ``D ** -0.5``.
    """
    missing = [a for a in ("q_proj", "k_proj", "head_dim", "scale") if not hasattr(attn, a)]
    if missing:
        raise TypeError(f"{type(attn).__name__} has no {', '.join(missing)}: tokzoo's vision attention probe "
                        "supports CLIP/SigLIP-style attention")
    b, t, _ = hidden.shape
    q = attn.q_proj(hidden).view(b, t, -1, attn.head_dim).transpose(1, 2)
    k = attn.k_proj(hidden).view(b, t, -1, attn.head_dim).transpose(1, 2)
    return q, k, attn.scale
