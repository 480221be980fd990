"""Helpers for analytic claims: token counts and FLOPs from the configs in ``repro/configs``.

Everything here is exact arithmetic on public config numbers (no weights, no torch).
"""

from __future__ import annotations

from typing import Any, Sequence

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
