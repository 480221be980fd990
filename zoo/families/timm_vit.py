"""Family adapter for timm ``VisionTransformer`` models (DeiT, ViT AugReg/MAE/CLIP-style, registers).

Supported: timm 1.0.x (``vit`` extra in ``pyproject.toml``; tested with 1.0.9 and 1.0.31), models of class
``timm.models.vision_transformer.VisionTransformer`` (and subclasses such as DeiT's
distilled model) whose blocks are timm's pre-norm ``Block`` with the standard ``Attention``
(optional qk-norm, layer scale, attention-output norm, gating). Other block kinds
(``ResPostBlock``, ``ParallelScalingBlock``, ...) are rejected with the list of supported ones.

How it works: every block gets an *instance-level* ``forward`` (recorded in the ``Patch``,
so removal restores the model exactly) that follows timm's ``Block.forward`` and, at blocks
where a reducer acts, computes the requested attention outputs and applies the reduction
between the attention and the MLP (ToMe's placement). A block where nothing acts and no
proportional attention is due runs timm's own code path, so a no-op budget reproduces the
model bit for bit. The first ``model.num_prefix_tokens`` tokens (CLS, distillation,
register tokens) are never reduced.

Token counts: ``run.tokens["vit"]`` holds the count after every block; since reductions
happen inside blocks, block ``i``'s attention sees the count after block ``i - 1`` and its
MLP the count after block ``i`` (``zoo.flops.vit`` uses exactly this).

``attn_mask`` (timm >= 1.0.10 forwards it to the blocks): a mask ``[..., N, N]`` follows the
reductions through each output token's representative (rows and columns gathered); the
first block seeing it starts the tracking. ``is_causal`` is passed through.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from zoo.core.reduce import NEEDS, BlockReducer, BlockView
from zoo.core.tokens import TokenState
from zoo.families.base import FamilyAdapter

STAGE = "vit"
#: timm versions this adapter is tested with (the ``vit`` extra pins the same range)
TIMM_RANGE = ">=1.0.9,<1.1"


def _timm_vit_module():
    return sys.modules.get("timm.models.vision_transformer")


class TimmViTAdapter(FamilyAdapter):
    name = "timm-vit"
    stages = (STAGE,)
    pruning_stage = STAGE

    @classmethod
    def matches(cls, model: Any) -> bool:
        mod = _timm_vit_module()
        return mod is not None and isinstance(model, mod.VisionTransformer)

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        mod = _timm_vit_module()
        self.blocks = list(model.blocks)
        for i, blk in enumerate(self.blocks):
            if type(blk).forward is not mod.Block.forward:
                raise TypeError(
                    f"timm-vit adapter: block {i} is {type(blk).__name__}; supported blocks: timm's pre-norm "
                    "Block (and subclasses keeping its forward). ResPostBlock/ParallelScalingBlock/... are not supported"
                )
            if type(blk.attn).forward is not mod.Attention.forward:
                raise TypeError(
                    f"timm-vit adapter: block {i} uses attention {type(blk.attn).__name__}; supported: timm's "
                    "standard Attention"
                )
        self._runtime: _Runtime | None = None

    # -- what methods ask ---------------------------------------------------------------
    def depth(self, stage: str = STAGE) -> int:
        if stage != STAGE:
            raise KeyError(f"timm-vit has one stage {STAGE!r}, not {stage!r}")
        return len(self.blocks)

    @property
    def num_prefix_tokens(self) -> int:
        """CLS + distillation + register tokens at the front (never reduced)."""
        return int(getattr(self.model, "num_prefix_tokens", 0))

    @property
    def has_class_token(self) -> bool:
        return getattr(self.model, "cls_token", None) is not None

    def grid_for(self, n_patches: int) -> tuple[int, int] | None:
        """Patch grid ``(h, w)`` for ``n_patches`` tokens: the patch embed's grid or a square one."""
        grid = getattr(getattr(self.model, "patch_embed", None), "grid_size", None)
        if grid is not None and int(grid[0]) * int(grid[1]) == n_patches:
            return int(grid[0]), int(grid[1])
        side = int(round(n_patches ** 0.5))
        return (side, side) if side * side == n_patches else None

    # -- primitives -----------------------------------------------------------------------
    def install_reducer(self, patch: Any, run: Any, reducer: BlockReducer) -> None:
        """Run ``reducer`` inside the blocks (see :mod:`zoo.core.reduce`). Several reducers may be
        installed by one application; at a block they act in installation order."""
        if self._runtime is None:
            self._runtime = _Runtime(self, run)
            self._runtime.install(patch)
        self._runtime.reducers.append(reducer)

    def install_token_pruning(self, patch: Any, run: Any, *, layer: int, keep_ratio: float | None = None,
                              keep_tokens: int | None = None, scorer: Callable[[Any], Any]) -> None:
        """Prune the patch tokens between the attention and the MLP of block ``layer`` (see the base class)."""
        if not 0 <= layer < len(self.blocks):
            raise ValueError(f"layer={layer}: the model has {len(self.blocks)} blocks (0..{len(self.blocks) - 1})")
        self.install_reducer(patch, run, _ScoredPruning(layer, keep_ratio, keep_tokens, scorer))


