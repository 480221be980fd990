"""The reversible machinery that shortens a Hugging Face decoder's token sequence.

One runtime serves every decoder adapter (LLaVA, LLaVA-NeXT, LLaVA-OneVision,
LLaVA-NeXT-Video, Qwen2-VL/Qwen2.5-VL, Qwen2-Audio, text-only causal LMs). Adapters say where things are
(:class:`zoo.families.decoders.base.DecoderAdapter`); methods say what to keep. Three places
can reduce tokens, and one ``zoo.apply`` may combine them:

``vision`` (before the projector)
    A *vision reducer* sees the selected vision features right before the multimodal
    projector (``[I, n, Cv]`` for ``I`` images) and returns fewer tokens per image (possibly
    a different number per image). The prompt's image placeholder span is shortened to match
    (rows that end up shorter are left-padded), positions are renumbered as if the image had
    produced fewer tokens, and every later decoding step's attention mask and position ids
    are mapped onto the shortened prompt. Needs a vision tower with a [CLS] token and 1-D
    positions (LLaVA-1.5 layout).
``llm`` (prefill events)
    Before decoder layer ``e`` runs (``e = 0``: on the language model's input, i.e. after
    the projector), a selector looks at the hidden states (and, on demand, at a few rows of
    one layer's attention, its keys, or a look-ahead through later layers, see
    :class:`LlmContext`) and returns which tokens survive (:class:`PruneSelection`:
    optionally replacing their hidden states, or inserting new tokens). Layers ``>= e`` then
    run on the shorter sequence; their KV cache holds only the survivors. An event with
    ``before="mlp"`` acts one step earlier, inside layer ``e - 1``, between its attention
    and its MLP (A-ToMe/FastAdaSP's place): the selector sees the post-attention residual
    stream, layer ``e - 1``'s KV cache keeps every token, and its MLP already runs on the
    survivors.
``llm-decode`` (decoding-step events)
    Before decoder layer ``e`` runs in a *decoding step* (one new token per row after the
    prefill), a selector (:class:`DecodeEvent`) sees the step's hidden states and, on demand,
    the attention of the step's queries over the KV cache at layer ``e - 1``, and returns
    which prompt tokens this step's queries may not see in layers ``>= e``
    (:class:`DecodeSelection`, per row). The selection holds for that step only (the next
    step selects again) and never edits the cache, so it is reversible step by step and
    ``generate()`` stays correct (greedy, beam search, padded batches). DyCoke-style dynamic
    KV-cache pruning is written against it.

Media items: ``LlmContext.items`` / ``DecodeContext.items`` list, per row, every image,
video and audio clip (:class:`zoo.families.decoders.layout.VisualItem`): its placeholder
columns, its modality and each token's ``(part, frame, y, x)`` coordinates (newline tokens of
LLaVA-NeXT/OneVision are marked off-grid; audio tokens are ``(0, 0, 0, t)``), so methods can
pool per frame, group frames, skip separators or stay inside one clip. ``LlmContext.modality``
marks each token 0 (text), 1 (image), 2 (video), 3 (audio); ``LlmContext.image`` (aliases
``visual``, ``media``) marks every media token of any modality: the span the generic methods
reduce (historically named after images; on an audio LLM it is the audio tokens).

Positions of the survivors (the per-method docstrings say which one each method uses):

- ``positions="keep"``: survivors keep their original position ids (1-D RoPE) or their
  original 3-D M-RoPE positions (Qwen2-VL/2.5-VL); decoding continues with the positions
  (and ``rope_deltas``) of the unreduced prompt. Inserted tokens take the position of the
  token they follow.
- ``positions="compact"``: on 1-D RoPE models the survivors are renumbered contiguously (as
  if the prompt had been shorter) and decoding positions shift to match. On M-RoPE models a
  3-D position encodes a token's place in its image grid, and the text after an image does
  not depend on how many of its tokens are left; renumbering has no defined meaning there,
  so ``"compact"`` keeps the original 3-D positions (as ``"keep"``). :attr:`DecoderRuntime.
  position_rule` tells which rule an application uses.
- ``mode="mask"``: nothing is removed; layers ``>= e`` get an attention mask that hides the
  pruned tokens (FastV's accuracy-only variant; a pruned token still attends to itself).

Everything is installed as instance-level hooks recorded in a :class:`zoo.interface.Patch`
(plus one instance attribute wrapping ``get_image_features`` for vision reducers). State
lives on this runtime object, tied to the KV cache object of the prefill that created it; a
decoding step with that cache is mapped, any other forward is left alone.

Records (``zoo.interface.Run``): ``tokens["llm"]`` counts the tokens leaving every decoder
layer of the last prefill (``input_tokens["llm"]``: what layer 0 computes on); ``events
["llm"]`` lists each reduction (``block`` = the layer the tokens leave, ``-1`` for an event
on the language model's input; kind ``"lookahead"`` marks layers a selector ran ahead on
the full sequence); with ``record_indices``, ``kept_indices["llm"]`` holds per event a
``[B, K]`` tensor of indices into the sequence entering that event (-1 for padding slots of
rows keeping fewer tokens and for inserted tokens). ``events["llm-decode"]`` lists the
decoding-step selections of the last ``generate`` (visible prompt tokens before/after, the
maximum over rows).

Writing a method against it (the adapter's ``install_llm_reduction`` /
``install_decode_reduction`` take these events)::

    def install(self, adapter, patch, run):
        def prefill(ctx):                                   # before decoder layer 2, once per prefill
            scores = ctx.attention(ctx.last_valid()[:, None]).mean(1)[:, 0]     # [B, N]
            return PruneSelection(keep=ctx.keep_top_images(scores, 64))
        def step(ctx):                                      # before decoder layer 3, every decoding step
            att = ctx.attention_over_prompt().mean(1)[:, -1]                     # [B, N0]
            frames = ctx.items[0][0].frame_columns(0)       # prompt columns of row 0's first item, frame 0
            return DecodeSelection(hide=ctx.input_image & (att < att.mean(-1, keepdim=True)))
        adapter.install_llm_reduction(patch, run, [LlmEvent(2, prefill, score_layer=1)], positions="keep")
        adapter.install_decode_reduction(patch, run, [DecodeEvent(3, step, score_layer=2)])
"""

from __future__ import annotations

import functools
import inspect
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from zoo.families.decoders.layout import MODALITY_IDS, ItemLayout, VisualItem, assign_items
from zoo.families.decoders.probes import (
    causal_allowed, decoder_attention_logits, decoder_attention_received, decoder_attention_rows, decoder_queries_keys,
    vision_queries_keys,
)
from zoo.families.decoders.sequence import (
    accumulation_dtype,
    allowed_keys,
    block_decode_mask,
    block_key_columns,
    causal_bool_mask,
    compact_positions,
    first_valid_position,
    gather_tokens,
    map_decode_mask,
    select_prefill_mask,
    shrink_image_spans,
)


# ----------------------------------------------------------------------------- public records
@dataclass
class PruneSelection:
    """What survives one prefill event.

    keep ``[B, K]``: ascending indices into the current sequence; rows keeping fewer tokens
    start with ``-1`` entries (they become padding, like left padding). replace ``[B, K, C]``:
    new hidden states for the kept tokens (e.g. pooled tokens standing for a window), or
    ``None``. extra ``[B, E, C]``: new tokens (e.g. merged/recycled ones) inserted before kept
    position ``extra_at[b]`` (``0..K``); they count as visual tokens of the modality of the
    token they follow.
    """

    keep: torch.Tensor
    extra: torch.Tensor | None = None
    extra_at: torch.Tensor | None = None
    replace: torch.Tensor | None = None


@dataclass
class LlmEvent:
    """Reduce tokens right before decoder layer ``layer`` (layers ``0..layer-1`` see all tokens).

    ``layer = 0`` acts on the language model's input. ``score_layer`` (``layer - 1`` or
    ``layer``) is the layer whose attention the selector may read through
    :meth:`LlmContext.attention`: ``layer - 1`` means that layer's own attention as it ran;
    ``layer`` means the attention layer ``layer`` would compute on its input.

    ``before="mlp"`` (``layer >= 1``): reduce inside decoder layer ``layer - 1``, after its
    attention (residual added) and before its MLP. The selector's ``ctx.hidden`` is that
    post-attention residual stream; ``score_layer`` may only be ``layer - 1`` (its attention
    as it ran) or ``None``; the selection may replace hidden states but not insert tokens;
    layer ``layer - 1``'s MLP runs on the survivors (their replaced states), its KV cache
    holds every token. Needs Llama-style layers (``post_attention_layernorm``, ``mlp``).
    """

    layer: int
    select: Callable[["LlmContext"], PruneSelection]
    score_layer: int | None = None
    before: str = "layer"


