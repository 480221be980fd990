"""Bipartite soft matching (ToMe, arXiv 2210.09461) and the merges built on it.

The tokens are split alternately into a set A (even positions) and a set B (odd
positions); every A token proposes an edge to its most similar B token (cosine similarity
of a metric, e.g. the attention keys averaged over heads); the ``r`` strongest edges are
merged, so ``r`` tokens disappear. The protected prefix (CLS, distillation, register
tokens: the first ``n_prefix`` positions) never merges: its A members propose no edge and
its B members accept none, and it stays first in its original order.

Output order: ``[prefix, unmerged A, B (ascending)]``, the official code's order: with a
protected prefix the unmerged A tokens are sorted by position (with one CLS token this is
exactly ToMe's order; with CLS + distillation token its distilled order); without one (global
average pooling, SigLIP, Whisper) ToMe leaves them in descending order of their best match
score, and so does tokzoo, so that later blocks pair the same tokens as the official code
(facebookresearch/ToMe ``tome/merge.py``: ``unm_idx`` is sorted only ``if class_token``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from zoo.core.select import gather_tokens
from zoo.core.tokens import TokenState

MERGE_MODES = ("sum", "mean", "amax", "drop")


@dataclass
class BipartiteMatch:
    """The result of one bipartite soft matching over ``n`` tokens.

    ``unm_idx`` ``[B, n_a - r]``: A positions kept unmerged (ascending with a protected prefix,
    else by descending match score); ``src_idx`` ``[B, r]``:
    A positions merged away; ``dst_idx`` ``[B, r]``: the B position each of them merges into.
    """

    unm_idx: torch.Tensor
    src_idx: torch.Tensor
    dst_idx: torch.Tensor
    n: int
    n_prefix: int
    r: int

    @property
    def n_out(self) -> int:
        return self.n - self.r

    def _assemble(self, unm: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """``[prefix in original order, unmerged A, B]`` from unm ``[B, n_a - r, C]`` and dst ``[B, n_b, C]``."""
        pa, pb = (self.n_prefix + 1) // 2, self.n_prefix // 2
        if pb == 0:  # no prefix, or a single one (the first unmerged A token): ToMe's plain order
            return torch.cat([unm, dst], dim=1)
        b, c = unm.shape[0], unm.shape[-1]
        pairs = torch.stack([unm[:, :pb], dst[:, :pb]], dim=2).reshape(b, 2 * pb, c)
        prefix = torch.cat([pairs, unm[:, pb:pa]], dim=1)
        return torch.cat([prefix, unm[:, pa:], dst[:, pb:]], dim=1)

    def merge(self, x: torch.Tensor, mode: str = "mean") -> torch.Tensor:
        """Reduce x ``[B, n, C]`` to ``[B, n - r, C]``.

        ``mode``: ``sum``/``mean``/``amax`` combine each destination with the tokens merged
        into it (``scatter_reduce``, destination included); ``drop`` discards the merged tokens
        and leaves destinations unchanged (pruning with ToMe's matching, as Token Fusion does).
        """
        if mode not in MERGE_MODES:
            raise ValueError(f"merge mode {mode!r}; allowed: {', '.join(MERGE_MODES)}")
        dst = x[:, 1::2]
        c = x.shape[-1]
        unm = gather_tokens(x, 2 * self.unm_idx)  # A position i is token 2i
        if mode != "drop" and self.r > 0:
            moved = gather_tokens(x, 2 * self.src_idx)
            dst = dst.scatter_reduce(1, self.dst_idx.unsqueeze(-1).expand(-1, -1, c), moved, reduce=mode)
        return self._assemble(unm, dst)

    def representatives(self) -> torch.Tensor:
        """``[B, n - r]`` index of each output token's representative input token (itself or its destination)."""
        bsz = self.unm_idx.shape[0]
        n_b = self.n // 2
        device = self.unm_idx.device
        a_pos = (2 * self.unm_idx).unsqueeze(-1)
        b_pos = (2 * torch.arange(n_b, device=device) + 1).expand(bsz, n_b).unsqueeze(-1)
        return self._assemble(a_pos, b_pos).squeeze(-1)


def bipartite_soft_matching(metric: torch.Tensor, r: int, n_prefix: int = 0) -> BipartiteMatch:
    """Match tokens by cosine similarity of ``metric`` ``[B, n, D]`` and plan ``r`` merges.

    ``r`` is capped at ``(n - n_prefix) // 2`` as in ToMe (at most half the reducible tokens
    per matching). ``r = 0`` gives an identity match. The unmerged A tokens are sorted by
    position only when there is a protected prefix (ToMe's rule, see the module docstring).
    """
    bsz, n, _ = metric.shape
    r = max(0, min(int(r), (n - n_prefix) // 2))
    pa, pb = (n_prefix + 1) // 2, n_prefix // 2
    with torch.no_grad():
        m = metric / metric.norm(dim=-1, keepdim=True)
        a, b = m[:, ::2], m[:, 1::2]
        scores = a @ b.transpose(-1, -2)
        if pa:
            scores[:, :pa, :] = -math.inf
        if pb:
            scores[:, :, :pb] = -math.inf
        node_max, node_idx = scores.max(dim=-1)
        edge_idx = node_max.argsort(dim=-1, descending=True, stable=True)
        unm_idx = edge_idx[:, r:].sort(dim=-1).values if n_prefix else edge_idx[:, r:]
        src_idx = edge_idx[:, :r]
        dst_idx = node_idx.gather(1, src_idx)
    return BipartiteMatch(unm_idx=unm_idx, src_idx=src_idx, dst_idx=dst_idx, n=n, n_prefix=n_prefix, r=r)


def merge_weighted(match: BipartiteMatch, state: TokenState) -> TokenState:
    """ToMe's size-weighted average: ``x = sum(s_i x_i) / sum(s_i)``; sizes add; sources unite."""
    size = state.sizes()
    x = match.merge(state.x * size, "sum")
    new_size = match.merge(size, "sum")
    source = None if state.source is None else match.merge(state.source, "amax")
    return TokenState(x=x / new_size, size=new_size, source=source, n_prefix=state.n_prefix,
                      valid=_merge_valid(match, state))


def _merge_valid(match: BipartiteMatch, state: TokenState) -> torch.Tensor | None:
    """A merged token is valid when any member is (reducers only merge valid tokens with each other)."""
    if state.valid is None:
        return None
    return match.merge(state.valid.unsqueeze(-1).to(torch.uint8), "amax").squeeze(-1).bool()


def merge_mlerp(match: BipartiteMatch, state: TokenState) -> TokenState:
    """Token Fusion's MLERP merge (arXiv 2312.01026): the size-weighted average's direction with
    the largest norm in the group, so merging does not shrink feature norms. Sizes add."""
    merged = merge_weighted(match, state)
    norms = state.x.norm(dim=-1, keepdim=True)
    target = match.merge(norms, "amax")
    direction = merged.x / merged.x.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(merged.x.dtype).tiny)
    return TokenState(x=direction * target, size=merged.size, source=merged.source, n_prefix=state.n_prefix,
                      valid=merged.valid)


def merge_drop(match: BipartiteMatch, state: TokenState) -> TokenState:
    """Prune with ToMe's matching: the ``r`` matched A tokens vanish, destinations are unchanged
    (Token Fusion's prune step). Sizes are kept; the dropped tokens' sources join their match."""
    size = None if state.size is None else match.merge(state.size, "drop")
    source = None if state.source is None else match.merge(state.source, "amax")
    valid = None if state.valid is None else match.merge(state.valid.unsqueeze(-1), "drop").squeeze(-1)
    return TokenState(x=match.merge(state.x, "drop"), size=size, source=source, n_prefix=state.n_prefix, valid=valid)