class _ScoredPruning(BlockReducer):
    kind = "prune"

    def __init__(self, layer: int, keep_ratio: float | None, keep_tokens: int | None, scorer: Callable) -> None:
        self.layer, self.keep_ratio, self.keep_tokens, self.scorer = layer, keep_ratio, keep_tokens, scorer

    def acts_at(self, index: int) -> bool:
        return index == self.layer

    def reduce(self, view: BlockView):
        from zoo.core.select import keep_count, topk_keep_indices
        from zoo.core.tokens import keep

        state = view.state
        n_red = state.n_reducible
        k = keep_count(n_red, self.keep_ratio, self.keep_tokens)
        if k >= n_red:
            return None
        scores = self.scorer(state.x[:, state.n_prefix:])
        if tuple(scores.shape) != (state.x.shape[0], n_red):
            raise ValueError(f"scorer returned shape {tuple(scores.shape)}; expected {(state.x.shape[0], n_red)}")
        return keep(state, topk_keep_indices(scores, k))


class _Runtime:
    """Per-application execution state: patched block forwards and the current forward's tokens."""

    def __init__(self, adapter: TimmViTAdapter, run: Any) -> None:
        self.adapter = adapter
        self.run = run
        self.reducers: list[BlockReducer] = []
        self.depth = len(adapter.blocks)
        self.state_size = None
        self.state_source = None
        self.scratch: dict[str, Any] = {}
        self.grid: tuple[int, int] | None = None
        self.mask_in = None
        self.mask_cur = None
        self.dynamic_grid: tuple[int, int] | None = None

    def install(self, patch: Any) -> None:
        for i, blk in enumerate(self.adapter.blocks):
            patch.set_attr(blk, "forward", self._make_forward(i, blk))
        embed = getattr(self.adapter.model, "patch_embed", None)
        if getattr(self.adapter.model, "dynamic_img_size", False) and embed is not None:
            patch.add_hook(embed.register_forward_hook(self._grid_hook))

    def _grid_hook(self, module: Any, args: Any, out: Any) -> None:
        """Dynamic image sizes: the patch embedding returns ``[B, H, W, C]``; remember ``(H, W)``."""
        self.dynamic_grid = (int(out.shape[1]), int(out.shape[2])) if out.dim() == 4 else None

    def _make_forward(self, index: int, block: Any) -> Callable:
        def forward(x, attn_mask=None, is_causal=False):
            return self.block_forward(index, block, x, attn_mask, is_causal)

        forward.__doc__ = f"tokzoo-patched forward of block {index} (instance attribute; removed by Handle.remove())"
        return forward

    # -- one forward ----------------------------------------------------------------------
    def begin(self, x: Any) -> None:
        n_prefix = self.adapter.num_prefix_tokens
        self.state_size = None
        self.state_source = None
        self.scratch = {}
        self.mask_in = self.mask_cur = None
        n_patches = x.shape[1] - n_prefix
        grid = self.dynamic_grid
        self.grid = grid if grid is not None and grid[0] * grid[1] == n_patches else self.adapter.grid_for(n_patches)
        self.run.start(STAGE, x.shape[1])
        if self.run.record_sources:
            from zoo.core.tokens import initial_source

            self.state_source = initial_source(x.shape[0], x.shape[1], x.device)
        state = TokenState(x=x, size=None, source=self.state_source, n_prefix=n_prefix)
        for r in self.reducers:
            r.begin(state, self.depth, self.grid, self.scratch)

    def current_mask(self, attn_mask: Any) -> Any:
        if attn_mask is None:
            return None
        if self.mask_in is not attn_mask and self.mask_cur is None:
            self.mask_in = self.mask_cur = attn_mask
        return self.mask_cur

    def block_forward(self, index: int, block: Any, x: Any, attn_mask: Any, is_causal: bool) -> Any:
        if index == 0:
            self.begin(x)
        mask = self.current_mask(attn_mask)
        acting = [r for r in self.reducers if r.acts_at(index)]
        needs = frozenset().union(*(r.needs(index) for r in acting)) if acting else frozenset()
        unknown = needs - set(NEEDS)
        if unknown:
            raise ValueError(f"reducer asked for unknown attention outputs {sorted(unknown)}; known: {sorted(NEEDS)}")
        size = self.state_size if any(r.prop_attn for r in self.reducers) else None

        h = block.norm1(x)
        if not needs and size is None:
            if mask is None and not is_causal:
                a = block.attn(h)
            else:
                a = block.attn(h, attn_mask=mask, is_causal=is_causal)
            info: dict[str, Any] = {}
        else:
            a, info = _attention(block.attn, h, mask, is_causal, size, needs)
        x = x + block.drop_path1(block.ls1(a))

        if acting:
            state = TokenState(x=x, size=self.state_size, source=self.state_source,
                               n_prefix=self.adapter.num_prefix_tokens)
            for r in acting:
                view = BlockView(index=index, depth=self.depth, state=state, grid=self.grid, scratch=self.scratch,
                                 **info)
                out = r.reduce(view)
                if out is None:
                    continue
                new, rep = out
                self.run.log_event(STAGE, index, r.kind, state.n, new.n)
                if self.run.record_indices:
                    self.run.kept_indices.setdefault(STAGE, []).append(rep)
                if self.mask_cur is not None:
                    self.mask_cur = _gather_mask(self.mask_cur, rep)
                state = new
                info = {}  # attention outputs describe the old tokens only
            x = state.x
            self.state_size, self.state_source = state.size, state.source

        x = x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))
        self.run.log(STAGE, x.shape[1])
        if index == self.depth - 1 and self.state_source is not None:
            self.run.sources[STAGE] = self.state_source
        return x


