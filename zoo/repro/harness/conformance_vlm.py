"""Conformance of the LLaVA vision-side methods against the authors' code on the same random LLaVA.

``compare(ctx, reference, params, dtype) -> Measurement`` functions for
:func:`zoo.repro.conformance.conformance_claim`:

1. a randomly initialised HF ``LlavaForConditionalGeneration`` with LLaVA-1.5's layout
   (CLIP ViT-L/14-336 depth, 24 layers, 576 patches; narrow widths; eager attention, so the
   official code can read attention maps), in ``dtype``, and one seeded synthetic prompt;
2. tokzoo: ``zoo.apply(model, method, record_indices=True, **params)``; the features entering
   the multimodal projector and its output are read with forward hooks (public torch API);
3. official: the authors' vision-tower code from the checkout, run on the *same* HF CLIP
   module of that model (their ``CLIPVisionTower`` methods, bound to a stand-in object holding
   the model's vision tower, as LLaVA's own wrapper does), same pixels;
4. compare the kept features (rows matched as a set where the official order differs) and
   the kept patch indices.

The official LLaVA packages register a ``llava`` config with transformers at import; they
are imported below their package ``__init__`` (stub packages pointing at the checkout's
folders), so nothing else of theirs runs.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

from zoo.repro.conformance import Reference, measurement
from zoo.repro.harness.official import imported, max_abs_diff, torch_dtype
from zoo.repro.spec import Measurement

SEED = 0


def _llava(dtype: str, attn: str = "eager"):
    import torch

    from zoo.repro.harness.vlm import random_llava, synthetic_prompt

    torch.manual_seed(SEED)
    model = random_llava("llava-1.5-7b", device="cpu", dtype="float32", attn=attn, hidden_size=64,
                         intermediate_size=128, num_attention_heads=4, num_key_value_heads=4, num_hidden_layers=2,
                         narrow_vision=True)
    model = model.to(torch_dtype(dtype)).eval()
    inputs = synthetic_prompt(model, n_system=8, n_question=8, device="cpu", seed=SEED)
    inputs["pixel_values"] = inputs["pixel_values"].to(torch_dtype(dtype))
    return model, inputs


def _parts(model):
    inner = getattr(model, "model", model)
    return inner.vision_tower, inner.multi_modal_projector


def _ours(model, inputs, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """tokzoo's run: features into the projector ``[B, K, C]``, its output, kept indices per event."""
    import torch

    import zoo

    _, projector = _parts(model)
    seen: dict[str, Any] = {}
    hook = projector.register_forward_hook(lambda mod, args, out: seen.update(features=args[0], projected=out))
    try:
        with zoo.apply(model, method, record_indices=True, **params) as handle, torch.inference_mode():
            model(**inputs, use_cache=False, logits_to_keep=1)
            run = handle.run
            seen["kept"] = [k.clone() for k in run.kept_indices.get("vision", [])]
            seen["tokens"] = list(run.tokens.get("vision", []))
    finally:
        hook.remove()
    return seen


def _package_stubs(root: Path, *packages: str) -> dict[str, Any]:
    """Empty package modules whose ``__path__`` is the checkout's folder (their ``__init__`` is not run)."""
    stubs = {}
    for name in packages:
        mod = types.ModuleType(name)
        mod.__path__ = [str(root.joinpath(*name.split(".")))]
        stubs[name] = mod
    return stubs


def _tower(cls, vision_tower, select_layer: int = -2, select_feature: str = "patch"):
    """An instance of the official ``CLIPVisionTower`` around an existing HF CLIP vision model (no loading)."""
    import torch.nn as nn

    tower = cls.__new__(cls)
    nn.Module.__init__(tower)
    tower.vision_tower = vision_tower
    tower.vision_tower_name = "random"
    tower.select_layer = select_layer
    tower.select_feature = select_feature
    tower.is_loaded = True
    return tower


