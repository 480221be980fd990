"""FastAdaSP: Multitask-Adapted Efficient Inference for Large Speech Language Model
(Lu, Song, Yang, Watanabe, EMNLP 2024 Industry Track, arXiv 2410.03007).

A speech LLM spends most of its prompt on audio tokens (Qwen2-Audio: 750 per 30 s), and
neighbouring speech frames are redundant. FastAdaSP merges *adjacent* audio tokens inside the
decoder, weighting each token by the attention it receives, with a task-dependent schedule:
layer-by-layer merging for *dense* tasks (ASR, speech translation: every frame matters a
little) and one aggressive merge at a chosen layer for *sparse* tasks (emotion recognition,
spoken QA). The paper picks the sparse tasks' layer with a Transfer-Entropy analysis of the
layers; that analysis is offline (features of a dataset), so here the layer is a parameter.

What is computed, inside decoder layer ``l`` (after its self-attention and residual, before
its MLP; as the official ``QWenBlock.forward``, Qwen-Audio ``modeling_qwen.py``), for every
audio clip of every row (``T`` = the clip's current audio tokens):

1. similarity of neighbours: ``s_t = cos(k_t, k_{t+1})``, ``t < T``, of the layer's keys
   after RoPE (what its KV cache stores), heads concatenated (``[T, H_kv * D]``);
2. the ``M = floor(T * r_l)`` most similar neighbour links are selected (``torch.topk``);
   selected links sharing a token chain, so a run of ``m`` links merges ``m + 1`` frames and
   exactly ``M`` tokens leave (:mod:`zoo.core.adjacent`);
3. token weights: ``w_t = sum_heads sum_queries A_l[h, q, t]``, the attention token ``t``
   receives from every (non-padding) query of the layer;
4. each group becomes ``sum_j w_j h_j / sum_j w_j`` of the post-attention states ``h``
   (``weighted=False``: the plain mean, the official ``merge_ave`` ablation); it takes the
   place of its first frame. Layer ``l``'s MLP and every later layer run on the merged
   sequence; layer ``l``'s KV cache keeps every token (as the official code, whose cache
   entry is written before the merge).

Schedules (official ``set_fastadasp_params(ratio, perform_layer, method, schedule)``):
``"single"`` (sparse tasks): merge in layer ``layer`` only. ``"constant"`` (dense): ``r_l = r``
in every layer ``l >= layer``. ``"decay"`` (dense): ``r_l = r (1 - (l - layer) / (D - 1 -
layer))`` for ``D`` decoder layers (the official code writes ``31``: Qwen-Audio's 32 layers).

Budget (paper/official notation -> zoo): ``merge_ratio`` = the official ``ratio`` (share of the
clip's current audio tokens merged away per acting layer); ``layer`` = ``perform_layer``
(0-based decoder layer). With ``schedule="single"`` the zoo's ``keep_ratio``/``keep_tokens``
may be given instead: each clip keeps ``keep_count(T, keep_ratio, keep_tokens)`` tokens
(``M = T - kept``). tokzoo's defaults (``single``, ``layer=2``, ``merge_ratio=0.5``) are not
settings taken from the paper.

Where it acts and positions: inside decoder layers (``LlmEvent(before="mlp")`` of
:mod:`zoo.families.decoders.runtime`), on the audio tokens (``audio-tokens``: Qwen2-Audio).
Survivors are renumbered contiguously (``positions="compact"``): the official code gives the
``n'`` remaining tokens the last ``n'`` rotary positions and decodes at the original next
position, which has the same relative positions.

Deviations from the official code (documented, tested where they matter):
- a merge in the last decoder layer is not scheduled (it changes only that layer's MLP
  output at audio positions, which no later token reads; the official ``decay`` gives it 0
  merges, ``constant`` would save one MLP on the merged tokens);
- every clip of every row is merged, links never cross clips (the official code merges the
  first audio span of the batch only, batch decoding is not handled there); its span runs
  from the ``<audio>`` start token to the end token exclusive (Qwen-Audio's encoder also
  outputs those positions), tokzoo's span is the clip's placeholder run (Qwen2-Audio fills
  only the placeholders with features);
- the official code merges only with ``use_cache=True``; tokzoo merges in every prefill;
- attention weights (step 3) are accumulated in float32 for half-precision models, from rows
  recomputed in chunks of 128 queries (``LlmContext.attention_received``; the official code
  forces eager attention and sums the layer's full softmax map in the model dtype).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_choice, check_int, check_ratio

SCHEDULES = ("single", "constant", "decay")


@dataclass
class FastAdaSP(Method):
    """FastAdaSP: attention-weighted merging of adjacent audio tokens inside the decoder, task-dependent schedule."""

    merge_ratio: float | None = None
    keep_ratio: float | None = None
    keep_tokens: int | None = None
    layer: int = 2
    schedule: str = "single"
    weighted: bool = True

    id: ClassVar[str] = "fastadasp"
    arxiv: ClassVar[str] = "2410.03007"
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("audio-tokens", "decoder-attention")
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "ratio": "merge_ratio: share of a clip's current audio tokens merged away in each acting layer "
                 "(official ratio; default 0.5)",
        "perform_layer": "layer: the 0-based decoder layer whose post-attention states merge first",
        "schedule": "schedule: 'single' (sparse tasks: one layer), 'constant' or 'decay' (dense tasks: every "
                    "layer from that layer on, ratio constant or decaying linearly to 0 at the last layer)",
        "method": "weighted: True = the official 'merge_weighted' (FastAdaSP); False = 'merge_ave' (plain mean)",
        "keep_ratio": "keep_ratio / keep_tokens (schedule='single' only): audio tokens each clip keeps",
    }

    def validate(self) -> None:
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"merge_ratio": self.merge_ratio})
        check_choice(self, "schedule", self.schedule, SCHEDULES)
        check_int(self, "layer", self.layer, low=0)
        check_choice(self, "weighted", self.weighted, (True, False))
        if self.merge_ratio is not None:
            check_ratio(self, "merge_ratio", self.merge_ratio, allow_zero=True)
            if self.merge_ratio >= 1:
                _fail("merge_ratio", self.merge_ratio, "0 <= merge_ratio < 1 (the share of tokens merged away)",
                      self.id)
        elif self.keep_ratio is None and self.keep_tokens is None:
            self.merge_ratio = 0.5
        if self.schedule != "single" and self.merge_ratio is None:
            _fail("schedule", self.schedule, "'single' when keep_ratio/keep_tokens is the budget (layer-by-layer "
                  "schedules take merge_ratio)", self.id)

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth("llm")
        if not 0 <= self.layer <= depth - 2:
            _fail("layer", self.layer, f"0..{depth - 2} (merges happen inside a decoder layer that has a later one; "
                  f"the model has {depth} decoder layers)", self.id)

    def ratio_at(self, layer: int, depth: int) -> float:
        """The official per-layer merge ratio ``r_l`` of decoder ``layer`` (0 where nothing merges)."""
        if layer < self.layer or self.merge_ratio is None:
            return 0.0
        if layer == self.layer or self.schedule == "constant":
            return self.merge_ratio
        if self.schedule == "decay":
            return self.merge_ratio * (1 - (layer - self.layer) / (depth - 1 - self.layer))
        return 0.0

    def merge_count(self, n: int, layer: int, depth: int) -> int:
        """Tokens a clip of ``n`` current audio tokens loses in decoder ``layer``."""
        from zoo.core.select import keep_count

        if n < 2:
            return 0
        if self.merge_ratio is None:
            return n - max(1, keep_count(n, self.keep_ratio, self.keep_tokens)) if layer == self.layer else 0
        return min(n - 1, int(n * self.ratio_at(layer, depth)))

    def acting_layers(self, depth: int) -> list[int]:
        """Decoder layers that merge (the last layer never does, see the module docstring)."""
        last = self.layer if self.schedule == "single" else depth - 2
        return [i for i in range(self.layer, last + 1) if self.merge_ratio is None or self.ratio_at(i, depth) > 0]

    def install(self, adapter, patch, run) -> None:
        from zoo.families.decoders.runtime import LlmEvent

        depth = adapter.depth("llm")
        events = [LlmEvent(layer=i + 1, select=self._selector(i, depth), score_layer=i, before="mlp")
                  for i in self.acting_layers(depth)]
        if events:
            adapter.install_llm_reduction(patch, run, events, positions="compact")

    def _selector(self, layer: int, depth: int):
        def select(ctx):
            return merge_audio(ctx, lambda n: self.merge_count(n, layer, depth), weighted=self.weighted)
        return select


def neighbour_metric(keys):
    """``[T, H_kv * D]``: a clip's keys ``[H_kv, T, D]`` (after RoPE) with the heads concatenated per token."""
    return keys.permute(1, 0, 2).reshape(keys.shape[1], -1)


