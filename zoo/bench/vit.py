"""ViT throughput benchmark: a tokzoo method on a timm model against the same model unreduced.

Random weights (``timm.create_model(name, pretrained=False)``): throughput does not depend
on the weights, only on shapes and the token schedule, which the run records. The record
holds measured throughputs, the measured speedup and the theoretical one from
``zoo.flops.vit`` for the recorded schedule.
"""

from __future__ import annotations

from typing import Any

from zoo.bench.common import bench_record, hardware, interleaved, say, summarize, versions

DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}


def build_model(model: Any, *, img_size: int | None = None, dtype: str = "fp32", device: str = "cpu",
                **model_kwargs: Any):
    """A timm model by name (random weights) or the given module, cast to ``dtype`` on ``device``."""
    import timm
    import torch

    if isinstance(model, str):
        kw = dict(model_kwargs)
        if img_size is not None:
            kw["img_size"] = img_size
        model = timm.create_model(model, pretrained=False, **kw)
    return model.eval().to(device=device, dtype=getattr(torch, DTYPES[dtype]))


def bench(method_id: str, params: dict[str, Any], *, model: Any = "vit_base_patch16_224", batch_size: int = 16,
          img_size: int | None = None, dtype: str = "bf16", threads: int | None = None, warmup: int = 3,
          repeats: int = 10, device: str = "cpu", seed: int = 0, command: str | None = None,
          model_kwargs: dict[str, Any] | None = None, progress=None) -> dict[str, Any]:
    """Measure ``method_id`` with ``params`` on ``model`` against the unreduced model (see module doc);
    ``progress`` (one-line callable) hears each step."""
    import torch

    import zoo
    from zoo.flops.vit import run_cost, schedule_from_counts, theoretical_speedup, vit_macs, ViTShape

    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; allowed: {', '.join(DTYPES)}")
    if threads is not None:
        torch.set_num_threads(threads)
    name = model if isinstance(model, str) else type(model).__name__
    say(progress, f"building {name} (random weights, {dtype}, {device})")
    net = build_model(model, img_size=img_size, dtype=dtype, device=device, **(model_kwargs or {}))
    size = net.patch_embed.img_size
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 3, size[0], size[1], generator=gen).to(device=device, dtype=next(net.parameters()).dtype)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else None

    handle = {}

    def enter():
        handle["h"] = zoo.apply(net, method_id, **params)

    def leave():
        handle.pop("h").remove()

    with torch.inference_mode():
        say(progress, "recorded forward (token schedule)")
        enter()
        net(x)  # one recorded forward for the schedule
        run = handle["h"].run
        method_params = handle["h"].methods[0].params()
        leave()
        samples = interleaved(lambda: net(x), lambda: net(x), warmup=warmup, repeats=repeats, enter=enter,
                              leave=leave, sync=sync, progress=progress)

    cost = run_cost(net, run)
    shape = ViTShape.from_timm(net, num_patches=run.input_tokens["vit"] - net.num_prefix_tokens)
    base_cost = vit_macs(shape)
    sched = schedule_from_counts(run.input_tokens["vit"], run.tokens["vit"])
    timing = summarize(samples, batch_size)
    extra = {
        "tokens": {"input": run.input_tokens["vit"], "after_block": run.tokens["vit"]},
        "flops": {
            "convention": "fvcore-style MACs per image (printed as GFLOPs in ViT papers)",
            "baseline_gmacs": base_cost.gmacs,
            "method_gmacs": cost.gmacs,
            "theoretical_speedup": theoretical_speedup(shape, sched),
        },
    }
    setting = {"model": name, "weights": "random (timm pretrained=False)", "batch_size": batch_size,
               "img_size": list(size), "dtype": DTYPES[dtype], "threads": torch.get_num_threads(),
               "device": str(device), "warmup": warmup, "repeats": repeats}
    accel = torch.cuda.get_device_name() if str(device).startswith("cuda") else None
    return bench_record(family="timm-vit", method=method_id, params=method_params, setting=setting,
                        timing=timing, extra=extra, hw=hardware(torch.get_num_threads(), str(device), accel),
                        vers=versions("torch", "timm"), command=command)
