"""Family adapters: one per model family; they know where tokens live in a model.

``ADAPTERS`` maps an adapter name to ``"module:Class"``. ``detect`` tries each adapter's
``matches(model)`` (cheap structural checks, no heavy imports at module level).
"""

from __future__ import annotations

import importlib

ADAPTERS: dict[str, str] = {
    "timm-vit": "zoo.families.encoders.timm_vit:TimmViTAdapter",
    "llava": "zoo.families.decoders.llava:LlavaAdapter",
    "llava-next": "zoo.families.decoders.llava:LlavaNextAdapter",
    "llava-onevision": "zoo.families.decoders.llava_onevision:LlavaOnevisionAdapter",
    "llava-next-video": "zoo.families.decoders.llava_next_video:LlavaNextVideoAdapter",
    "qwen2-vl": "zoo.families.decoders.qwen_vl:Qwen2VLAdapter",
    "qwen2.5-vl": "zoo.families.decoders.qwen_vl:Qwen2_5_VLAdapter",
    "text-lm": "zoo.families.decoders.text_lm:TextLMAdapter",
    "qwen2-audio": "zoo.families.decoders.qwen_audio:Qwen2AudioAdapter",
    "hf-vit": "zoo.families.encoders.hf_vision:HFViTAdapter",
    "hf-clip-vision": "zoo.families.encoders.hf_vision:HFCLIPVisionAdapter",
    "hf-siglip-vision": "zoo.families.encoders.hf_vision:HFSiglipVisionAdapter",
    "hf-bert": "zoo.families.encoders.hf_text:HFBertAdapter",
    "hf-ast": "zoo.families.encoders.hf_audio:HFASTAdapter",
    "hf-whisper-encoder": "zoo.families.encoders.hf_audio:HFWhisperEncoderAdapter",
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
