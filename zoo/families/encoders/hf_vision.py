"""Encoder adapters for Hugging Face vision towers: ViT/DeiT, CLIP vision, SigLIP vision.

- ``hf-vit``: ``ViTModel``, ``ViTForImageClassification``, ``DeiTModel``,
  ``DeiTForImageClassification(WithTeacher)``. Prefix: [CLS] (ViT) or [CLS] + distillation
  token (DeiT), never reduced.
- ``hf-clip-vision``: ``CLIPVisionModel``, ``CLIPVisionModelWithProjection``, and the vision
  tower of ``CLIPModel`` (the text tower is left alone). Prefix: the class embedding.
- ``hf-siglip-vision``: ``SiglipVisionModel`` and the vision tower of ``SiglipModel``. SigLIP has
  **no [CLS]** (its head pools all tokens by attention): nothing is protected, and methods
  follow their own rule for that case (ToMe: no protected token and the unmerged tokens left
  in match-score order, as the official code does for models without a class token; methods
  that rank tokens by the [CLS] attention, EViT/PPT/ATS, refuse the model).

The layers run through :mod:`zoo.families.encoders.hf_common` (``ViTStyle``/``CLIPStyle``); the
patch grid is ``image_size // patch_size`` (or a square) for GTP-ViT's spatial graph. Masked
image modelling heads need every patch back and are not served.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zoo.families.encoders.hf_common import CLIPStyle, ViTStyle, hf_class, isinstance_any, square_or_config_grid


class HFViTAdapter(ViTStyle):
    name = "hf-vit"
    stage = "vit"
    SIGNALS = {"class_token": True, "grid": True, "padding": False}
    serves = "transformers ViTModel/ViTForImageClassification, DeiTModel/DeiTForImageClassification(WithTeacher)"
    layer_classes = (("vit.modeling_vit", "ViTLayer"), ("deit.modeling_deit", "DeiTLayer"))

    @staticmethod
    def _tower(model: Any) -> Any:
        bases = [hf_class("vit.modeling_vit", "ViTModel"), hf_class("deit.modeling_deit", "DeiTModel")]
        if isinstance_any(model, bases):
            return model
        heads = [hf_class("vit.modeling_vit", "ViTForImageClassification"),
                 hf_class("deit.modeling_deit", "DeiTForImageClassification"),
                 hf_class("deit.modeling_deit", "DeiTForImageClassificationWithTeacher")]
        if isinstance_any(model, heads):
            return model.base_model
        return None

    @classmethod
    def matches(cls, model: Any) -> bool:
        return cls._tower(model) is not None

    def find_blocks(self, model: Any) -> list[Any]:
        self.tower = self._tower(model)
        return list(self.tower.layers)

    @property
    def num_prefix_tokens(self) -> int:
        deit = hf_class("deit.modeling_deit", "DeiTModel")
        return 2 if deit is not None and isinstance(self.tower, deit) else 1

    @property
    def has_class_token(self) -> bool:
        return True

    def grid_for(self, n_tokens: int) -> tuple[int, int] | None:
        return square_or_config_grid(n_tokens, self.tower.config)


class _DualEncoderVisionTower(CLIPStyle):
    """A vision tower model class (``tower_class``), alone or as the ``vision_model`` of its
    dual-encoder model (CLIPModel, SiglipModel); the layers are ``tower.encoder.layers``."""

    tower_class: ClassVar[tuple[str, str]]

    @classmethod
    def _tower(cls, model: Any) -> Any:
        tower_cls = hf_class(*cls.tower_class)
        if tower_cls is None:
            return None
        if isinstance(model, tower_cls):
            return model
        inner = getattr(model, "vision_model", None)
        return inner if isinstance(inner, tower_cls) else None

    @classmethod
    def matches(cls, model: Any) -> bool:
        return cls._tower(model) is not None

    def find_blocks(self, model: Any) -> list[Any]:
        self.tower = self._tower(model)
        return list(self.tower.encoder.layers)

    def grid_for(self, n_tokens: int) -> tuple[int, int] | None:
        return square_or_config_grid(n_tokens, self.tower.config)


class HFCLIPVisionAdapter(_DualEncoderVisionTower):
    name = "hf-clip-vision"
    stage = "vit"
    SIGNALS = {"class_token": True, "grid": True, "padding": False}
    serves = "transformers CLIPVisionModel(WithProjection), CLIPModel's vision tower"
    layer_classes = (("clip.modeling_clip", "CLIPEncoderLayer"),)
    tower_class = ("clip.modeling_clip", "CLIPVisionModel")

    @property
    def num_prefix_tokens(self) -> int:
        return 1

    @property
    def has_class_token(self) -> bool:
        return True


class HFSiglipVisionAdapter(_DualEncoderVisionTower):
    name = "hf-siglip-vision"
    stage = "vit"
    SIGNALS = {"class_token": False, "grid": True, "padding": False}
    serves = "transformers SiglipVisionModel, SiglipModel's vision tower"
    layer_classes = (("siglip.modeling_siglip", "SiglipEncoderLayer"),)
    tower_class = ("siglip.modeling_siglip", "SiglipVisionModel")
