"""Video LLM measurements for the repro scripts: benchmark scores through lmms-eval's wrappers.

:func:`video_score` loads a video model through an lmms-eval wrapper (``llava_hf`` for the
Hugging Face LLaVA-OneVision / LLaVA-NeXT-Video checkpoints, ``qwen2_5_vl`` for Qwen2.5-VL), scores
the task once without reduction, once with the method and once with a same-budget control
(``video-random`` by default), in one process. It needs a GPU, the weights and the benchmark
(the claims declare it); here such claims are skipped.
"""

from __future__ import annotations

from typing import Any, Optional

from zoo.repro.harness import methods
from zoo.repro.spec import Measurement

#: lmms-eval wrapper per model family (module under lmms_eval.models[.simple], class)
WRAPPERS: dict[str, tuple[str, str]] = {"llava_hf": ("llava_hf", "LlavaHf"), "qwen2_5_vl": ("qwen2_5_vl", "Qwen2_5_VL")}


def lmms_video_model(ctx: Any, hub_id: str, wrapper: str, *, frames: int = 32):
    """An lmms-eval wrapper instance for ``hub_id`` (the local path given for it when any)."""
    import importlib

    methods.require_package("lmms_eval", "eval")
    if wrapper not in WRAPPERS:
        raise ValueError(f"wrapper={wrapper!r}; allowed: {', '.join(WRAPPERS)}")
    module, cls = WRAPPERS[wrapper]
    try:  # lmms-eval >= 0.4 keeps the plain HF wrappers under models.simple
        mod = importlib.import_module(f"lmms_eval.models.simple.{module}")
    except ImportError:
        mod = importlib.import_module(f"lmms_eval.models.{module}")
    kwargs = {"pretrained": ctx.weights_path(hub_id), "device": ctx.device}
    kwargs["max_frames_num" if wrapper == "llava_hf" else "max_num_frames"] = frames
    return getattr(mod, cls)(**kwargs)


def video_score(ctx: Any, hub_id: str, task: str, metric: str, method_id: str, params: dict[str, Any], *,
                wrapper: str, frames: int = 32, control_id: str = "video-random",
                control_params: Optional[dict[str, Any]] = None) -> Measurement:
    """Score of lmms-eval ``task`` (``metric``): baseline, method and same-budget control in one run."""
    methods.require_method(method_id)
    methods.require_package("lmms_eval", "eval")
    from lmms_eval import evaluator

    lm = lmms_video_model(ctx, hub_id, wrapper, frames=frames)

    def score() -> float:
        out = evaluator.simple_evaluate(model=lm, tasks=[task], limit=ctx.options.limit, batch_size=1)
        if out is None:  # non-main processes
            return float("nan")
        for key, value in out["results"][task].items():
            if key.split(",")[0] == metric:
                return float(value)
        raise KeyError(f"lmms-eval task {task!r} has no metric {metric!r}")

    ctx.progress(f"{task}: baseline")
    baseline = score()
    ctx.progress(f"{task}: {method_id}")
    with methods.apply(lm.model, method_id, params):
        value = score()
    control = None
    if control_params is not None:
        ctx.progress(f"{task}: {control_id}")
        with methods.apply(lm.model, control_id, control_params):
            control = score()
    return Measurement(value, details={"harness": "lmms-eval", "wrapper": wrapper, "task": task, "metric": metric,
                                       "model": hub_id, "frames": frames, "baseline": baseline, "method": value,
                                       "control": control, "control_method": {"id": control_id, "params": control_params},
                                       "limit": ctx.options.limit},
                       params=dict(params), label="lmms-eval" + (" (limited)" if ctx.options.limit else ""))
