"""Token layouts of LLaVA-NeXT-style "anyres" images (LLaVA-NeXT, LLaVA-NeXT-Video, LLaVA-OneVision).

An anyres image becomes a base tile (the whole image resized to one tile, ``h x w``
tokens, no newline) followed by the high-resolution grid of tiles, unpadded to the image's
aspect ratio, with a newline token after every row (``pack_image_features`` in
transformers). OneVision additionally shrinks that grid by bilinear interpolation when it
exceeds ``anyres_max_9`` tiles, and for several images in one prompt keeps only the base
tile plus one newline. These functions compute the same shapes from the image sizes, without
running the vision tower.
"""

from __future__ import annotations

import math

import torch

from zoo.families.decoders.layout import ItemLayout, grid_coords, separators


def tile_grid(config) -> int:
    """Tokens per tile side: ``vision_config.image_size // vision_config.patch_size``."""
    return config.vision_config.image_size // config.vision_config.patch_size


def high_res_shape(image_size, config, *, max_tiles: int | None = None) -> tuple[int, int]:
    """``(rows, columns)`` of the unpadded (and, with ``max_tiles``, OneVision-resized) high-resolution grid."""
    from transformers.models.llava_next.modeling_llava_next import get_anyres_image_grid_shape, unpad_image

    side = tile_grid(config)
    size = image_size.tolist() if isinstance(image_size, torch.Tensor) else list(image_size)
    n_h, n_w = get_anyres_image_grid_shape(size, config.image_grid_pinpoints, config.vision_config.image_size)
    grid = unpad_image(torch.empty(0, n_h * side, n_w * side), size)
    rows, cols = int(grid.shape[1]), int(grid.shape[2])
    if max_tiles is not None:
        ratio = math.sqrt(rows * cols / (max_tiles * side ** 2))
        if ratio > 1.1:
            rows, cols = int(rows // ratio), int(cols // ratio)
    return rows, cols


def anyres_layout(image_size, config, *, patched: bool = True, max_tiles: int | None = None,
                  newline: bool = True) -> ItemLayout:
    """The layout of one anyres image: base tile (part 0) + high-resolution grid with row newlines (part 1).

    ``patched=False``: only the base tile and one newline (OneVision with several images).
    """
    side = tile_grid(config)
    base = grid_coords(1, side, side, part=0)
    if not patched:
        coords = torch.cat([base, separators(1)]) if newline else base
        return ItemLayout("image", coords, ((1, side, side),))
    rows, cols = high_res_shape(image_size, config, max_tiles=max_tiles)
    high = grid_coords(1, rows, cols, part=1, newline_per_row=newline)
    return ItemLayout("image", torch.cat([base, high]), ((1, side, side), (1, rows, cols)))

