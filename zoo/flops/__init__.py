"""Analytic cost of transformer stacks for a token schedule, under each paper's convention.

- :mod:`zoo.flops.llm`: decoder (LLM) stacks. ``stack_flops(schedule, cfg, convention)``
  with conventions ``"tokzoo"`` (default, SwiGLU/GQA-correct FLOPs), ``"fastv"`` (FastV
  Eq. 5), ``"pdrop"`` (PyramidDrop, image tokens only, 3-matrix FFN), ``"dycoke"``
  (FastV prefill + KV-cached decoding), ``"sparsevlm"`` (all tokens, 3-matrix FFN). Schedule
  builders per paper: ``fastv_schedule``, ``pyramid_schedule``, ``sparsevlm_schedule``, and
  ``kept_tokens`` (the zoo's budget rule, pure Python).
- :mod:`zoo.flops.vit`: ViT stacks, fvcore-style MACs as the ViT papers report them
  (written by the ViT side of the zoo; re-exported here lazily as ``zoo.flops.vit``).
- :mod:`zoo.flops.video`: token schedules and costs of the video methods (DyCoke's prefill +
  decoding count, PruneVid, HoliTom, FrameFusion's token cost); lazily as ``zoo.flops.video``.

Example (FastV, LLaVA-1.5-7B, K=3, R=50%)::

    from zoo.flops import DecoderConfig, fastv_schedule, full_schedule, flops_ratio
    cfg = DecoderConfig.from_file("repro/configs/vicuna-7b-v1.5.json")
    base = full_schedule(cfg.num_layers, n_image=576, n_other=64)
    fast = fastv_schedule(cfg.num_layers, 576, 64, k=3, r=0.5)
    flops_ratio(fast, base, cfg, "fastv")

This package imports nothing heavy (no torch).
"""

from __future__ import annotations

import importlib
from typing import Any

from zoo.flops.llm import (
    CONVENTIONS,
    Convention,
    DecoderConfig,
    Schedule,
    TokenSchedule,
    decode_flops,
    describe,
    drop_schedule,
    fastv_schedule,
    flops_ratio,
    flops_reduction,
    full_schedule,
    image_tokens_after_layers,
    kept_tokens,
    layer_flops,
    pyramid_schedule,
    sparsevlm_recycled,
    sparsevlm_schedule,
    stack_flops,
    theoretical_speedup,
)

__all__ = [
    "CONVENTIONS", "Convention", "DecoderConfig", "Schedule", "TokenSchedule",
    "decode_flops", "describe", "drop_schedule", "fastv_schedule", "flops_ratio", "flops_reduction",
    "full_schedule", "layer_flops", "stack_flops", "theoretical_speedup", "kept_tokens", "pyramid_schedule",
    "sparsevlm_schedule", "sparsevlm_recycled", "image_tokens_after_layers",
]


def __getattr__(name: str) -> Any:
    if name in ("vit", "video"):
        return importlib.import_module(f"zoo.flops.{name}")
    raise AttributeError(f"module 'zoo.flops' has no attribute {name!r}")
