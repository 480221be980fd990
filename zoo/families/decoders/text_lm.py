"""Adapter for text-only Hugging Face causal LMs (``LlamaForCausalLM``, ``Qwen2ForCausalLM``,
``MistralForCausalLM``), for methods that reduce prompt tokens (GemFilter, the controls).

There are no visual tokens: the reducible tokens of the generic primitives are the prompt
tokens, except the last one of each row (it produces the next token). Methods that select
among all prompt tokens (GemFilter) use :class:`~zoo.families.decoders.runtime.PruneSelection`
directly. Positions: 1-D RoPE. Mistral's sliding-window attention is supported while the
prompt fits in the window (the runtime refuses longer prompts).
"""

from __future__ import annotations

from typing import Any, ClassVar

from zoo.families.decoders.base import DecoderAdapter


class TextLMAdapter(DecoderAdapter):
    """Text-only causal LMs with Llama-style decoder layers."""

    name: ClassVar[str] = "text-lm"
    model_types: ClassVar[tuple[str, ...]] = ("llama", "qwen2", "mistral")
    model_classes: ClassVar[tuple[str, ...]] = ("LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM")
    stages: ClassVar[tuple[str, ...]] = ("llm",)
    needs_visual_tokens: ClassVar[bool] = False
    token_attrs: ClassVar[dict[str, str]] = {}
    provides: ClassVar[frozenset[str]] = frozenset({"prompt-tokens", "decoder-attention"})
    lacks: ClassVar[dict[str, str]] = {
        "media-tokens": "a text-only language model has no image, video or audio tokens",
        "visual-tokens": "a text-only language model has no image or video tokens",
        "item-grid": "a text-only language model has no image or video tokens",
        "vision-cls": "a text-only language model has no vision tower"}

    @staticmethod
    def _language_model(model: Any):
        return model.model

    @classmethod
    def matches(cls, model: Any) -> bool:
        cfg = getattr(model, "config", None)
        inner = getattr(model, "model", None)
        return (getattr(cfg, "model_type", None) in cls.model_types and inner is not None
                and hasattr(inner, "layers") and hasattr(model, "lm_head"))

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        return {}

    def reducible(self, ctx: Any):
        import torch

        last = torch.zeros_like(ctx.valid)
        last.scatter_(1, ctx.last_valid()[:, None], True)
        return ctx.valid & ~last & (ctx.source >= 0)
