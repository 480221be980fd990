"""Cost of an encoder stack (text, audio, vision towers) for a recorded token schedule.

The convention is the ViT papers' one (:mod:`zoo.flops.vit`, fvcore-style multiply-accumulates):
per block the q/k/v and output projections, ``q k^T`` and ``attn v`` (``N^2 * attn_dim`` each)
and the MLP's linear layers; softmax, activations, biases and norms are free; the method's own
scoring is not counted. Reductions act between attention and MLP (``zoo.families.encoders``),
so block ``i``'s attention sees the count entering it and its MLP the count leaving it
(:func:`zoo.flops.vit.schedule_from_counts`). ``embed`` is the input stage's cost (AST's patch
convolution, Whisper's two convolutions; 0 for token embeddings), unaffected by reduction.

Shapes are read from the adapter's blocks (:meth:`EncoderShape.from_adapter`) or given; the
per-block formulas are :func:`zoo.flops.vit.attention_macs` and :func:`zoo.flops.vit.mlp_macs`.

Pure Python at import (no torch): reading a shape touches only module attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from zoo.flops.vit import attention_macs, mlp_macs, schedule_from_counts


@dataclass(frozen=True)
class EncoderShape:
    """What an encoder's cost depends on. ``mlp_in``: output width of the MLP's input projections;
    ``mlp_out``: input width of its output projection; ``embed``: MACs of the input stage per item."""

    embed_dim: int
    depth: int
    attn_dim: int
    mlp_in: int
    mlp_out: int
    num_tokens: int
    embed: int = 0

    @classmethod
    def from_adapter(cls, adapter: Any, num_tokens: int) -> "EncoderShape":
        """Read the widths from an encoder adapter's first block (timm or HF layouts)."""
        blk = adapter.blocks[0]
        linears = [m for m in blk.modules() if hasattr(m, "in_features") and hasattr(m, "out_features")]
        qkv = [m for name, m in blk.named_modules() if name.split(".")[-1] in
               ("qkv", "q_proj", "k_proj", "v_proj", "query", "key", "value") and hasattr(m, "out_features")]
        attn_dim = sum(int(m.out_features) for m in qkv) // 3
        embed_dim = int(qkv[0].in_features)
        # the MLP: every linear layer that is not a q/k/v/output projection of the attention
        attention = {id(m) for name, m in blk.named_modules()
                     if name.split(".")[-1] in ("qkv", "q_proj", "k_proj", "v_proj", "query", "key", "value",
                                                "proj", "o_proj", "out_proj") or name.endswith("attention.output.dense")}
        mlp = [m for m in linears if id(m) not in attention]
        mlp_in = sum(int(m.out_features) for m in mlp if int(m.in_features) == embed_dim)
        mlp_out = sum(int(m.in_features) for m in mlp if int(m.out_features) == embed_dim)
        return cls(embed_dim=embed_dim, depth=len(adapter.blocks), attn_dim=attn_dim, mlp_in=mlp_in,
                   mlp_out=mlp_out, num_tokens=int(num_tokens),
                   embed=embed_macs(adapter, int(num_tokens) - int(adapter.num_prefix_tokens)))


def embed_macs(adapter: Any, n_patches: int) -> int:
    """MACs of the input stage per item: the model's convolutions (ViT/AST patch embeddings,
    Whisper's two 1-D convolutions; the last one yields ``n_patches`` positions, each earlier one
    as many more as the later strides); 0 for token-embedding lookups (text)."""
    import math

    convs = [m for m in adapter.model.modules() if type(m).__name__ in ("Conv1d", "Conv2d")]
    total, positions = 0, int(n_patches)
    for conv in reversed(convs):
        per_position = int(conv.out_channels) * int(conv.in_channels) // int(conv.groups) * math.prod(conv.kernel_size)
        total += positions * per_position
        positions *= math.prod(conv.stride)
    return total


@dataclass(frozen=True)
class EncoderCost:
    """MACs of one item: input stage, every block's attention and MLP parts."""

    embed: int
    attn: tuple[int, ...]
    mlp: tuple[int, ...]
    schedule: tuple[tuple[int, int], ...]

    @property
    def total(self) -> int:
        return self.embed + sum(self.attn) + sum(self.mlp)

    @property
    def gmacs(self) -> float:
        return self.total / 1e9


def encoder_macs(shape: EncoderShape, schedule: Sequence[tuple[int, int]] | None = None) -> EncoderCost:
    """MACs of one item for ``schedule`` (``(attention tokens, MLP tokens)`` per block; default none)."""
    sched = list(schedule) if schedule is not None else [(shape.num_tokens, shape.num_tokens)] * shape.depth
    if len(sched) != shape.depth:
        raise ValueError(f"schedule has {len(sched)} blocks; the encoder has {shape.depth}")
    return EncoderCost(embed=shape.embed, attn=tuple(attention_macs(shape, a) for a, _ in sched),
                       mlp=tuple(mlp_macs(shape, m) for _, m in sched),
                       schedule=tuple((int(a), int(m)) for a, m in sched))


def run_schedule(run: Any, stage: str) -> list[tuple[int, int]]:
    """The ``(attention, MLP)`` token counts per block of the last forward recorded in ``run``."""
    if stage not in run.tokens:
        raise KeyError(f"the run recorded no forward of stage {stage!r}; recorded: {sorted(run.tokens)}")
    return schedule_from_counts(run.input_tokens[stage], run.tokens[stage])


def theoretical_speedup(shape: EncoderShape, schedule: Sequence[tuple[int, int]]) -> float:
    """Cost without reduction over the cost of ``schedule`` (same input length)."""
    n0 = schedule[0][0] if schedule else shape.num_tokens
    full = encoder_macs(EncoderShape(**{**shape.__dict__, "num_tokens": n0}))
    return full.total / encoder_macs(shape, schedule).total
