"""Adapters for Hugging Face LLaVA (``LlavaForConditionalGeneration``, LLaVA-1.5 layout) and
LLaVA-NeXT (``LlavaNextForConditionalGeneration``, anyres tiles).

Layout: a ViT vision tower (CLIP: with a [CLS] token), a multimodal projector, and a
Llama-style decoder (Llama, Vicuna, Mistral, Qwen2). Stages:

``"vision"``
    the vision tower's encoder layers. Vision reducers act on the selected features right
    before the projector (``placement="vision-encoder"``; LLaVA-1.5 layout only).
``"llm"``
    the decoder layers. Prefill events act inside the language model
    (``placement="llm-prefill"``).

Image tokens: found from the inputs (``input_ids == config.image_token_id``, or the
placeholder embedding when only ``inputs_embeds`` are given); batches may be padded (left
padding for generation). Item layouts: LLaVA-1.5 images are one ``h x w`` grid (24 x 24 for
CLIP-L/336); LLaVA-NeXT images are a base tile plus the unpadded high-resolution grid with a
newline token per row (:mod:`zoo.families.decoders.anyres`).

Positions: 1-D RoPE. transformers: :data:`TESTED_TRANSFORMERS` (see
:mod:`zoo.families.decoders.base`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from zoo.families.decoders.base import (  # noqa: F401  (re-exported: the version policy's home before turn 3)
    SUPPORTED_TRANSFORMERS, TESTED_TRANSFORMERS, DecoderAdapter, check_transformers_version,
)


class _ClipVisionMixin:
    """The vision tower of LLaVA-style models: ``vision_tower`` + ``multi_modal_projector``."""

    def _init_vision(self, model: Any) -> None:
        inner = model.model
        self.llava = inner
        self.vision_owner = inner
        self.projector = inner.multi_modal_projector
        self.vision_tower = inner.vision_tower
        vm = getattr(self.vision_tower, "vision_model", self.vision_tower)
        self.vision_layers = vm.encoder.layers

    @property
    def vision_feature_layer_index(self) -> int:
        """Encoder layer whose output the model feeds to the projector (``config.vision_feature_layer``)."""
        vfl = self.config.vision_feature_layer
        if not isinstance(vfl, int):
            raise ValueError(f"vision reducers need a single vision_feature_layer, the config has {vfl!r}")
        n = len(self.vision_layers)
        idx = (vfl % (n + 1)) - 1
        if idx < 0:
            raise ValueError("vision_feature_layer selects the embeddings; no encoder layer to probe")
        return idx

    def resolve_vision_layer(self, layer: int) -> int:
        """Encoder layer index; negative values count from the end (-1 = last encoder layer)."""
        n = len(self.vision_layers)
        if not -n <= layer < n:
            raise ValueError(f"vision layer {layer} outside -{n}..{n - 1} (the vision tower has {n} layers)")
        return layer % n

    def has_cls_token(self) -> bool:
        return type(self.vision_tower).__name__.startswith("CLIP")


class LlavaAdapter(_ClipVisionMixin, DecoderAdapter):
    """Hugging Face ``LlavaForConditionalGeneration`` (LLaVA-1.5 layout)."""

    name: ClassVar[str] = "llava"
    model_types: ClassVar[tuple[str, ...]] = ("llava",)
    model_classes: ClassVar[tuple[str, ...]] = ("LlavaForConditionalGeneration",)
    provides: ClassVar[frozenset[str]] = frozenset({"visual-tokens", "decoder-attention", "item-grid", "vision-cls"})

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self._init_vision(model)

    @classmethod
    def _structure_ok(cls, inner: Any) -> bool:
        return all(hasattr(inner, a) for a in ("vision_tower", "multi_modal_projector"))

    def check_vision_reduction_supported(self) -> None:
        if not self.has_cls_token():
            raise ValueError(f"vision-encoder methods need a vision tower with a [CLS] token (CLIP); this model has "
                             f"{type(self.vision_tower).__name__}")
        strategy = self.config.vision_feature_select_strategy
        if strategy != "default":
            raise ValueError(f"vision reducers need vision_feature_select_strategy='default' (patch tokens, "
                             f"[CLS] dropped); this model uses {strategy!r}")
        self.vision_feature_layer_index  # noqa: B018  (validates the feature layer)

    # ----------------------------------------------------------------- layouts
    def _image_grid(self) -> int:
        vc = self.config.vision_config
        return vc.image_size // vc.patch_size

    def _image_layout(self):
        import torch

        from zoo.families.decoders.layout import ItemLayout, grid_coords, separators

        side = self._image_grid()
        n = int(getattr(self.config, "image_seq_length", side * side) or side * side)
        coords = grid_coords(1, side, side)
        if n != side * side:  # e.g. vision_feature_select_strategy="full": [CLS] first, off the grid
            coords = torch.cat([separators(n - side * side), coords]) if n > side * side else coords[:n]
        return ItemLayout("image", coords, ((1, side, side),))

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        if "image" in skip or "image" not in masks:
            return {}
        lay = self._image_layout()
        total = int(masks["image"].sum())
        count = total // lay.length if lay.length else 0
        return {"image": [lay] * count}

    def reduced_layouts(self, sel, n: int):
        """Layouts of a vision reducer's output: kept patches keep their grid place, merged tokens are off-grid."""
        import torch

        from zoo.families.decoders.layout import ItemLayout

        if sel.kept is None:
            return None
        side = self._image_grid()
        if side * side != n:
            return None
        out = []
        for kept in sel.kept:
            k = kept.to("cpu")
            coords = torch.stack([torch.zeros_like(k), torch.zeros_like(k), k // side, k % side], dim=-1)
            coords[k < 0] = -1
            out.append(ItemLayout("image", coords, ((1, side, side),)))
        return out


class LlavaNextAdapter(LlavaAdapter):
    """Hugging Face ``LlavaNextForConditionalGeneration`` (LLaVA-NeXT / 1.6, anyres tiles).

    Prefill methods inside the language model (``llm-prefill``: FastV, PyramidDrop, SparseVLM,
    DART, DivPrune, the controls) work as on LLaVA-1.5: the image tokens (base tile, tiles
    and newline tokens, up to 2880 per image) are found from ``input_ids``. Vision-encoder
    methods are not supported: they would have to act per tile and respect the newline
    tokens that ``pack_image_features`` inserts.
    """

    name: ClassVar[str] = "llava-next"
    model_types: ClassVar[tuple[str, ...]] = ("llava_next",)
    model_classes: ClassVar[tuple[str, ...]] = ("LlavaNextForConditionalGeneration",)
    provides: ClassVar[frozenset[str]] = frozenset({"visual-tokens", "decoder-attention", "item-grid"})
    lacks: ClassVar[dict[str, str]] = {
        "vision-cls": "anyres images are encoded as several tiles and packed with newline tokens; tokzoo's "
                      "vision-encoder path serves one feature set per image (LLaVA-1.5 layout)"}

    def check_vision_reduction_supported(self) -> None:
        raise ValueError("vision-encoder methods support LLaVA-1.5 (family 'llava') only; on LLaVA-NeXT use an "
                         f"llm-prefill method (fastv, pyramiddrop, sparsevlm, random); {self.lacks['vision-cls']}")

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        from zoo.families.decoders.anyres import anyres_layout

        if "image" in skip or "image" not in masks:
            return {}
        sizes = kwargs.get("image_sizes")
        if sizes is None:
            raise ValueError("llava-next item layouts need image_sizes (one (height, width) row per image)")
        return {"image": [anyres_layout(s, self.config) for s in sizes]}
