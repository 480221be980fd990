"""Adapter for Hugging Face ``Qwen2AudioForConditionalGeneration`` (Qwen2-Audio: a speech/audio LLM).

Layout: a Whisper-style audio encoder (two strided convolutions over the log-mel frames, a
transformer, then average pooling by 2: 3000 mel frames of a 30 s clip -> 1500 encoder
frames -> 750 audio tokens, one per 40 ms), a linear projector, and a Qwen2 decoder.

- Audio clips (``audio_token_id``, ``<|AUDIO|>``): the processor expands each clip's
  placeholder to one token per audio feature, so a clip is a run of
  ``pooled_length(feature_attention_mask.sum())`` placeholders that the model overwrites with
  the projected features (``masked_scatter``, clips in ``input_features`` order). tokzoo
  needs those expanded prompts: the model's legacy path (one placeholder per clip, expanded
  inside ``forward``) changes the sequence length behind the runtime and is refused.
- Items: every clip is one :class:`~zoo.families.decoders.layout.VisualItem` of modality
  ``"audio"``; its tokens carry coordinates ``(0, 0, 0, t)`` (``t`` = time step), grid
  ``(1, 1, T)``, so methods can find clip boundaries and time order. The 1-D time axis is
  not a ``(frame, row, column)`` image grid: the ``item-grid`` signal is not offered, and
  spatial methods (the pooling control, video methods) refuse with that reason.
- Positions: 1-D RoPE (as LLaVA): ``generate`` gives position ids from the attention mask.

Methods that act on the media span of the prompt (``media-tokens``: FastV, PyramidDrop,
DivPrune, SparseVLM, DART, the random control, FastAdaSP) run on the audio tokens; methods
that need image/video tokens (``visual-tokens``), the vision tower's [CLS] attention or an
image grid do not, and say why.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zoo.families.decoders.base import DecoderAdapter


class Qwen2AudioAdapter(DecoderAdapter):
    """Hugging Face ``Qwen2AudioForConditionalGeneration``."""

    name: ClassVar[str] = "qwen2-audio"
    model_types: ClassVar[tuple[str, ...]] = ("qwen2_audio",)
    model_classes: ClassVar[tuple[str, ...]] = ("Qwen2AudioForConditionalGeneration",)
    stages: ClassVar[tuple[str, ...]] = ("audio", "llm")
    token_attrs: ClassVar[dict[str, str]] = {"audio": "audio_token_id"}
    provides: ClassVar[frozenset[str]] = frozenset({"media-tokens", "audio-tokens", "decoder-attention"})
    lacks: ClassVar[dict[str, str]] = {
        "visual-tokens": "Qwen2-Audio prompts hold audio tokens, no image or video tokens",
        "item-grid": "audio tokens form a 1-D time sequence (one token per 40 ms), not a (frame, row, column) grid",
        "vision-cls": "it has no vision tower (its Whisper-style audio encoder has no [CLS] token)",
        "prompt-tokens": "tokzoo's prompt-token methods serve text-only LMs; on Qwen2-Audio the tokens to reduce are "
                         "its audio tokens (media-tokens)"}

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.audio_tower = model.model.audio_tower
        self.audio_layers = self.audio_tower.layers

    @classmethod
    def _structure_ok(cls, inner: Any) -> bool:
        return hasattr(inner, "audio_tower") and hasattr(inner, "multi_modal_projector")

    def depth(self, stage: str) -> int:
        if stage == "audio":
            return len(self.audio_layers)
        return super().depth(stage)

    def audio_token_counts(self, kwargs: dict):
        """``[A]`` audio tokens of every clip of ``input_features``, from ``feature_attention_mask`` (None when
        the call carries no audio features)."""
        if kwargs.get("input_features") is None:
            return None
        mask = kwargs.get("feature_attention_mask")
        if mask is None:
            raise ValueError("qwen2-audio: input_features need a feature_attention_mask (one row per clip, 1 for "
                             "the mel frames of the clip), as Qwen2AudioProcessor returns")
        return self.audio_tower._get_feat_extract_output_lengths(mask.sum(-1))[1]

    def check_prefill_inputs(self, kwargs: dict, masks: dict) -> None:
        """Refuse prompts whose audio placeholders do not match the clips (e.g. the legacy single placeholder)."""
        counts = self.audio_token_counts(kwargs)
        if counts is None:
            return
        given, need = int(masks["audio"].sum()), int(counts.sum())
        if given != need:
            raise ValueError(f"qwen2-audio: the prompt holds {given} audio placeholder tokens but the "
                             f"{counts.numel()} clip(s) give {need} audio tokens ({counts.tolist()}); tokzoo needs "
                             "every <|AUDIO|> expanded to one placeholder per audio token, as Qwen2AudioProcessor "
                             "does (the model's legacy in-forward expansion changes the sequence behind the method)")

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        from zoo.families.decoders.layout import ItemLayout, time_coords

        if "audio" in skip or not bool(masks["audio"].any()):
            return {}
        counts = self.audio_token_counts(kwargs)
        if counts is None:
            raise ValueError("qwen2-audio audio layouts need input_features and feature_attention_mask")
        return {"audio": [ItemLayout("audio", time_coords(int(n)), ((1, 1, int(n)),)) for n in counts.tolist()]}
