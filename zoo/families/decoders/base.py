"""What every decoder adapter offers: the language model's structure and the runtime's primitives.

A decoder adapter wraps one Hugging Face model and answers, for the shared
:mod:`zoo.families.decoders.runtime`, the questions that differ per model class:

- where the language model is (``outer``: the module whose forward receives ``input_ids``,
  pixel inputs and the cache and calls the decoder; ``lm``: the decoder stack with
  ``layers``, ``rotary_emb`` and ``norm``);
- how placeholder spans are found per modality (:meth:`DecoderAdapter.placeholder_masks`)
  and how each item's tokens are laid out (:meth:`DecoderAdapter.item_layouts`, see
  :mod:`zoo.families.decoders.layout`);
- how positions work (``position_kind``: ``"1d"`` RoPE or Qwen's ``"mrope"``);
- which *signals* the model offers methods (:data:`SIGNALS`): a method lists what it needs
  (``Method.needs``), and :mod:`zoo.families.decoders.support` derives the method x model
  support matrix and the reason when a signal is missing.

Layer convention for the language model: an event at ``layer=e`` reduces the tokens *before*
decoder layer ``e`` runs, i.e. after ``e`` layers have seen all tokens (FastV's ``K``,
PyramidDrop's stage boundaries); ``e = 0`` acts on the language model's input.

transformers: the adapters rely on the 5.x decoder layout (decoder layers return a tensor,
the ``cache`` keyword, ``mm_encoder_outputs`` pre-encoding in ``generate``). Each adapter
declares ``supported_transformers`` and ``tested_transformers``; versions below 5.0 are
refused, other 5.x versions outside the tested range warn.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, ClassVar

from zoo.families.base import FamilyAdapter

#: transformers versions the decoder adapters were tested with (the test suite checks the installed one)
TESTED_TRANSFORMERS: tuple[str, ...] = ("5.24.0",)
#: the range the decoder adapters declare support for
SUPPORTED_TRANSFORMERS = ">=5.24,<6"

#: signal -> what it is; adapters ``provide`` a subset, methods ``need`` a subset
SIGNALS: dict[str, str] = {
    "media-tokens": "placeholder spans of media items (images, videos or audio clips) in the prompt, each token's "
                    "modality known (the tokens modality-agnostic methods reduce)",
    "visual-tokens": "placeholder spans of images/videos in the prompt (the tokens visual methods reduce)",
    "audio-tokens": "placeholder spans of audio clips in the prompt, one token per time step (the tokens speech "
                    "methods merge along time)",
    "prompt-tokens": "prompt tokens of a text-only language model (the tokens prompt methods reduce)",
    "decoder-attention": "rows of a decoder layer's attention and its keys, recomputed on demand (Llama-style "
                         "attention with q_proj/k_proj and rotary embeddings)",
    "item-grid": "each image/video token's grid coordinates (frame, row, column)",
    "vision-cls": "the vision tower's [CLS] token, its attention over the patches and the patch keys, before "
                  "the projector (LLaVA-1.5; LLaVA-NeXT per anyres tile)",
}


def _version_tuple(version: str) -> tuple[int, int]:
    parts = version.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"cannot parse transformers version {version!r}") from exc


def check_transformers_version(version: str, adapter: str = "decoder") -> None:
    """Refuse transformers < 5 (incompatible decoder layout); warn outside the tested 5.x range."""
    major, minor = _version_tuple(version)
    if major < 5:
        raise RuntimeError(f"tokzoo's {adapter} adapter needs transformers {SUPPORTED_TRANSFORMERS} "
                           f"(found {version}): 4.x decoder layers return tuples and take past_key_value(s)")
    if (major, minor) < (5, 24) or major >= 6:
        warnings.warn(f"tokzoo's {adapter} adapter is tested with transformers {', '.join(TESTED_TRANSFORMERS)} "
                      f"(declared {SUPPORTED_TRANSFORMERS}); found {version}", stacklevel=3)


class DecoderAdapter(FamilyAdapter):
    """Base of every Hugging Face decoder adapter (see the module docstring)."""

    name: ClassVar[str] = ""
    #: ``config.model_type`` values this adapter serves
    model_types: ClassVar[tuple[str, ...]] = ()
    #: the transformers classes it serves (shown in the support matrix)
    model_classes: ClassVar[tuple[str, ...]] = ()
    stages: ClassVar[tuple[str, ...]] = ("vision", "llm")
    pruning_stage: ClassVar[str] = "llm"
    position_kind: ClassVar[str] = "1d"
    #: a prefill without any media token is left alone (VLMs, audio LMs); text-only LMs act on every prompt
    needs_visual_tokens: ClassVar[bool] = True
    #: placeholder token attribute of the config per modality
    token_attrs: ClassVar[dict[str, str]] = {"image": "image_token_id"}
    provides: ClassVar[frozenset[str]] = frozenset({"media-tokens", "visual-tokens", "decoder-attention", "item-grid"})
    #: signal -> why this model class does not offer it
    lacks: ClassVar[dict[str, str]] = {}
    supported_transformers: ClassVar[str] = SUPPORTED_TRANSFORMERS
    tested_transformers: ClassVar[tuple[str, ...]] = TESTED_TRANSFORMERS

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        import transformers

        check_transformers_version(transformers.__version__, self.name)
        self.config = model.config
        self.outer = self._outer(model)
        self.lm = self._language_model(model)
        self.layers = self.lm.layers
        self._runtime = None

    # ----------------------------------------------------------------- structure (subclasses)
    @staticmethod
    def _outer(model: Any):
        return model.model

    @staticmethod
    def _language_model(model: Any):
        return model.model.language_model

    @classmethod
    def matches(cls, model: Any) -> bool:
        cfg = getattr(model, "config", None)
        inner = getattr(model, "model", None)
        return (getattr(cfg, "model_type", None) in cls.model_types and inner is not None
                and hasattr(inner, "language_model") and cls._structure_ok(inner))

    @classmethod
    def _structure_ok(cls, inner: Any) -> bool:
        return True

    def depth(self, stage: str) -> int:
        if stage == "llm":
            return len(self.layers)
        if stage == "vision" and "vision" in self.stages:
            return len(self.vision_layers)
        raise ValueError(f"{self.name} has stages {self.stages}, not {stage!r}")

    @property
    def text_config(self) -> Any:
        return getattr(self.config, "text_config", None) or self.config

    @property
    def attn_implementation(self) -> str:
        return str(self.lm.config._attn_implementation)

    @property
    def sliding_window(self) -> int | None:
        """The attention window when some layer uses sliding-window attention, else ``None``."""
        cfg = self.lm.config
        types = getattr(cfg, "layer_types", None)
        window = getattr(cfg, "sliding_window", None)
        if types is not None:
            return window if "sliding_attention" in types else None
        return window if getattr(cfg, "model_type", "") == "mistral" else None

    @property
    def token_ids(self) -> dict[str, int]:
        """Modality -> placeholder token id."""
        return {m: int(getattr(self.config, a)) for m, a in self.token_attrs.items()}

    @property
    def image_token_id(self) -> int:
        return self.token_ids["image"]

    @property
    def pad_token_id(self) -> int:
        ids = set(self.token_ids.values())
        for cfg in (self.config, self.text_config):
            pad = getattr(cfg, "pad_token_id", None)
            if pad is not None and pad not in ids:
                return int(pad)
        return next(i for i in range(len(ids) + 1) if i not in ids)

    @property
    def final_norm(self):
        return self.lm.norm

    def placeholder_masks(self, input_ids, inputs_embeds) -> dict:
        """Modality -> ``[B, N]`` bool placeholder mask, from ``input_ids`` or the placeholder embeddings."""
        import torch

        out = {}
        for modality, tid in self.token_ids.items():
            if input_ids is not None:
                out[modality] = input_ids == tid
            else:
                emb = self.outer.get_input_embeddings()(torch.tensor(tid, device=inputs_embeds.device))
                out[modality] = (inputs_embeds == emb.to(inputs_embeds.dtype)).all(-1)
        return out

    def check_prefill_inputs(self, kwargs: dict, masks: dict) -> None:
        """Refuse a prefill whose placeholders the model would rearrange (``kwargs``: what ``outer`` got;
        ``masks``: modality -> ``[B, N]`` placeholder mask). Default: nothing to check."""

    def image_mask(self, input_ids, inputs_embeds):
        """``[B, N]`` bool: image placeholder tokens of the prompt."""
        return self.placeholder_masks(input_ids, inputs_embeds)["image"]

    def rotary(self, hidden, positions):
        """``(cos, sin)`` of the language model's rotary embedding at 1-D ``positions [B, N]``."""
        return self.lm.rotary_emb(hidden, position_ids=positions)

    @staticmethod
    def cached_keys(cache: Any, layer: int):
        """``[B, H_kv, T, D]`` keys (after RoPE) cached by decoder layer ``layer``."""
        layers = getattr(cache, "layers", None)
        if layers is None or getattr(layers[layer], "keys", None) is None:
            raise TypeError(f"tokzoo reads cached keys from a DynamicCache-style cache (.layers[i].keys); "
                            f"got {type(cache).__name__}")
        return layers[layer].keys

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        """Modality -> the :class:`~zoo.families.decoders.layout.ItemLayout` of every item, in input order.

        ``kwargs``: the arguments ``outer`` received; ``masks``: the placeholder masks;
        ``skip``: modalities to leave out. Subclasses implement it."""
        raise NotImplementedError(f"the {self.name} adapter does not describe its item layouts")

    def unsupported_reason(self, method: Any) -> str:
        """Why ``method`` cannot run on this model ("" when nothing is known): the signals it needs that this
        model class does not offer (see :mod:`zoo.families.decoders.support`)."""
        from zoo.families.decoders.support import missing_reason

        needs = tuple(getattr(method, "needs", ()) or ())
        return missing_reason(method.id, needs, self.name) if needs else ""

    # ----------------------------------------------------------------- vision side (subclasses)
    def check_vision_reduction_supported(self) -> None:
        reason = self.lacks.get("vision-cls", "this adapter has no vision-encoder reduction path")
        raise ValueError(f"vision-encoder methods need the vision tower's [CLS] attention before the projector; "
                         f"{self.name}: {reason}")

    def install_vision_reduction(self, patch: Any, run: Any, reducer: Callable, *,
                                 probe_layers: tuple[int, ...] = ()) -> None:
        """Install a vision reducer (see :class:`zoo.families.decoders.runtime.VisionContext`)."""
        self.runtime(patch, run).set_vision_reducer(reducer, tuple(probe_layers))

    # ----------------------------------------------------------------- primitives for methods
    def runtime(self, patch: Any, run: Any):
        from zoo.families.decoders.runtime import DecoderRuntime

        if self._runtime is None:
            self._runtime = DecoderRuntime(self, patch, run)
        elif self._runtime.patch is not patch:
            raise RuntimeError(f"one {type(self).__name__} serves one zoo.apply call")
        return self._runtime

    def install_llm_reduction(self, patch: Any, run: Any, events: list, *, positions: str = "keep",
                              mode: str = "drop") -> None:
        """Install prefill events (:class:`zoo.families.decoders.runtime.LlmEvent`) in the language model."""
        from zoo.families.decoders.probes import check_decoder_attention

        for e in events:
            if e.score_layer is not None:
                check_decoder_attention(self.layers[e.score_layer].self_attn)
                if e.score_layer == e.layer and not hasattr(self.layers[e.layer], "input_layernorm"):
                    raise TypeError(f"{type(self.layers[e.layer]).__name__} has no input_layernorm")
        self.runtime(patch, run).add_llm_events(list(events), positions=positions, mode=mode)

    def install_decode_reduction(self, patch: Any, run: Any, events: list) -> None:
        """Install decoding-step events (:class:`zoo.families.decoders.runtime.DecodeEvent`)."""
        from zoo.families.decoders.probes import check_decoder_attention

        for e in events:
            if e.score_layer is not None:
                check_decoder_attention(self.layers[e.score_layer].self_attn)
        self.runtime(patch, run).add_decode_events(list(events))

    def reducible(self, ctx: Any):
        """``[B, N]`` bool: the tokens the generic primitives reduce (VLMs/audio LMs: the media tokens)."""
        return ctx.image

    def install_token_pruning(self, patch: Any, run: Any, *, layer: int, keep_ratio: float | None = None,
                              keep_tokens: int | None = None, scorer: Callable) -> None:
        """Generic primitive (``zoo.families.base``): prune reducible tokens leaving decoder layer ``layer``.

        The tokens entering decoder layer ``layer + 1`` are reduced: ``scorer(hidden [1, n, C])
        -> [1, n]`` scores the reducible tokens output by layer ``layer`` (VLMs/audio LMs: the
        media tokens; text-only LMs: every prompt token but the last), one row at a time (rows may
        hold different numbers of them, and a row's result never depends on the rest of the
        batch); the ``zoo.core.select.keep_count(n, keep_ratio, keep_tokens)`` highest survive,
        other tokens are never removed and positions keep their original values (as FastV).
        FastV's ``K`` corresponds to ``layer = K - 1``: ``random`` with ``layers=K-1`` prunes at
        FastV's place.
        """
        from zoo.core.select import keep_count
        from zoo.families.decoders.runtime import LlmEvent

        depth = len(self.layers)
        if not 0 <= layer < depth - 1:
            raise ValueError(f"{self.name} prunes tokens leaving decoder layer 0..{depth - 2} "
                             f"(pruning after the last of {depth} layers saves nothing); got layer={layer}")
        adapter = self

        def select(ctx):
            import torch

            among = adapter.reducible(ctx)
            scores = torch.zeros(among.shape, dtype=torch.float64, device=ctx.hidden.device)
            ks = []
            for b in range(ctx.hidden.shape[0]):  # row by row: a row's result never depends on the batch
                sel = among[b]
                scores[b, sel] = scorer(ctx.hidden[b, sel][None]).reshape(-1).double()
                ks.append(keep_count(int(sel.sum()), keep_ratio, keep_tokens))
            return _selection(ctx.keep_top(scores, ks, among))

        self.install_llm_reduction(patch, run, [LlmEvent(layer=layer + 1, select=select)], positions="keep")


def _selection(keep):
    from zoo.families.decoders.runtime import PruneSelection

    return PruneSelection(keep=keep)