@dataclass
class DecodeSelection:
    """What one decoding step hides: ``hide [B, N0]`` bool over the language model's input
    (prompt) columns; hidden columns are invisible to this step's queries in the event's
    layer and every later one. Generated tokens are never hidden."""

    hide: torch.Tensor


@dataclass
class DecodeEvent:
    """Select, at every decoding step, prompt tokens to hide from decoder layers ``>= layer``.

    ``score_layer = layer - 1`` (or ``None``) lets the selector read that layer's attention
    of the step's queries over its KV cache (:meth:`DecodeContext.attention`)."""

    layer: int
    select: Callable[["DecodeContext"], DecodeSelection | None]
    score_layer: int | None = None


@dataclass
class VisionSelection:
    """Output of a vision reducer: features ``[I, M, Cv]``; ``counts[i] <= M`` real tokens of
    image ``i`` when counts differ (the rest is padding); ``kept [I, M]`` patch indices of the
    surviving tokens (-1 for merged/new ones), for ``Run.kept_indices``."""

    features: torch.Tensor
    counts: torch.Tensor | None = None
    kept: torch.Tensor | None = None


class VisionContext:
    """What a vision reducer may read.

    ``features`` ``[I, n, Cv]``: the selected patch features (what the projector would get);
    ``cls`` ``[I, Cv]``: the [CLS] hidden state of the same layer (``None`` for towers without
    one); ``feature_layer``: index of the encoder layer that produced them.
    """

    def __init__(self, runtime: "DecoderRuntime", features: torch.Tensor, cls: torch.Tensor | None) -> None:
        self._runtime = runtime
        self.features = features
        self.cls = cls
        self.feature_layer = runtime.adapter.vision_feature_layer_index

    def queries_keys(self, layer: int):
        """Per-head ``q, k`` ``[I, H, 1 + n, D]`` of vision encoder ``layer`` (token 0 is [CLS]) and its scale."""
        layer = self._runtime.adapter.resolve_vision_layer(layer)
        if layer not in self._runtime.vision_captures:
            raise RuntimeError(f"vision layer {layer} was not probed; declare it in probe_layers at install time")
        attn = self._runtime.adapter.vision_layers[layer].self_attn
        return vision_queries_keys(attn, self._runtime.vision_captures[layer])

    def cls_attention(self, layer: int) -> torch.Tensor:
        """``[I, H, n]``: softmax attention of the [CLS] query over all tokens, patch columns only."""
        q, k, scale = self.queries_keys(layer)
        acc = accumulation_dtype(q)
        logits = torch.matmul(q[:, :, :1].to(acc), k.to(acc).transpose(-1, -2)) * scale
        return torch.softmax(logits, dim=-1)[:, :, 0, 1:]


class AttentionProbe:
    """One decoder layer's attention, recomputed on demand from its normalised input.

    ``hidden [B, N, C]``: the layer's (normalised) input; ``position_embeddings``: its
    ``(cos, sin)``; ``valid [B, N]``: non-padding tokens.
    """

    def __init__(self, attn: torch.nn.Module, hidden: torch.Tensor, position_embeddings, valid: torch.Tensor) -> None:
        self.attn, self.hidden, self.position_embeddings, self.valid = attn, hidden, position_embeddings, valid

    def attention(self, queries: torch.Tensor) -> torch.Tensor:
        """``[B, H, q, N]`` softmax attention rows ``queries [B, q]`` (causal, padding masked)."""
        return decoder_attention_rows(self.attn, self.hidden, self.position_embeddings,
                                      causal_allowed(queries, self.valid), queries)

    def logits(self, queries: torch.Tensor, *, scaled: bool = True, native: bool = False) -> torch.Tensor:
        """``[B, H, q, N]`` pre-softmax scores ``q . k`` of rows ``queries`` (no mask; ``scaled``:
        times the layer's ``scaling``; ``native``: in the model's dtype instead of float32)."""
        return decoder_attention_logits(self.attn, self.hidden, self.position_embeddings, queries, scaled=scaled,
                                        native=native)

    def keys(self) -> torch.Tensor:
        """``[B, H_kv, N, D]``: the layer's keys after the rotary embedding (what its KV cache stores)."""
        return decoder_queries_keys(self.attn, self.hidden, self.position_embeddings, None)[1]

    def received(self) -> torch.Tensor:
        """``[B, N]``: attention each token receives from every non-padding query, summed over queries and heads."""
        return decoder_attention_received(self.attn, self.hidden, self.position_embeddings, self.valid)


class LlmContext:
    """What a prefill selector may read, for the sequence entering decoder layer ``layer``.

    ``hidden [B, N, C]``; ``image`` (= ``visual`` = ``media``) / ``valid`` ``[B, N]`` bool (media
    tokens of any modality / not padding); ``modality [B, N]`` int (0 text, 1 image, 2 video,
    3 audio);
    ``positions [B, N]`` (1-D RoPE models; ``None`` under M-RoPE); ``position_embeddings``:
    the ``(cos, sin)`` layer ``layer`` gets; ``source [B, N]``: index of each token in the
    language model's input (-1 for inserted tokens); ``input_hidden [B, N0, C]``,
    ``input_image``, ``input_modality``, ``input_valid``: the language model's input;
    ``items``: per row, the visual items (:class:`VisualItem`, in input columns).
    """

    def __init__(self, runtime: "DecoderRuntime", state: "_Prefill", layer: int, hidden: torch.Tensor,
                 probe: AttentionProbe | None, layer_kwargs: dict) -> None:
        self._runtime = runtime
        self._state = state
        self._layer_kwargs = layer_kwargs
        self.layer = layer
        self.hidden = hidden
        self.image = state.visual
        self.visual = state.visual
        self.media = state.visual
        self.modality = state.modality
        self.valid = state.valid
        self.positions = state.positions
        self.position_embeddings = state.pos_emb if state.changed else layer_kwargs.get("position_embeddings")
        self.source = state.source
        self.input_hidden = state.input_hidden
        self.input_image = state.input_visual
        self.input_modality = state.input_modality
        self.input_valid = state.input_valid
        self._probe = probe

    @property
    def items(self) -> list[list[VisualItem]]:
        """Per row, its media items (images, videos, audio clips) in prompt order (language-model input columns)."""
        return self._state.get_items()

    @property
    def final_norm(self) -> torch.nn.Module:
        """The language model's final normalisation layer (applied before the LM head)."""
        return self._runtime.adapter.final_norm

    @property
    def image_counts(self) -> torch.Tensor:
        """``[B]``: visual tokens in each row."""
        return self.image.sum(-1)

    @property
    def n_image(self) -> int:
        """Visual tokens per row when every row has the same number, else ``ValueError``."""
        counts = self.image_counts
        if bool((counts != counts[0]).any()):
            raise ValueError(f"rows hold different numbers of visual tokens {counts.tolist()}; this method needs "
                             "the same number in every row (batch prompts with the same number of images, or "
                             "run rows one by one)")
        return int(counts[0])

    def last_valid(self) -> torch.Tensor:
        """``[B]``: index of the last non-padding token of each row (the last prompt token)."""
        idx = torch.arange(self.valid.shape[1], device=self.valid.device)
        return (idx * self.valid).argmax(-1)

    def where_now(self) -> torch.Tensor:
        """``[B, N0]``: current index of every language-model input token (-1 where it was removed)."""
        b, n = self.source.shape
        n0 = self.input_image.shape[1]
        where = torch.full((b, n0 + 1), -1, dtype=torch.long, device=self.source.device)
        dest = torch.where(self.source >= 0, self.source, n0)
        where.scatter_(1, dest, torch.arange(n, device=self.source.device).expand(b, n))
        return where[:, :n0]

    def locate(self, input_index: torch.Tensor) -> torch.Tensor:
        """Current indices ``[B, q]`` of language-model input tokens ``input_index [B, q]`` (which must survive)."""
        pos = self.where_now().gather(1, input_index)
        if bool((pos < 0).any()):
            raise ValueError("locate(): some requested tokens were removed earlier")
        return pos

    def _need_probe(self) -> AttentionProbe:
        if self._probe is None:
            raise RuntimeError("this event declared no score_layer")
        return self._probe

    def attention(self, queries: torch.Tensor) -> torch.Tensor:
        """``[B, H, q, N]`` softmax attention rows ``queries [B, q]`` of this event's score layer."""
        return self._need_probe().attention(queries)

    def attention_logits(self, queries: torch.Tensor, *, scaled: bool = True) -> torch.Tensor:
        """``[B, H, q, N]`` pre-softmax scores of rows ``queries`` at this event's score layer."""
        return self._need_probe().logits(queries, scaled=scaled)

    def keys(self) -> torch.Tensor:
        """``[B, H_kv, N, D]`` keys (after RoPE) of this event's score layer."""
        return self._need_probe().keys()

    def attention_received(self) -> torch.Tensor:
        """``[B, N]``: attention each token receives at this event's score layer from every non-padding query,
        summed over the queries and the heads (the full map is never held)."""
        return self._need_probe().received()

    def lookahead(self, layer: int) -> AttentionProbe:
        """Run decoder layers ``self.layer .. layer - 1`` on the current sequence (no KV cache, nothing
        changed) and return layer ``layer``'s attention on its input (GemFilter's early-layer filter).

        The run is recorded as a ``"lookahead"`` event (block = the last layer run)."""
        rt, ad = self._runtime, self._runtime.adapter
        if not self.layer <= layer < len(ad.layers):
            raise ValueError(f"lookahead layer {layer} outside {self.layer}..{len(ad.layers) - 1}")
        kw = self._layer_kwargs
        mask = self._state.mask if self._state.changed else kw.get("attention_mask")
        pos_emb = self.position_embeddings
        pos_ids = self._state.layer_pos if self._state.changed else kw.get("position_ids")
        hidden = self.hidden
        rt._lookahead = True
        try:
            for idx in range(self.layer, layer):
                hidden = ad.layers[idx](hidden, attention_mask=mask, position_embeddings=pos_emb, position_ids=pos_ids,
                                        cache=None, use_cache=False)
                hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        finally:
            rt._lookahead = False
        if layer > self.layer:
            n = int(hidden.shape[1])
            rt.run.log_event("llm", layer - 1, "lookahead", n, n)
        normed = ad.layers[layer].input_layernorm(hidden)
        return AttentionProbe(ad.layers[layer].self_attn, normed, pos_emb, self.valid)

    def keep_top(self, scores: torch.Tensor, k, among: torch.Tensor) -> torch.Tensor:
        """Keep every token outside ``among [B, N]`` and the ``k`` highest-scoring tokens of ``among``.

        scores ``[B, N]`` (read where ``among``; ties go to the lower index); ``k`` an int or
        ``[B]`` per-row counts. Returns ascending ``keep [B, K]``, rows keeping fewer tokens
        left-padded with ``-1`` (see :class:`PruneSelection`).
        """
        counts = among.sum(-1)
        k = torch.as_tensor(k, device=counts.device).expand_as(counts)
        if bool((k < 0).any() or (k > counts).any()):
            raise ValueError(f"cannot keep {k.tolist()} of {counts.tolist()} reducible tokens")
        acc = accumulation_dtype(scores)
        key = torch.where(among, scores.to(acc), torch.full_like(scores, float("inf"), dtype=acc))
        order = torch.argsort(key, dim=-1, descending=True, stable=True)
        n = among.shape[1]
        n_keep = n - counts + k  # [B]
        return _ascending_padded(order, n_keep, n)

    def keep_top_images(self, scores: torch.Tensor, k) -> torch.Tensor:
        """:meth:`keep_top` over the visual tokens: every text token and the ``k`` best visual tokens."""
        return self.keep_top(scores, k, self.image)

    def keep_mask(self, keep: torch.Tensor) -> torch.Tensor:
        """Ascending ``keep [B, K]`` (``-1`` padded) for the tokens marked in ``keep [B, N]`` bool."""
        n = keep.shape[1]
        order = torch.where(keep, torch.arange(n, device=keep.device), n)
        order = torch.sort(order, dim=-1).values
        return _ascending_padded(order, keep.sum(-1), n)


