"""ToMe: Token Merging: Your ViT But Faster (Bolya et al., ICLR 2023, arXiv 2210.09461).

In every block, between attention and MLP, the tokens are split alternately into two sets;
each token of the first set is matched to its most similar token of the second (cosine
similarity of the attention keys averaged over heads), and the ``r`` most similar pairs are
merged by a size-weighted average. Token sizes are tracked and, with proportional
attention, a token standing for ``s`` patches gets ``log s`` added to its attention logits.
CLS / distillation / register tokens are never merged.

Written for tokzoo from the paper and the idea of the official code
(facebookresearch/ToMe ``tome/merge.py``); the shared matching lives in ``zoo.core.merge``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from zoo.core.merge import bipartite_soft_matching, merge_weighted
from zoo.papers._vit import PerBlockBudget, ScheduleReducer


@dataclass
class ToMe(PerBlockBudget):
    """Token Merging: bipartite soft matching merges r tokens in every block (training-free)."""

    prop_attn: bool = True

    id: ClassVar[str] = "tome"
    arxiv: ClassVar[str] = "2210.09461"
    default_r: ClassVar[int] = 16
    paper_notation: ClassVar[dict[str, str]] = {
        "r": "r: tokens merged per block (int, or a per-block list); capped at half the patch tokens per block",
        "(r, inflect)": "r with inflect: ToMe's schedule tuple; inflect=-1 is the paper's decreasing schedule",
        "keep_ratio": "not in the paper: fraction of patch tokens left after the last block, spread evenly as r",
        "prop_attn": "proportional attention (paper Sec. 3, on by default off-the-shelf; off for MAE fine-tuning)",
    }

    def validate(self) -> None:
        super().validate()
        if not isinstance(self.prop_attn, bool):
            raise ValueError(f"tome: invalid prop_attn={self.prop_attn!r}; allowed: True or False")

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _ToMeReducer(self))


class _ToMeReducer(ScheduleReducer):
    kind = "merge"

    def __init__(self, method: ToMe) -> None:
        super().__init__(method)
        self.prop_attn = method.prop_attn

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"keys"})

    def reduce(self, view):
        state = view.state
        match = bipartite_soft_matching(view.keys, self.plan[view.index], state.n_prefix)
        if match.r == 0:
            return None
        return merge_weighted(match, state), match.representatives()