def _gather_mask(mask: Any, rep: Any) -> Any:
    """Follow a reduction in an SDPA-style mask (``[N, N]`` or ``[B|1, H|1, N|1, N|1]``) through the
    representatives ``rep`` ``[B, N']``: rows and columns of size ``N`` are gathered."""
    import torch

    m = mask
    while m.dim() < 4:
        m = m.unsqueeze(0)
    b = rep.shape[0]
    if m.shape[0] != b:
        m = m.expand(b, *m.shape[1:])
    heads = m.shape[1]
    if m.shape[2] > 1:
        m = torch.gather(m, 2, rep[:, None, :, None].expand(-1, heads, -1, m.shape[3]))
    if m.shape[3] > 1:
        m = torch.gather(m, 3, rep[:, None, None, :].expand(-1, heads, m.shape[2], -1))
    return m


def _attention(attn: Any, h: Any, mask: Any, is_causal: bool, size: Any, needs: frozenset[str]):
    """timm ``Attention.forward`` with proportional attention and the requested outputs.

    h ``[B, N, C]`` -> (out ``[B, N, C]``, dict with the requested entries of :data:`NEEDS`).
    Uses fused SDPA unless the full attention is requested or the module is unfused.
    """
    import torch.nn.functional as F

    from zoo.core.attention import add_biases, as_additive, attention_probs, causal_bias, size_bias

    b, n, _ = h.shape
    heads = attn.num_heads
    head_dim = getattr(attn, "head_dim", None) or attn.qkv.out_features // (3 * heads)
    attn_dim = getattr(attn, "attn_dim", heads * head_dim)
    gate_layer = getattr(attn, "gate", None)
    gate = gate_layer(h).sigmoid() if gate_layer is not None else None
    qkv = attn.qkv(h).reshape(b, n, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)

    bias = add_biases(as_additive(mask, q.dtype), None if size is None else size_bias(size, q.dtype))
    if is_causal and bias is not None:
        bias, is_causal = bias + causal_bias(n, q.dtype, q.device), False

    info: dict[str, Any] = {}
    if "attn" in needs or not getattr(attn, "fused_attn", True):
        full_bias = causal_bias(n, q.dtype, q.device) if is_causal else bias
        probs = attention_probs(q, k, attn.scale, full_bias)
        out = attn.attn_drop(probs) @ v
        if "attn" in needs:
            info["attn"] = probs
        if "cls_attn" in needs:
            info["cls_attn"] = probs[:, :, 0]
    else:
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=attn.attn_drop.p if attn.training else 0.0, is_causal=is_causal
        )
        if "cls_attn" in needs:
            row_bias = None if bias is None else (bias[..., :1, :] if bias.shape[-2] > 1 else bias)
            if is_causal:
                row_bias = causal_bias(n, q.dtype, q.device)[:1]
            info["cls_attn"] = attention_probs(q[:, :, :1], k, attn.scale, row_bias)[:, :, 0]
    if "keys" in needs:
        info["keys"] = k.mean(1)
    if "values" in needs:
        info["values"] = v

    out = out.transpose(1, 2).reshape(b, n, attn_dim)
    norm = getattr(attn, "norm", None)
    if norm is not None:
        out = norm(out)
    if gate is not None:
        out = out * gate
    out = attn.proj_drop(attn.proj(out))
    return out, info
