"""timm ViT measurements: throughput on the exact architecture, ImageNet-style top-1.

Throughput does not depend on weight values for fixed-budget methods, so it runs on a
randomly initialised model of the exact architecture (``repro/configs/<name>.json``),
labelled as such. Accuracy needs the real weights and an ImageFolder-layout validation set
(``--data-dir imagenet-val=/path/to/val`` or ``TOKZOO_DATA_IMAGENET_VAL``), read through
timm's own data pipeline. Baseline, method and the random control are measured in the same
run on the same images. Under ``accelerate launch`` / ``torchrun`` the images are sharded
across processes with accelerate and the counts gathered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from zoo.repro import loader
from zoo.repro.harness import methods
from zoo.repro.harness.speed import busy_verdict, paired_timing
from zoo.repro.spec import Measurement, Unavailable


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def vit_model(config_name: str, *, pretrained: bool = False, weights: Optional[str] = None,
              device: str = "cpu", dtype: str = "float32", **overrides: Any):
    """A timm model of ``repro/configs/<config_name>.json``; random weights unless ``pretrained``.

    ``weights``: a local checkpoint file (loaded through timm's ``pretrained_cfg_overlay``) or
    ``None`` for timm's own hub weights. ``overrides`` change constructor arguments (tests use
    a narrow width with the paper's depth and token count).
    """
    methods.require_package("timm", "vit")
    import timm

    cfg = loader.load_config(config_name)
    # a config's ``timm_kwargs`` (e.g. ``img_size`` of a model used at another resolution) come first
    kwargs: dict[str, Any] = {**cfg.get("timm_kwargs", {}), **overrides}
    if pretrained and weights and Path(weights).is_file():
        kwargs["pretrained_cfg_overlay"] = {"file": str(weights)}
    model = timm.create_model(cfg["timm_model"], pretrained=pretrained, **kwargs)
    return model.to(device=device, dtype=_torch_dtype(dtype)).eval()


def _schedule(handle: Any) -> dict[str, Any]:
    run = getattr(handle, "run", None)
    return {k: list(v) for k, v in getattr(run, "tokens", {}).items()} if run is not None else {}


def throughput(ctx: Any, config_name: str, method_id: str, params: dict[str, Any], *, batch: int = 16,
               repeats: int = 5, dtype: str = "float32", model: Any = None,
               model_kwargs: Optional[dict[str, Any]] = None) -> Measurement:
    """Speedup (baseline time / method time) of ``method_id`` on random weights, same run.

    The value is ``min t_baseline / min t_method`` over alternating pairs (wall time); details
    give the CPU-time speedup next to it, images/s of both, the load average, dtype, threads,
    batch and the token schedule the method recorded. On a busy machine the measurement is
    ``inconclusive`` unless wall and CPU time both reproduce the claim.
    """
    import torch

    methods.require_method(method_id)
    device = ctx.device
    model = model if model is not None else vit_model(config_name, device=device, dtype=dtype, **(model_kwargs or {}))
    size = model.patch_embed.img_size if hasattr(model, "patch_embed") else (224, 224)
    x = torch.randn(batch, 3, *size, device=device, dtype=_torch_dtype(dtype))
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    handle = methods.apply(model, method_id, params)
    handle.remove()
    state: dict[str, Any] = {}

    def base():
        with torch.inference_mode():
            model(x)

    def meth():
        with methods.apply(model, method_id, params) as h, torch.inference_mode():
            model(x)
            state["schedule"] = _schedule(h)

    timing = paired_timing(base, meth, repeats=repeats, warmup=1, sync=sync, progress=ctx.progress)
    details = {
        "model": config_name, "weights": "random (speed does not depend on weight values)",
        "device": device, "dtype": dtype, "batch": batch, "torch_threads": torch.get_num_threads(),
        "baseline_img_per_s": batch / timing["baseline_s"], "method_img_per_s": batch / timing["method_s"],
        "token_schedule": state.get("schedule", {}), **{k: v for k, v in timing.items() if k not in {"speedup"}},
    }
    label = f"random weights, {device}, {dtype}" + (", machine busy" if timing["busy_machine"] else "")
    why = busy_verdict(ctx.claim, timing, wall_value=timing["speedup"], cpu_value=timing["cpu_speedup"])
    return Measurement(timing["speedup"], details=details, params=dict(params), label=label, inconclusive=why)


def _loader(model: Any, root: str, batch: int, limit: Optional[int], workers: int = 2):
    import torch
    from timm.data import ImageDataset, create_transform, resolve_data_config

    cfg = resolve_data_config({}, model=model)
    grid = getattr(getattr(model, "patch_embed", None), "img_size", None)
    if grid:  # the model's own input size wins over its pretrained config's (they agree for hub models)
        cfg["input_size"] = (3, *grid)
    dataset = ImageDataset(root, transform=create_transform(**cfg))
    indices = list(range(len(dataset)))
    if limit:
        indices = indices[: int(limit)]
    try:
        from accelerate import PartialState

        state = PartialState()
        if state.num_processes > 1:
            indices = indices[state.process_index::state.num_processes]
    except ImportError:
        pass
    subset = torch.utils.data.Subset(dataset, indices)
    return torch.utils.data.DataLoader(subset, batch_size=batch, num_workers=workers, shuffle=False), cfg


def _top5_hits(logits: Any, labels: Any) -> int:
    """Images whose label is among the 5 highest logits (all classes when there are fewer)."""
    k = min(5, int(logits.shape[-1]))
    return int((logits.topk(k, dim=-1).indices == labels[:, None]).any(-1).sum())


def _gather(counts: dict[str, int]) -> dict[str, int]:
    try:
        from accelerate import PartialState
        from accelerate.utils import gather_object
    except ImportError:
        return counts
    if PartialState().num_processes <= 1:
        return counts
    total: dict[str, int] = {}
    for part in gather_object([counts]):
        for k, v in part.items():
            total[k] = total.get(k, 0) + v
    return total


def imagenet_top1(ctx: Any, config_name: str, method_id: str, params: dict[str, Any], *,
                  control_params: Optional[dict[str, Any]] = None, data: str = "imagenet-val",
                  weights: Optional[str] = None, batch: int = 64, dtype: str = "float32",
                  model: Any = None, report: str = "method", model_kwargs: Optional[dict[str, Any]] = None) -> Measurement:
    """Top-1 (%) of the method; baseline and random control on the same images in the same run.

    ``report="drop"`` makes the value the accuracy drop (baseline top-1 minus method top-1, in
    points) instead of the method's top-1; ``report="top5"`` the method's top-5 (%). Top-5 of
    baseline and method are in the details either way.
    """
    if report not in {"method", "drop", "top5"}:
        raise ValueError(f"imagenet_top1: report={report!r}; allowed: method, drop, top5")
    import torch

    methods.require_method(method_id)
    root = ctx.data_path(data)
    if not root:
        raise Unavailable(f"dataset {data} (--data-dir {data}=PATH)")
    if model is None:
        model = vit_model(config_name, pretrained=True, weights=ctx.weights_path(weights) if weights else None,
                          device=ctx.device, dtype=dtype, **(model_kwargs or {}))
    loader_, data_cfg = _loader(model, root, batch, ctx.options.limit)
    counts = {"n": 0, "baseline": 0, "method": 0, "control": 0, "baseline_top5": 0, "method_top5": 0}
    control_note = ""
    schedules: list[list[int]] = []
    for i, (images, labels) in enumerate(loader_):
        ctx.progress(f"batch {i + 1}/{len(loader_)}")
        images = images.to(ctx.device, dtype=_torch_dtype(dtype))
        labels = labels.to(ctx.device)
        with torch.inference_mode():
            logits = model(images)
            counts["baseline"] += int((logits.argmax(-1) == labels).sum())
            counts["baseline_top5"] += _top5_hits(logits, labels)
            with methods.apply(model, method_id, params) as handle:
                logits = model(images)
                counts["method"] += int((logits.argmax(-1) == labels).sum())
                counts["method_top5"] += _top5_hits(logits, labels)
                schedules.append(_schedule(handle).get("vit", []))
            handle, control_note = methods.control(model, control_params)
            if handle is not None:
                with handle:
                    counts["control"] += int((model(images).argmax(-1) == labels).sum())
        counts["n"] += int(labels.numel())
    counts = _gather(counts)
    n = max(counts["n"], 1)
    details = {
        "model": config_name, "dataset": data, "images": counts["n"], "limit": ctx.options.limit,
        "baseline_top1": 100.0 * counts["baseline"] / n, "method_top1": 100.0 * counts["method"] / n,
        "baseline_top5": 100.0 * counts["baseline_top5"] / n, "method_top5": 100.0 * counts["method_top5"] / n,
        "control_top1": None if control_note else 100.0 * counts["control"] / n,
        "control": control_note or {"method": methods.CONTROL_ID, "params": control_params},
        "data_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in data_cfg.items()},
        "dtype": dtype, "device": ctx.device,
        # tokens after each block, averaged over batches (per image when batch=1; a batched
        # adaptive method logs the padded count of its batch)
        "mean_tokens_after_block": [sum(col) / len(col) for col in zip(*schedules)] if schedules else [],
        "batch": batch,
    }
    label = "pretrained weights" + (f", first {ctx.options.limit} images only" if ctx.options.limit else "")
    value = {"method": details["method_top1"], "top5": details["method_top5"],
             "drop": details["baseline_top1"] - details["method_top1"]}[report]
    return Measurement(value, details=details, params=dict(params), label=label)
