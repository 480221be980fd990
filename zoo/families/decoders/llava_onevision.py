"""Adapter for Hugging Face ``LlavaOnevisionForConditionalGeneration`` (LLaVA-OneVision: images and video).

Layout: a SigLIP vision tower (no [CLS] token), a two-layer projector, a Qwen2 decoder.

- Images (``image_token_id``): anyres like LLaVA-NeXT (base tile + unpadded high-resolution
  grid with a newline token per row), the grid shrunk by bilinear interpolation beyond
  ``vision_aspect_ratio`` (``anyres_max_9``); with several images in one prompt
  (``batch_num_images > 1``) each image is its base tile plus one newline.
- Videos (``video_token_id``): every frame encoded as one tile, projected, bilinearly pooled
  to ``ceil(h / 2) x ceil(w / 2)`` tokens (``apply_pooling``), frames concatenated, one
  newline token after the whole video. An image and a video may share a prompt.

Every llm-prefill method runs on it (the visual tokens of both modalities are reducible;
``LlmContext.modality`` tells them apart). Vision-encoder methods that need the [CLS]
attention do not (SigLIP has no [CLS] token). Positions: 1-D RoPE.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from zoo.families.decoders.base import DecoderAdapter


class LlavaOnevisionAdapter(DecoderAdapter):
    """Hugging Face ``LlavaOnevisionForConditionalGeneration``."""

    name: ClassVar[str] = "llava-onevision"
    model_types: ClassVar[tuple[str, ...]] = ("llava_onevision",)
    model_classes: ClassVar[tuple[str, ...]] = ("LlavaOnevisionForConditionalGeneration",)
    token_attrs: ClassVar[dict[str, str]] = {"image": "image_token_id", "video": "video_token_id"}
    lacks: ClassVar[dict[str, str]] = {
        "vision-cls": "its SigLIP vision tower has no [CLS] token (and anyres images are packed per tile)"}

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        inner = model.model
        self.vision_tower = inner.vision_tower
        vm = getattr(self.vision_tower, "vision_model", self.vision_tower)
        self.vision_layers = vm.encoder.layers

    @classmethod
    def _structure_ok(cls, inner: Any) -> bool:
        return all(hasattr(inner, a) for a in ("vision_tower", "multi_modal_projector", "image_newline"))

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        from zoo.families.decoders.anyres import anyres_layout, tile_grid
        from zoo.families.decoders.layout import ItemLayout, grid_coords

        out: dict = {}
        if "image" not in skip and bool(masks["image"].any()):
            sizes = kwargs.get("image_sizes")
            if sizes is None:
                raise ValueError("llava-onevision item layouts need image_sizes (one (height, width) row per image)")
            per_row = kwargs.get("batch_num_images")
            patched = [True] * len(sizes) if per_row is None else [int(n) == 1 for n in per_row for _ in range(int(n))]
            ratio = kwargs.get("vision_aspect_ratio") or self.config.vision_aspect_ratio
            max_tiles = int(str(ratio).strip("anyres_max_"))
            out["image"] = [anyres_layout(s, self.config, patched=p, max_tiles=max_tiles) for s, p in zip(sizes, patched)]
        if "video" not in skip and bool(masks["video"].any()):
            side = math.ceil(tile_grid(self.config) / 2)
            frames = _video_frames(kwargs, side * side, 1)
            out["video"] = [ItemLayout("video", grid_coords(f, side, side, newline_at_end=True), ((f, side, side),))
                            for f in frames]
        return out


def _video_frames(kwargs: dict, per_frame: int, extra: int) -> list[int]:
    """Frames of every video, from ``pixel_values_videos [V, F, ...]`` or pre-encoded features."""
    pv = kwargs.get("pixel_values_videos")
    if pv is not None:
        return [int(pv.shape[1])] * int(pv.shape[0])
    mm = kwargs.get("mm_encoder_outputs") or {}
    video = mm.get("video")
    if video is not None:
        return [(int(v.shape[0]) - extra) // per_frame for v in video.pooler_output]
    raise ValueError("video item layouts need pixel_values_videos (or pre-encoded video features)")
