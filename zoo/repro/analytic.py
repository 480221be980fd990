"""Helpers for analytic claims: token counts and FLOPs from the configs in ``repro/configs``.

Everything here is exact arithmetic on public config numbers (no weights, no torch).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from zoo.flops import DecoderConfig, TokenSchedule, flops_ratio, full_schedule, stack_flops
from zoo.repro import loader
from zoo.repro.spec import Measurement


def decoder(config_name: str) -> DecoderConfig:
    """The LLM part of ``repro/configs/<config_name>.json``."""
    return DecoderConfig.from_dict(loader.load_config(config_name), name=config_name)


def image_tokens(config_name: str) -> int:
    """Visual tokens one image gives the LLM: ``(image_size / patch_size)²`` of the vision tower."""
    vision = loader.load_config(config_name)["vision_config"]
    side = vision["image_size"] // vision["patch_size"]
    return side * side


def schedule_measurement(cfg: DecoderConfig, method: TokenSchedule, baseline: TokenSchedule, convention: str,
                         *, as_percent: str, **kwargs: Any) -> Measurement:
    """Measurement of a FLOPs claim: ``as_percent`` is ``"ratio"`` (method/baseline) or ``"reduction"``.

    The details keep both totals, the convention and the per-layer token counts.
    """
    ratio = flops_ratio(method, baseline, cfg, convention, **kwargs)
    value = 100 * ratio if as_percent == "ratio" else 100 * (1 - ratio)
    return Measurement(
        value=value,
        details={
            "convention": convention,
            "flops_method": stack_flops(method, cfg, convention, **kwargs),
            "flops_baseline": stack_flops(baseline, cfg, convention, **kwargs),
            "ratio": ratio,
            "image_tokens_per_layer": list(method.image),
            "other_tokens_per_layer": list(method.other),
            "model": cfg.name,
        },
    )


def reproducing_range(predicate, candidates: Sequence[int]) -> list[int] | None:
    """``[lo, hi]`` of the candidates for which ``predicate`` holds (None when none)."""
    ok = [c for c in candidates if predicate(c)]
    return [ok[0], ok[-1]] if ok else None


__all__ = ["decoder", "image_tokens", "schedule_measurement", "reproducing_range", "full_schedule"]


# ---------------------------------------------------------------- ViT (timm) helpers
def vit_shape(config_name: str):
    """``zoo.flops.vit.ViTShape`` of ``repro/configs/<config_name>.json`` (no model built)."""
    from zoo.flops.vit import ViTShape

    cfg = loader.load_config(config_name)
    d = cfg["embed_dim"]
    grid = cfg["img_size"] // cfg["patch_size"]
    return ViTShape(embed_dim=d, depth=cfg["depth"], num_heads=cfg["num_heads"], attn_dim=d,
                    mlp_in=int(d * cfg["mlp_ratio"]), mlp_out=int(d * cfg["mlp_ratio"]),
                    patch_size=(cfg["patch_size"], cfg["patch_size"]), in_chans=cfg["in_chans"],
                    num_patches=grid * grid, num_prefix_tokens=1 if cfg.get("class_token", True) else 0,
                    num_classes=cfg["num_classes"])


def vit_macs(config_name: str, tokens_after_block: Sequence[int] | None = None) -> float:
    """fvcore-style MACs (``zoo.flops.vit``) of a timm ViT config for a token schedule.

    ``tokens_after_block[i]`` is the token count after block ``i`` (CLS included); every zoo
    ViT reducer acts between attention and MLP, so attention runs on the count entering the
    block and the MLP on the count leaving it. ``None`` means no reduction.
    """
    from zoo.flops import vit

    shape = vit_shape(config_name)
    sched = None if tokens_after_block is None else vit.schedule_from_counts(shape.num_tokens, list(tokens_after_block))
    return float(vit.vit_macs(shape, sched).total)


def vit_implementation_schedule(config_name: str, method_id: str, params: dict, *, width: int = 48,
                                heads: int = 3, seed: int = 0) -> dict:
    """Token counts the zoo's implementation of ``method_id`` produces on the paper's architecture.

    Runs a *narrow* timm model (width ``width``) with the paper model's depth, patch grid and
    class token on one seeded random image: the schedule of a fixed-budget method depends on
    the depth and token count, not on the width. Returns ``{"input": n0, "after_block": [...]}``.
    """
    import torch

    from zoo.repro.harness import methods
    from zoo.repro.harness.vit import vit_model

    methods.require_method(method_id)
    torch.manual_seed(seed)
    model = vit_model(config_name, embed_dim=width, num_heads=heads)
    size = loader.load_config(config_name)["img_size"]
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with methods.apply(model, method_id, params) as handle, torch.inference_mode():
        model(x)
        run = handle.run
        return {"input": run.input_tokens["vit"], "after_block": list(run.tokens["vit"])}


def llava_implementation_schedule(config_name: str, method_id: str, params: dict, *, n_system: int = 36,
                                  n_question: int = 40, width: int = 64, seed: int = 0) -> dict:
    """Token counts of the zoo's implementation on a narrow LLaVA with the paper model's depths.

    Keeps the LLM's number of layers, the vision tower's depth, image size and patch size
    (so the image-token count is exact) and shrinks widths; returns the ``Run`` record
    (``tokens`` per stage and ``input_tokens``).
    """
    import torch

    from zoo.repro.harness import methods
    from zoo.repro.harness.vlm import random_llava, synthetic_prompt

    methods.require_method(method_id)
    torch.manual_seed(seed)
    model = random_llava(config_name, device="cpu", dtype="float32", hidden_size=width, intermediate_size=2 * width,
                         num_attention_heads=4, num_key_value_heads=4, narrow_vision=True)
    inputs = synthetic_prompt(model, n_system=n_system, n_question=n_question, device="cpu", seed=seed)
    with methods.apply(model, method_id, params) as handle, torch.inference_mode():
        model(**inputs, use_cache=False)
        run = handle.run
        return {"tokens": {k: list(v) for k, v in run.tokens.items()}, "input_tokens": dict(run.input_tokens)}


def vit_operating_point(config_name: str, method_id: str, target_reduction: float, candidates: Sequence[int],
                        extra: dict | None = None) -> dict:
    """The constant ``r`` whose fvcore-MACs reduction on the implementation's schedule is closest
    to ``target_reduction`` (a fraction). For papers that state an operating point by its
    FLOPs saving only; returns ``{"r", "reduction", "macs", "schedule"}``."""
    base = vit_macs(config_name)
    best = None
    for r in candidates:
        params = {"r": int(r), **(extra or {})}
        sched = vit_implementation_schedule(config_name, method_id, params)
        macs = vit_macs(config_name, sched["after_block"])
        cand = {"r": int(r), "reduction": 1 - macs / base, "macs": macs, "schedule": sched["after_block"]}
        if best is None or abs(cand["reduction"] - target_reduction) < abs(best["reduction"] - target_reduction):
            best = cand
    if best is None:
        raise ValueError("vit_operating_point: no candidate r given")
    return best


def implementation_check(fn: Callable[[], Any]) -> Any:
    """``fn()`` (a cross-check on the zoo's implementation, which needs torch) or, with the core
    install alone, a note that it was not run; the analytic value never depends on it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "not run: needs torch (the analytic value does not depend on it)"
    return fn()
