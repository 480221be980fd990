"""PPT: Token Pruning and Pooling for Efficient Vision Transformers (Wu et al., arXiv 2310.01812).

At a few blocks (the official evaluation: 0-based 3, 6, 9 with ``r = 50`` on DeiT), each
image decides between two ways of removing ``r`` tokens. Its patch tokens get ATS-style
significance scores (the CLS token's attention summed over heads times the norm of the
token's value vector, normalised to sum 1); when their variance is at least ``threshold``
the attention is concentrated (inattentive redundancy) and the ``r`` least significant
tokens are pruned; otherwise the tokens look alike (duplicative redundancy) and ``r`` tokens
are pooled by ToMe's size-weighted bipartite merging. Proportional attention follows sizes.

Token order after pruning: as in the official code (``ppt_deit.py``: ``torch.sort(scores,
descending=True)`` then the first ``N - r``), the kept patch tokens are in *descending order of
significance* (CLS first), not in their original order; a later pooling block splits the tokens
alternately, so this order decides which tokens it pairs.

Written for tokzoo from the paper and the idea of the official code (xjwu1024/PPT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from zoo.core.attention import value_norms
from zoo.core.merge import bipartite_soft_matching, merge_weighted
from zoo.core.tokens import TokenState, keep
from zoo.interface import check_number
from zoo.papers._vit import PerBlockBudget, ScheduleReducer, as_layers


def significance(cls_attn: torch.Tensor, values: torch.Tensor, n_prefix: int) -> torch.Tensor:
    """ATS/PPT significance of the patch tokens ``[B, N - n_prefix]`` (sums to 1 per image).

    cls_attn ``[B, H, N]`` (CLS row of the attention), values ``[B, H, N, d]``.
    """
    s = (cls_attn.float().sum(dim=1) * value_norms(values.float()))[:, n_prefix:]
    return s / s.sum(dim=1, keepdim=True).clamp_min(1e-12)


@dataclass
class PPT(PerBlockBudget):
    """PPT: per image and block, prune by significance (peaked scores) or pool by merging (flat scores)."""

    layers: tuple[int, ...] = (3, 6, 9)
    threshold: float = 7e-5
    prop_attn: bool = True

    id: ClassVar[str] = "ppt"
    arxiv: ClassVar[str] = "2310.01812"
    default_r: ClassVar[int] = 50
    paper_notation: ClassVar[dict[str, str]] = {
        "r_tokens": "r: tokens removed at each acting block (official evaluation: 50)",
        "pp_loc_list": "layers: 0-based blocks where PPT acts (official evaluation: 3, 6, 9)",
        "threshold": "threshold: variance of the significance scores above which an image prunes (official: 7e-5)",
    }

    def validate(self) -> None:
        self.layers = as_layers(self, "layers", self.layers)
        super().validate()
        check_number(self, "threshold", self.threshold, low=0.0)

    def acting_blocks(self, depth: int) -> tuple[int, ...]:
        return self.layers

    def check_model(self, adapter: Any) -> None:
        super().check_model(adapter)
        if not adapter.has_class_token:
            raise ValueError("ppt: the model has no class token; PPT scores tokens by the CLS token's attention "
                             "(supported: models with class_token=True)")

    def required_signals(self) -> dict[str, str]:
        return {"class_token": "PPT's significance is the class token's attention times value norms"}

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _PPTReducer(self))


def _select(pool: torch.Tensor, a: TokenState, b: TokenState) -> TokenState:
    """Per image: ``a`` where ``pool`` ``[B]`` is True, else ``b`` (same shapes)."""
    def pick(u, v):
        if u is None or v is None:
            return None
        return torch.where(pool.view(-1, *([1] * (u.dim() - 1))), u, v)

    size = pick(a.sizes(), b.sizes()) if (a.size is not None or b.size is not None) else None
    return TokenState(x=pick(a.x, b.x), size=size, source=pick(a.source, b.source), n_prefix=a.n_prefix)


class _PPTReducer(ScheduleReducer):
    kind = "prune|pool"

    def __init__(self, method: PPT) -> None:
        super().__init__(method)
        self.prop_attn = method.prop_attn

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"cls_attn", "values", "keys"})

    def reduce(self, view):
        state = view.state
        n = state.n_reducible
        r = min(self.plan[view.index], n // 2)
        if r <= 0:
            return None
        scores = significance(view.cls_attn, view.values, state.n_prefix)
        pool = scores.var(dim=1) < self.method.threshold  # [B]
        pruned = None
        if not bool(pool.all()):
            by_significance = scores.argsort(dim=1, descending=True, stable=True)[:, :n - r]  # official order
            pruned, pruned_rep = keep(state, by_significance)
            if not bool(pool.any()):
                return pruned, pruned_rep
        match = bipartite_soft_matching(view.keys, r, state.n_prefix)
        pooled = merge_weighted(match, state)
        if pruned is None:
            return pooled, match.representatives()
        rep = torch.where(pool.view(-1, 1), match.representatives(), pruned_rep)
        return _select(pool, pooled, pruned), rep
