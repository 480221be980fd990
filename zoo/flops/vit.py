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

A second convention, :func:`torchprofile_macs`: what ``torchprofile.profile_macs`` (the tool
EViT's ``helpers.get_macs`` and PPT's ``main.py`` print) counts on timm-0.4.12-style blocks:
the same matrix products plus one MAC per output element of every affine layer norm and of
the attention-logit scaling ``(q k^T) * scale`` (``H·N²`` per block), plus the method's own
counted ops (``extra``: :func:`evit_torchprofile_extra`, :func:`ppt_torchprofile_extra`).
Checked against ``profile_macs`` on the official EViT and PPT models (random weights; the
count does not depend on weight values), to the MAC.

A third convention, :func:`fvcore_macs`: what ``fvcore.nn.FlopCountAnalysis`` counts on a model
patched with the official ToMe code (ToMe's and ToFu's "GFLOPs"): the matrix products above, 5 per
element of every affine layer norm, and the matching's own matmul (:func:`tome_matching_macs`,
``a @ bᵀ`` of the keys averaged over heads); elementwise ops, softmax and scatter are free.
Checked against ``FlopCountAnalysis`` on ``tome.patch.timm`` models (random weights), to the MAC.

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


# ---------------------------------------------------------------- token counts of the ViT methods
def per_block_counts(n_tokens: int, removals: Sequence[int], *, n_prefix: int = 1, cap_half: bool = True) -> list[int]:
    """Token counts after each block when block ``i`` removes ``removals[i]`` tokens (merging or
    pruning between attention and MLP). ``cap_half``: never more than half of the reducible
    tokens in one block (ToMe's bipartite matching and PPT cap it so)."""
    out, n = [], int(n_tokens)
    for r in removals:
        reducible = n - n_prefix
        r = max(0, min(int(r), reducible // 2 if cap_half else reducible))
        n -= r
        out.append(n)
    return out


def tome_counts(n_tokens: int, depth: int, r: int, *, n_prefix: int = 1) -> list[int]:
    """ToMe with a constant ``r`` (tokens merged in every block, capped at half the patch tokens)."""
    return per_block_counts(n_tokens, [r] * depth, n_prefix=n_prefix)


def evit_counts(n_tokens: int, depth: int, keep_rate: float, layers: Sequence[int], *, fuse: bool = True) -> list[int]:
    """EViT's token counts after each block (official ``evit.py``): at each block of ``layers``
    the non-CLS tokens drop to ``ceil(keep_rate · (N - 1))`` (``N`` counts the CLS token and a
    fused token of an earlier block), plus one fused token when ``fuse``."""
    import math

    out, n = [], int(n_tokens)
    for block in range(depth):
        if block in layers:
            left = math.ceil(keep_rate * (n - 1))
            if left < n - 1:
                n = 1 + left + (1 if fuse else 0)
        out.append(n)
    return out


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


# ---------------------------------------------------------------- torchprofile's convention
def torchprofile_macs(shape: ViTShape, schedule: Sequence[tuple[int, int]] | None = None, *, extra: int = 0) -> int:
    """``torchprofile.profile_macs`` of a timm-0.4.12-style ViT for ``schedule`` (see the module
    docstring): matmuls + patch embedding + head, affine layer norms (1 per element), the
    attention-logit scaling (``H·N²`` per block), plus ``extra`` (the method's own counted ops)."""
    sched = list(full_schedule(shape) if schedule is None else schedule)
    base = vit_macs(shape, sched).total
    norms = sum(shape.embed_dim * (na + nm) for na, nm in sched) + shape.embed_dim * sched[-1][1]
    scale = sum(shape.num_heads * na * na for na, _ in sched)
    return int(base + norms + scale + extra)


def evit_torchprofile_extra(shape: ViTShape, counts: Sequence[int], layers: Sequence[int], *, n_input: int,
                            fuse: bool = True) -> int:
    """EViT's own counted ops (official ``evit.py``): at each reorganisation block the [CLS]
    attention averaged over heads (``mean``: one per non-CLS token) and, with fusion, the
    attention-weighted inattentive tokens (``mul``: one per element of the fused tokens)."""
    extra = 0
    for block, (n_in, n_out) in enumerate(schedule_from_counts(n_input, list(counts))):
        if block in layers and n_out < n_in:
            extra += n_in - 1
            if fuse:
                left = n_out - 2
                extra += (n_in - 1 - left) * shape.embed_dim
    return extra


def ppt_torchprofile_extra(shape: ViTShape, counts: Sequence[int], layers: Sequence[int], branches: Sequence[str], *,
                           n_input: int) -> int:
    """PPT's own counted ops (official ``ppt_deit.py`` and its ``tome.py``) as ``profile_macs``
    sees them: it traces the model, so the scores that non-acting blocks compute and discard
    are dropped from the graph and cost nothing. At acting block ``layers[i]`` with ``N``
    tokens entering: the significance scores (``attn_cls * v_norm``: N) and the CLS score
    (``2 * ones``: 1), then ``branches[i]``, what the image did there: ``"prune"`` (the two
    index offsets ``arange * N`` of ``batch_index_select``: 2, and three traced size
    products: 3) or ``"pool"`` (the keys averaged over heads ``k.mean(1)``: N·head_dim,
    ToMe's bipartite scores ``a @ bᵀ``: ceil(N/2)·floor(N/2)·head_dim, the size-weighted
    ``x * size``: N·C, one traced size product: 1)."""
    if len(branches) != len(layers):
        raise ValueError(f"ppt_torchprofile_extra: {len(layers)} layers but {len(branches)} branches")
    head_dim = shape.attn_dim // shape.num_heads
    extra = 0
    for block, (n_in, n_out) in enumerate(schedule_from_counts(n_input, list(counts))):
        if block not in layers or n_out >= n_in:
            continue
        extra += n_in + 1
        branch = branches[list(layers).index(block)]
        if branch == "prune":
            extra += 2 + 3
        elif branch == "pool":
            extra += n_in * head_dim + ((n_in + 1) // 2) * (n_in // 2) * head_dim + n_in * shape.embed_dim + 1
        else:
            raise ValueError(f"ppt_torchprofile_extra: branch {branch!r}; allowed: prune, pool")
    return extra


# ---------------------------------------------------------------- fvcore's convention (ToMe, ToFu)
def tome_matching_macs(shape: ViTShape, schedule: Sequence[tuple[int, int]]) -> int:
    """MACs of ToMe's bipartite matching as fvcore counts them: in every block that merges
    (``(attention tokens N, MLP tokens)`` with fewer MLP tokens), the scores ``a @ bᵀ`` of the
    keys averaged over heads, alternate tokens split into ``ceil(N/2)`` and ``floor(N/2)``:
    ``ceil(N/2) · floor(N/2) · head_dim``. Blocks that merge nothing skip the matching."""
    head_dim = shape.attn_dim // shape.num_heads
    return sum(((na + 1) // 2) * (na // 2) * head_dim for na, nm in schedule if nm < na)


def fvcore_macs(shape: ViTShape, schedule: Sequence[tuple[int, int]] | None = None, *, extra: int = 0,
                pooled_norm: bool = False) -> int:
    """``fvcore.nn.FlopCountAnalysis`` total of a timm ViT for ``schedule`` (see the module
    docstring): :func:`vit_macs` plus 5 per element of every layer norm (two per block, the final
    one on the tokens leaving the last block, or with ``pooled_norm`` on the one pooled vector:
    MAE-style global pooling, timm's ``global_pool="avg", fc_norm=True``), plus ``extra`` (the
    method's counted ops, e.g. :func:`tome_matching_macs`)."""
    sched = list(full_schedule(shape) if schedule is None else schedule)
    c = shape.embed_dim
    norms = sum(5 * c * (na + nm) for na, nm in sched) + 5 * c * (1 if pooled_norm else sched[-1][1])
    return int(vit_macs(shape, sched).total + norms + extra)


def vit_params(shape: ViTShape) -> int:
    """Learnable parameters of a timm ``VisionTransformer`` of ``shape`` (patch convolution with
    bias, prefix tokens, position embeddings for every token, per block two affine norms, qkv,
    projection and MLP linears with biases, final norm, classifier heads). Token reduction adds
    none, so the count is the same with and without a method."""
    c, a = shape.embed_dim, shape.attn_dim
    ph, pw = shape.patch_size
    embed = c * shape.in_chans * ph * pw + c + shape.num_prefix_tokens * c + shape.num_tokens * c
    block = 4 * c + (c * 3 * a + 3 * a) + (a * c + c) + (c * shape.mlp_in + shape.mlp_in) + (shape.mlp_out * c + c)
    head = (c * shape.num_classes + shape.num_classes) * shape.num_heads_out if shape.num_classes else 0
    return embed + shape.depth * block + 2 * c + head
