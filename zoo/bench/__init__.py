"""Throughput benchmarks: a method against the unreduced model, measured in the same process.

``BENCHES`` maps a family adapter name to ``"module:function"``; ``tokzoo bench`` picks the
entry of the method's family. A bench function has the signature
``fn(method_id, params, *, model, batch_size, dtype, threads, warmup, repeats, device, **extra) -> dict``
and returns a record built with :func:`zoo.bench.common.bench_record`. Adding a family is
one line here plus its module (e.g. ``zoo/bench/vlm.py``).

Light: importing this package imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

BENCHES: dict[str, str] = {
    "timm-vit": "zoo.bench.vit:bench",
    "llava": "zoo.bench.vlm:bench",
    "llava-next": "zoo.bench.vlm:bench",
    "llava-onevision": "zoo.bench.onevision:bench",
    "llava-next-video": "zoo.bench.vlm:bench",
    "qwen2-vl": "zoo.bench.vlm:bench",
    "qwen2.5-vl": "zoo.bench.vlm:bench",
    "text-lm": "zoo.bench.vlm:bench",
    "qwen2-audio": "zoo.bench.vlm:bench",
    "hf-bert": "zoo.bench.encoder:bench",
    "hf-ast": "zoo.bench.encoder:bench",
    "hf-whisper-encoder": "zoo.bench.encoder:bench",
    "hf-vit": "zoo.bench.encoder:bench",
    "hf-clip-vision": "zoo.bench.encoder:bench",
    "hf-siglip-vision": "zoo.bench.encoder:bench",
    "diffusers-unet": "zoo.bench.diffusion:bench",
}


def model_family(model: str | None) -> str | None:
    """The family a benchmark model name belongs to (``zoo.bench.encoder.CONFIGS``), else ``None``."""
    if model is None:
        return None
    from zoo.bench.encoder import family_of

    return family_of(model)


def bench_function(family: str) -> Callable[..., dict[str, Any]]:
    """The bench function registered for ``family`` (imports its module)."""
    if family not in BENCHES:
        raise KeyError(f"no benchmark for family {family!r}; available: {', '.join(sorted(BENCHES))}")
    module, _, name = BENCHES[family].partition(":")
    return getattr(importlib.import_module(module), name)


def family_for(families: tuple[str, ...], requested: str | None = None) -> str:
    """The family to benchmark: ``requested`` if the method supports it, else the first with a bench."""
    if requested is not None:
        if requested not in families:
            raise ValueError(f"the method supports {', '.join(families)}; not {requested!r}")
        return requested
    for fam in families:
        if fam in BENCHES:
            return fam
    raise ValueError(f"no benchmark for any of the method's families ({', '.join(families)}); "
                     f"available: {', '.join(sorted(BENCHES))}")
