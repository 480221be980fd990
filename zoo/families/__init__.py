"""Family adapters: one per model family; they know where tokens live in a model.

``ADAPTERS`` maps an adapter name to ``"module:Class"``. ``detect`` tries each adapter's
``matches(model)`` (cheap structural checks, no heavy imports at module level).
"""

from __future__ import annotations

import importlib

ADAPTERS: dict[str, str] = {
    "timm-vit": "zoo.families.timm_vit:TimmViTAdapter",
    "llava": "zoo.families.llava:LlavaAdapter",
    "llava-next": "zoo.families.llava:LlavaNextAdapter",
    "diffusers-unet": "zoo.families.diffusion.adapter:DiffusersUNetAdapter",
    "diffusers-dit": "zoo.families.diffusion.adapter:DiffusersDiTAdapter",
    "diffusers-mmdit": "zoo.families.diffusion.adapter:DiffusersMMDiTAdapter",
}


def adapter_class(name: str):
    """Import and return the adapter class registered under ``name``."""
    if name not in ADAPTERS:
        raise KeyError(f"unknown model family adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}")
    module_name, _, class_name = ADAPTERS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def detect(model):
    """Return an adapter instance for ``model`` or raise ``TypeError`` listing the supported families."""
    for name in ADAPTERS:
        cls = adapter_class(name)
        if cls.matches(model):
            return cls(model)
    raise TypeError(
        f"tokzoo has no family adapter for {type(model).__module__}.{type(model).__name__}; "
        f"supported families: {', '.join(sorted(ADAPTERS)) or '(none)'}"
    )
