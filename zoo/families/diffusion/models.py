"""What a diffusers object is: its denoiser, the kind of denoiser, and its transformer blocks.

- :func:`find_denoiser`: a denoiser model itself, or the ``unet`` / ``transformer`` of a
  ``diffusers.DiffusionPipeline``.
- :func:`denoiser_kind`: ``"unet"`` (``UNet2DConditionModel``: SD 1.x/2.x, SDXL layouts),
  ``"dit"`` (``Transformer2DModel`` with patches, ``DiTTransformer2DModel``,
  ``PixArtTransformer2DModel``: ``BasicTransformerBlock`` stacks), ``"mmdit"``
  (``SD3Transformer2DModel``: ``JointTransformerBlock``), ``"flux"`` (recognised, not supported:
  see :data:`UNSUPPORTED`), or ``None``.
- :func:`transformer_blocks`: the blocks tokens are reduced in, in execution order (UNet:
  down blocks, mid block, up blocks).

Nothing here imports diffusers unless it is already imported (a diffusers object exists).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

#: kinds recognised but refused, with the reason (shown to the user)
UNSUPPORTED: dict[str, str] = {
    "flux": (
        "FluxTransformer2DModel is not supported: its attention applies rotary position embeddings computed for "
        "the full concatenated text+image sequence inside the attention processor, so reducing image tokens "
        "would need the rotary tables reduced alongside (not implemented)"
    ),
}

#: class names of blocks patched by other token-merging packages (their patches swap ``__class__``)
FOREIGN_PATCHES: dict[str, str] = {
    "ToMeBlock": "the tomesd package (tomesd.remove_patch(model))",
    "AdaptiveToMeBlock": "the ca_tome package (ca_tome.patch.remove_patch(pipe))",
    "sitoBlock": "the SiTo code (sito.remove_patch(model))",
}


def _diffusers():
    return sys.modules.get("diffusers")


def _classes() -> dict[str, tuple[type, ...]]:
    from diffusers.models.transformers.dit_transformer_2d import DiTTransformer2DModel
    from diffusers.models.transformers.pixart_transformer_2d import PixArtTransformer2DModel
    from diffusers.models.transformers.transformer_2d import Transformer2DModel
    from diffusers.models.transformers.transformer_flux import FluxTransformer2DModel
    from diffusers.models.transformers.transformer_sd3 import SD3Transformer2DModel
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

    return {
        "unet": (UNet2DConditionModel,),
        "dit": (Transformer2DModel, DiTTransformer2DModel, PixArtTransformer2DModel),
        "mmdit": (SD3Transformer2DModel,),
        "flux": (FluxTransformer2DModel,),
    }


def is_pipeline(obj: Any) -> bool:
    lib = _diffusers()
    return lib is not None and isinstance(obj, lib.DiffusionPipeline)


def find_denoiser(obj: Any) -> Any | None:
    """The denoiser model of ``obj`` (``obj`` itself, or a pipeline's ``unet``/``transformer``), or ``None``."""
    lib = _diffusers()
    if lib is None:
        return None
    if is_pipeline(obj):
        for name in ("unet", "transformer"):
            sub = getattr(obj, name, None)
            if sub is not None and denoiser_kind(sub) is not None:
                return sub
        return None
    return obj if denoiser_kind(obj) is not None else None


def denoiser_kind(model: Any) -> str | None:
    """``"unet"``, ``"dit"``, ``"mmdit"``, ``"flux"`` or ``None`` (see the module doc)."""
    lib = _diffusers()
    if lib is None or not isinstance(model, lib.ModelMixin):
        return None
    for kind, classes in _classes().items():
        if isinstance(model, classes):
            if kind == "dit" and getattr(model.config, "patch_size", None) is None:
                return None  # a continuous-input Transformer2DModel is a UNet's inner stack, not a denoiser
            return kind
    return None


def patch_size(model: Any) -> int:
    """Latent pixels per token side: 1 for a UNet, the patch size of a DiT/MMDiT."""
    if denoiser_kind(model) == "unet":
        return 1
    return int(getattr(model.config, "patch_size", 1) or 1)


@dataclass(frozen=True)
class BlockInfo:
    """One transformer block: its position in execution order, module name and kind (``"basic"``/``"joint"``)."""

    index: int
    name: str
    module: Any
    kind: str


_UNET_ORDER = {"down_blocks": 0, "mid_block": 1, "up_blocks": 2}


def transformer_blocks(denoiser: Any) -> list[BlockInfo]:
    """The ``BasicTransformerBlock``/``JointTransformerBlock`` modules of ``denoiser`` in execution order.

    A block patched by another package (tomesd's ``ToMeBlock`` and similar) raises ``TypeError``.
    """
    from diffusers.models.attention import BasicTransformerBlock, JointTransformerBlock

    found = []
    for pos, (name, mod) in enumerate(denoiser.named_modules()):
        if type(mod).__name__ in FOREIGN_PATCHES:
            raise TypeError(f"block {name} is patched by {FOREIGN_PATCHES[type(mod).__name__]}; remove that patch "
                            "before applying a tokzoo method")
        if isinstance(mod, (BasicTransformerBlock, JointTransformerBlock)):
            kind = "joint" if isinstance(mod, JointTransformerBlock) else "basic"
            found.append((_UNET_ORDER.get(name.split(".", 1)[0], 3), pos, name, mod, kind))
    found.sort(key=lambda t: (t[0], t[1]))
    return [BlockInfo(i, name, mod, kind) for i, (_, _, name, mod, kind) in enumerate(found)]