def received_attention(attention):
    """``[..., N]``: attention every key column receives, ``attention [..., H, Q, N]`` summed over the queries,
    then over the heads (the official order)."""
    return attention.sum(dim=-2).sum(dim=-2)


def merge_clip(h, metric, weights, m: int):
    """One clip's merge: ``h [T, C]`` post-attention states, ``metric [T, d]`` keys, ``weights [T]`` (``None``:
    plain mean), ``m`` links merged. Returns ``merged [T - m, C]`` and each group's first frame ``[T - m]``."""
    from zoo.core.adjacent import merge_linked, neighbour_similarity, top_links

    return merge_linked(h, top_links(neighbour_similarity(metric), m), weights)


def merge_audio(ctx: Any, count, *, weighted: bool = True):
    """One FastAdaSP merge on the runtime's context (see the module docstring): every audio clip of every row
    loses ``count(T)`` tokens; returns a :class:`~zoo.families.decoders.runtime.PruneSelection`."""
    import torch

    from zoo.families.decoders.runtime import PruneSelection

    hidden = ctx.hidden
    b, n, _ = hidden.shape
    where = ctx.where_now()  # [B, N0]: current index of every input column
    clips = [[where[row, it.columns.to(where.device)] for it in items if it.modality == "audio"]
             for row, items in enumerate(ctx.items)]
    todo = [[(c[c >= 0], count(int((c >= 0).sum()))) for c in row] for row in clips]
    keep = torch.ones_like(ctx.valid)  # every token, padding included (it stays padding)
    if not any(m > 0 for row in todo for _, m in row):
        return PruneSelection(keep=ctx.keep_mask(keep))
    keys = ctx.keys()  # [B, H_kv, N, D]: the layer's keys after RoPE
    weights = ctx.attention_received() if weighted else None  # [B, N]: over queries and heads
    new_hidden = hidden.clone()
    for row, items in enumerate(todo):
        for cols, m in items:
            if m <= 0:
                continue
            w = weights[row, cols] if weights is not None else None
            merged, first = merge_clip(hidden[row, cols], neighbour_metric(keys[row][:, cols]), w, m)
            keep[row, cols] = False
            keep[row, cols[first]] = True
            new_hidden[row, cols[first]] = merged
    order = ctx.keep_mask(keep)
    replace = torch.gather(new_hidden, 1, order.clamp(min=0)[..., None].expand(-1, -1, hidden.shape[-1]))
    return PruneSelection(keep=order, replace=replace)
