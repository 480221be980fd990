"""Zero-TPrune: Zero-Shot Token Pruning through Leveraging of the Attention Graph in
Pre-Trained Transformers (Wang, Dedhia, Jha, CVPR 2024, arXiv 2305.17328).

The attention matrix of a block is read as the adjacency matrix of a directed graph over
the tokens. *I-stage*: a Weighted Page Rank (WPR) runs on it per head, ``s <- A^T s`` from
a uniform start, so a token is important when important tokens attend to it; the heads are
combined by the root of the sum of squares (the paper's emphasis on informative regions).
*S-stage*: the importance ranking partitions the patch tokens into an important half
(anchors) and the rest (candidates); candidates most similar to an anchor (cosine of the
attention keys) are pruned, since they repeat information the anchors keep.

``stage="importance"`` runs the I-stage alone (prune the least important tokens).
Written for tokzoo from the paper's description; the pruning happens between attention and
MLP like the zoo's other ViT methods, ``r`` tokens per block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from zoo.core.select import split_topk
from zoo.core.tokens import keep
from zoo.interface import check_choice, check_int
from zoo.papers._vit import PerBlockBudget, ScheduleReducer


def weighted_page_rank(attn: torch.Tensor, iters: int) -> torch.Tensor:
    """WPR scores per head: attn ``[B, H, N, N]`` (rows sum to 1) -> ``[B, H, N]`` (each sums to 1).

    ``s_{t+1} = A^T s_t`` from the uniform distribution, computed as the row-vector product
    ``s^T A`` (no transposed copy of A) in the attention's dtype.
    """
    b, h, n, _ = attn.shape
    s = torch.full((b, h, 1, n), 1.0 / n, dtype=attn.dtype, device=attn.device)
    for _ in range(iters):
        s = s @ attn
    return s.squeeze(-2)


def importance(attn: torch.Tensor, iters: int, n_prefix: int) -> torch.Tensor:
    """Zero-TPrune importance of the patch tokens ``[B, N - n_prefix]``: WPR per head, heads combined
    by the root of the sum of squares (float32)."""
    s = weighted_page_rank(attn, iters)[:, :, n_prefix:].float()
    return s.pow(2).sum(dim=1).sqrt()


@dataclass
class ZeroTPrune(PerBlockBudget):
    """Zero-TPrune: attention-graph importance (Weighted Page Rank) guiding similarity-based pruning."""

    wpr_iters: int | None = None
    stage: str = "both"

    id: ClassVar[str] = "zero-tprune"
    arxiv: ClassVar[str] = "2305.17328"
    default_r: ClassVar[int] = 16
    paper_notation: ClassVar[dict[str, str]] = {
        "r": "r: tokens pruned per block (tokzoo default 16, ToMe's headline budget; the paper sweeps budgets)",
        "WPR iterations": "wpr_iters: power iterations of the Weighted Page Rank; default the paper's schedule "
                          "(30 in the first three blocks, 5 in the middle, 1 in the last three)",
        "I-stage / S-stage": "stage: 'both' (importance-guided partition + similarity pruning) or 'importance'",
    }

    def validate(self) -> None:
        super().validate()
        if self.wpr_iters is not None:
            check_int(self, "wpr_iters", self.wpr_iters, low=1)
        check_choice(self, "stage", self.stage, ("both", "importance"))

    def iterations(self, block: int, depth: int) -> int:
        """WPR iterations at ``block``: ``wpr_iters`` or the paper's per-depth schedule."""
        if self.wpr_iters is not None:
            return self.wpr_iters
        if block < 3:
            return 30
        return 1 if block >= depth - 3 else 5

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _ZeroTPruneReducer(self))


class _ZeroTPruneReducer(ScheduleReducer):
    kind = "prune"

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"attn", "keys"}) if self.method.stage == "both" else frozenset({"attn"})

    def reduce(self, view):
        state = view.state
        n = state.n_reducible
        imp = importance(view.attn, self.method.iterations(view.index, view.depth), state.n_prefix)  # [B, n]
        if self.method.stage == "importance":
            r = min(self.plan[view.index], n - 1)
            if r <= 0:
                return None
            kept, _ = split_topk(imp, n - r)
            return keep(state, kept)
        # S-stage: anchors = the more important half, candidates = the rest
        n_anchor = (n + 1) // 2
        r = min(self.plan[view.index], n - n_anchor)
        if r <= 0:
            return None
        anchors, candidates = split_topk(imp, n_anchor)
        keys = view.keys[:, state.n_prefix:].float()
        keys = keys / keys.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        ka = keys.gather(1, anchors.unsqueeze(-1).expand(-1, -1, keys.shape[-1]))
        kc = keys.gather(1, candidates.unsqueeze(-1).expand(-1, -1, keys.shape[-1]))
        redundancy = (kc @ ka.transpose(1, 2)).amax(dim=-1)  # [B, n - n_anchor]
        _, pruned_local = split_topk(-redundancy, redundancy.shape[1] - r)
        pruned = candidates.gather(1, pruned_local)
        mask = torch.ones_like(imp, dtype=torch.bool).scatter_(1, pruned, False)
        kept = mask.nonzero()[:, 1].view(imp.shape[0], n - r)
        return keep(state, kept)