def _vision_model_view(vision):
    """The HF CLIP vision model with the attribute layout of transformers 4.x (``.vision_model.encoder``),
    which the LLaVA-era official code reads; transformers 5 flattened ``CLIPVisionModel``."""
    import torch.nn as nn

    class View(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        @property
        def vision_model(self):
            return self.inner

        @property
        def dtype(self):
            return self.inner.dtype

        @property
        def device(self):
            return self.inner.device

        @property
        def config(self):
            return self.inner.config

        def forward(self, *args, **kwargs):
            return self.inner(*args, **kwargs)

    return View(vision)


def _rows_matched(ours, theirs) -> tuple[float, bool]:
    """Largest difference after matching the rows of two ``[K, C]`` feature sets (same set in any order)."""
    import torch

    a, b = ours.reshape(-1, ours.shape[-1]).double(), theirs.reshape(-1, theirs.shape[-1]).double()
    if a.shape != b.shape:
        return float("inf"), False
    nearest = torch.cdist(b, a).argmin(dim=1)
    bijective = len(set(nearest.tolist())) == a.shape[0]
    return float((a[nearest] - b).abs().max()), bijective


# ---------------------------------------------------------------- FasterVLM
def fastervlm(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str) -> Measurement:
    """Theia-4869/FasterVLM: its ``CLIPVisionTower.forward`` ([CLS] attentions of the select layer) and
    ``LlavaMetaForCausalLM.encode_images`` (top-k of the head-averaged [CLS] attention, index mask, projector)."""
    import torch

    from zoo.flops import kept_tokens

    model, inputs = _llava(dtype)
    ours = _ours(model, inputs, "fastervlm", params)
    vision, projector = _parts(model)
    n = (vision.config.image_size // vision.config.patch_size) ** 2
    k = kept_tokens(n, params.get("keep_ratio"), params.get("keep_tokens"))
    root = Path(reference.path)
    with imported(root, "llava.model.multimodal_encoder.clip_encoder", "llava.model.llava_arch") as (enc, arch):
        tower = _tower(enc.CLIPVisionTower, vision)
        inner = types.SimpleNamespace(get_vision_tower=lambda: tower, mm_projector=projector)
        standin = types.SimpleNamespace(get_model=lambda: inner, get_visual_token_num=lambda: k)
        with torch.inference_mode():
            projected, masks, _ = arch.LlavaMetaForCausalLM.encode_images(standin, inputs["pixel_values"])
    theirs_kept = [sorted(torch.nonzero(m).squeeze(1).tolist()) for m in masks]
    ours_kept = [sorted(row.tolist()) for row in ours["kept"][0]] if ours.get("kept") else None
    theirs_projected = projected[masks].reshape(projected.shape[0], -1, projected.shape[-1])
    return measurement(reference, dtype, differences={"projected image features": max_abs_diff(ours["projected"],
                                                                                                 theirs_projected)},
                       kept_equal={"same kept patch indices": ours_kept == theirs_kept},
                       details={"model": "LLaVA-1.5 layout, narrow, random weights, eager attention",
                                "kept_tokens": k, "tokens": ours.get("tokens"),
                                "kept_indices": {"tokzoo": ours_kept, "official": theirs_kept},
                                "official_call": "LlavaMetaForCausalLM.encode_images(self) with the official "
                                                 "CLIPVisionTower around the model's CLIP vision model"})


# ---------------------------------------------------------------- LLaVA-PruMerge
def prumerge(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str) -> Measurement:
    """42Shawn/LLaVA-PruMerge ``CLIPVisionTower.token_prune_merge_advanced`` (PruMerge) or
    ``token_prune_merge_advanced_plus`` (PruMerge+), adaptive IQR selection, on the model's CLIP."""
    import torch

    model, inputs = _llava(dtype, attn="sdpa")  # the official code reads no attention map
    ours = _ours(model, inputs, "llava-prumerge", params)
    vision, _ = _parts(model)
    root = Path(reference.path)
    stubs = _package_stubs(root, "llava", "llava.model", "llava.model.multimodal_encoder")
    plus = bool(params.get("plus", False))
    with imported(root, "llava.model.multimodal_encoder.clip_encoder", stubs=stubs) as (enc,):
        tower = _tower(enc.CLIPVisionTower, _vision_model_view(vision))
        fn = tower.token_prune_merge_advanced_plus if plus else tower.token_prune_merge_advanced
        with torch.inference_mode():
            if params.get("keep_ratio") is None:
                theirs = fn(inputs["pixel_values"], if_adaptive=True)
            else:
                theirs = fn(inputs["pixel_values"], if_adaptive=False, reduction_ratio=float(params["keep_ratio"]))
    diff, bijective = _rows_matched(ours["features"], theirs)
    return measurement(reference, dtype, differences={"image features into the projector (rows matched)": diff},
                       kept_equal={"same number of kept tokens": ours["features"].shape == theirs.shape,
                                   "kept tokens pair up one to one": bijective},
                       details={"model": "LLaVA-1.5 layout, narrow, random weights, eager attention",
                                "tokens": {"tokzoo": list(ours["features"].shape), "official": list(theirs.shape)},
                                "official_call": ("CLIPVisionTower.token_prune_merge_advanced_plus"
                                                  if plus else "CLIPVisionTower.token_prune_merge_advanced")
                                + "(images, if_adaptive=...) on the model's CLIP vision model",
                                "order": "the official code returns the kept tokens in top-k order; rows are matched "
                                         "as a set"})


# ---------------------------------------------------------------- VisionZip
def _hf4_shape(self, tensor, seq_len: int, bsz: int):
    """transformers 4.x ``CLIPAttention._shape`` (removed in 5.x), which the official attention forward calls."""
    return tensor.view(bsz, seq_len, self.num_heads, self.head_dim).transpose(1, 2).contiguous()


def visionzip(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str) -> Measurement:
    """dvlab-research/VisionZip: ``CLIPVisionTower_VisionZip.forward`` with its ``CLIPAttention_forward`` and
    ``CLIP_EncoderLayer_forward`` (bound to the model's own CLIP layers, per instance) and ``apply_info``.

    The official ``visionzip()`` patches transformers' CLIP classes globally and expects the 4.x
    encoder loop (layers returning ``(hidden, attn)`` tuples). Here the same official functions
    run per instance on this model's CLIP layers, driven by the 4.x loop (embeddings,
    pre-layernorm, layer by layer, collecting hidden states and attentions); nothing global is
    patched and the instance attributes are removed afterwards.

    The model uses SDPA: transformers 5's eager attention rounds the softmax through float32
    (``softmax(..., dtype=float32)``), which in a float64 run would differ from the official
    attention forward (float64 throughout) by ~1e-8 for reasons of neither implementation."""
    model, inputs = _llava(dtype, attn="sdpa")
    ours = _ours(model, inputs, "visionzip", params)
    vision, _ = _parts(model)
    dominant, contextual = int(params["dominant"]), int(params["contextual"])
    root = Path(reference.path)
    stubs = _package_stubs(root, "visionzip")
    patched: list[tuple[Any, str]] = []
    import transformers.models.clip.modeling_clip as hf_clip

    # utils.py imports CLIPVisionTransformer (gone in transformers 5) and never uses it
    added = not hasattr(hf_clip, "CLIPVisionTransformer")
    if added:
        hf_clip.CLIPVisionTransformer = hf_clip.CLIPVisionModel
    try:
        return _visionzip_official(reference, root, stubs, patched, vision, inputs, ours, dominant, contextual, dtype)
    finally:
        if added:
            del hf_clip.CLIPVisionTransformer


def _visionzip_official(reference, root, stubs, patched, vision, inputs, ours, dominant, contextual, dtype):
    import torch
    import torch.nn as nn

    with imported(root, "visionzip.utils", "visionzip.clip_encoder", stubs=stubs) as (utils, enc):
        for layer in vision.encoder.layers:
            layer.self_attn.forward = types.MethodType(utils.CLIPAttention_forward, layer.self_attn)
            layer.self_attn._shape = types.MethodType(_hf4_shape, layer.self_attn)
            patched += [(layer.self_attn, "forward"), (layer.self_attn, "_shape")]

        class View(nn.Module):  # transformers 4.x CLIPVisionModel layout and encoder loop over the 5.x module
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            @property
            def vision_model(self):
                return self.inner

            def forward(self, images, output_hidden_states=True, output_attentions=True):
                h = self.inner.pre_layrnorm(self.inner.embeddings(images))
                hidden, attentions = [h], []
                for layer in self.inner.encoder.layers:
                    out = utils.CLIP_EncoderLayer_forward(layer, h, None, None, output_attentions=True)
                    h = out[0]
                    hidden.append(h)
                    attentions.append(out[1])
                return types.SimpleNamespace(hidden_states=tuple(hidden), attentions=tuple(attentions))

        view = View(vision)
        try:
            utils.apply_info(view, dominant_num=dominant - 1, contextual_num=contextual)
            for layer in vision.encoder.layers:
                patched.append((layer, "_info"))
            tower = types.SimpleNamespace(vision_tower=view, device=inputs["pixel_values"].device,
                                          dtype=inputs["pixel_values"].dtype)
            with torch.inference_mode():
                theirs, indices = enc.CLIPVisionTower_VisionZip.forward(tower, inputs["pixel_values"])
        finally:
            for obj, name in patched:
                obj.__dict__.pop(name, None)
            for layer in vision.encoder.layers:
                layer.__dict__.pop("metric", None)
    theirs_dominant = [sorted((row[1:] - 1).tolist()) for row in indices]
    ours_dominant = [sorted(row[1:dominant].tolist()) for row in ours["kept"][0]] if ours.get("kept") else None
    return measurement(reference, dtype, differences={"image features into the projector": max_abs_diff(ours["features"],
                                                                                                          theirs)},
                       kept_equal={"same dominant patch indices": ours_dominant == theirs_dominant},
                       details={"model": "LLaVA-1.5 layout, narrow, random weights, eager attention",
                                "dominant": dominant, "contextual": contextual,
                                "max_abs_diff_per_token": ((ours["features"].double() - theirs.double()).abs()
                                                           .amax(dim=-1)[0].tolist()
                                                           if ours["features"].shape == theirs.shape else None),
                                "tokens": {"tokzoo": list(ours["features"].shape), "official": list(theirs.shape)},
                                "official_call": "apply_info(tower, dominant - 1, contextual); "
                                                 "CLIPVisionTower_VisionZip.forward(tower, images), with the official "
                                                 "CLIPAttention_forward / CLIP_EncoderLayer_forward bound per instance"})
