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
    provides: ClassVar[frozenset[str]] = frozenset({"media-tokens", "visual-tokens", "decoder-attention", "item-grid",
                                                         "vision-cls"})

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
    and newline tokens, up to 2880 per image) are found from ``input_ids``.

    Vision-encoder methods (FasterVLM, VisionZip, PruMerge) run **per tile**: the reducer sees
    every tile of every image (``[T, 576, C]`` before the projector, with each tile's [CLS]),
    exactly as on LLaVA-1.5. tokzoo then packs each image as transformers'
    ``pack_image_features`` does, with the kept tokens only (:meth:`pack_reduced`):

    1. the base tile's output tokens, in the reducer's order;
    2. the high-resolution tiles' kept patch tokens at their place in the tile grid, the
       unpadding of ``unpad_image`` applied (tokens in the removed border are dropped),
       row by row, with the model's newline token after every grid row that still holds a
       kept token;
    3. the tiles' tokens that have no grid place (merged/contextual tokens, a [CLS] token, a
       summary token), tile by tile.

    This is tokzoo's rule; the authors' LLaVA-NeXT variants differ in details (e.g.
    VisionZip's ``restore_image_features_sorted`` keeps no newline and no unpadding and puts
    every tile's [CLS] before the contextual tokens). Each image's placeholder span is
    resized to its packed length; positions are renumbered (1-D).
    """

    name: ClassVar[str] = "llava-next"
    model_types: ClassVar[tuple[str, ...]] = ("llava_next",)
    model_classes: ClassVar[tuple[str, ...]] = ("LlavaNextForConditionalGeneration",)

    def item_layouts(self, kwargs: dict, masks: dict, skip: set) -> dict:
        from zoo.families.decoders.anyres import anyres_layout

        if "image" in skip or "image" not in masks:
            return {}
        sizes = kwargs.get("image_sizes")
        if sizes is None:
            raise ValueError("llava-next item layouts need image_sizes (one (height, width) row per image)")
        return {"image": [anyres_layout(s, self.config) for s in sizes]}

    def reduced_layouts(self, sel, n: int):
        return None  # built by pack_reduced, per image

    def pack_reduced(self, kept, counts, image_features, image_sizes, vision_feature_select_strategy=None,
                     image_newline=None):
        """Pack reduced tiles into per-image token sequences (see the class docstring).

        kept ``[T, M]``: the reducer's patch index per output token of every tile (-1: no grid
        place); counts ``[T]`` real tokens per tile (``None``: all ``M``); image_features: per
        image ``[tiles_i, M, C]`` (projected). Returns ``(features, lengths, packed)`` with
        ``packed = {"spans": unreduced tokens per image, "layouts": ItemLayouts}``.
        """
        import torch
        from transformers.models.llava_next.modeling_llava_next import get_anyres_image_grid_shape, unpad_image

        from zoo.families.decoders.anyres import anyres_layout, tile_grid
        from zoo.families.decoders.layout import ItemLayout

        side = tile_grid(self.config)
        tile_px = self.config.vision_config.image_size
        feats_out, lens, spans, layouts = [], [], [], []
        t0 = 0
        for i, feats in enumerate(image_features):
            size = image_sizes[i]
            size_list = size.tolist() if isinstance(size, torch.Tensor) else list(size)
            spans.append(anyres_layout(size_list, self.config).length)
            tiles = feats.shape[0]
            n_of = [int(counts[t0 + j]) if counts is not None else feats.shape[1] for j in range(tiles)]
            ks = [kept[t0 + j, : n_of[j]].to("cpu") for j in range(tiles)]
            tokens, coords = [feats[0, : n_of[0]]], []
            base = ks[0]
            coords.append(torch.stack([torch.zeros_like(base), torch.zeros_like(base), base // side, base % side], -1))
            coords[-1][base < 0] = -1
            grids = [(1, side, side)]
            if tiles > 1:
                n_h, n_w = get_anyres_image_grid_shape(size_list, self.config.image_grid_pinpoints, tile_px)
                full = torch.arange(n_h * side * n_w * side).view(1, n_h * side, n_w * side)
                region = unpad_image(full, size_list)[0]  # [rows, cols] of global grid indices left after unpadding
                rows, cols = region.shape
                y0, x0 = int(region[0, 0]) // (n_w * side), int(region[0, 0]) % (n_w * side)
                grids.append((1, rows, cols))
                placed, off_grid = [], []
                for j in range(1, tiles):
                    tr, tc = (j - 1) // n_w, (j - 1) % n_w
                    for pos, k in enumerate(ks[j].tolist()):
                        if k < 0:
                            off_grid.append((j, pos))
                            continue
                        y, x = tr * side + k // side - y0, tc * side + k % side - x0
                        if 0 <= y < rows and 0 <= x < cols:
                            placed.append((y, x, j, pos))
                placed.sort()
                grid_tokens, grid_coords, last_row = [], [], None
                for y, x, j, pos in placed:
                    if last_row is not None and y != last_row and image_newline is not None:
                        grid_tokens.append(image_newline.to(feats)[None])
                        grid_coords.append([-1, -1, -1, -1])
                    grid_tokens.append(feats[j, pos][None])
                    grid_coords.append([1, 0, y, x])
                    last_row = y
                if last_row is not None and image_newline is not None:
                    grid_tokens.append(image_newline.to(feats)[None])
                    grid_coords.append([-1, -1, -1, -1])
                for j, pos in off_grid:
                    grid_tokens.append(feats[j, pos][None])
                    grid_coords.append([-1, -1, -1, -1])
                if grid_tokens:
                    tokens.append(torch.cat(grid_tokens))
                    coords.append(torch.tensor(grid_coords, dtype=torch.long))
            elif image_newline is not None:
                tokens.append(image_newline.to(feats)[None])
                coords.append(torch.full((1, 4), -1, dtype=torch.long))
            packed = torch.cat(tokens)
            feats_out.append(packed)
            lens.append(packed.shape[0])
            layouts.append(ItemLayout("image", torch.cat(coords), tuple(grids)))
            t0 += tiles
        lengths = torch.tensor(lens, dtype=torch.long, device=image_features[0].device)
        return feats_out, lengths, {"spans": spans, "layouts": layouts}
