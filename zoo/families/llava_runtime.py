"""The reversible machinery that shortens a LLaVA model's token sequence.

Two places can reduce tokens, and one ``zoo.apply`` may use both:

``vision``
    A *vision reducer* sees the selected vision features right before the multimodal
    projector (``[I, n, Cv]`` for ``I`` images) and returns fewer tokens per image (possibly a
    different number per image). The prompt's image placeholder span is shortened to match
    (rows that end up shorter are left-padded), positions are renumbered as if the image had
    produced fewer tokens, and every later decoding step's attention mask and position ids
    are mapped onto the shortened prompt.
``llm``
    *Prefill events* run inside the language model: before decoder layer ``e`` runs, a
    selector looks at the hidden states (and, on demand, at a few rows of one layer's
    attention, see :mod:`zoo.families.llava_probes`) and returns which tokens survive (and,
    optionally, new tokens to insert). Layers ``>= e`` then run on the shorter sequence;
    their KV cache holds only the survivors. Positions either keep their original values
    (``positions="keep"``, FastV) or are renumbered (``"compact"``, PyramidDrop, SparseVLM).
    In ``mode="mask"`` nothing is removed: layers ``>= e`` get an attention mask that hides
    the pruned tokens (FastV's accuracy-only variant).

Everything is installed as instance-level hooks recorded in a :class:`zoo.interface.Patch`
(plus one instance attribute wrapping ``LlavaModel.get_image_features`` to trim per-image
padding). State lives on this runtime object, tied to the KV cache object of the prefill that
created it; a decoding step with that cache is mapped, any other forward is left alone.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from zoo.families.llava_probes import causal_allowed, decoder_attention_rows, vision_queries_keys
from zoo.families.llava_sequence import (
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
    start with ``-1`` entries (they become padding, like left padding). extra ``[B, E, C]``:
    new tokens (e.g. merged/recycled ones) inserted before kept position ``extra_at[b]``
    (``0..K``); they count as image tokens and need ``positions="compact"``.
    """

    keep: torch.Tensor
    extra: torch.Tensor | None = None
    extra_at: torch.Tensor | None = None


@dataclass
class LlmEvent:
    """Reduce tokens right before decoder layer ``layer`` (layers ``0..layer-1`` see all tokens).

    ``score_layer`` (``layer - 1`` or ``layer``) is the layer whose attention the selector may
    read through :meth:`LlmContext.attention`: ``layer - 1`` means that layer's own attention
    as it ran; ``layer`` means the attention layer ``layer`` would compute on its input.
    """

    layer: int
    select: Callable[["LlmContext"], PruneSelection]
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

    def __init__(self, runtime: "LlavaRuntime", features: torch.Tensor, cls: torch.Tensor | None) -> None:
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
        logits = torch.matmul(q[:, :, :1].float(), k.float().transpose(-1, -2)) * scale
        return torch.softmax(logits, dim=-1)[:, :, 0, 1:]


