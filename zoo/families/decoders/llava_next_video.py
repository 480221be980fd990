"""Adapter for Hugging Face ``LlavaNextVideoForConditionalGeneration`` (LLaVA-NeXT-Video: images and video).

Layout: a CLIP vision tower, a spatial pooler, a two-layer projector, a Llama/Mistral decoder.

- Images (``image_token_id``): anyres like LLaVA-NeXT (base tile + unpadded
  high-resolution grid with a newline token per row).
- Videos (``video_token_id``): every frame encoded as one tile, pooled before the projector
  (``spatial_pool_stride``, average pooling by default: 24 x 24 -> 12 x 12), frames
  concatenated without separators. Images and videos may share a prompt.

Every llm-prefill method runs on it. Vision-encoder methods are not supported (anyres tiles
and pooled video frames are not the one-feature-set-per-image layout they need).
Positions: 1-D RoPE.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zoo.families.decoders.base import DecoderAdapter
from zoo.families.decoders.llava_onevision import _video_frames


class LlavaNextVideoAdapter(DecoderAdapter):
    """Hugging Face ``LlavaNextVideoForConditionalGeneration``."""

    name: ClassVar[str] = "llava-next-video"
    model_types: ClassVar[tuple[str, ...]] = ("llava_next_video",)
    model_classes: ClassVar[tuple[str, ...]] = ("LlavaNextVideoForConditionalGeneration",)
    token_attrs: ClassVar[dict[str, str]] = {"image": "image_token_id", "video": "video_token_id"}
    lacks: ClassVar[dict[str, str]] = {
        "vision-cls": "anyres images are encoded per tile and packed with newline tokens, video frames are pooled "
                      "before the projector; tokzoo's vision-encoder path serves one feature set per image"}

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        inner = model.model
        self.vision_tower = inner.vision_tower
        vm = getattr(self.vision_tower, "vision_model", self.vision_tower)
        self.vision_layers = vm.encoder.layers

    @classmethod
    def _structure_ok(cls, inner: Any) -> bool:
        return all(hasattr(inner, a) for a in ("vision_tower", "multi_modal_projector", "vision_resampler"))

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        from zoo.families.decoders.anyres import anyres_layout, tile_grid
        from zoo.families.decoders.layout import ItemLayout, grid_coords

        out: dict = {}
        if "image" not in skip and bool(masks["image"].any()):
            sizes = kwargs.get("image_sizes")
            if sizes is None:
                raise ValueError("llava-next-video item layouts need image_sizes (one (height, width) row per image)")
            out["image"] = [anyres_layout(s, self.config) for s in sizes]
        if "video" not in skip and bool(masks["video"].any()):
            side = tile_grid(self.config) // int(self.config.spatial_pool_stride)
            frames = _video_frames(kwargs, side * side, 0)
            out["video"] = [ItemLayout("video", grid_coords(f, side, side), ((f, side, side),)) for f in frames]
        return out
