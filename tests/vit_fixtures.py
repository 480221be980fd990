"""Tiny timm ViTs for the ViT tests (random weights, saved and reloaded through timm's loader)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

TINY = dict(img_size=32, patch_size=4, embed_dim=32, depth=4, num_heads=2, num_classes=10)
N_PATCHES = (32 // 4) ** 2


def tiny_vit(variant: str = "deit", seed: int = 0, folder: Path | None = None, **overrides: Any):
    """A 4-block ViT with 64 patch tokens. Variants: ``deit`` (CLS), ``reg`` (CLS + 2 registers),
    ``gap`` (no CLS, average pooling), ``distilled`` (DeiT CLS + distillation token),
    ``qknorm`` (qk-norm + layer scale + pre-norm, CLIP/AugReg-style options).
    With ``folder``, the weights are saved there and the model is rebuilt from that file by timm."""
    import timm

    name, kw = "vit_tiny_patch16_224", dict(TINY)
    if variant == "reg":
        kw.update(reg_tokens=2)
    elif variant == "gap":
        kw.update(class_token=False, global_pool="avg")
    elif variant == "distilled":
        name = "deit_tiny_distilled_patch16_224"
    elif variant == "qknorm":
        kw.update(qk_norm=True, init_values=0.1, pre_norm=True)
    elif variant != "deit":
        raise ValueError(variant)
    kw.update(overrides)
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False, **kw)
    # random init gives near-uniform attention; sharpen it so scores differ between tokens
    with torch.no_grad():
        for blk in model.blocks:
            blk.attn.qkv.weight.mul_(8.0)
    if folder is not None:
        path = Path(folder) / f"{variant}.pth"
        torch.save(model.state_dict(), path)
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path), custom_load=False), **kw)
    return model.eval()


def snapshot(model: torch.nn.Module) -> dict[str, Any]:
    """Everything patching could touch: state_dict values and each module's instance __dict__."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    dicts = {}
    for name, mod in model.named_modules():
        d = {}
        for k, v in mod.__dict__.items():
            d[k] = ("dict", {kk: id(vv) for kk, vv in v.items()}) if isinstance(v, dict) else ("obj", id(v))
        dicts[name] = d
    return {"state": state, "dicts": dicts, "classes": {n: type(m) for n, m in model.named_modules()}}


def assert_same_snapshot(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["classes"] == b["classes"]
    assert a["state"].keys() == b["state"].keys()
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k
    assert a["dicts"] == b["dicts"]


# ---------------------------------------------------------------- expected token counts
def merge_cap(n: int, p: int, plan: list[int]) -> list[int]:
    """ToMe-style: block i removes min(r_i, (n - p) // 2)."""
    out = []
    for r in plan:
        n -= min(r, (n - p) // 2)
        out.append(n)
    return out


def tome_plan(depth: int, r: Any, inflect: float = 0.0) -> list[int]:
    if isinstance(r, (list, tuple)):
        return list(r) + [0] * (depth - len(r))
    lo = int(r * (1 - inflect))
    hi = 2 * r - lo
    return [int(lo + (hi - lo) / (depth - 1) * i) for i in range(depth)]


def at_layers(n: int, p: int, depth: int, layers: tuple[int, ...], step) -> list[int]:
    out = []
    for i in range(depth):
        if i in layers:
            n = p + step(n - p)
        out.append(n)
    return out


def ceil_keep(rate: float):
    return lambda n_red: max(1, math.ceil(rate * n_red - 1e-9))