class LlmContext:
    """What a prefill selector may read, for the sequence entering decoder layer ``layer``.

    ``hidden [B, N, C]``, ``image``/``valid`` ``[B, N]`` bool, ``positions [B, N]``,
    ``source [B, N]``: index of each token in the language model's input sequence (-1 for
    inserted tokens); ``input_hidden [B, N0, C]``, ``input_image``, ``input_valid``: the
    language model's input (layer 0).
    """

    def __init__(self, runtime: "LlavaRuntime", state: "_Prefill", layer: int, hidden: torch.Tensor,
                 probe: tuple | None) -> None:
        self._runtime = runtime
        self.layer = layer
        self.hidden = hidden
        self.image = state.image
        self.valid = state.valid
        self.positions = state.positions
        self.source = state.source
        self.input_hidden = state.input_hidden
        self.input_image = state.input_image
        self.input_valid = state.input_valid
        self._probe = probe

    @property
    def image_counts(self) -> torch.Tensor:
        """``[B]``: image tokens in each row."""
        return self.image.sum(-1)

    @property
    def n_image(self) -> int:
        """Image tokens per row when every row has the same number, else ``ValueError``."""
        counts = self.image_counts
        if bool((counts != counts[0]).any()):
            raise ValueError(f"rows hold different numbers of image tokens {counts.tolist()}; this method needs "
                             "the same number in every row (batch prompts with the same number of images, or "
                             "run rows one by one)")
        return int(counts[0])

    def last_valid(self) -> torch.Tensor:
        """``[B]``: index of the last non-padding token of each row (the last prompt token)."""
        idx = torch.arange(self.valid.shape[1], device=self.valid.device)
        return (idx * self.valid).argmax(-1)

    def locate(self, input_index: torch.Tensor) -> torch.Tensor:
        """Current indices ``[B, q]`` of language-model input tokens ``input_index [B, q]`` (which must survive)."""
        b, n = self.source.shape
        n0 = self.input_image.shape[1]
        where = torch.full((b, n0 + 1), -1, dtype=torch.long, device=self.source.device)
        dest = torch.where(self.source >= 0, self.source, n0)
        where.scatter_(1, dest, torch.arange(n, device=self.source.device).expand(b, n))
        pos = where.gather(1, input_index)
        if bool((pos < 0).any()):
            raise ValueError("locate(): some requested tokens were removed earlier")
        return pos

    def attention(self, queries: torch.Tensor) -> torch.Tensor:
        """``[B, H, q, N]`` softmax attention rows ``queries [B, q]`` of this event's score layer."""
        if self._probe is None:
            raise RuntimeError("this event declared no score_layer")
        attn, normed, pos_emb, valid = self._probe
        return decoder_attention_rows(attn, normed, pos_emb, causal_allowed(queries, valid), queries)

    def keep_top_images(self, scores: torch.Tensor, k) -> torch.Tensor:
        """Keep every non-image token and the ``k`` highest-scoring image tokens of each row.

        scores ``[B, N]`` (read at image positions only; ties go to the lower index); ``k`` an
        int or ``[B]`` per-row counts. Returns ascending ``keep [B, K]``, rows keeping fewer
        tokens left-padded with ``-1`` (see :class:`PruneSelection`).
        """
        counts = self.image_counts
        k = torch.as_tensor(k, device=counts.device).expand_as(counts)
        if bool((k < 0).any() or (k > counts).any()):
            raise ValueError(f"cannot keep {k.tolist()} of {counts.tolist()} image tokens")
        key = torch.where(self.image, scores.float(), torch.full_like(scores, float("inf"), dtype=torch.float))
        order = torch.argsort(key, dim=-1, descending=True, stable=True)
        n = self.image.shape[1]
        n_keep = n - counts + k  # [B]
        width = int(n_keep.max())
        rank = torch.arange(n, device=order.device).expand_as(order)
        chosen = torch.where(rank < n_keep[:, None], order, torch.full_like(order, n))
        chosen = torch.sort(chosen, dim=-1).values[:, :width]  # ascending, unused entries (= n) last
        shift = width - n_keep  # left-pad rows keeping fewer tokens
        idx = (torch.arange(width, device=order.device)[None] - shift[:, None])
        out = torch.gather(chosen, 1, idx.clamp(min=0))
        return torch.where(idx >= 0, out, torch.full_like(out, -1))


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
    vision: _VisionRewrite | None = None
    n_llm_input: int = 0
    views: dict[int, _DecodeView] = field(default_factory=dict)


@dataclass
class _Prefill:
    """The language model's current sequence during one prefill."""

    image: torch.Tensor
    valid: torch.Tensor
    positions: torch.Tensor
    source: torch.Tensor
    decode_column: torch.Tensor
    input_hidden: torch.Tensor | None = None
    input_image: torch.Tensor | None = None
    input_valid: torch.Tensor | None = None
    start: torch.Tensor | None = None
    n_valid_input: torch.Tensor | None = None
    changed: bool = False
    hidden: torch.Tensor | None = None
    mask: Any = None
    pos_emb: Any = None
    blocked: torch.Tensor | None = None
    probes: dict[int, tuple] = field(default_factory=dict)


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


