"""Block anatomies shared by the Hugging Face encoder adapters (transformers 5.x).

transformers 5.x lays out its encoder layers in a few shapes, each split here at the attention
residual (where tokzoo's reducers act):

- :class:`ViTStyle` (ViT, DeiT, AST): ``layernorm_before`` -> ``attention`` (``q_proj``/``k_proj``/
  ``v_proj``/``o_proj``, ``scaling``) -> ``dropout`` + residual | ``layernorm_after`` -> ``mlp``
  -> ``dropout`` + residual;
- :class:`CLIPStyle` (CLIP and SigLIP vision towers): ``layer_norm1`` -> ``self_attn``
  (``q_proj``/``k_proj``/``v_proj``/``out_proj``, ``scale``) + residual | ``layer_norm2`` -> ``mlp`` + residual;
- :class:`WhisperStyle` (Whisper encoder): queries pre-scaled by ``scaling``, ``fc1``/``fc2`` MLP;
- BERT-family post-norm layers live in :mod:`zoo.families.encoders.hf_text`.

Each adapter accepts only layer classes whose ``forward`` is the library's own (a subclass
overriding it is refused with the supported list), so the split reproduces the layer exactly.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from zoo.families.encoders.protocol import EncoderAdapter


def hf_module(path: str) -> Any:
    """An already imported transformers module (``None`` when transformers or it is not loaded)."""
    return sys.modules.get(f"transformers.models.{path}")


def hf_class(path: str, name: str) -> Any:
    mod = hf_module(path)
    return getattr(mod, name, None) if mod is not None else None


def isinstance_any(obj: Any, classes: list[Any]) -> bool:
    return any(c is not None and isinstance(obj, c) for c in classes)


def attn_implementation(config: Any) -> str:
    return str(getattr(config, "_attn_implementation", None) or "eager")


class HFEncoderAdapter(EncoderAdapter):
    """Common ground of the HF adapters: layer-class checks and the attention implementation."""

    #: ``(module path, class name)`` of the layer classes served
    layer_classes: tuple[tuple[str, str], ...] = ()

    def check_block(self, index: int, block: Any) -> None:
        allowed = [hf_class(p, n) for p, n in self.layer_classes]
        for cls in allowed:
            if cls is not None and isinstance(block, cls) and type(block).forward is cls.forward:
                return
        names = ", ".join(n for _, n in self.layer_classes)
        raise TypeError(f"{self.name} adapter: layer {index} is {type(block).__name__}; supported layers: {names} "
                        "(subclasses that override forward are not supported)")

    def attention_module(self, block: Any) -> Any:
        raise NotImplementedError

    def native_fused(self, block: Any) -> bool:
        config = getattr(self.attention_module(block), "config", None)
        return attn_implementation(config) != "eager"


class ViTStyle(HFEncoderAdapter):
    """Pre-norm layers of ViT/DeiT/AST (see the module docstring)."""

    def attention_module(self, block: Any) -> Any:
        return block.attention

    def attention_part(self, block: Any, x: Any, attend: Callable) -> Any:
        a = block.attention
        h = block.layernorm_before(x)
        shape = (h.shape[0], h.shape[1], -1, a.head_dim)
        q = a.q_proj(h).view(shape).transpose(1, 2)
        k = a.k_proj(h).view(shape).transpose(1, 2)
        v = a.v_proj(h).view(shape).transpose(1, 2)
        out = attend(q, k, v, a.scaling, dropout_p=a.attention_dropout if a.training else 0.0)
        return x + block.dropout(a.o_proj(out))

    def mlp_part(self, block: Any, x: Any) -> Any:
        return x + block.dropout(block.mlp(block.layernorm_after(x)))


class CLIPStyle(HFEncoderAdapter):
    """Pre-norm layers of the CLIP and SigLIP towers (see the module docstring)."""

    def attention_module(self, block: Any) -> Any:
        return block.self_attn

    def attention_part(self, block: Any, x: Any, attend: Callable) -> Any:
        a = block.self_attn
        h = block.layer_norm1(x)
        shape = (h.shape[0], h.shape[1], -1, a.head_dim)
        q = a.q_proj(h).view(shape).transpose(1, 2)
        k = a.k_proj(h).view(shape).transpose(1, 2)
        v = a.v_proj(h).view(shape).transpose(1, 2)
        out = attend(q, k, v, a.scale, dropout_p=a.dropout if a.training else 0.0)
        return x + a.out_proj(out)

    def mlp_part(self, block: Any, x: Any) -> Any:
        return x + block.mlp(block.layer_norm2(x))


class WhisperStyle(HFEncoderAdapter):
    """Whisper encoder layers: queries scaled before the product, as the library does."""

    def attention_module(self, block: Any) -> Any:
        return block.self_attn

    def attention_part(self, block: Any, x: Any, attend: Callable) -> Any:
        import torch.nn.functional as F

        a = block.self_attn
        h = block.self_attn_layer_norm(x)
        shape = (h.shape[0], h.shape[1], -1, a.head_dim)
        q = (a.q_proj(h) * a.scaling).view(shape).transpose(1, 2)
        k = a.k_proj(h).view(shape).transpose(1, 2)
        v = a.v_proj(h).view(shape).transpose(1, 2)
        out = attend(q, k, v, 1.0, dropout_p=a.dropout if a.training else 0.0)
        return x + F.dropout(a.out_proj(out), p=block.dropout, training=block.training)

    def mlp_part(self, block: Any, x: Any) -> Any:
        import torch
        import torch.nn.functional as F

        h = block.activation_fn(block.fc1(block.final_layer_norm(x)))
        h = F.dropout(h, p=block.activation_dropout, training=block.training)
        h = F.dropout(block.fc2(h), p=block.dropout, training=block.training)
        x = x + h
        if x.dtype == torch.float16:
            clamp = torch.finfo(x.dtype).max - 1000
            x = torch.clamp(x, min=-clamp, max=clamp)
        return x


def square_or_config_grid(n_tokens: int, config: Any) -> tuple[int, int] | None:
    """The patch grid of an image tower: ``image_size // patch_size`` when it fits, else a square."""
    size, patch = getattr(config, "image_size", None), getattr(config, "patch_size", None)
    if isinstance(size, int) and isinstance(patch, int) and patch > 0 and (size // patch) ** 2 == n_tokens:
        return size // patch, size // patch
    side = int(round(n_tokens ** 0.5))
    return (side, side) if side * side == n_tokens else None