def _ascending_padded(order: torch.Tensor, n_keep: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n_keep[b]`` entries of ``order [B, N]`` per row, ascending, left-padded with -1."""
    width = int(n_keep.max()) if n_keep.numel() else 0
    rank = torch.arange(n, device=order.device).expand_as(order)
    chosen = torch.where(rank < n_keep[:, None], order, torch.full_like(order, n))
    chosen = torch.sort(chosen, dim=-1).values[:, :width]  # ascending, unused entries (= n) last
    shift = width - n_keep  # left-pad rows keeping fewer tokens
    idx = (torch.arange(width, device=order.device)[None] - shift[:, None])
    out = torch.gather(chosen, 1, idx.clamp(min=0))
    return torch.where(idx >= 0, out, torch.full_like(out, -1))


class DecodeContext:
    """What a decoding-step selector may read, before decoder layer ``layer`` of one step.

    ``step``: 0 for the first token decoded after the prefill; ``hidden [B, q, C]``: the
    step's hidden states entering ``layer``; ``input_modality``/``input_image``/``input_valid``
    ``[B, N0]``: the prompt as the language model got it; ``items``: its visual items.
    """

    def __init__(self, runtime: "DecoderRuntime", layer: int, step: int, hidden: torch.Tensor, cache: Any,
                 probe: tuple | None) -> None:
        s = runtime._session
        self._runtime = runtime
        self.layer = layer
        self.step = step
        self.hidden = hidden
        self.input_modality = s.input_modality
        self.input_image = s.input_modality > 0
        self.input_valid = s.input_valid
        self._items = s.items
        self._cache = cache
        self._probe = probe

    @property
    def items(self) -> list[list[VisualItem]]:
        return self._items()

    def key_columns(self, layer: int) -> torch.Tensor:
        """``[B, T]``: prompt column of every key in ``layer``'s cache at this step (-1: generated tokens)."""
        rt = self._runtime
        s = rt._session
        view = s.views.get(layer)
        b = self.hidden.shape[0]
        prefix = view.source_column if view is not None and view.source_column is not None else \
            torch.arange(s.n_prefix, device=self.hidden.device).expand(b, -1)
        if s.base_source is not None:  # decoding coordinates -> input columns
            prefix = torch.where(prefix >= 0, s.base_source.gather(1, prefix.clamp(min=0)), -1)
        total = _cache_len(self._cache, layer)
        tail = torch.full((b, total - prefix.shape[1]), -1, dtype=torch.long, device=prefix.device)
        return torch.cat([prefix, tail], dim=1)

    def attention(self) -> torch.Tensor:
        """``[B, H, q, T]``: the step's softmax attention at the event's score layer over that layer's
        cache (as the layer computed it: masks, hidden columns and padding applied)."""
        if self._probe is None:
            raise RuntimeError("this decode event declared no score_layer")
        layer, attn, normed, pos_emb, mask = self._probe
        b, q = normed.shape[:2]
        queries = torch.arange(q, device=normed.device).expand(b, q)
        qs, _ = decoder_queries_keys(attn, normed, pos_emb, queries)
        keys = self._runtime.adapter.cached_keys(self._cache, layer)  # [B, H_kv, T, D]
        heads = qs.shape[1]
        if keys.shape[1] != heads:
            keys = keys.repeat_interleave(heads // keys.shape[1], dim=1)
        acc = accumulation_dtype(qs)
        logits = torch.matmul(qs.to(acc), keys.to(acc).transpose(-1, -2)) * attn.scaling
        allowed = allowed_keys(mask, b, q, keys.shape[2], normed.device)
        return torch.softmax(logits.masked_fill(~allowed[:, None], float("-inf")), dim=-1)

    def attention_over_prompt(self) -> torch.Tensor:
        """``[B, H, q, N0]``: :meth:`attention` read at the prompt columns (0 where a prompt token is not
        in the score layer's cache)."""
        att = self.attention()
        cols = self.key_columns(self._probe[0])
        b, h, q, t = att.shape
        n0 = self.input_modality.shape[1]
        out = att.new_zeros((b, h, q, n0 + 1))
        dest = torch.where(cols >= 0, cols, n0)[:, None, None, :].expand(b, h, q, t)
        out.scatter_add_(3, dest, att)
        return out[..., :n0]


# ----------------------------------------------------------------------------- internal state
@dataclass
class _DecodeView:
    """How decoder layer ``l`` sees the prefill part of its cache during decoding."""

    source_column: torch.Tensor | None = None  # [B, N_l]: prefill column of each cached token
    pos_shift: torch.Tensor | None = None  # [B]: subtract from original position ids
    blocked: torch.Tensor | None = None  # [B, N_l]: cached prefill columns hidden from decoding queries


@dataclass
class _VisionRewrite:
    source: torch.Tensor  # [B, L]: original column of each token of the rewritten prompt, -1 = new padding
    n_original: int
    shift: torch.Tensor  # [B] removed tokens per row
    made_mask: bool  # the original call had no attention mask but the rewrite needs one


@dataclass
class _Session:
    """Ties decoding steps to the prefill that shortened the sequence."""

    cache_ref: Any = None
    vision: _VisionRewrite | None = None  # the prompt as decoding sees it (vision reducer and/or layer-0 event)
    n_llm_input: int = 0  # columns of the language model's input (DecodeSelection.hide's width)
    n_prefix: int = 0  # columns of the decoding coordinates: the input, or what a layer-0 event kept
    base_source: torch.Tensor | None = None  # [B, n_prefix]: input column of each decoding column (-1: padding)
    views: dict[int, _DecodeView] = field(default_factory=dict)
    input_modality: torch.Tensor | None = None
    input_valid: torch.Tensor | None = None
    items: Callable[[], list] = lambda: []
    had_mask: bool = True
    step: int = -1
    hides: list = field(default_factory=list)  # this step's (from layer, DecodeSelection.hide [B, N0])

    def hidden_at(self, layer: int) -> torch.Tensor | None:
        """``[B, N0]`` prompt columns hidden from this step's queries in ``layer`` (``None``: none)."""
        out = None
        for start, hide in self.hides:
            if layer >= start:
                out = hide if out is None else (out | hide)
        return out


@dataclass
class _Prefill:
    """The language model's current sequence during one prefill."""

    visual: torch.Tensor
    modality: torch.Tensor
    valid: torch.Tensor
    positions: torch.Tensor | None
    source: torch.Tensor
    decode_column: torch.Tensor
    get_items: Callable[[], list]
    input_hidden: torch.Tensor | None = None
    input_visual: torch.Tensor | None = None
    input_modality: torch.Tensor | None = None
    input_valid: torch.Tensor | None = None
    start: torch.Tensor | None = None
    n_valid_input: torch.Tensor | None = None
    changed: bool = False
    hidden: torch.Tensor | None = None
    mask: Any = None
    pos_emb: Any = None
    layer_pos: Any = None
    blocked: torch.Tensor | None = None
    probes: dict[int, AttentionProbe] = field(default_factory=dict)


def _cache_of(kwargs: dict) -> Any:
    for name in ("cache", "past_key_values", "past_key_value"):
        if kwargs.get(name) is not None:
            return kwargs[name]
    return None


def _cache_len(cache: Any, layer: int = 0) -> int:
    if cache is None:
        return 0
    try:
        return int(cache.get_seq_length(layer))
    except TypeError:
        return int(cache.get_seq_length())


def _lazy(fn: Callable[[], Any]) -> Callable[[], Any]:
    box: list = []

    def get():
        if not box:
            box.append(fn())
        return box[0]
    return get


class DecoderRuntime:
    """Hooks and per-forward state for one ``zoo.apply`` on one decoder model (see module doc)."""

    def __init__(self, adapter: Any, patch: Any, run: Any) -> None:
        self.adapter = adapter
        self.patch = patch
        self.run = run
        self.events: list[LlmEvent] = []
        self.decode_events: list[DecodeEvent] = []
        self.positions = "keep"
        self.mode = "drop"
        self.vision_reducer: Callable[[VisionContext], VisionSelection | None] | None = None
        self.vision_probe_layers: set[int] = set()
        self.vision_captures: dict[int, torch.Tensor] = {}
        self._vision_cls: torch.Tensor | None = None
        self._vision_active = False
        self._vision_counts: torch.Tensor | None = None
        self._vision_input: tuple[int, int] | None = None  # (images, tokens per image) the reducer saw
        self._vision_layouts: list[ItemLayout] | None = None
        self._vision_kept: torch.Tensor | None = None  # [I, M] the reducer's kept patch indices (tiles, anyres)
        self._vision_packed: dict | None = None  # anyres models: spans/layouts of the packed, reduced images
        self._phase: str | None = None
        self._session: _Session | None = None
        self._prefill: _Prefill | None = None
        self._hooks_installed = False
        self._vision_installed = False
        self._captures_installed: set[int] = set()
        self._decode_probes: dict[int, tuple] = {}
        self._lookahead = False
        self._mid_event: LlmEvent | None = None  # a before="mlp" event armed for the running layer
        self._mid_kwargs: dict = {}
        self._mid_hidden: torch.Tensor | None = None  # that layer's post-attention residual stream
        self._mid_result: tuple[PruneSelection, torch.Tensor] | None = None  # selection, survivors' states

    @property
    def position_rule(self) -> str:
        """What survivors' positions are: ``"original-1d"``, ``"renumbered-1d"`` or ``"original-3d"``."""
        if self.adapter.position_kind == "mrope":
            return "original-3d"
        return "renumbered-1d" if self.positions == "compact" else "original-1d"

    # ------------------------------------------------------------------ installation
    def add_llm_events(self, events: list[LlmEvent], *, positions: str, mode: str) -> None:
        """Add prefill events (several calls merge; they must agree on ``positions`` and ``mode``)."""
        if positions not in ("keep", "compact"):
            raise ValueError(f"positions={positions!r}; allowed: 'keep', 'compact'")
        if mode not in ("drop", "mask"):
            raise ValueError(f"mode={mode!r}; allowed: 'drop', 'mask'")
        if self.events and (positions, mode) != (self.positions, self.mode):
            raise ValueError("prefill events of one application must share positions and mode")
        merged = sorted([*self.events, *events], key=lambda e: e.layer)
        depth = len(self.adapter.layers)
        layers = [e.layer for e in merged]
        if len(set(layers)) != len(layers):
            raise ValueError(f"two prefill events at the same decoder layer: {layers}")
        previous = 0
        for e in merged:
            if not 0 <= e.layer < depth:
                raise ValueError(f"event layer {e.layer} outside 0..{depth - 1} (the language model has {depth} layers)")
            if e.before not in ("layer", "mlp"):
                raise ValueError(f"LlmEvent.before={e.before!r}; allowed: 'layer', 'mlp'")
            if e.before == "mlp":
                self._check_mid_event(e, mode)
            if e.score_layer is not None and not (previous <= e.score_layer <= e.layer and e.score_layer >= e.layer - 1):
                raise ValueError(f"score_layer {e.score_layer} of the event at layer {e.layer} must be "
                                 f"{e.layer - 1} or {e.layer} and not before the previous event")
            previous = e.layer
        if mode == "mask" and self.adapter.attn_implementation.startswith("flash"):
            raise ValueError("the attention-mask variant needs attn_implementation 'sdpa' or 'eager'")
        self.events = merged
        self.positions = positions
        self.mode = mode
        self._install(new_events=list(events))

    def _check_mid_event(self, e: LlmEvent, mode: str) -> None:
        if e.layer < 1:
            raise ValueError("an event before the MLP acts inside layer `layer - 1`: layer must be >= 1")
        if e.score_layer not in (None, e.layer - 1):
            raise ValueError(f"score_layer of an event before the MLP of layer {e.layer - 1} must be {e.layer - 1} "
                             f"or None, got {e.score_layer}")
        if mode != "drop":
            raise ValueError("events before the MLP need mode='drop'")
        layer = self.adapter.layers[e.layer - 1]
        for name in ("post_attention_layernorm", "mlp"):
            if not isinstance(getattr(layer, name, None), torch.nn.Module):
                raise TypeError(f"{type(layer).__name__} has no {name} submodule (events before the MLP need "
                                "Llama-style decoder layers)")

    def add_decode_events(self, events: list[DecodeEvent]) -> None:
        """Add decoding-step events (one per decoder layer at most)."""
        merged = sorted([*self.decode_events, *events], key=lambda e: e.layer)
        depth = len(self.adapter.layers)
        layers = [e.layer for e in merged]
        if len(set(layers)) != len(layers):
            raise ValueError(f"two decode events at the same decoder layer: {layers}")
        for e in merged:
            if not 0 <= e.layer < depth:
                raise ValueError(f"decode event layer {e.layer} outside 0..{depth - 1}")
            if e.score_layer is not None and e.score_layer != e.layer - 1:
                raise ValueError(f"score_layer of a decode event must be layer - 1 ({e.layer - 1}), got {e.score_layer}")
        if self.adapter.attn_implementation.startswith("flash") and merged:
            raise ValueError("decode events need attn_implementation 'sdpa' or 'eager'")
        self.decode_events = merged
        self._install(new_events=[], new_decode=list(events))

    def set_vision_reducer(self, reducer: Callable[[VisionContext], VisionSelection | None],
                           probe_layers: tuple[int, ...]) -> None:
        if self.vision_reducer is not None:
            raise ValueError("only one vision reducer per application (apply rejects two vision-encoder methods)")
        self.adapter.check_vision_reduction_supported()
        self.vision_reducer = reducer
        self.vision_probe_layers = {self.adapter.resolve_vision_layer(layer) for layer in probe_layers}
        self._install(new_events=[])

    def _capture(self, layer: int) -> None:
        if layer in self._captures_installed:
            return
        self._captures_installed.add(layer)
        attn = self.adapter.layers[layer].self_attn
        self.patch.add_hook(attn.register_forward_pre_hook(functools.partial(self._score_capture_hook, layer),
                                                           with_kwargs=True))

    def _install(self, new_events: list[LlmEvent], new_decode: list[DecodeEvent] = ()) -> None:
        patch, ad = self.patch, self.adapter
        if not self._hooks_installed:
            self._hooks_installed = True
            patch.add_hook(ad.model.register_forward_pre_hook(self._top_pre_hook, with_kwargs=True))
            patch.add_hook(ad.outer.register_forward_pre_hook(self._outer_pre_hook, with_kwargs=True))
            for idx, layer in enumerate(ad.layers):
                patch.add_hook(layer.register_forward_pre_hook(functools.partial(self._layer_pre_hook, idx),
                                                               with_kwargs=True))
            patch.add_hook(ad.layers[-1].register_forward_hook(self._last_layer_hook))
            patch.on_undo(self._reset)
            for name in ("get_image_features", "get_video_features"):  # remember what layouts are made from
                original = getattr(ad.outer, name, None)
                if original is not None:
                    patch.set_attr(ad.outer, name, functools.wraps(original)(
                        functools.partial(_recording_call, original)))
        for e in new_events:
            if e.score_layer is not None and e.score_layer < e.layer:
                self._capture(e.score_layer)
            if e.before == "mlp":
                layer = ad.layers[e.layer - 1]
                patch.add_hook(layer.post_attention_layernorm.register_forward_pre_hook(self._mid_capture_hook))
                patch.add_hook(layer.mlp.register_forward_pre_hook(self._mlp_pre_hook))
                patch.add_hook(layer.mlp.register_forward_hook(self._mlp_hook))
        for e in new_decode:
            if e.score_layer is not None:
                self._capture(e.score_layer)
        if self.vision_reducer is not None and not self._vision_installed:
            self._vision_installed = True
            owner = ad.vision_owner
            original = owner.get_image_features

            @functools.wraps(original)
            def get_image_features(*args, **kwargs):
                return self._image_features(original, *args, **kwargs)

            patch.set_attr(owner, "get_image_features", get_image_features)
            pack = getattr(owner, "pack_image_features", None)
            if pack is not None and hasattr(ad, "pack_reduced"):  # anyres: tiles are reduced, then packed here

                @functools.wraps(pack)
                def pack_image_features(*args, **kwargs):
                    if self._vision_active and self._vision_kept is not None:
                        feats, lens, packed = ad.pack_reduced(self._vision_kept, self._vision_counts, *args, **kwargs)
                        self._vision_packed = packed
                        return feats, lens
                    return pack(*args, **kwargs)

                patch.set_attr(owner, "pack_image_features", pack_image_features)
            patch.add_hook(ad.projector.register_forward_pre_hook(self._projector_pre_hook))
            for layer in sorted(self.vision_probe_layers):
                patch.add_hook(ad.vision_layers[layer].self_attn.register_forward_pre_hook(
                    functools.partial(self._vision_capture_hook, layer), with_kwargs=True))
            patch.add_hook(ad.vision_layers[ad.vision_feature_layer_index].register_forward_hook(self._vision_cls_hook))

    def _reset(self) -> None:
        self._session = None
        self._prefill = None
        self._phase = None
        self._mid_event, self._mid_kwargs, self._mid_hidden, self._mid_result = None, {}, None, None
        self.vision_captures = {}
        self._decode_probes = {}

    # ------------------------------------------------------------------ vision side
    def _image_features(self, original: Callable, *args, **kwargs):
        ad = self.adapter
        layer = kwargs.get("vision_feature_layer")
        strategy = kwargs.get("vision_feature_select_strategy")
        if layer is not None and layer != ad.config.vision_feature_layer:
            raise ValueError(f"tokzoo's vision reducers use config.vision_feature_layer="
                             f"{ad.config.vision_feature_layer}; got vision_feature_layer={layer}")
        if strategy is not None and strategy != ad.config.vision_feature_select_strategy:
            raise ValueError(f"tokzoo's vision reducers use vision_feature_select_strategy="
                             f"{ad.config.vision_feature_select_strategy!r}; got {strategy!r}")
        self._vision_active = True
        self._vision_counts = None
        self._vision_input = None
        self._vision_layouts = None
        self._vision_kept = None
        self._vision_packed = None
        self.vision_captures = {}
        self._vision_cls = None
        try:
            out = original(*args, **kwargs)
        finally:
            self._vision_active = False
            self.vision_captures = {}
            self._vision_cls = None
        counts, self._vision_counts = self._vision_counts, None
        packed, self._vision_packed, self._vision_kept = self._vision_packed, None, None
        if hasattr(out, "pooler_output"):
            if packed is not None:  # anyres: per-image spans of the unreduced images, layouts of the packed ones
                out._tokzoo_spans = packed["spans"]
                out._tokzoo_layouts = packed["layouts"]
            elif hasattr(self.adapter, "pack_reduced"):  # anyres, nothing reduced: the images' own token counts
                out._tokzoo_spans = [int(f.shape[0]) for f in out.pooler_output]
            else:
                if counts is not None:
                    out.pooler_output = [f[: int(c)] for f, c in zip(out.pooler_output, counts.tolist())]
                if self._vision_input is not None:  # what the prompt must hold: the unreduced token counts
                    out._tokzoo_input_tokens = self._vision_input
                    out._tokzoo_layouts = self._vision_layouts
        return out

    def _vision_capture_hook(self, layer: int, module, args, kwargs):
        if self._vision_active:
            self.vision_captures[layer] = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]

    def _vision_cls_hook(self, module, args, output):
        if self._vision_active:
            out = output[0] if isinstance(output, tuple) else output
            self._vision_cls = out[:, 0]

    def _projector_pre_hook(self, module, args):
        if not self._vision_active or self.vision_reducer is None:
            return None
        features = args[0]
        n = features.shape[1]
        self._vision_input = (int(features.shape[0]), int(n))
        self.run.start("vision", n)
        sel = self.vision_reducer(VisionContext(self, features, self._vision_cls))
        if sel is None:
            self.run.log("vision", n)
            return None
        counts = sel.counts
        if counts is not None and bool((counts == sel.features.shape[1]).all()):
            counts = None
        self._vision_counts = counts
        self._vision_kept = sel.kept
        self._vision_layouts = self.adapter.reduced_layouts(sel, n)
        n_out = int(sel.features.shape[1] if counts is None else counts.max())
        self.run.log("vision", n_out)
        self.run.log_event("vision", self.adapter.vision_feature_layer_index, "reduce", n, n_out)
        if self.run.record_indices and sel.kept is not None:
            self.run.kept_indices.setdefault("vision", []).append(sel.kept)
        return (sel.features,) + tuple(args[1:])

    # ------------------------------------------------------------------ model-level hooks
    def _top_pre_hook(self, module, args, kwargs):
        if kwargs.get("labels") is not None:
            raise ValueError("tokzoo: labels are not supported while a token-reduction method is applied "
                             "(the sequence gets shorter); compute the loss without the method")
        return None

    def _outer_pre_hook(self, module, args, kwargs):
        ad = self.adapter
        if args:  # e.g. LlavaNextForConditionalGeneration passes input_ids positionally
            bound = inspect.signature(module.forward).bind_partial(*args, **kwargs)
            extra = bound.arguments.pop("kwargs", {})
            args, kwargs = (), {**bound.arguments, **extra}
        cache = _cache_of(kwargs)
        past = _cache_len(cache)
        masks = ad.placeholder_masks(kwargs.get("input_ids"), kwargs.get("inputs_embeds"))
        visual = _any_of(masks, kwargs)
        self._prefill = None
        if past == 0:
            self._session = None
            if ad.needs_visual_tokens and not bool(visual.any()):
                self._phase = None
                return args, kwargs
            ad.check_prefill_inputs(kwargs, masks)
            self._phase = "prefill"
            self._session = _Session()
            layouts = None
            if self.vision_reducer is not None:
                kwargs, layouts = self._rewrite_prompt(module, kwargs, masks.get("image"))
                masks = ad.placeholder_masks(kwargs.get("input_ids"), kwargs.get("inputs_embeds"))
            self._start_prefill(kwargs, masks, layouts)
            return args, kwargs
        session = self._session
        if session is None or session.cache_ref is None or session.cache_ref() is not cache:
            self._phase = None
            return args, kwargs
        new_media = any(kwargs.get(k) is not None
                        for k in ("pixel_values", "pixel_values_videos", "input_features", "mm_encoder_outputs"))
        if new_media and bool(visual.any()):  # a generated placeholder id alone is just a token
            raise ValueError("tokzoo: new images/videos/audio after a reduced prefill (chunked prefill or a multi-turn "
                             "cache) are not supported while a method is applied")
        self._phase = "decode"
        session.step += 1
        session.hides = []
        self._decode_probes = {}
        if session.vision is not None:
            kwargs = self._map_decode_prompt(kwargs, session.vision)
        return args, kwargs

    def _rewrite_prompt(self, module, kwargs: dict, image: torch.Tensor | None):
        """Shorten each image's placeholder span to the number of features the reducer returned."""
        ad = self.adapter
        mm = dict(kwargs.get("mm_encoder_outputs") or {})
        if mm.get("image") is None:
            if kwargs.get("pixel_values") is None or image is None:
                return kwargs, None
            mm["image"] = module.get_image_features(
                pixel_values=kwargs["pixel_values"],
                vision_feature_layer=kwargs.get("vision_feature_layer"),
                vision_feature_select_strategy=kwargs.get("vision_feature_select_strategy"),
                image_sizes=kwargs.get("image_sizes"),
                return_dict=True,
            )
            kwargs["pixel_values"] = None
            kwargs["mm_encoder_outputs"] = mm
        out = mm["image"]
        feats = out.pooler_output
        counts = torch.tensor([f.shape[0] for f in feats], device=image.device)
        total = int(image.sum())
        given = getattr(out, "_tokzoo_input_tokens", None)
        spans = getattr(out, "_tokzoo_spans", None)
        if given is not None:  # the prompt must hold what the unreduced images give (as without the method)
            n_images, per_image = given
            if total != n_images * per_image:
                raise ValueError(f"image features and image tokens do not match: the prompt holds {total} image "
                                 f"placeholder tokens but the {n_images} image(s) give {per_image} tokens each "
                                 f"({n_images * per_image}); every image needs exactly {per_image} placeholders")
        if spans is not None:
            if total != sum(spans):
                raise ValueError(f"image features and image tokens do not match: the prompt holds {total} image "
                                 f"placeholder tokens but the images give {sum(spans)} ({spans})")
            span = list(spans)
            unchanged = counts.tolist() == span
        else:
            if total % len(feats):
                raise ValueError(f"{total} image placeholder tokens cannot be split evenly over {len(feats)} images")
            span = total // len(feats)
            unchanged = bool((counts == span).all())
        layouts = getattr(out, "_tokzoo_layouts", None)
        if unchanged:
            return kwargs, None
        source = shrink_image_spans(image, span, counts)
        b, n = image.shape
        present = source >= 0
        col = source.clamp(min=0)
        ids, embeds = kwargs.get("input_ids"), kwargs.get("inputs_embeds")
        if ids is not None:
            kwargs["input_ids"] = torch.where(present, ids.gather(1, col), ad.pad_token_id)
        else:
            kwargs["inputs_embeds"] = gather_tokens(embeds, col) * present[..., None].to(embeds.dtype)
        mask = kwargs.get("attention_mask")
        valid_orig = mask.bool() if mask is not None else torch.ones_like(image)
        valid_new = valid_orig.gather(1, col) & present
        made_mask = mask is None and not bool(valid_new.all())
        if mask is not None or made_mask:
            dtype = mask.dtype if mask is not None else torch.long
            kwargs["attention_mask"] = valid_new.to(dtype)
        pos = kwargs.get("position_ids")
        orig_pos = pos if pos is not None else torch.arange(n, device=image.device)[None]
        orig_pos = orig_pos.expand(b, n)
        start = first_valid_position(orig_pos, valid_orig)
        kwargs["position_ids"] = compact_positions(valid_new, start)
        shift = valid_orig.sum(-1) - valid_new.sum(-1)
        self._session.vision = _VisionRewrite(source=source, n_original=n, shift=shift, made_mask=made_mask)
        if layouts is not None:
            layouts = [ItemLayout("image", lay.coords[: int(c)], lay.grids) for lay, c in zip(layouts, counts.tolist())]
        return kwargs, layouts

    def _map_decode_prompt(self, kwargs: dict, vr: _VisionRewrite) -> dict:
        mask = kwargs.get("attention_mask")
        ids = kwargs.get("input_ids")
        ref = ids if ids is not None else kwargs["inputs_embeds"][..., 0]
        b, q = ref.shape[0], ref.shape[1]
        if mask is None and vr.made_mask:
            total = vr.n_original + _cache_len(_cache_of(kwargs)) - (vr.source.shape[1]) + q
            mask = torch.ones((b, total), dtype=torch.long, device=ref.device)
        if mask is not None:
            head = mask[:, : vr.n_original]
            mapped = torch.where(vr.source >= 0, head.gather(1, vr.source.clamp(min=0)), torch.zeros_like(vr.source))
            kwargs["attention_mask"] = torch.cat([mapped.to(mask.dtype), mask[:, vr.n_original:]], dim=1)
        pos = kwargs.get("position_ids")
        if pos is not None and bool(vr.shift.any()):
            kwargs["position_ids"] = pos - vr.shift[:, None]
        return kwargs

    # ------------------------------------------------------------------ language-model side
    def _start_prefill(self, kwargs: dict, masks: dict[str, torch.Tensor], layouts) -> None:
        ad = self.adapter
        ref = _reference(kwargs)
        b, n = ref.shape[0], ref.shape[1]
        device = ref.device
        modality = torch.zeros((b, n), dtype=torch.long, device=device)
        for name, m in masks.items():
            modality = torch.where(m, MODALITY_IDS[name], modality)
        visual = modality > 0
        mask = kwargs.get("attention_mask")
        valid = mask.bool() if mask is not None and mask.dim() == 2 else torch.ones((b, n), dtype=torch.bool,
                                                                                     device=device)
        positions = None
        if ad.position_kind == "1d":
            pos = kwargs.get("position_ids")
            positions = (pos if pos is not None else torch.arange(n, device=device)[None]).expand(b, n)
        source = torch.arange(n, device=device).expand(b, n)
        captured = dict(kwargs)
        for out in (kwargs.get("mm_encoder_outputs") or {}).values():  # generate pre-encodes and drops the sizes
            for key, value in getattr(out, "_tokzoo_call", {}).items():
                if captured.get(key) is None:
                    captured[key] = value

        def items():
            lay = {"image": layouts} if layouts is not None else {}
            rest = ad.item_layouts(captured, masks, set(lay))
            return assign_items(masks, {**rest, **lay})

        get_items = _lazy(items)
        self._prefill = _Prefill(visual=visual, modality=modality, valid=valid, positions=positions, source=source,
                                 decode_column=source, get_items=get_items, input_visual=visual,
                                 input_modality=modality, input_valid=valid,
                                 start=first_valid_position(positions, valid) if positions is not None else None,
                                 n_valid_input=valid.sum(-1))
        s = self._session
        s.n_llm_input = s.n_prefix = n
        s.had_mask = mask is not None
        s.input_modality, s.input_valid, s.items = modality, valid, get_items
        if self.decode_events:
            self.run.start("llm-decode", n)

    def _score_capture_hook(self, layer: int, module, args, kwargs):
        if self._lookahead:
            return
        normed = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        st = self._prefill
        if self._phase == "prefill" and st is not None:
            st.probes[layer] = AttentionProbe(module, normed, kwargs["position_embeddings"], st.valid)
        elif self._phase == "decode":
            self._decode_probes[layer] = (layer, module, normed, kwargs["position_embeddings"],
                                          kwargs.get("attention_mask"))

    def _layer_pre_hook(self, idx: int, module, args, kwargs):
        if self._lookahead:
            return None
        if self._phase == "prefill" and self._prefill is not None:
            return self._prefill_layer(idx, module, args, kwargs)
        if self._phase == "decode" and self._session is not None:
            return self._decode_layer(idx, args, kwargs)
        return None

    def _prefill_layer(self, idx: int, module, args, kwargs):
        st = self._prefill
        hidden = args[0] if args else kwargs["hidden_states"]
        if idx == 0:
            st.input_hidden = hidden
            self._session.cache_ref = None
            cache = _cache_of(kwargs)
            if cache is not None:
                self._session.cache_ref = weakref.ref(cache)
            self.run.start("llm", hidden.shape[1])
        event = next((e for e in self.events if e.layer == idx), None)
        if event is not None:
            window = self.adapter.sliding_window
            if window is not None and hidden.shape[1] > window:
                raise ValueError(f"tokzoo: this model uses sliding-window attention (window {window}) and the prompt "
                                 f"has {hidden.shape[1]} tokens; reducing tokens is supported only within the window")
            if not st.changed:
                st.mask = kwargs.get("attention_mask")
                st.pos_emb = kwargs.get("position_embeddings")
                st.layer_pos = kwargs.get("position_ids")
            probe = None
            if event.score_layer == idx:
                attn = module.self_attn
                probe = AttentionProbe(attn, module.input_layernorm(hidden), st.pos_emb, st.valid)
            elif event.score_layer is not None:
                probe = st.probes.get(event.score_layer)
                if probe is None:
                    raise RuntimeError(f"no attention captured at layer {event.score_layer}")
            if event.before == "mlp":  # selected inside the previous layer; its MLP ran on the survivors
                if self._mid_result is None:
                    raise RuntimeError(f"the event before the MLP of layer {idx - 1} did not run")
                sel, out = self._mid_result
                self._mid_result = None
                sel = PruneSelection(keep=sel.keep, replace=out)
            else:
                sel = event.select(LlmContext(self, st, idx, hidden, probe, kwargs))
            n_before = self._effective_tokens(st)
            hidden = self._apply_selection(idx, st, sel, hidden, kwargs)
            n_after = self._effective_tokens(st)
            kind = "prune" if sel.extra is None and sel.replace is None else "prune+merge"
            self.run.log_event("llm", idx - 1, kind, n_before, n_after)
            if idx == 0:
                self.run.input_tokens["llm"] = int(hidden.shape[1])
            st.probes.clear()
        if st.changed:
            if st.hidden is not None and event is not None:
                args = (hidden,) + tuple(args[1:]) if args else args
                if not args:
                    kwargs["hidden_states"] = hidden
            kwargs["attention_mask"] = st.mask
            kwargs["position_embeddings"] = st.pos_emb
            kwargs["position_ids"] = st.layer_pos
        if idx > 0:
            self.run.log("llm", hidden.shape[1])
        self._mid_event = next((e for e in self.events if e.before == "mlp" and e.layer == idx + 1), None)
        self._mid_kwargs = kwargs if self._mid_event is not None else {}
        self._mid_hidden, self._mid_result = None, None
        return args, kwargs

    @staticmethod
    def _effective_tokens(st: _Prefill) -> int:
        """Tokens per row the next layer computes with (the sequence length; mask variant: unmasked ones)."""
        if st.blocked is None:
            return int(st.valid.shape[1])
        return int((~st.blocked).sum(-1).max())

    def _apply_selection(self, idx: int, st: _Prefill, sel: PruneSelection, hidden: torch.Tensor, kwargs: dict):
        keep = sel.keep
        ad = self.adapter
        n = hidden.shape[1]
        if self.mode == "mask":
            if sel.extra is not None or sel.replace is not None:
                raise ValueError("inserted or replaced tokens are not possible in the attention-mask variant")
            kept = torch.zeros((n_rows := keep.shape[0], n + 1), dtype=torch.bool, device=keep.device)
            kept.scatter_(1, torch.where(keep < 0, n, keep), True)
            blocked = st.visual & ~kept[:n_rows, :n]
            st.blocked = blocked if st.blocked is None else (st.blocked | blocked)
            st.mask = block_key_columns(kwargs.get("attention_mask"), st.blocked, q=n, kv=n,
                                        dtype=hidden.dtype, keep_diagonal=True)
            if not st.changed:
                st.pos_emb = kwargs.get("position_embeddings")
                st.layer_pos = kwargs.get("position_ids")
            st.changed = True
            st.hidden = hidden
            view = _DecodeView(blocked=st.blocked.clone())
            for layer in range(idx, len(ad.layers)):
                self._session.views[layer] = view
            if self.run.record_indices:  # visible tokens, into the (unchanged) sequence entering the event
                visible = torch.sort(torch.where(st.blocked, -1, torch.arange(n, device=keep.device)), dim=-1).values
                width = int((~st.blocked).sum(-1).max())
                self.run.kept_indices.setdefault("llm", []).append(visible[:, n - width:])
            return hidden

        slots = keep < 0  # padding slots of rows keeping fewer tokens
        entering = keep.masked_fill(slots, -1)  # provenance of each new token in the entering sequence
        keep = keep.clamp(min=0)
        new_hidden = gather_tokens(hidden, keep)
        if sel.replace is not None:
            if tuple(sel.replace.shape) != tuple(new_hidden.shape):
                raise ValueError(f"PruneSelection.replace has shape {tuple(sel.replace.shape)}; expected "
                                 f"{tuple(new_hidden.shape)} (one hidden state per kept token)")
            new_hidden = sel.replace.to(new_hidden.dtype)
        visual = st.visual.gather(1, keep) & ~slots
        modality = st.modality.gather(1, keep).masked_fill(slots, 0)
        valid = st.valid.gather(1, keep) & ~slots
        source = st.source.gather(1, keep).masked_fill(slots, -1)
        decode_column = st.decode_column.gather(1, keep)
        anchor_index = keep  # index in the entering sequence whose position each new token takes
        mask = st.mask if st.changed else kwargs.get("attention_mask")
        padded = bool(slots.any())
        if sel.extra is None and not padded:
            mask = select_prefill_mask(mask, keep)
        elif sel.extra is None:
            mask = self._rebuild_mask(valid, new_hidden.dtype)
        else:
            if padded:
                raise ValueError("inserted tokens need the same kept count in every row")
            new_hidden, order = self._insert(new_hidden, sel.extra.to(new_hidden.dtype), sel.extra_at)
            e = sel.extra.shape[1]
            fill = torch.ones((keep.shape[0], e), dtype=torch.bool, device=keep.device)
            at = (sel.extra_at - 1).clamp(min=0)[:, None]
            anchor = decode_column.gather(1, at).expand(-1, e)
            anchor_mod = modality.gather(1, at).expand(-1, e).clamp(min=1)
            anchor_idx = keep.gather(1, at).expand(-1, e)
            visual = torch.cat([visual, fill], 1).gather(1, order)
            modality = torch.cat([modality, anchor_mod], 1).gather(1, order)
            valid = torch.cat([valid, fill], 1).gather(1, order)
            source = torch.cat([source, torch.full_like(anchor, -1)], 1).gather(1, order)
            entering = torch.cat([entering, torch.full_like(anchor, -1)], 1).gather(1, order)
            decode_column = torch.cat([decode_column, anchor], 1).gather(1, order)
            anchor_index = torch.cat([keep, anchor_idx], 1).gather(1, order)
            mask = self._rebuild_mask(valid, new_hidden.dtype)
        layer_pos = st.layer_pos if st.changed else kwargs.get("position_ids")
        if self.positions == "compact" and ad.position_kind == "1d":
            positions = compact_positions(valid, st.start)
            pos_emb = ad.rotary(new_hidden, positions)
            shift = st.n_valid_input - valid.sum(-1)
            layer_pos = positions
        else:
            cos, sin = st.pos_emb if st.changed else kwargs["position_embeddings"]
            pos_emb = (gather_tokens(cos, anchor_index), gather_tokens(sin, anchor_index))
            positions = None
            if st.positions is not None:  # 1-D: original ids (padding slots 0, inserted tokens: their anchor's)
                positions = st.positions.gather(1, anchor_index)
                if sel.extra is None:
                    positions = positions.masked_fill(slots, 0)
                layer_pos = positions
            elif isinstance(layer_pos, torch.Tensor) and layer_pos.dim() == 2 and layer_pos.shape[-1] == n:
                layer_pos = layer_pos.expand(keep.shape[0], n).gather(1, anchor_index)
            else:  # M-RoPE text positions in another layout: only flash attention reads them
                layer_pos = None
            shift = None
        st.visual, st.modality, st.valid, st.source, st.decode_column = visual, modality, valid, source, decode_column
        st.positions, st.layer_pos = positions, layer_pos
        st.mask, st.pos_emb, st.hidden, st.changed = mask, pos_emb, new_hidden, True
        # cached padding slots (this event's or an earlier one's) must stay hidden from decoding queries
        slot_cols = ~valid & (source < 0)
        if idx == 0:
            self._rebase(st, decode_column.masked_fill(slot_cols, -1), shift, kwargs)
        else:
            view = _DecodeView(source_column=decode_column, pos_shift=shift,
                               blocked=slot_cols if bool(slot_cols.any()) else None)
            for layer in range(idx, len(ad.layers)):
                self._session.views[layer] = view
        if self.run.record_indices:
            self.run.kept_indices.setdefault("llm", []).append(entering)
        return new_hidden

    def _rebase(self, st: _Prefill, base_source: torch.Tensor, shift: torch.Tensor | None, kwargs: dict) -> None:
        """An event before layer 0: every layer caches only the kept tokens, and transformers builds decoding
        masks from that cache length. Decoding is mapped like a shortened prompt (``_VisionRewrite``): the 2D
        mask and (compact) position ids are rewritten before the language model, and later events' views
        index the kept sequence."""
        s = self._session
        b, k = base_source.shape
        shift = torch.zeros(b, dtype=torch.long, device=base_source.device) if shift is None else shift
        made = not s.had_mask and bool((base_source < 0).any())
        vr = s.vision
        if vr is None:
            source, n_original, total_shift = base_source, s.n_llm_input, shift
        else:  # compose with the vision reducer's rewrite (input columns -> original prompt columns)
            source = torch.where(base_source >= 0, vr.source.gather(1, base_source.clamp(min=0)), -1)
            n_original, total_shift, made = vr.n_original, vr.shift + shift, made or vr.made_mask
        s.vision = _VisionRewrite(source=source, n_original=n_original, shift=total_shift, made_mask=made)
        s.base_source = base_source
        s.n_prefix = k
        st.decode_column = torch.arange(k, device=base_source.device).expand(b, k)
        st.n_valid_input = st.valid.sum(-1)

    @staticmethod
    def _insert(kept: torch.Tensor, extra: torch.Tensor, at: torch.Tensor):
        """Insert ``extra [B, E, C]`` into ``kept [B, K, C]`` before kept position ``at[b]``."""
        b, k, _ = kept.shape
        e = extra.shape[1]
        j = torch.arange(k + e, device=kept.device)[None].expand(b, -1)
        at = at[:, None]
        order = torch.where(j < at, j, torch.where(j < at + e, k + (j - at), j - e))
        merged = torch.cat([kept, extra], dim=1)
        return gather_tokens(merged, order), order

    def _rebuild_mask(self, valid: torch.Tensor, dtype: torch.dtype):
        impl = self.adapter.attn_implementation
        b, n = valid.shape
        if impl.startswith("flash"):
            return None if bool(valid.all()) else valid.long()
        if impl == "sdpa" and bool(valid.all()):
            return None
        mask = causal_bool_mask(b, n, n, valid.device) & valid[:, None, None, :]
        if impl == "sdpa":
            return mask
        if impl == "eager":
            return torch.zeros(mask.shape, dtype=dtype, device=valid.device).masked_fill(~mask, torch.finfo(dtype).min)
        raise ValueError(f"tokzoo cannot build an attention mask for attn_implementation={impl!r}")

    def _hide_columns(self, mask, blocked: torch.Tensor, *, q: int, kv: int):
        """Hide the first ``blocked.shape[1]`` key columns where ``blocked`` from decoding queries."""
        if self.adapter.attn_implementation.startswith("flash"):
            if mask is None:
                mask = torch.ones((blocked.shape[0], kv), dtype=torch.long, device=blocked.device)
            head = mask[:, : blocked.shape[1]].masked_fill(blocked, 0)
            return torch.cat([head, mask[:, blocked.shape[1]:]], dim=1)
        return block_decode_mask(mask, blocked, q=q, kv=kv)

    def _decode_layer(self, idx: int, args, kwargs):
        s = self._session
        view = s.views.get(idx)
        event = next((e for e in self.decode_events if e.layer == idx), None)
        if event is not None:
            self._decode_select(idx, event, args, kwargs)
        hide = s.hidden_at(idx)
        if view is None and hide is None:
            return None
        mask = kwargs.get("attention_mask")
        hidden = args[0] if args else kwargs["hidden_states"]
        q = hidden.shape[1]
        past = _cache_len(_cache_of(kwargs), idx)
        blocked = None
        if view is not None:
            if view.source_column is not None:
                mask = map_decode_mask(mask, view.source_column, s.n_prefix)
                if mask is not None and mask.shape[-1] != past + q:
                    raise RuntimeError(f"tokzoo: decoding mask of layer {idx} covers {mask.shape[-1]} keys but the "
                                       f"layer caches {past} + {q}; the cache was modified outside the reduced prefill")
            blocked = view.blocked
        if hide is not None:
            if s.base_source is not None:  # input columns -> decoding coordinates
                hide = hide.gather(1, s.base_source.clamp(min=0)) & (s.base_source >= 0)
            cols = view.source_column if view is not None and view.source_column is not None else None
            hide_l = hide.gather(1, cols) if cols is not None else hide
            blocked = hide_l if blocked is None else (blocked | hide_l)
        if blocked is not None:
            mask = self._hide_columns(mask, blocked, q=q, kv=past + q)
        kwargs["attention_mask"] = mask
        if view is not None and view.pos_shift is not None:
            pos = kwargs["position_ids"] - view.pos_shift[:, None]
            kwargs["position_ids"] = pos
            kwargs["position_embeddings"] = self.adapter.rotary(hidden, pos)
        return args, kwargs

    def _decode_select(self, idx: int, event: DecodeEvent, args, kwargs) -> None:
        s = self._session
        hidden = args[0] if args else kwargs["hidden_states"]
        probe = None
        if event.score_layer is not None:
            probe = self._decode_probes.get(event.score_layer)
            if probe is None:
                raise RuntimeError(f"no decoding-step attention captured at layer {event.score_layer}")
        ctx = DecodeContext(self, idx, s.step, hidden, _cache_of(kwargs), probe)
        sel = event.select(ctx)
        if sel is None:
            return
        hide = sel.hide.bool()
        if tuple(hide.shape) != (hidden.shape[0], s.n_llm_input):
            raise ValueError(f"DecodeSelection.hide has shape {tuple(hide.shape)}; expected "
                             f"{(hidden.shape[0], s.n_llm_input)} (rows x prompt columns)")
        previous = s.hidden_at(idx)
        before = s.input_valid if previous is None else (s.input_valid & ~previous)
        s.hides.append((idx, hide))
        after = s.input_valid & ~s.hidden_at(idx)
        self.run.log_event("llm-decode", idx - 1, "hide", int(before.sum(-1).max()), int(after.sum(-1).max()))

    def _mid_active(self) -> bool:
        return (self._mid_event is not None and not self._lookahead and self._phase == "prefill"
                and self._prefill is not None)

    def _mid_capture_hook(self, module, args):
        if self._mid_active() and self._mid_result is None:  # not the survivors' own normalisation (below)
            self._mid_hidden = args[0]

    def _mlp_pre_hook(self, module, args):
        """Select among the post-attention residual stream; the MLP then runs on the survivors only."""
        if not self._mid_active() or self._mid_hidden is None:
            return None
        event, st, h = self._mid_event, self._prefill, self._mid_hidden
        probe = None
        if event.score_layer is not None:
            probe = st.probes.get(event.score_layer)
            if probe is None:
                raise RuntimeError(f"no attention captured at layer {event.score_layer}")
        sel = event.select(LlmContext(self, st, event.layer - 1, h, probe, self._mid_kwargs))
        if sel.extra is not None:
            raise ValueError("an event before the MLP cannot insert tokens (PruneSelection.extra)")
        kept = gather_tokens(h, sel.keep.clamp(min=0))
        if sel.replace is not None:
            if tuple(sel.replace.shape) != tuple(kept.shape):
                raise ValueError(f"PruneSelection.replace has shape {tuple(sel.replace.shape)}; expected "
                                 f"{tuple(kept.shape)} (one hidden state per kept token)")
            kept = sel.replace.to(h.dtype)
        self._mid_result = (sel, kept)
        return (self.adapter.layers[event.layer - 1].post_attention_layernorm(kept),)

    def _mlp_hook(self, module, args, output):
        """Keep the survivors' layer output (residual + MLP, the layer's own sum) for the event at the next
        layer; the full-length output the layer adds to its residual is zeros (it is replaced there)."""
        if not self._mid_active() or self._mid_result is None or self._mid_hidden is None:
            return None
        sel, kept = self._mid_result
        self._mid_result = (sel, kept + output)
        full = torch.zeros_like(self._mid_hidden)
        self._mid_hidden = None
        return full

    def _last_layer_hook(self, module, args, output):
        if self._lookahead:
            return None
        if self._phase == "prefill" and self._prefill is not None:
            out = output[0] if isinstance(output, tuple) else output
            self.run.log("llm", out.shape[1])
            self._prefill = None
        return None


#: feature-call arguments the adapters' item layouts are computed from
LAYOUT_ARGUMENTS = ("image_sizes", "batch_num_images", "vision_aspect_ratio", "image_grid_thw", "video_grid_thw",
                    "pixel_values_videos")


def _recording_call(original: Callable, *args, **kwargs):
    """Call ``original`` (a ``get_*_features`` method) and note on its output the arguments layouts need."""
    out = original(*args, **kwargs)
    try:
        bound = dict(inspect.signature(original).bind_partial(*args, **kwargs).arguments)
        bound.update(bound.pop("kwargs", {}) or {})
    except (TypeError, ValueError):
        bound = dict(kwargs)
    try:
        out._tokzoo_call = {k: bound[k] for k in LAYOUT_ARGUMENTS if bound.get(k) is not None}
    except AttributeError:  # a plain tuple (return_dict=False): nothing to annotate
        pass
    return out


def _reference(kwargs: dict) -> torch.Tensor:
    ids = kwargs.get("input_ids")
    if ids is not None:
        return ids
    return kwargs["inputs_embeds"][..., 0]


def _any_of(masks: dict[str, torch.Tensor], kwargs: dict) -> torch.Tensor:
    ref = _reference(kwargs)
    out = torch.zeros(ref.shape[:2], dtype=torch.bool, device=ref.device)
    for m in masks.values():
        out = out | m
    return out


#: the name this runtime had when it served LLaVA only (kept for imports written against it)
LlavaRuntime = DecoderRuntime