class LlavaRuntime:
    """Hooks and per-forward state for one ``zoo.apply`` on one LLaVA model (see module doc)."""

    def __init__(self, adapter: Any, patch: Any, run: Any) -> None:
        self.adapter = adapter
        self.patch = patch
        self.run = run
        self.events: list[LlmEvent] = []
        self.positions = "keep"
        self.mode = "drop"
        self.vision_reducer: Callable[[VisionContext], VisionSelection | None] | None = None
        self.vision_probe_layers: set[int] = set()
        self.vision_captures: dict[int, torch.Tensor] = {}
        self._vision_cls: torch.Tensor | None = None
        self._vision_active = False
        self._vision_counts: torch.Tensor | None = None
        self._phase: str | None = None
        self._session: _Session | None = None
        self._prefill: _Prefill | None = None
        self._pending_image: torch.Tensor | None = None
        self._hooks_installed = False
        self._vision_installed = False

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
            if not 1 <= e.layer < depth:
                raise ValueError(f"event layer {e.layer} outside 1..{depth - 1} (the language model has {depth} layers)")
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

    def set_vision_reducer(self, reducer: Callable[[VisionContext], VisionSelection | None],
                           probe_layers: tuple[int, ...]) -> None:
        if self.vision_reducer is not None:
            raise ValueError("only one vision reducer per application (apply rejects two vision-encoder methods)")
        self.adapter.check_vision_reduction_supported()
        self.vision_reducer = reducer
        self.vision_probe_layers = {self.adapter.resolve_vision_layer(layer) for layer in probe_layers}
        self._install(new_events=[])

    def _install(self, new_events: list[LlmEvent]) -> None:
        patch, ad = self.patch, self.adapter
        if not self._hooks_installed:
            self._hooks_installed = True
            patch.add_hook(ad.model.register_forward_pre_hook(self._top_pre_hook, with_kwargs=True))
            patch.add_hook(ad.llava.register_forward_pre_hook(self._llava_pre_hook, with_kwargs=True))
            for idx, layer in enumerate(ad.layers):
                patch.add_hook(layer.register_forward_pre_hook(functools.partial(self._layer_pre_hook, idx),
                                                               with_kwargs=True))
            patch.add_hook(ad.layers[-1].register_forward_hook(self._last_layer_hook))
            patch.on_undo(self._reset)
        for e in new_events:
            if e.score_layer is not None and e.score_layer < e.layer:
                attn = ad.layers[e.score_layer].self_attn
                patch.add_hook(attn.register_forward_pre_hook(
                    functools.partial(self._score_capture_hook, e.score_layer), with_kwargs=True))
        if self.vision_reducer is not None and not self._vision_installed:
            self._vision_installed = True
            original = ad.llava.get_image_features

            @functools.wraps(original)
            def get_image_features(*args, **kwargs):
                return self._image_features(original, *args, **kwargs)

            patch.set_attr(ad.llava, "get_image_features", get_image_features)
            patch.add_hook(ad.projector.register_forward_pre_hook(self._projector_pre_hook))
            for layer in sorted(self.vision_probe_layers):
                patch.add_hook(ad.vision_layers[layer].self_attn.register_forward_pre_hook(
                    functools.partial(self._vision_capture_hook, layer), with_kwargs=True))
            patch.add_hook(ad.vision_layers[ad.vision_feature_layer_index].register_forward_hook(self._vision_cls_hook))

    def _reset(self) -> None:
        self._session = None
        self._prefill = None
        self._phase = None
        self.vision_captures = {}

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
        self.vision_captures = {}
        self._vision_cls = None
        try:
            out = original(*args, **kwargs)
        finally:
            self._vision_active = False
            self.vision_captures = {}
            self._vision_cls = None
        counts, self._vision_counts = self._vision_counts, None
        if counts is not None and hasattr(out, "pooler_output"):
            feats = out.pooler_output
            out.pooler_output = [f[: int(c)] for f, c in zip(feats, counts.tolist())]
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
        self.run.start("vision", n)
        sel = self.vision_reducer(VisionContext(self, features, self._vision_cls))
        if sel is None:
            self.run.log("vision", n)
            return None
        counts = sel.counts
        if counts is not None and bool((counts == sel.features.shape[1]).all()):
            counts = None
        self._vision_counts = counts
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

    def _llava_pre_hook(self, module, args, kwargs):
        ad = self.adapter
        if args:  # e.g. LlavaNextForConditionalGeneration passes input_ids positionally
            bound = inspect.signature(module.forward).bind_partial(*args, **kwargs)
            extra = bound.arguments.pop("kwargs", {})
            args, kwargs = (), {**bound.arguments, **extra}
        cache = _cache_of(kwargs)
        past = _cache_len(cache)
        ids, embeds = kwargs.get("input_ids"), kwargs.get("inputs_embeds")
        image = ad.image_mask(ids, embeds)
        self._prefill = None
        if past == 0:
            self._session = None
            if not bool(image.any()):
                self._phase = None
                return args, kwargs
            self._phase = "prefill"
            self._session = _Session()
            if self.vision_reducer is not None:
                kwargs = self._rewrite_prompt(module, kwargs, image)
                image = ad.image_mask(kwargs.get("input_ids"), kwargs.get("inputs_embeds"))
            self._pending_image = image
            self._start_prefill(kwargs, image)
            return args, kwargs
        session = self._session
        if session is None or session.cache_ref is None or session.cache_ref() is not cache:
            self._phase = None
            return args, kwargs
        if bool(image.any()):
            raise ValueError("tokzoo: new image tokens after a reduced prefill (chunked prefill or a multi-turn "
                             "cache) are not supported while a method is applied")
        self._phase = "decode"
        if session.vision is not None:
            kwargs = self._map_decode_prompt(kwargs, session.vision)
        return args, kwargs

    def _rewrite_prompt(self, module, kwargs: dict, image: torch.Tensor) -> dict:
        """Shorten each image's placeholder span to the number of features the reducer returned."""
        ad = self.adapter
        mm = dict(kwargs.get("mm_encoder_outputs") or {})
        if mm.get("image") is None:
            if kwargs.get("pixel_values") is None:
                return kwargs
            mm["image"] = module.get_image_features(
                pixel_values=kwargs["pixel_values"],
                vision_feature_layer=kwargs.get("vision_feature_layer"),
                vision_feature_select_strategy=kwargs.get("vision_feature_select_strategy"),
                image_sizes=kwargs.get("image_sizes"),
                return_dict=True,
            )
            kwargs["pixel_values"] = None
            kwargs["mm_encoder_outputs"] = mm
        feats = mm["image"].pooler_output
        counts = torch.tensor([f.shape[0] for f in feats], device=image.device)
        total = int(image.sum())
        if total % len(feats):
            raise ValueError(f"{total} image placeholder tokens cannot be split evenly over {len(feats)} images")
        span = total // len(feats)
        if bool((counts == span).all()):
            return kwargs
        if bool((counts > span).any()):
            raise ValueError(f"a vision reducer returned more tokens ({counts.max()}) than the image has ({span})")
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
        return kwargs

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
        if pos is not None:
            kwargs["position_ids"] = pos - vr.shift[:, None]
        return kwargs

    # ------------------------------------------------------------------ language-model side
    def _start_prefill(self, kwargs: dict, image: torch.Tensor) -> None:
        b, n = image.shape
        mask = kwargs.get("attention_mask")
        valid = mask.bool() if mask is not None else torch.ones_like(image)
        pos = kwargs.get("position_ids")
        positions = (pos if pos is not None else torch.arange(n, device=image.device)[None]).expand(b, n)
        source = torch.arange(n, device=image.device).expand(b, n)
        self._prefill = _Prefill(image=image, valid=valid, positions=positions, source=source,
                                 decode_column=source, input_image=image, input_valid=valid,
                                 start=first_valid_position(positions, valid), n_valid_input=valid.sum(-1))
        self._session.n_llm_input = n

    def _score_capture_hook(self, layer: int, module, args, kwargs):
        st = self._prefill
        if self._phase == "prefill" and st is not None:
            normed = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
            st.probes[layer] = (module, normed, kwargs["position_embeddings"], st.valid)

    def _layer_pre_hook(self, idx: int, module, args, kwargs):
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
            if not st.changed:
                st.mask = kwargs.get("attention_mask")
                st.pos_emb = kwargs.get("position_embeddings")
            probe = None
            if event.score_layer == idx:
                attn = module.self_attn
                probe = (attn, module.input_layernorm(hidden), st.pos_emb, st.valid)
            elif event.score_layer is not None:
                probe = st.probes.get(event.score_layer)
                if probe is None:
                    raise RuntimeError(f"no attention captured at layer {event.score_layer}")
            sel = event.select(LlmContext(self, st, idx, hidden, probe))
            n_before = self._effective_tokens(st)
            hidden = self._apply_selection(idx, st, sel, hidden, kwargs)
            n_after = self._effective_tokens(st)
            self.run.log_event("llm", idx - 1, "prune" if sel.extra is None else "prune+merge", n_before, n_after)
            st.probes.clear()
        if st.changed:
            if st.hidden is not None and event is not None:
                args = (hidden,) + tuple(args[1:]) if args else args
                if not args:
                    kwargs["hidden_states"] = hidden
            kwargs["attention_mask"] = st.mask
            kwargs["position_embeddings"] = st.pos_emb
            kwargs["position_ids"] = st.positions
        if idx > 0:
            self.run.log("llm", hidden.shape[1])
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
            if sel.extra is not None:
                raise ValueError("inserted tokens are not possible in the attention-mask variant")
            kept = torch.zeros((n_rows := keep.shape[0], n + 1), dtype=torch.bool, device=keep.device)
            kept.scatter_(1, torch.where(keep < 0, n, keep), True)
            blocked = st.image & ~kept[:n_rows, :n]
            st.blocked = blocked if st.blocked is None else (st.blocked | blocked)
            st.mask = block_key_columns(kwargs.get("attention_mask"), st.blocked, q=n, kv=n,
                                        dtype=hidden.dtype, keep_diagonal=True)
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
        image = st.image.gather(1, keep) & ~slots
        valid = st.valid.gather(1, keep) & ~slots
        source = st.source.gather(1, keep).masked_fill(slots, -1)
        decode_column = st.decode_column.gather(1, keep)
        positions = st.positions.gather(1, keep).masked_fill(slots, 0)
        mask = st.mask if st.changed else kwargs.get("attention_mask")
        padded = bool(slots.any())
        if sel.extra is None and not padded:
            mask = select_prefill_mask(mask, keep)
        elif sel.extra is None:
            mask = self._rebuild_mask(valid, new_hidden.dtype)
        else:
            if padded:
                raise ValueError("inserted tokens need the same kept count in every row")
            if self.positions != "compact":
                raise ValueError("inserting tokens needs positions='compact'")
            new_hidden, order = self._insert(new_hidden, sel.extra.to(new_hidden.dtype), sel.extra_at)
            e = sel.extra.shape[1]
            fill = torch.ones((keep.shape[0], e), dtype=torch.bool, device=keep.device)
            anchor = decode_column.gather(1, (sel.extra_at - 1).clamp(min=0)[:, None]).expand(-1, e)
            image = torch.cat([image, fill], 1).gather(1, order)
            valid = torch.cat([valid, fill], 1).gather(1, order)
            source = torch.cat([source, torch.full_like(anchor, -1)], 1).gather(1, order)
            entering = torch.cat([entering, torch.full_like(anchor, -1)], 1).gather(1, order)
            decode_column = torch.cat([decode_column, anchor], 1).gather(1, order)
            positions = torch.cat([positions, torch.zeros_like(anchor)], 1).gather(1, order)
            mask = self._rebuild_mask(valid, new_hidden.dtype)
        if self.positions == "compact":
            positions = compact_positions(valid, st.start)
            pos_emb = ad.rotary(new_hidden, positions)
            shift = st.n_valid_input - valid.sum(-1)
        else:
            cos, sin = st.pos_emb if st.changed else kwargs["position_embeddings"]
            pos_emb = (gather_tokens(cos, keep), gather_tokens(sin, keep))
            shift = None
        st.image, st.valid, st.source, st.decode_column, st.positions = image, valid, source, decode_column, positions
        st.mask, st.pos_emb, st.hidden, st.changed = mask, pos_emb, new_hidden, True
        # cached padding slots (this event's or an earlier one's) must stay hidden from decoding queries
        slot_cols = ~valid & (source < 0)
        view = _DecodeView(source_column=decode_column, pos_shift=shift,
                           blocked=slot_cols if bool(slot_cols.any()) else None)
        for layer in range(idx, len(ad.layers)):
            self._session.views[layer] = view
        if self.run.record_indices:
            self.run.kept_indices.setdefault("llm", []).append(entering)
        return new_hidden

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
        view = self._session.views.get(idx)
        if view is None:
            return None
        mask = kwargs.get("attention_mask")
        hidden = args[0] if args else kwargs["hidden_states"]
        q = hidden.shape[1]
        past = _cache_len(_cache_of(kwargs), idx)
        if view.source_column is not None:
            mask = map_decode_mask(mask, view.source_column, self._session.n_llm_input)
            if mask is not None and mask.shape[-1] != past + q:
                raise RuntimeError(f"tokzoo: decoding mask of layer {idx} covers {mask.shape[-1]} keys but the "
                                   f"layer caches {past} + {q}; the cache was modified outside the reduced prefill")
        if view.blocked is not None:
            mask = self._hide_columns(mask, view.blocked, q=q, kv=past + q)
        kwargs["attention_mask"] = mask
        if view.pos_shift is not None:
            pos = kwargs["position_ids"] - view.pos_shift[:, None]
            kwargs["position_ids"] = pos
            kwargs["position_embeddings"] = self.adapter.rotary(hidden, pos)
        return args, kwargs

    def _last_layer_hook(self, module, args, output):
        if self._phase == "prefill" and self._prefill is not None:
            out = output[0] if isinstance(output, tuple) else output
            self.run.log("llm", out.shape[1])
            self._prefill = None
        return None
