"""Per-layer reduction schedules: how many tokens each block removes.

ToMe's notation: ``r`` tokens per layer, either a constant, a per-layer list, or a constant
bent by an *inflection* (ToMe's ``(r, inflect)``: ``-1`` is the paper's decreasing schedule,
``+1`` increasing, ``0`` constant). The zoo's budget vocabulary (``keep_ratio`` /
``keep_tokens``: what survives after the last reduction) maps onto an even spread.
"""

from __future__ import annotations

from typing import Sequence


def inflected_schedule(depth: int, r: int, inflect: float = 0.0) -> list[int]:
    """``r`` per layer bent linearly by ``inflect`` in [-1, 1]; the total stays about ``depth * r``.

    The first layer gets ``r * (1 - inflect)``, the last ``r * (1 + inflect)``, linear in
    between, truncated to integers (ToMe's rounding). ``inflect = -1``: ``2r`` down to 0.
    """
    if depth <= 0:
        return []
    if depth == 1:
        return [int(r)]
    first = int(r * (1.0 - inflect))
    last = 2 * r - first
    step = (last - first) / (depth - 1)
    return [int(first + step * i) for i in range(depth)]


def padded_schedule(depth: int, r: Sequence[int]) -> list[int]:
    """A per-layer list padded with zeros to ``depth`` (ToMe's convention for short lists)."""
    r = [int(v) for v in r]
    if len(r) > depth:
        raise ValueError(f"r schedule has {len(r)} entries but the model has {depth} blocks")
    return r + [0] * (depth - len(r))


def spread(total: int, slots: Sequence[int], depth: int) -> list[int]:
    """Spread ``total`` removals as evenly as possible over the block indices ``slots``
    (earlier slots take the remainder); other blocks get 0. Returns a list of length ``depth``."""
    out = [0] * depth
    slots = list(slots)
    if not slots or total <= 0:
        return out
    base, extra = divmod(int(total), len(slots))
    for i, layer in enumerate(slots):
        out[layer] = base + (1 if i < extra else 0)
    return out
