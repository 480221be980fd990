"""Tensor bookkeeping for shortening a decoder's token sequence (torch only, no transformers).

When a method removes tokens from a causal decoder during prefill, four things must stay
consistent: the hidden states, the position ids (and the rotary tables computed from them),
the attention mask, and the KV cache that later decoding steps attend to. These helpers do
the per-row index arithmetic; :mod:`zoo.families.decoders.runtime` applies them to a model.

Conventions (``B`` batch, ``N`` tokens):

- ``keep``: ``[B, K]`` int64 indices into the current sequence, ascending in every row.
- ``valid``: ``[B, N]`` bool, False at padding.
- attention masks are what transformers passes to decoder layers: ``None`` (plain causal,
  SDPA's ``is_causal`` path), a 4D ``[B or 1, 1, Q, KV]`` tensor (bool: True = attend; float:
  0 = attend, large negative = masked), or a 2D ``[B, KV]`` padding mask (flash attention).
"""

from __future__ import annotations

import torch


def gather_tokens(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """x ``[B or 1, N, ...]``, keep ``[B, K]`` -> ``[B, K, ...]``."""
    if x.shape[0] != keep.shape[0]:
        x = x.expand(keep.shape[0], *x.shape[1:])
    idx = keep.view(*keep.shape, *([1] * (x.dim() - 2))).expand(*keep.shape, *x.shape[2:])
    return torch.gather(x, 1, idx)


def compact_positions(valid: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """Positions that number the valid tokens of each row ``start, start+1, ...``; padding gets 0.

    valid ``[B, N]`` bool, start ``[B]`` -> ``[B, N]`` int64. This reproduces what ``generate``
    computes from an attention mask (``cumsum - 1``, padding 0) for a sequence that simply had
    fewer tokens.
    """
    counts = valid.long().cumsum(-1) - 1 + start[:, None]
    return counts.masked_fill(~valid, 0)


def first_valid_position(positions: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Position id of the first valid token of each row: positions, valid ``[B, N]`` -> ``[B]``."""
    first = valid.long().argmax(-1)
    return positions.gather(1, first[:, None]).squeeze(1)


def shrink_image_spans(image: torch.Tensor, span, counts: torch.Tensor) -> torch.Tensor:
    """Column map that resizes every image's placeholder span to its new token count.

    image ``[B, N]`` bool marks placeholder tokens; consecutive groups of placeholders (row by
    row, in order) belong to images ``0, 1, ...``: ``span`` placeholders each (an int), or
    ``span[i]`` for image ``i`` (a sequence: anyres images differ). Image ``i`` keeps its first
    ``min(counts[i], span_i)`` placeholders, and when ``counts[i] > span_i`` (a reducer that
    adds tokens, e.g. PruMerge+ keeping every patch plus its summary token) its last
    placeholder is repeated ``counts[i] - span_i`` more times. Rows that end up shorter are
    left-padded. Returns ``source [B, L]``: the original column of each token of the new
    prompt (repeated columns for added tokens), -1 for new padding.
    """
    b, n = image.shape
    counts = [int(c) for c in counts.tolist()]
    spans = [int(span)] * len(counts) if isinstance(span, int) else [int(v) for v in span]
    if len(spans) != len(counts):
        raise ValueError(f"{len(spans)} image spans but {len(counts)} feature sets")
    per_row = image.sum(-1).tolist()
    repeats, k = [], 0
    for row in range(b):
        rep = (~image[row]).long()
        cols = torch.nonzero(image[row]).squeeze(1)
        used = 0
        while used < per_row[row]:
            if k >= len(spans) or used + spans[k] > per_row[row]:
                raise ValueError(f"image placeholders per row {per_row} do not split into images of "
                                 f"{spans} tokens")
            mine = cols[used:used + spans[k]]
            rep[mine[: counts[k]]] = 1
            if counts[k] > spans[k]:
                rep[mine[-1]] += counts[k] - spans[k]
            used += spans[k]
            k += 1
        repeats.append(rep)
    if k != len(counts):
        raise ValueError(f"{k} images in the prompt but {len(counts)} feature sets")
    lengths = [int(r.sum()) for r in repeats]
    width = max(lengths)
    source = torch.full((b, width), -1, dtype=torch.long, device=image.device)
    all_cols = torch.arange(n, device=image.device)
    for row, rep in enumerate(repeats):
        src = torch.repeat_interleave(all_cols, rep)
        source[row, width - src.shape[0]:] = src
    return source


def select_prefill_mask(mask, keep: torch.Tensor):
    """Restrict a prefill attention mask to the kept tokens (queries and keys).

    mask: ``None`` | 4D ``[B or 1, 1, N, N]`` | 2D ``[B, N]``; keep ``[B, K]``. ``None`` stays
    ``None``: kept tokens stay in ascending order, so the plain causal pattern still holds.
    """
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"tokzoo cannot shorten an attention mask of type {type(mask).__name__}; "
                        "use attn_implementation='sdpa' or 'eager'")
    if mask.dim() == 2:
        return torch.gather(mask, 1, keep)
    if mask.dim() != 4:
        raise ValueError(f"unexpected attention mask shape {tuple(mask.shape)}")
    b, k = keep.shape
    m = mask.expand(b, *mask.shape[1:])
    heads = m.shape[1]
    rows = keep[:, None, :, None].expand(b, heads, k, m.shape[-1])
    m = torch.gather(m, 2, rows)
    cols = keep[:, None, None, :].expand(b, heads, k, k)
    return torch.gather(m, 3, cols)


def causal_bool_mask(batch: int, q: int, kv: int, device) -> torch.Tensor:
    """``[B, 1, q, kv]`` bool: query ``i`` (absolute position ``kv - q + i``) sees keys ``<=`` it."""
    q_pos = torch.arange(kv - q, kv, device=device)[:, None]
    k_pos = torch.arange(kv, device=device)[None, :]
    return (k_pos <= q_pos).expand(batch, 1, q, kv)


def block_key_columns(mask, blocked: torch.Tensor, *, q: int, kv: int, dtype: torch.dtype,
                      keep_diagonal: bool) -> torch.Tensor:
    """Add ``blocked`` key columns to an attention mask (FastV's attention-mask variant).

    mask: ``None`` | 4D tensor; blocked ``[B, C]`` bool for the first ``C <= kv`` key columns.
    ``None`` is first materialised as the causal bool mask SDPA would have used. With
    ``keep_diagonal`` a blocked token still attends to itself (its own row never becomes fully
    masked, which would give NaNs); no other token can see it. Returns a 4D mask.
    """
    b, c = blocked.shape
    if mask is None:
        mask = causal_bool_mask(b, q, kv, blocked.device)
    if mask.dim() != 4:
        raise ValueError("the attention-mask variant needs a 4D mask (attn_implementation 'sdpa' or 'eager')")
    full = torch.zeros((b, kv), dtype=torch.bool, device=blocked.device)
    full[:, :c] = blocked
    hide = full[:, None, None, :].expand(b, 1, q, kv)
    if keep_diagonal:
        eye = torch.zeros((q, kv), dtype=torch.bool, device=blocked.device)
        eye[torch.arange(q), torch.arange(kv - q, kv)] = True
        hide = hide & ~eye
    mask = mask.expand(b, *mask.shape[1:])
    if mask.dtype == torch.bool:
        return mask & ~hide
    return mask.masked_fill(hide, torch.finfo(mask.dtype).min)


def map_decode_mask(mask, prefix_index: torch.Tensor, prefix_len: int):
    """Re-index the prefill part of a decoding-step mask to a shortened cache.

    mask: ``None`` | 4D ``[B, 1, Q, prefix_len + T]`` | 2D ``[B, prefix_len + T]``;
    prefix_index ``[B, N_kept]`` says which prefill column each cached token came from.
    Returns the mask for ``N_kept + T`` keys.
    """
    if mask is None:
        return None
    if mask.shape[-1] < prefix_len:
        raise ValueError(f"decoding mask covers {mask.shape[-1]} keys, fewer than the prefill ({prefix_len})")
    head, tail = mask[..., :prefix_len], mask[..., prefix_len:]
    if mask.dim() == 2:
        return torch.cat([torch.gather(head, 1, prefix_index), tail], dim=-1)
    b = prefix_index.shape[0]
    head = head.expand(b, *head.shape[1:])
    tail = tail.expand(b, *tail.shape[1:])
    idx = prefix_index[:, None, None, :].expand(b, head.shape[1], head.shape[2], prefix_index.shape[1])
    return torch.cat([torch.gather(head, 3, idx), tail], dim=-1)


def block_decode_mask(mask, blocked: torch.Tensor, *, q: int, kv: int):
    """Hide blocked prefill columns from decoding queries (attention-mask variant, decoding)."""
    return block_key_columns(mask, blocked, q=q, kv=kv, dtype=torch.bool, keep_diagonal=False)


def accumulation_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype scores are computed in: float32, or the input's own dtype when wider (float64 stays float64)."""
    return torch.promote_types(t.dtype, torch.float32)


def allowed_keys(mask, batch: int, q: int, kv: int, device) -> torch.Tensor:
    """``[B, q, kv]`` bool: which keys each query row may attend to under ``mask``.

    mask: what a decoder layer received (``None`` = plain causal; 4D bool or float; 2D
    ``[B, kv]`` padding mask of flash attention, combined with causality).
    """
    causal = causal_bool_mask(batch, q, kv, device)[:, 0]
    if mask is None:
        return causal
    if mask.dim() == 2:
        return causal & mask.bool()[:, None, :]
    if mask.dim() != 4:
        raise ValueError(f"unexpected attention mask shape {tuple(mask.shape)}")
    m = mask[:, 0].expand(batch, q, kv)
    if m.dtype == torch.bool:
        return m
    return m > torch.finfo(m.dtype).min / 2
