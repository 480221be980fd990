"""ALPINE: An Adaptive Language-Agnostic Pruning Method for Language Models for Code
(Saad, Hernández López, Chen, Varró, Sharma; Proc. ACM Softw. Eng. / FSE 2025, arXiv 2407.04147).

A parameter-free pruning layer placed inside chosen encoder layers, after the attention's
add & norm and before the feed-forward. With the attention probabilities ``A`` ``[B, H, N, N]``
of that layer:

1. importance of token ``j``: the attention it receives, averaged over heads and over the query
   rows, ``s_j = mean_i mean_h A[h, i, j]``;
2. the candidates are every token except the protected ones: [CLS] (the zoo's prefix) and the
   last token of the sequence ([SEP] / ``</s>`` on text encoders, ``protect_last``);
3. the *dynamic range* is ``[mu - alpha * sigma, mu + alpha * sigma]``, with ``mu`` and ``sigma``
   the mean and the population standard deviation of the candidates' scores (per sequence);
   candidates inside it are kept (in their order), those outside are pruned: the adaptive part,
   each sequence loses as many tokens as its own score distribution puts outside the range;
4. ``merge=True`` (the paper's default): the pruned tokens are not lost but merged into one token,
   their plain mean, appended after the kept ones; ``merge=False`` drops them (the ablation).

So the layer removes both the least and the *most* attended tokens (outliers on either side).
At a later layer the protected "last token" is the last token of the *current* sequence, which
after a merge is the merged token (as in the authors' code, which protects position
``mask.sum() - 1``): the real [SEP] then becomes a candidate.

Parameters (paper -> zoo): ``alpha`` (the range's width in standard deviations; the paper and the
official scripts use 1.0), ``layers`` (where the layer sits: the paper's ``all`` / ``even`` / ``odd``
layer sets, or block indices), ``merge``. There is no ``keep_ratio``: the number of tokens kept
is decided per sequence (``alpha = inf`` keeps everything, the no-op). ``protect_last``: ``None``
protects the last token on text encoders (where it is [SEP]) and not elsewhere (image patches,
audio frames have no end token).

Written for tokzoo from the paper and the authors' replication package
(github.com/SMART-Dal/FSE25-Alpine-Replication-Package@5274b9a: ``pruning/AttenPruner.py``
``IQRPruner.get_pruning_mask``, ``pruning/utils.py`` ``repack_tensor_and_create_mask`` with
``fuse=True``, ``pruning/PrunableEncoderLayer.py``); on unpadded input tokzoo gives the same
kept tokens and outputs (``repro/alpine.py`` conformance claim). Differences, all about padding
or corner cases: the official score averages over every query row of the padded batch
(padding rows included) and its merged token averages the padding vectors in too; tokzoo scores
and merges each sentence's real tokens only (as if alone). Where nothing falls outside the range
the official code appends the mean of an empty set (NaN); tokzoo appends nothing. Merged tokens
carry their size (number of input tokens) for size-weighted pooling; attention does not use it
(no proportional attention, as the official code). A batch without a padding mask (images,
audio) whose rows keep different numbers of tokens ends its shorter rows in size-0 slots, hidden
from every attention.

Training: the paper fine-tunes each model with the pruning layers in place (the layer itself has
no parameters); tokzoo applies it to a given model without training. Its accuracy figures do not
carry over to off-the-shelf use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from zoo.core.reduce import BlockReducer
from zoo.core.tokens import TokenState, keep_and_fuse, pack_rows
from zoo.core.tokens import keep as keep_tokens
from zoo.interface import Method, _fail, check_layer, check_number
from zoo.papers._vit import VIT_FAMILIES, as_layers

#: the paper's layer sets (official ``--layers``): name -> blocks of a ``depth``-block model
LAYER_SETS = {"all": lambda d: tuple(range(d)), "even": lambda d: tuple(range(0, d, 2)),
              "odd": lambda d: tuple(range(1, d, 2))}


def received_mean(attn: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    """ALPINE's score: attn ``[B, H, N, N]`` -> ``[B, N]``, the attention each token receives averaged
    over heads, then over the query rows (only the ``real`` ``[B, N]`` rows when given)."""
    a = attn.float() if attn.dtype in (torch.float16, torch.bfloat16) else attn
    per_query = a.mean(dim=1)  # [B, N, N]
    if real is None:
        return per_query.mean(dim=1)
    w = real.to(per_query.dtype).unsqueeze(-1)
    return (per_query * w).sum(dim=1) / w.sum(dim=1).clamp_min(1)


def in_range(scores: torch.Tensor, candidate: torch.Tensor, alpha: float) -> torch.Tensor:
    """Which candidates lie in ``[mu - alpha sigma, mu + alpha sigma]`` of the candidates' scores.

    scores, candidate ``[B, N]`` (candidate: bool) -> keep ``[B, N]`` (bool, False off the candidates);
    ``sigma`` is the population standard deviation."""
    w = candidate.to(scores.dtype)
    count = w.sum(dim=1, keepdim=True).clamp_min(1)
    mu = (scores * w).sum(dim=1, keepdim=True) / count
    sigma = (((scores - mu) * w) ** 2).sum(dim=1, keepdim=True).div(count).sqrt()
    return candidate & (scores >= mu - alpha * sigma) & (scores <= mu + alpha * sigma)


@dataclass
class ALPINE(Method):
    """ALPINE: prune (and merge) the tokens whose received attention lies outside mean +- alpha std."""

    alpha: float = 1.0
    layers: tuple[int, ...] | int | str | None = None
    merge: bool = True
    protect_last: bool | None = None

    id: ClassVar[str] = "alpine"
    arxiv: ClassVar[str] = "2407.04147"
    families: ClassVar[tuple[str, ...]] = VIT_FAMILIES
    placement: ClassVar[str] = "backbone"
    paper_notation: ClassVar[dict[str, str]] = {
        "alpha (range width)": "alpha: tokens with a score outside mean +- alpha * std are pruned (paper: 1.0)",
        "pruning layers all / even / odd": "layers='all' | 'even' | 'odd' (0-based block indices) or a list",
        "token merging": "merge=True: pruned tokens become one mean token appended at the end; False drops them",
        "budget": "adaptive (no keep_ratio): each sequence keeps what its score distribution puts in range",
    }

    def validate(self) -> None:
        check_number(self, "alpha", self.alpha, low=0.0, low_open=True)
        if isinstance(self.layers, str):
            if self.layers not in LAYER_SETS:
                _fail("layers", self.layers, "'all', 'even', 'odd' or a list of block indices", self.id)
        elif self.layers is not None:
            self.layers = as_layers(self, "layers", self.layers)
        for name in ("merge",):
            if not isinstance(getattr(self, name), bool):
                _fail(name, getattr(self, name), "True or False", self.id)
        if self.protect_last is not None and not isinstance(self.protect_last, bool):
            _fail("protect_last", self.protect_last, "None (automatic), True or False", self.id)

    def acting(self, depth: int) -> tuple[int, ...]:
        if self.layers is None:
            return LAYER_SETS["all"](depth)
        if isinstance(self.layers, str):
            return LAYER_SETS[self.layers](depth)
        return self.layers

    def resolved_protect_last(self, adapter: Any) -> bool:
        if self.protect_last is not None:
            return self.protect_last
        return getattr(adapter, "stage", "") == "text"

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth(adapter.pruning_stage)
        for layer in self.acting(depth):
            check_layer(self, "layers", layer, depth)

    def install(self, adapter, patch, run) -> None:
        depth = adapter.depth(adapter.pruning_stage)
        adapter.install_reducer(patch, run, _ALPINEReducer(self, depth, self.resolved_protect_last(adapter)))


def alpine_row(state: TokenState, scores: torch.Tensor, real: torch.Tensor, alpha: float, protect_last: bool,
               merge: bool) -> tuple[TokenState, torch.Tensor] | None:
    """One sequence (``B == 1``) through the pruning layer. ``scores``, ``real``: ``[1, N]``. Returns the
    new state (prefix, kept candidates in order, protected last token in place, merged token at the
    end) and ``rep``, or ``None`` when every candidate is in range."""
    p = state.n_prefix
    real_idx = real[0].nonzero()[:, 0]
    candidate = real.clone()
    candidate[:, :p] = False
    if protect_last and real_idx.numel() > p:
        candidate[0, real_idx[-1]] = False
    kept = in_range(scores, candidate, alpha)
    pruned = candidate & ~kept
    if not bool(pruned.any()):
        return None
    keep_mask = (real & ~candidate) | kept
    keep_mask[:, :p] = False  # the prefix is kept by the core op
    keep_idx = keep_mask[0, p:].nonzero()[:, 0].unsqueeze(0)
    if not merge:
        return keep_tokens(state, keep_idx)
    drop_idx = pruned[0, p:].nonzero()[:, 0].unsqueeze(0)
    weights = torch.full(drop_idx.shape, 1.0 / drop_idx.shape[1], dtype=state.x.dtype, device=state.x.device)
    return keep_and_fuse(state, keep_idx, drop_idx, weights)


class _ALPINEReducer(BlockReducer):
    def __init__(self, method: ALPINE, depth: int, protect_last: bool) -> None:
        self.m = method
        self.layers = method.acting(depth)
        self.protect_last = protect_last
        self.kind = "prune+merge" if method.merge else "prune"

    def acts_at(self, index: int) -> bool:
        return index in self.layers and math.isfinite(self.m.alpha)

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"attn"})

    def reduce(self, view):
        state = view.state
        real = state.sizes()[..., 0] > 0  # size-0 slots: rows of an earlier block padded to the batch's width
        scores = received_mean(view.attn, None if bool(real.all()) else real)
        outs, changed = [], False
        for b in range(state.x.shape[0]):
            row = TokenState(x=state.x[b:b + 1], size=None if state.size is None else state.size[b:b + 1],
                             source=None if state.source is None else state.source[b:b + 1], n_prefix=state.n_prefix)
            width = int(real[b].sum())
            row = TokenState(x=row.x[:, :width], size=None if row.size is None else row.size[:, :width],
                             source=None if row.source is None else row.source[:, :width], n_prefix=row.n_prefix)
            out = alpine_row(row, scores[b:b + 1, :width], real[b:b + 1, :width], self.m.alpha, self.protect_last,
                             self.m.merge)
            if out is None:
                out = (row, torch.arange(width, device=state.x.device).unsqueeze(0))
            else:
                changed = True
            outs.append(out)
        if not changed:
            return None
        return pack_rows(outs, fill=state.n - 1)
