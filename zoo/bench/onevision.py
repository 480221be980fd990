"""LLaVA-OneVision benchmarks: one family, two input kinds.

``--family llava-onevision`` serves image methods (a ``zoo.bench.vlm.CONFIGS`` name such as
``llava-onevision-0.5b``: anyres image prompt) and video methods (a ``zoo.bench.video.CONFIGS``
name, the default: a 32-frame video prompt). The model name decides; nothing else differs.
"""

from __future__ import annotations

from typing import Any


def bench(method_id: str, params: dict[str, Any], *, model: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Dispatch to the image bench (``model`` names a ``zoo.bench.vlm`` configuration) or the video bench."""
    from zoo.bench import video, vlm

    if isinstance(model, str) and model in vlm.CONFIGS:
        return vlm.bench(method_id, params, model=model, **kwargs)
    if isinstance(model, str) and model not in video.CONFIGS:
        names = sorted(n for n in vlm.CONFIGS if "onevision" in n) + sorted(video.CONFIGS)
        raise ValueError(f"--model {model!r} is not a LLaVA-OneVision bench configuration; allowed: {', '.join(names)}")
    return video.bench(method_id, params, **({} if model is None else {"model": model}), **kwargs)
