"""Analytic layout and cost of the transformer blocks of a diffusers ``UNet2DConditionModel`` config.

No torch: works from the config dict (``repro/configs/sd15-unet.json``'s ``unet``) and a latent size.

- :func:`unet_transformer_blocks`: every ``BasicTransformerBlock`` in execution order (down blocks,
  mid block, up blocks) with its diffusers module name, downsampling ``d`` (1, 2, 4, ...), token
  count ``ceil(H / d) * ceil(W / d)`` (stride-2 convolutions with padding round up), width,
  heads and the cross-attention width; the names are those of ``UNet2DConditionModel.named_modules``.
- :func:`block_macs`: multiply-accumulates of one block (self-attention with ``q_tokens`` queries
  and ``kv_tokens`` keys/values, cross-attention to ``text_tokens``, GEGLU feed-forward, each on
  its own token count), so a reduction's cost follows from the counts it records.
- :func:`patched_blocks`: the blocks ToMeSD-style methods act on for a ``max_downsample``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class TransformerBlockSpec:
    name: str
    downsample: int
    tokens: int
    dim: int
    heads: int
    cross_dim: int


def _per_level(value: Any, n: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


def unet_transformer_blocks(cfg: dict[str, Any], latent_hw: Sequence[int]) -> list[TransformerBlockSpec]:
    """The transformer blocks of a UNet config at latent size ``(H, W)``, in execution order."""
    down = list(cfg["down_block_types"])
    up = list(cfg["up_block_types"])
    n = len(down)
    channels = list(cfg["block_out_channels"])
    layers = _per_level(cfg.get("layers_per_block", 2), n)
    tlayers = _per_level(cfg.get("transformer_layers_per_block", 1), n)
    heads = _per_level(cfg.get("num_attention_heads") or cfg.get("attention_head_dim", 8), n)
    cross = _per_level(cfg.get("cross_attention_dim", 1280), n)
    h, w = int(latent_hw[0]), int(latent_hw[1])
    sizes = []
    for i in range(n):
        sizes.append((h, w))
        if i < n - 1:
            h, w = math.ceil(h / 2), math.ceil(w / 2)
    out: list[TransformerBlockSpec] = []

    def add(prefix: str, level: int, n_attn: int, n_layers: int, dim: int, nh: int, cd: int) -> None:
        hh, ww = sizes[level]
        for a in range(n_attn):
            for t in range(n_layers):
                out.append(TransformerBlockSpec(f"{prefix}.attentions.{a}.transformer_blocks.{t}", 2 ** level,
                                                hh * ww, dim, nh, cd))

    for i, kind in enumerate(down):
        if "CrossAttn" in kind:
            add(f"down_blocks.{i}", i, layers[i], tlayers[i], channels[i], heads[i], cross[i])
    mid = cfg.get("mid_block_type", "UNetMidBlock2DCrossAttn")
    if mid and "CrossAttn" in mid:
        add("mid_block", n - 1, 1, tlayers[-1], channels[-1], heads[-1], cross[-1])
    rev_layers, rev_t, rev_c = layers[::-1], tlayers[::-1], channels[::-1]
    rev_h, rev_x = heads[::-1], cross[::-1]
    for j, kind in enumerate(up):
        if "CrossAttn" in kind:
            add(f"up_blocks.{j}", n - 1 - j, rev_layers[j] + 1, rev_t[j], rev_c[j], rev_h[j], rev_x[j])
    return out


def patched_blocks(blocks: Sequence[TransformerBlockSpec], max_downsample: int) -> list[TransformerBlockSpec]:
    """Blocks whose downsampling is at most ``max_downsample`` (where ToMeSD, SiTo, CA-ToMe act)."""
    return [b for b in blocks if b.downsample <= max_downsample]


def block_macs(spec: TransformerBlockSpec, *, q_tokens: int | None = None, kv_tokens: int | None = None,
               text_tokens: int = 77, cross_tokens: int | None = None, mlp_tokens: int | None = None,
               ff_mult: int = 4) -> dict[str, int]:
    """MACs of one ``BasicTransformerBlock`` (GEGLU feed-forward) for the given token counts.

    Defaults: every count is the block's own ``tokens``. Self-attention: Q and output projections on
    ``q_tokens``, K/V projections on ``kv_tokens``, ``QK^T`` and ``AV`` ``q_tokens * kv_tokens * dim``
    each; cross-attention: Q/output on ``cross_tokens``, K/V on the text; feed-forward on ``mlp_tokens``.
    """
    n = spec.tokens
    q = n if q_tokens is None else q_tokens
    kv = q if kv_tokens is None else kv_tokens
    c = n if cross_tokens is None else cross_tokens
    m = n if mlp_tokens is None else mlp_tokens
    d, inner = spec.dim, ff_mult * spec.dim
    self_attn = 2 * q * d * d + 2 * kv * d * d + 2 * q * kv * d
    cross_attn = 2 * c * d * d + 2 * text_tokens * spec.cross_dim * d + 2 * c * text_tokens * d
    ff = m * d * 2 * inner + m * inner * d
    return {"self_attn": self_attn, "cross_attn": cross_attn, "ff": ff, "total": self_attn + cross_attn + ff}
