"""Moved to :mod:`zoo.families.encoders.timm_vit` (the timm adapter of the encoder protocol); kept as
an import path."""

from zoo.families.encoders.timm_vit import STAGE, TIMM_RANGE, TimmViTAdapter  # noqa: F401
