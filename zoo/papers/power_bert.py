"""PoWER-BERT: Accelerating BERT Inference via Progressive Word-vector Elimination
(Goyal et al., ICML 2020, arXiv 2001.08950).

After the self-attention of each block (after its add & norm, before the feed-forward), the
word vectors are ranked by their *significance*: the attention they receive, averaged over
heads and summed over all queries, minus the attention a token pays itself,
``sig_j = sum_{i != j} mean_h A_h[i, j]``. The [CLS] token is always kept; of the others, the
``l_j - 1`` most significant survive (``l_j``: the block's entry of the *retention
configuration*, which counts [CLS]), in their original order; eliminated vectors are gone for
the rest of the network.

The paper learns the retention configuration (a soft-extract layer with an L1 penalty) and then
retrains the model with it; applied off the shelf, as here, the configuration is given:
``retention`` (the paper's per-block counts, non-increasing, [CLS] included) or the zoo's
``keep_ratio``/``keep_tokens`` with ``layers`` (each acting block keeps
``keep_ratio ** (1 / len(layers))`` of the reducible tokens reaching it, EViT's rounding;
``keep_tokens`` is the count left after the last one). Significance needs the full attention
probabilities at the acting blocks (computed explicitly there, fused elsewhere).

Written for tokzoo from the paper and the official code (github.com/IBM/PoWER-BERT,
``model/model.py``: ``Hard_Extract``: heads averaged, column sums minus the diagonal, [CLS] kept,
``top_k`` then sorted ascending). In padded batches only real tokens are ranked and counted
(the official code ranks padding too and truncates the mask to the first ``l_j`` positions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from zoo.core.reduce import BlockReducer
from zoo.core.select import keep_count, topk_keep_indices
from zoo.core.tokens import keep
from zoo.interface import Method, _fail, check_budget, check_int, check_layer
from zoo.papers._vit import VIT_FAMILIES, as_layers


def significance(attn: torch.Tensor, n_prefix: int) -> torch.Tensor:
    """PoWER-BERT significance of the reducible tokens: attn ``[B, H, N, N]`` -> ``[B, N - n_prefix]``.

    Heads averaged, attention received summed over the queries, self-attention excluded. Sums in
    float32 (float64 for float64 input), one head at a time: no float32 copy of all of ``attn``
    (for AST's 1214 tokens that copy was 141 MB per block and took as long as the attention).
    """
    acc = torch.promote_types(attn.dtype, torch.float32)
    heads = attn.shape[1]
    received = attn[:, 0].sum(dim=1, dtype=acc)  # [B, N]
    for h in range(1, heads):
        received += attn[:, h].sum(dim=1, dtype=acc)
    received -= attn.diagonal(dim1=-2, dim2=-1).sum(dim=1, dtype=acc)
    return (received / heads)[:, n_prefix:]


@dataclass
class PoWERBERT(Method):
    """PoWER-BERT: eliminate the word vectors that receive the least attention, block by block."""

    retention: tuple[int, ...] | None = None
    keep_ratio: float | None = None
    keep_tokens: int | None = None
    layers: tuple[int, ...] | int | None = None

    id: ClassVar[str] = "power-bert"
    arxiv: ClassVar[str] = "2001.08950"
    families: ClassVar[tuple[str, ...]] = VIT_FAMILIES
    placement: ClassVar[str] = "backbone"
    paper_notation: ClassVar[dict[str, str]] = {
        "retention configuration (l_1..l_L)": "retention: tokens kept after each block, [CLS] included, "
                                              "non-increasing (the paper learns it; given here)",
        "keep_ratio": "keep_ratio: fraction of reducible tokens left after the last acting block "
                      "(each acting block keeps keep_ratio ** (1/len(layers)) of what reaches it)",
        "significance": "attention received, averaged over heads, summed over queries, minus self-attention",
    }

    def validate(self) -> None:
        if self.layers is not None:
            self.layers = as_layers(self, "layers", self.layers)
        if isinstance(self.retention, list):
            self.retention = tuple(self.retention)
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"retention": self.retention})
        if self.retention is None and self.keep_ratio is None and self.keep_tokens is None:
            self.keep_ratio = 0.5
        if self.retention is not None:
            if not isinstance(self.retention, tuple) or not self.retention:
                _fail("retention", self.retention, "a non-empty list of per-block token counts", self.id)
            for v in self.retention:
                check_int(self, "retention", v, low=1)
            if any(b > a for a, b in zip(self.retention, self.retention[1:])):
                _fail("retention", self.retention, "non-increasing counts (a block cannot restore tokens)", self.id)
            if self.layers is not None:
                _fail("layers", self.layers, "None with retention (the configuration has one entry per block)", self.id)

    def acting(self, depth: int) -> tuple[int, ...]:
        if self.retention is not None:
            return tuple(range(len(self.retention)))
        return self.layers if self.layers is not None else tuple(range(depth))

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth(adapter.pruning_stage)
        if self.retention is not None and len(self.retention) != depth:
            _fail("retention", self.retention, f"one count per block ({depth} entries for this model)", self.id)
        for layer in self.acting(depth):
            check_layer(self, "layers", layer, depth)
        if not adapter.has_class_token:
            raise ValueError("power-bert: the model has no class token; PoWER-BERT always keeps [CLS] and ranks "
                             "the other word vectors (supported: models with a [CLS] token)")

    def required_signals(self) -> dict[str, str]:
        return {"class_token": "PoWER-BERT keeps [CLS] and counts it in the retention configuration"}

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _PoWERReducer(self, adapter.depth(adapter.pruning_stage)))


class _PoWERReducer(BlockReducer):
    kind = "prune"

    def __init__(self, method: PoWERBERT, depth: int) -> None:
        self.m = method
        self.layers = method.acting(depth)
        self.rate = 1.0
        self.final_keep: int | None = None

    def begin(self, state, depth, grid, scratch) -> None:
        m, n = self.m, state.n_reducible
        self.final_keep = None
        if m.keep_ratio is not None:
            self.rate = m.keep_ratio ** (1.0 / len(self.layers))
        elif m.keep_tokens is not None:
            self.final_keep = keep_count(n, keep_tokens=m.keep_tokens)
            self.rate = (self.final_keep / n) ** (1.0 / len(self.layers)) if n else 1.0

    def acts_at(self, index: int) -> bool:
        if index not in self.layers:
            return False
        return self.m.retention is not None or self.final_keep is not None or self.rate < 1.0

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"attn"})

    def target(self, index: int, n: int, n_prefix: int) -> int:
        """Reducible tokens kept at block ``index`` out of ``n``."""
        if self.m.retention is not None:
            return max(0, min(n, self.m.retention[index] - n_prefix))
        if index == self.layers[-1] and self.final_keep is not None:
            return keep_count(n, keep_tokens=self.final_keep)
        return keep_count(n, keep_ratio=self.rate)

    def reduce(self, view):
        state = view.state
        n = state.n_reducible
        k = self.target(view.index, n, state.n_prefix)
        if k >= n:
            return None
        return keep(state, topk_keep_indices(significance(view.attn, state.n_prefix), k))
