"""Merging *adjacent* tokens of a 1-D sequence (speech frames): neighbour similarity, links, weighted groups.

Speech tokens are ordered in time and an acoustic unit spans several neighbouring frames, so
speech merges join only neighbours (A-ToMe, FastAdaSP). The vocabulary:

- a *link* ``t`` joins token ``t`` and token ``t + 1`` (``T`` tokens have ``T - 1`` links);
- selected links that share a token chain: a run of ``m`` consecutive selected links makes
  one *group* of ``m + 1`` consecutive tokens, so selecting ``M`` links removes exactly ``M``
  tokens and groups stay in time order;
- a group becomes the weighted mean of its members, ``sum_j w_j x_j / sum_j w_j`` (uniform
  weights: the plain mean).

Shapes: one sequence at a time, ``x [T, C]``; links ``[T - 1]`` bool; weights ``[T]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def neighbour_similarity(metric: torch.Tensor) -> torch.Tensor:
    """``[T - 1]``: cosine similarity of every token with the next one, ``metric [T, d]``."""
    return F.cosine_similarity(metric[:-1], metric[1:], dim=-1)


def top_links(similarity: torch.Tensor, m: int) -> torch.Tensor:
    """``[T - 1]`` bool: the ``m`` links of highest ``similarity [T - 1]`` (``torch.topk``'s choice on ties)."""
    n = int(similarity.shape[0])
    if not 0 <= m <= n:
        raise ValueError(f"cannot select {m} of {n} neighbour links")
    links = torch.zeros(n, dtype=torch.bool, device=similarity.device)
    if m:
        links[torch.topk(similarity, m, dim=-1).indices] = True
    return links


def link_groups(links: torch.Tensor) -> torch.Tensor:
    """``[T]`` int64: the group of every token (``0 .. T - 1 - links.sum()``), from ``links [T - 1]``."""
    start = torch.zeros(1, dtype=torch.long, device=links.device)
    return torch.cat([start, (~links).long().cumsum(0)])


def merge_linked(x: torch.Tensor, links: torch.Tensor, weights: torch.Tensor | None = None):
    """Merge the groups ``links [T - 1]`` make into their weighted means.

    x ``[T, C]``; weights ``[T]`` (``None``: uniform). Returns ``merged [G, C]`` (in time
    order, ``G = T - links.sum()``) in ``x``'s dtype, and ``first [G]``, the index of each
    group's first token.

    Rounding follows a sequential walk over each group (as FastAdaSP's official loop): the
    sums ``sum_j w_j x_j`` and ``sum_j w_j`` are accumulated in time order in ``x``'s dtype
    (one rounding per product and per addition; steps run over the position inside the group,
    all groups at once), then multiplied by the reciprocal of the weight sum (uniform weights:
    by ``1 / size`` as a scalar in the dtype's compute precision). Half precision therefore
    gives the official values exactly, not a float32-accumulated mean.
    """
    t, c = x.shape
    if tuple(links.shape) != (max(t - 1, 0),):
        raise ValueError(f"links has shape {tuple(links.shape)}; expected ({t - 1},) for {t} tokens")
    if weights is not None and tuple(weights.shape) != (t,):
        raise ValueError(f"weights has shape {tuple(weights.shape)}; expected ({t},)")
    group = link_groups(links)
    g = int(group[-1]) + 1 if t else 0
    index = torch.arange(t, device=x.device)
    first = torch.full((g,), t, dtype=torch.long, device=x.device).scatter_reduce(0, group, index, reduce="amin")
    step = index - first[group]  # position of every token inside its group
    w = None if weights is None else weights.to(x.dtype)
    summed = x[first] if w is None else x[first] * w[first][:, None]
    total = None if w is None else w[first]
    for j in range(1, int(step.max()) + 1 if t else 1):
        at = step == j
        gs = group[at]
        if w is None:
            summed[gs] = summed[gs] + x[at]
        else:
            summed[gs] = summed[gs] + x[at] * w[at][:, None]
            total[gs] = total[gs] + w[at]
    if w is not None:
        return summed * (1.0 / total)[:, None], first
    size = torch.bincount(group, minlength=g).double()
    compute = torch.float32 if x.dtype in (torch.bfloat16, torch.float16) else x.dtype
    return (summed.to(compute) * (1.0 / size).to(compute)[:, None]).to(x.dtype), first
