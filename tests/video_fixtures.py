"""Tiny random video LLMs with several frames of several tokens each (built on ``decoder_fixtures``).

The decoder fixtures' towers see 56 px frames (2 x 2 tokens per frame after pooling); the video
methods need frame grids and enough frames to segment: here LLaVA-OneVision and LLaVA-NeXT-Video
see 112 px frames (8 x 8 patches, pooled by the models to 4 x 4 = 16 tokens per frame) and Qwen2.5-VL
gets ``video_grid_thw = (t, 8, 8)`` (4 x 4 merged tokens per temporal patch). Checkpoints are
saved with ``save_pretrained`` and read back with ``from_pretrained``.
"""

from __future__ import annotations

from pathlib import Path

import torch

import decoder_fixtures as dfx

VIDEO_KINDS = ("llava-onevision", "llava-next-video", "qwen2.5-vl")
FRAMES = 8
#: per kind, the items of each row (several frames; one row also holds an image where the model allows)
ROW_ITEMS = {
    "llava-onevision": [[("video", FRAMES)], [("image", (120, 200)), ("video", FRAMES)]],
    "llava-next-video": [[("video", FRAMES)], [("video", FRAMES), ("image", (200, 120))]],
    "qwen2.5-vl": [[("video", (FRAMES // 2, 8, 8))], [("image", (1, 4, 6)), ("video", (FRAMES // 2, 8, 8))]],
}


def config(kind: str):
    cfg = dfx.config(kind)
    if kind in ("llava-onevision", "llava-next-video"):
        cfg.vision_config.image_size = 112
        cfg.image_grid_pinpoints = [[112, 224], [224, 112], [224, 224]]
    return cfg


def build(kind: str, path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = dfx.model_class(kind)(config(kind))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("q_proj.weight", "k_proj.weight")) and "visual" not in name:
                p.mul_(4.0)
    model.save_pretrained(path)
    return Path(path)


def load(kind: str, path: Path, **kw):
    return dfx.load(kind, path, **kw)


def prompts(model, kind: str, *, items=None, seed: int = 1, **kw):
    """``(batch, rows)`` as ``decoder_fixtures.prompts`` with this module's video items."""
    return dfx.prompts(model, kind, items=items or ROW_ITEMS[kind], seed=seed, **kw)
