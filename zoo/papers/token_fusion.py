"""Token Fusion (ToFu): Bridging the Gap between Token Pruning and Token Merging
(Kim et al., WACV 2024, arXiv 2312.01026).

ToFu keeps ToMe's bipartite matching but chooses what to do with a matched pair by how the
block responds to interpolated inputs: where the model is far from linear (the early
blocks) averaging two tokens gives a token the model never saw, so the matched token is
*pruned* (dropped, its partner unchanged); in the later, closer-to-linear blocks the pair is
*merged* with MLERP, which keeps the average's direction but restores the largest norm of
the group, so merging does not shrink feature norms (plain averaging does).

Default split as in the public re-implementation of the method (OpenToMe ``tofu.py``):
blocks ``0..depth // 2`` prune, later blocks merge; ``prune_blocks`` overrides the count.
Written for tokzoo from the paper; shared matching in ``zoo.core.merge``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from zoo.core.merge import bipartite_soft_matching, merge_drop, merge_mlerp
from zoo.interface import check_int
from zoo.papers._vit import PerBlockBudget, ScheduleReducer


@dataclass
class TokenFusion(PerBlockBudget):
    """Token Fusion: ToMe matching that prunes in early blocks and MLERP-merges in later ones."""

    prune_blocks: int | None = None
    prop_attn: bool = True

    id: ClassVar[str] = "token-fusion"
    arxiv: ClassVar[str] = "2312.01026"
    default_r: ClassVar[int] = 16
    paper_notation: ClassVar[dict[str, str]] = {
        "r": "r: tokens removed per block, as in ToMe",
        "prune-to-merge switch": "prune_blocks: number of leading blocks that prune (default depth // 2 + 1)",
        "MLERP": "merge rule of the later blocks (norm-preserving average), always on",
        "prop_attn": "proportional attention over token sizes (tokzoo default on, as ToMe)",
    }

    def validate(self) -> None:
        super().validate()
        if self.prune_blocks is not None:
            check_int(self, "prune_blocks", self.prune_blocks, low=0)
        if not isinstance(self.prop_attn, bool):
            raise ValueError(f"token-fusion: invalid prop_attn={self.prop_attn!r}; allowed: True or False")

    def check_model(self, adapter) -> None:
        super().check_model(adapter)
        depth = adapter.depth(adapter.pruning_stage)
        if self.prune_blocks is not None and self.prune_blocks > depth:
            check_int(self, "prune_blocks", self.prune_blocks, low=0, high=depth)

    def n_prune_blocks(self, depth: int) -> int:
        return depth // 2 + 1 if self.prune_blocks is None else self.prune_blocks

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _ToFuReducer(self))


class _ToFuReducer(ScheduleReducer):
    kind = "prune|merge"

    def __init__(self, method: TokenFusion) -> None:
        super().__init__(method)
        self.prop_attn = method.prop_attn
        self.n_prune = 0

    def begin(self, state, depth, grid, scratch) -> None:
        super().begin(state, depth, grid, scratch)
        self.n_prune = self.method.n_prune_blocks(depth)

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"keys"})

    def reduce(self, view):
        state = view.state
        match = bipartite_soft_matching(view.keys, self.plan[view.index], state.n_prefix)
        if match.r == 0:
            return None
        op = merge_drop if view.index < self.n_prune else merge_mlerp
        return op(match, state), match.representatives()
