"""Cost of a ViT forward for a token schedule, in the convention the ViT papers report.

Convention ("GFLOPs" in DeiT, ToMe, EViT, PPT tables = fvcore-style multiply-accumulates):
one MAC per multiply-add of the patch-embedding convolution, the linear layers (qkv, attention
projection, MLP, classifier) and the two attention matrix products (``q k^T`` and
``attn v``, ``N^2 * attn_dim`` each). Softmax, GELU, biases and additions are free; layer
norms are free by default (fvcore counts 5 per element, ``count_norms=True``). Cost of the
token-reduction method itself (matching, scoring) is not included, as in the papers.
Reference points: DeiT-S 4.6, DeiT-B 17.6 GMACs at 224 px.

A reduction inside block ``i`` (between attention and MLP, as ``zoo.families.timm_vit``
does) means block ``i``'s attention runs on the count entering the block and its MLP on the
count leaving it; :func:`schedule_from_run` reads exactly this from a ``zoo.interface.Run``.

Pure Python: no torch import (the shape is read from a model's attributes or a preset).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

STAGE = "vit"


@dataclass(frozen=True)
class ViTShape:
    """What the cost depends on. ``mlp_in``: total output width of the MLP's input projections
    (fc1; both halves of a GLU), ``mlp_out``: input width of its output projection (fc2)."""

    embed_dim: int
    depth: int
    num_heads: int
    attn_dim: int
    mlp_in: int
    mlp_out: int
    patch_size: tuple[int, int]
    in_chans: int
    num_patches: int
    num_prefix_tokens: int
    num_classes: int
    num_heads_out: int = 1

    @property
    def num_tokens(self) -> int:
        return self.num_patches + self.num_prefix_tokens

    @classmethod
    def from_timm(cls, model: Any, num_patches: int | None = None) -> "ViTShape":
        """Read a timm ``VisionTransformer`` (``num_patches`` overrides the patch embed's grid)."""
        blk = model.blocks[0]
        attn = blk.attn
        embed = model.patch_embed
        ps = embed.patch_size if isinstance(embed.patch_size, (tuple, list)) else (embed.patch_size,) * 2
        head = getattr(model, "head", None)
        heads_out = 1 + int(getattr(model, "head_dist", None) is not None)
        # every linear layer of the MLP (fc1/fc2, or SwiGLU's fc1_g/fc1_x/fc2), duck-typed
        linears = [m for m in blk.mlp.modules() if hasattr(m, "in_features") and hasattr(m, "out_features")]
        return cls(
            embed_dim=int(model.embed_dim),
            depth=len(model.blocks),
            num_heads=int(attn.num_heads),
            attn_dim=int(attn.qkv.out_features // 3),
            mlp_in=sum(int(m.out_features) for m in linears if int(m.in_features) == int(model.embed_dim)),
            mlp_out=sum(int(m.in_features) for m in linears if int(m.out_features) == int(model.embed_dim)),
            patch_size=(int(ps[0]), int(ps[1])),
            in_chans=int(embed.proj.in_channels),
            num_patches=int(num_patches if num_patches is not None else embed.num_patches),
            num_prefix_tokens=int(getattr(model, "num_prefix_tokens", 1)),
            num_classes=int(getattr(head, "out_features", 0) or 0),
            num_heads_out=heads_out,
        )

    @classmethod
    def preset(cls, name: str) -> "ViTShape":
        """Shapes of common models at 224 px: ``deit_tiny``, ``deit_small``, ``deit_base``, ``vit_large``
        (``_patch16_224`` suffixes and ``vit_*`` aliases accepted)."""
        key = name.replace("_patch16_224", "").replace("vit_tiny", "deit_tiny").replace("vit_small", "deit_small")
        key = key.replace("vit_base", "deit_base")
        dims = {"deit_tiny": (192, 12, 3), "deit_small": (384, 12, 6), "deit_base": (768, 12, 12),
                "vit_large": (1024, 24, 16)}
        if key not in dims:
            raise KeyError(f"no ViT preset {name!r}; known: {', '.join(sorted(dims))}")
        c, depth, heads = dims[key]
        return cls(embed_dim=c, depth=depth, num_heads=heads, attn_dim=c, mlp_in=4 * c, mlp_out=4 * c,
                   patch_size=(16, 16), in_chans=3, num_patches=196, num_prefix_tokens=1, num_classes=1000)


@dataclass(frozen=True)
class ViTCost:
    """MACs of one image: patch embedding, every block (attention part, MLP part), head, norms."""

    patch_embed: int
    attn: tuple[int, ...]
    mlp: tuple[int, ...]
    head: int
    norms: int
    schedule: tuple[tuple[int, int], ...]

    @property
    def blocks(self) -> tuple[int, ...]:
        return tuple(a + m for a, m in zip(self.attn, self.mlp))

    @property
    def total(self) -> int:
        return self.patch_embed + sum(self.attn) + sum(self.mlp) + self.head + self.norms

    @property
    def gmacs(self) -> float:
        """Total in 10^9 MACs: the number ViT papers print as "GFLOPs"."""
        return self.total / 1e9

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(total=self.total, gmacs=self.gmacs)
        return d


def attention_macs(shape: ViTShape, n: int) -> int:
    """qkv + ``q k^T`` + ``attn v`` + output projection for ``n`` tokens."""
    c, a = shape.embed_dim, shape.attn_dim
    return n * c * 3 * a + 2 * n * n * a + n * a * c


def mlp_macs(shape: ViTShape, n: int) -> int:
    """fc1 + fc2 for ``n`` tokens."""
    return n * shape.embed_dim * shape.mlp_in + n * shape.mlp_out * shape.embed_dim


def full_schedule(shape: ViTShape, n_tokens: int | None = None) -> list[tuple[int, int]]:
    """``(attention tokens, MLP tokens)`` per block without reduction."""
    n = shape.num_tokens if n_tokens is None else n_tokens
    return [(n, n)] * shape.depth


def schedule_from_counts(n_input: int, after_blocks: Sequence[int]) -> list[tuple[int, int]]:
    """``(attention tokens, MLP tokens)`` per block from the count entering the stack and the
    counts after every block (reductions happen between attention and MLP)."""
    before = [n_input, *after_blocks[:-1]]
    return list(zip(before, after_blocks))


def schedule_from_run(run: Any, stage: str = STAGE) -> list[tuple[int, int]]:
    """The schedule a ``zoo.interface.Run`` recorded for its last forward of ``stage``."""
    if stage not in run.tokens:
        raise KeyError(f"the run recorded no forward of stage {stage!r}; recorded: {sorted(run.tokens)}")
    return schedule_from_counts(run.input_tokens[stage], run.tokens[stage])


def vit_macs(shape: ViTShape, schedule: Sequence[tuple[int, int]] | None = None, *,
             count_norms: bool = False) -> ViTCost:
    """MACs of one image for ``schedule`` (default: no reduction)."""
    sched = list(full_schedule(shape) if schedule is None else schedule)
    if len(sched) != shape.depth:
        raise ValueError(f"schedule has {len(sched)} blocks; the model has {shape.depth}")
    ph, pw = shape.patch_size
    patch = shape.num_patches * shape.embed_dim * shape.in_chans * ph * pw
    head = shape.embed_dim * shape.num_classes * shape.num_heads_out
    norms = 0
    if count_norms:
        norms = sum(5 * shape.embed_dim * (na + nm) for na, nm in sched) + 5 * shape.embed_dim * sched[-1][1]
    return ViTCost(
        patch_embed=patch,
        attn=tuple(attention_macs(shape, na) for na, _ in sched),
        mlp=tuple(mlp_macs(shape, nm) for _, nm in sched),
        head=head,
        norms=norms,
        schedule=tuple((int(a), int(m)) for a, m in sched),
    )


def theoretical_speedup(shape: ViTShape, schedule: Sequence[tuple[int, int]], **kw: Any) -> float:
    """Cost without reduction divided by the cost of ``schedule`` (same input size)."""
    n0 = schedule[0][0] if schedule else shape.num_tokens
    return vit_macs(shape, full_schedule(shape, n0), **kw).total / vit_macs(shape, schedule, **kw).total


def run_cost(model: Any, run: Any, *, stage: str = STAGE, **kw: Any) -> ViTCost:
    """MACs per image of the last forward recorded in ``run`` for a timm ViT ``model``."""
    sched = schedule_from_run(run, stage)
    prefix = int(getattr(model, "num_prefix_tokens", 0))
    return vit_macs(ViTShape.from_timm(model, num_patches=sched[0][0] - prefix), sched, **kw)
