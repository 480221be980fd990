"""Adapters for Hugging Face ``Qwen2VLForConditionalGeneration`` and ``Qwen2_5_VLForConditionalGeneration``.

Layout: a native-resolution ViT (Qwen2.5-VL: window attention in most blocks, full
attention in a few; no [CLS] token) whose patch merger fuses ``2 x 2`` patches into one
token, and a Qwen2 decoder with 3-D multimodal rotary positions (M-RoPE).

- Images (``image_token_id``) and videos (``video_token_id``): one span per item of
  ``t * (h / m) * (w / m)`` tokens for its ``image_grid_thw`` / ``video_grid_thw`` row
  ``(t, h, w)`` (``m = spatial_merge_size``), in ``(frame, row, column)`` order; both may
  share a prompt, several per row.
- Positions: every token has a 3-D position (temporal, height, width; text tokens use the
  same value three times, and the text after an item continues at ``start + max(h, w) / m``).
  ``generate`` computes them once (``get_rope_index``, which needs ``mm_token_type_ids``)
  and keeps ``rope_deltas`` for decoding. tokzoo keeps every survivor's original 3-D
  position (the rotary tables of the kept tokens are gathered) and leaves the decoding
  positions and ``rope_deltas`` as the unreduced prompt defines them, so a reduced prefill
  followed by cached decoding computes what the same kept tokens give without cache.

Every llm-prefill method runs on these models; vision-encoder methods that need a [CLS]
token do not.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zoo.families.decoders.base import DecoderAdapter


class Qwen2VLAdapter(DecoderAdapter):
    """Hugging Face ``Qwen2VLForConditionalGeneration``."""

    name: ClassVar[str] = "qwen2-vl"
    model_types: ClassVar[tuple[str, ...]] = ("qwen2_vl",)
    model_classes: ClassVar[tuple[str, ...]] = ("Qwen2VLForConditionalGeneration",)
    position_kind: ClassVar[str] = "mrope"
    token_attrs: ClassVar[dict[str, str]] = {"image": "image_token_id", "video": "video_token_id"}
    lacks: ClassVar[dict[str, str]] = {
        "vision-cls": "its vision tower has no [CLS] token (native-resolution ViT with a 2x2 patch merger)"}

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.visual = model.model.visual
        self.vision_layers = self.visual.blocks

    @classmethod
    def _structure_ok(cls, inner: Any) -> bool:
        return hasattr(inner, "visual") and hasattr(inner, "get_rope_index")

    def rotary(self, hidden, positions):
        raise RuntimeError("M-RoPE models keep their original 3-D positions; tokzoo never renumbers them")

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        from zoo.families.decoders.layout import ItemLayout, grid_coords

        m = int(self.config.vision_config.spatial_merge_size)
        out: dict = {}
        for modality, key in (("image", "image_grid_thw"), ("video", "video_grid_thw")):
            if modality in skip or not bool(masks[modality].any()):
                continue
            thw = kwargs.get(key)
            if thw is None:
                raise ValueError(f"{self.name} {modality} layouts need {key} (one (t, h, w) row per {modality})")
            items = []
            for t, h, w in thw.tolist():
                g = (int(t), int(h) // m, int(w) // m)
                items.append(ItemLayout(modality, grid_coords(*g), (g,)))
            out[modality] = items
        return out


class Qwen2_5_VLAdapter(Qwen2VLAdapter):
    """Hugging Face ``Qwen2_5_VLForConditionalGeneration`` (window-attention vision tower)."""

    name: ClassVar[str] = "qwen2.5-vl"
    model_types: ClassVar[tuple[str, ...]] = ("qwen2_5_vl",)
    model_classes: ClassVar[tuple[str, ...]] = ("Qwen2_5_VLForConditionalGeneration",)
    lacks: ClassVar[dict[str, str]] = {
        "vision-cls": "its vision tower has no [CLS] token (window attention and a 2x2 patch merger)"}
