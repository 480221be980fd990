"""SpAtten: Efficient Sparse Attention Architecture with Cascade Token and Head Pruning
(Wang, Zhang, Han, HPCA 2021, arXiv 2012.09852).

SpAtten is an algorithm-architecture co-design; tokzoo implements its algorithmic core for
encoders, *cascade token pruning*, and nothing of the hardware (top-k engine, progressive
quantization, DRAM model). Head pruning, local value pruning (generation only) and the
quantization are not implemented: the encoder runtime has no per-head switch, and these parts
do not change which tokens survive.

What is computed, per forward, with ``A_l`` the attention probabilities of block ``l``
``[B, H, N_l, N_l]`` over the ``N_l`` tokens still alive there:

1. importance of token ``j``: the attention it *receives*, summed over heads and query rows,
   ``s_l[j] = sum_h sum_i A_l[h, i, j]`` (self-attention included, unlike PoWER-BERT);
2. the score is *cumulative*: ``S_l = S_{l-1}[kept] + s_l`` (``accumulate=True``, the paper's
   rule; ``accumulate=False`` ranks by the current block alone);
3. at a pruning block the reducible tokens with the highest ``S_l`` are kept (top-k, original
   order kept); the others are removed for the rest of the stack and never come back
   (*cascade*), so later blocks score, and accumulate over, the survivors only.

Where it acts: the paper prunes a token at the *start* of a layer, from the scores accumulated
over the layers before it. tokzoo prunes between the attention and the feed-forward half of block
``l`` (the zoo's placement) with the scores accumulated through block ``l``; since the feed-forward
half works token by token, the surviving tokens and the output are the same as pruning at the
start of block ``l + 1``. ``layers`` are the blocks after whose attention tokens are pruned
(default: every block); the attention probabilities are needed (computed explicitly) at every
block up to the last pruning block when ``accumulate`` is on.

Budget (the paper's per-layer *token pruning ratio* ``p`` -> the zoo's vocabulary):

- ``keep_ratio``: fraction of the reducible tokens left after the last pruning block, reached
  geometrically: of the ``n`` reducible input tokens, the ``j``-th of ``L`` pruning blocks leaves
  ``ceil(n * keep_ratio ** (j / L))`` (so the last one leaves ``ceil(keep_ratio * n)``, the budget,
  also on short sentences). ``keep_tokens``: the count left after the last pruning block (the
  same geometric path towards it).
- ``keep_schedule``: one fraction per pruning block, of the reducible tokens reaching it
  (the paper's ``1 - p`` per layer); without ``layers`` its entries are blocks 0, 1, ...
- default: ``keep_ratio=0.5`` (tokzoo's choice, not a setting from the paper).

Tokens: the protected prefix ([CLS], distillation tokens) is always kept first; models without
one (SigLIP, Whisper) rank every token. Padded text batches: each sentence is scored over its own
tokens only (padding rows and columns never contribute, padding is never kept), as if alone.

Sources: the paper (arXiv 2012.09852; its algorithm was read from summaries of it, the full text
was not available here) and the authors' repository github.com/mit-han-lab/spatten@a0f1388,
which holds the hardware model and an LLM KV-cache variant (per-layer and per-head selection
with fixed start/recent windows, ``spatten_llm/kv_cache_token_pruning.py``, scores = attention
probabilities summed over the query rows); it has no encoder code, so there is no side-by-side
comparison. Training: SpAtten prunes at inference time and needs no new weights; whether the
paper's BERT accuracies were measured after fine-tuning with pruning was not confirmed from the
sources read here (the catalog marks the paper as not training-free). tokzoo applies it to a
given model without any training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from zoo.core.reduce import BlockReducer
from zoo.core.select import keep_count, topk_keep_indices
from zoo.core.tokens import keep
from zoo.interface import Method, _fail, check_budget, check_layer, check_ratio
from zoo.papers._vit import VIT_FAMILIES, as_layers


def received_attention(attn: torch.Tensor) -> torch.Tensor:
    """SpAtten's per-block importance: attn ``[B, H, N, N]`` -> ``[B, N]``, the probability mass each
    token (column) receives, summed over heads and query rows (half precision summed in float32)."""
    a = attn.float() if attn.dtype in (torch.float16, torch.bfloat16) else attn
    return a.sum(dim=(1, 2))


@dataclass
class SpAtten(Method):
    """SpAtten cascade token pruning: keep the tokens with the most accumulated received attention."""

    keep_ratio: float | None = None
    keep_tokens: int | None = None
    keep_schedule: tuple[float, ...] | None = None
    layers: tuple[int, ...] | int | None = None
    accumulate: bool = True

    id: ClassVar[str] = "spatten"
    arxiv: ClassVar[str] = "2012.09852"
    families: ClassVar[tuple[str, ...]] = VIT_FAMILIES
    placement: ClassVar[str] = "backbone"
    paper_notation: ClassVar[dict[str, str]] = {
        "importance score s": "attention probabilities a token receives, summed over heads and queries, "
                              "accumulated over blocks (accumulate=True)",
        "token pruning ratio p (per layer)": "keep_schedule: 1 - p per pruning block (of the tokens reaching it)",
        "keep_ratio": "keep_ratio: fraction of reducible tokens left after the last pruning block "
                      "(the j-th of L pruning blocks leaves ceil(n * keep_ratio ** (j/L)) of the n input tokens)",
        "pruning at the start of layer l": "layers: block l - 1 (pruning after its attention gives the same output)",
    }

    def validate(self) -> None:
        if self.layers is not None:
            self.layers = as_layers(self, "layers", self.layers)
        if isinstance(self.keep_schedule, list):
            self.keep_schedule = tuple(self.keep_schedule)
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"keep_schedule": self.keep_schedule})
        if self.keep_ratio is None and self.keep_tokens is None and self.keep_schedule is None:
            self.keep_ratio = 0.5
        if self.keep_schedule is not None:
            if not isinstance(self.keep_schedule, tuple) or not self.keep_schedule:
                _fail("keep_schedule", self.keep_schedule, "a non-empty list of per-block keep fractions", self.id)
            for v in self.keep_schedule:
                check_ratio(self, "keep_schedule", v)
            if self.layers is not None and len(self.layers) != len(self.keep_schedule):
                _fail("keep_schedule", self.keep_schedule,
                      f"one fraction per pruning block ({len(self.layers)} for layers={list(self.layers)})", self.id)
        if not isinstance(self.accumulate, bool):
            _fail("accumulate", self.accumulate, "True or False", self.id)

    def acting(self, depth: int) -> tuple[int, ...]:
        if self.layers is not None:
            return self.layers
        if self.keep_schedule is not None:
            return tuple(range(len(self.keep_schedule)))
        return tuple(range(depth))

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth(adapter.pruning_stage)
        if self.keep_schedule is not None and self.layers is None and len(self.keep_schedule) > depth:
            _fail("keep_schedule", self.keep_schedule, f"at most one fraction per block ({depth} blocks)", self.id)
        for layer in self.acting(depth):
            check_layer(self, "layers", layer, depth)

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _SpAttenReducer(self, adapter.depth(adapter.pruning_stage)))


class _SpAttenReducer(BlockReducer):
    kind = "prune"

    def __init__(self, method: SpAtten, depth: int) -> None:
        self.m = method
        self.layers = method.acting(depth)
        self.plan: list[int] | None = None  # reducible tokens left after each pruning block
        self.n_in = 0
        self.score: torch.Tensor | None = None  # [B, N] accumulated importance of the current tokens

    def begin(self, state, depth, grid, scratch) -> None:
        """The count plan from this input's ``n`` reducible tokens: pruning block ``j`` of ``L`` leaves
        ``ceil(n * keep ** ((j + 1) / L))`` (``keep``: ``keep_ratio``, or ``keep_tokens / n``), the last
        one exactly the budget, so the budget holds after the last pruning block."""
        m, n = self.m, state.n_reducible
        self.score, self.plan, self.n_in = None, None, n
        if m.keep_schedule is not None or n == 0:
            return
        final = keep_count(n, m.keep_ratio, m.keep_tokens)
        frac = m.keep_ratio if m.keep_ratio is not None else final / n
        steps = len(self.layers)
        self.plan = [keep_count(n, keep_ratio=frac ** ((j + 1) / steps)) for j in range(steps - 1)] + [final]

    def _prunes(self) -> bool:
        if self.m.keep_schedule is not None:
            return any(v < 1.0 for v in self.m.keep_schedule)
        return self.plan is not None and self.plan[-1] < self.n_in

    def acts_at(self, index: int) -> bool:
        if not self._prunes() or index > self.layers[-1]:
            return False
        return self.m.accumulate or index in self.layers

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"attn"})

    def target(self, index: int, n: int) -> int:
        """Reducible tokens kept at pruning block ``index`` out of the ``n`` reaching it."""
        if self.m.keep_schedule is not None:
            return keep_count(n, keep_ratio=self.m.keep_schedule[self.layers.index(index)])
        return min(n, self.plan[self.layers.index(index)])

    def reduce(self, view):
        state = view.state
        s = received_attention(view.attn)
        self.score = s if self.score is None or not self.m.accumulate else self.score + s
        if view.index not in self.layers:
            return None
        p, n = state.n_prefix, state.n_reducible
        k = self.target(view.index, n)
        if k >= n:
            return None
        new, rep = keep(state, topk_keep_indices(self.score[:, p:], k))
        self.score = self.score.gather(1, rep)
        return new, rep
