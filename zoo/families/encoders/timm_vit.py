"""Encoder adapter for timm ``VisionTransformer`` models (DeiT, ViT AugReg/MAE/CLIP-style, registers).

Supported: timm 1.0.x (``vit`` extra in ``pyproject.toml``; tested with 1.0.9 and 1.0.31), models of class
``timm.models.vision_transformer.VisionTransformer`` (and subclasses such as DeiT's
distilled model) whose blocks are timm's pre-norm ``Block`` with the standard ``Attention``
(optional qk-norm, layer scale, attention-output norm, gating). Other block kinds
(``ResPostBlock``, ``ParallelScalingBlock``, ...) are rejected with the list of supported ones.

How it works: see :mod:`zoo.families.encoders.runtime`. Every block gets an instance-level
``forward`` that follows timm's ``Block.forward`` split at the attention residual; a block
where nothing acts runs timm's own code path, so a no-op budget reproduces the model bit for
bit. The first ``model.num_prefix_tokens`` tokens (CLS, distillation, register tokens) are
never reduced.

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

from zoo.families.encoders.protocol import EncoderAdapter

STAGE = "vit"
#: timm versions this adapter is tested with (the ``vit`` extra pins the same range)
TIMM_RANGE = ">=1.0.9,<1.1"


def _timm_vit_module():
    return sys.modules.get("timm.models.vision_transformer")


class TimmViTAdapter(EncoderAdapter):
    name = "timm-vit"
    stage = STAGE
    mask_kind = "general"
    SIGNALS = {"class_token": None, "grid": True, "padding": False}
    serves = "timm VisionTransformer (DeiT, ViT, registers, distilled)"

    @classmethod
    def matches(cls, model: Any) -> bool:
        mod = _timm_vit_module()
        return mod is not None and isinstance(model, mod.VisionTransformer)

    def __init__(self, model: Any) -> None:
        self._dynamic_grid: tuple[int, int] | None = None
        super().__init__(model)

    def find_blocks(self, model: Any) -> list[Any]:
        return list(model.blocks)

    def check_block(self, index: int, block: Any) -> None:
        mod = _timm_vit_module()
        if type(block).forward is not mod.Block.forward:
            raise TypeError(
                f"timm-vit adapter: block {index} is {type(block).__name__}; supported blocks: timm's pre-norm "
                "Block (and subclasses keeping its forward). ResPostBlock/ParallelScalingBlock/... are not supported"
            )
        if type(block.attn).forward is not mod.Attention.forward:
            raise TypeError(
                f"timm-vit adapter: block {index} uses attention {type(block.attn).__name__}; supported: timm's "
                "standard Attention"
            )

    # -- what methods ask ---------------------------------------------------------------
    @property
    def num_prefix_tokens(self) -> int:
        return int(getattr(self.model, "num_prefix_tokens", 0))

    @property
    def has_class_token(self) -> bool:
        return getattr(self.model, "cls_token", None) is not None

    def grid_for(self, n_patches: int) -> tuple[int, int] | None:
        """Patch grid ``(h, w)``: the dynamic-size embedding's last grid, the patch embed's grid or a square."""
        dyn = self._dynamic_grid
        if dyn is not None and dyn[0] * dyn[1] == n_patches:
            return dyn
        grid = getattr(getattr(self.model, "patch_embed", None), "grid_size", None)
        if grid is not None and int(grid[0]) * int(grid[1]) == n_patches:
            return int(grid[0]), int(grid[1])
        side = int(round(n_patches ** 0.5))
        return (side, side) if side * side == n_patches else None

    def install_hooks(self, patch: Any) -> None:
        embed = getattr(self.model, "patch_embed", None)
        if getattr(self.model, "dynamic_img_size", False) and embed is not None:
            patch.add_hook(embed.register_forward_hook(self._grid_hook))

    def _grid_hook(self, module: Any, args: Any, out: Any) -> None:
        """Dynamic image sizes: the patch embedding returns ``[B, H, W, C]``; remember ``(H, W)``."""
        self._dynamic_grid = (int(out.shape[1]), int(out.shape[2])) if out.dim() == 4 else None

    # -- block anatomy ------------------------------------------------------------------
    def block_inputs(self, block: Any, args: tuple, kwargs: dict) -> tuple[Any, Any, bool]:
        x = args[0] if args else kwargs["x"]
        mask = args[1] if len(args) > 1 else kwargs.get("attn_mask")
        is_causal = args[2] if len(args) > 2 else kwargs.get("is_causal", False)
        return x, mask, bool(is_causal)

    def native(self, block: Any, args: tuple, kwargs: dict) -> Any:
        x, mask, is_causal = self.block_inputs(block, args, kwargs)
        if mask is None and not is_causal:
            return type(block).forward(block, x)
        return type(block).forward(block, x, attn_mask=mask, is_causal=is_causal)

    def native_fused(self, block: Any) -> bool:
        return bool(getattr(block.attn, "fused_attn", True))

    def attention_part(self, block: Any, x: Any, attend: Callable) -> Any:
        """timm ``Block``: ``x + drop_path1(ls1(attn(norm1(x))))`` with timm ``Attention.forward``'s steps."""
        attn = block.attn
        h = block.norm1(x)
        b, n, _ = h.shape
        heads = attn.num_heads
        head_dim = getattr(attn, "head_dim", None) or attn.qkv.out_features // (3 * heads)
        gate_layer = getattr(attn, "gate", None)
        gate = gate_layer(h).sigmoid() if gate_layer is not None else None
        q, k, v = attn.qkv(h).reshape(b, n, 3, heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = attn.q_norm(q), attn.k_norm(k)
        out = attend(q, k, v, attn.scale, dropout_p=attn.attn_drop.p if attn.training else 0.0)
        norm = getattr(attn, "norm", None)
        if norm is not None:
            out = norm(out)
        if gate is not None:
            out = out * gate
        out = attn.proj_drop(attn.proj(out))
        return x + block.drop_path1(block.ls1(out))

    def mlp_part(self, block: Any, x: Any) -> Any:
        return x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))
