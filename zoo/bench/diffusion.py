"""Denoising-step benchmark: a tokzoo method on a diffusers UNet against the same UNet unreduced, and
against the authors' own package at the same parameters where one exists (ToMeSD: ``tomesd``).

What is timed: one denoising step = one UNet forward on a classifier-free-guidance batch
(``batch_size=2``: unconditional + conditional, 77 text tokens), at a latent of ``img_size / 8``
(512 px: 64x64 latent, 4,096 tokens at the first level; 1024 px: 128x128, 16,384 tokens). The
sides (baseline, tokzoo, official) are timed in turn, the order rotating every repeat so that
load drifts hit all alike; each call is timed by the wall clock and by the process CPU time; the
summary is the median. Speed does not depend on weight values for fixed-budget methods, so the
UNet has random weights of the exact architecture (``repro/configs/<model>.json``), filled by a
fast normal initialisation (labelled so). Adaptive methods (CA-ToMe) merge as random features
dictate; the recorded token schedule says what ran.

Also recorded per side: the peak of live tensor bytes during one step (torch profiler allocation
events; weights and inputs excluded), with the default attention backend and, when
``math_memory`` (512 px), with SDPA's math backend that materialises the attention matrix like
the original Stable Diffusion attention the ToMeSD README measured; FLOPs of one step counted by
``torch.utils.flop_counter.FlopCounterMode`` (SDPA counted with torch's own attention formula),
whose ratio is the theoretical speedup shown next to the measured one.

Methods that save *across* steps (DaTo's feature cache, CA-ToMe's cached matchings) show that saving only
over a denoising loop: ``steps=N`` (``tokzoo bench ... --steps N``) runs :mod:`zoo.bench.diffusion_steps`.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from zoo.bench.common import bench_record, hardware, say, versions

DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}

#: model names of ``tokzoo bench --model`` for this family (configs in repro/configs)
MODELS: dict[str, str] = {"sd15-unet": "Stable Diffusion 1.5 UNet (860M), random weights"}

#: method id -> how to apply the authors' own package at the same parameters (enter, leave)
OFFICIAL: dict[str, str] = {"tomesd": "tomesd"}


def unet_config(name: str) -> dict[str, Any]:
    from zoo.repro import loader

    if name not in MODELS:
        raise ValueError(f"model {name!r}; allowed: {', '.join(MODELS)}")
    return loader.load_config(name)


def build_unet(name: str = "sd15-unet", *, dtype: str = "bf16", device: str = "cpu", seed: int = 0):
    """The UNet of ``repro/configs/<name>.json`` with random weights in ``dtype``.

    Built on the meta device and filled in place (normal weights scaled by fan-in, unit norm
    weights, zero biases): seconds instead of diffusers' per-layer initialisation.
    """
    import torch
    from diffusers import UNet2DConditionModel

    cfg = unet_config(name)["unet"]
    with torch.device("meta"):
        model = UNet2DConditionModel.from_config(cfg)
    model = model.to(dtype=getattr(torch, DTYPES[dtype])).to_empty(device=device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen).mul_(fan_in ** -0.5))
            elif pname.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
        for _, buf in model.named_buffers():
            buf.zero_()
    return model.eval()


def step_inputs(unet: Any, *, img_size: int, batch_size: int, vae_scale_factor: int = 8, text_tokens: int = 77,
                seed: int = 0) -> tuple:
    import torch

    side = img_size // vae_scale_factor
    gen = torch.Generator().manual_seed(seed)
    dtype = next(unet.parameters()).dtype
    device = next(unet.parameters()).device
    sample = torch.randn(batch_size, unet.config.in_channels, side, side, generator=gen).to(device, dtype)
    text = torch.randn(batch_size, text_tokens, unet.config.cross_attention_dim, generator=gen).to(device, dtype)
    return sample, torch.tensor([500.0], device=device), text


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of ``fn()`` by ``FlopCounterMode``, with torch's SDPA formula for the CPU flash kernel too."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def sdpa(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    mapping = {}
    cpu_flash = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_flash is not None:
        mapping[cpu_flash] = sdpa
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn()
    return int(counter.get_total_flops())


def _sides(method_id: str, params: dict[str, Any], unet: Any, official: bool):
    """(name, enter, leave) per side; the method and official sides apply/remove outside the timed call."""
    import zoo

    state: dict[str, Any] = {}

    def enter_zoo():
        state["h"] = zoo.apply(unet, method_id, **params)

    def leave_zoo():
        state.pop("h").remove()

    sides = [("baseline", None, None), ("tokzoo", enter_zoo, leave_zoo)]
    if official and method_id in OFFICIAL:
        try:
            import tomesd
        except ImportError:
            return sides, "official package tomesd not installed"
        m = zoo.method_class(method_id)(**params)
        kw = dict(ratio=m.ratio, max_downsample=m.max_downsample, sx=m.sx, sy=m.sy, use_rand=m.use_rand,
                  merge_attn=m.merge_attn, merge_crossattn=m.merge_crossattn, merge_mlp=m.merge_mlp)
        sides.append(("official", lambda: tomesd.apply_patch(unet, **kw), lambda: tomesd.remove_patch(unet)))
        return sides, f"tomesd {_version('tomesd')}.apply_patch({', '.join(f'{k}={v}' for k, v in kw.items())})"
    return sides, "no official package for this method" if official else "not measured"


def _version(pkg: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "?"


def rotated_timing(sides, call: Callable[[], Any], *, warmup: int, repeats: int,
                   progress: Callable[[str], None] | None = None) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds of ``call`` per side; the side order rotates every repeat (``progress``
    hears "warmup i/n" and "round i/n": one call of every side)."""
    out = {name: {"wall": [], "cpu": []} for name, _, _ in sides}

    def one(enter, leave):
        if enter:
            enter()
        try:
            w0, c0 = time.perf_counter(), time.process_time()
            call()
            return time.perf_counter() - w0, time.process_time() - c0
        finally:
            if leave:
                leave()

    for j in range(warmup):
        say(progress, f"warmup {j + 1}/{warmup}")
        for _, enter, leave in sides:
            one(enter, leave)
    for i in range(repeats):
        say(progress, f"round {i + 1}/{repeats} ({len(sides)} sides)")
        k = i % len(sides)
        for name, enter, leave in sides[k:] + sides[:k]:
            wall, cpu = one(enter, leave)
            out[name]["wall"].append(wall)
            out[name]["cpu"].append(cpu)
    return out


def _summary(samples: dict[str, list[float]], batch: int) -> dict[str, Any]:
    med = statistics.median(samples["wall"])
    return {"median_s": med, "throughput": batch / med, "samples_s": samples["wall"],
            "cpu_median_s": statistics.median(samples["cpu"]), "cpu_samples_s": samples["cpu"]}


def check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; allowed: {', '.join(DTYPES)}")


def unet_and_inputs(model: str, unet: Any, *, dtype: str, device: str, seed: int, img_size: int, batch_size: int,
                    progress=None) -> tuple[Any, tuple[Any, Any, Any]]:
    """The benched UNet (``unet`` as given, else ``model`` built with random weights) and its seeded
    :func:`step_inputs` ``(sample, t, text)`` at ``img_size``."""
    cfg = unet_config(model) if unet is None else {"vae_scale_factor": 8, "text_tokens": 77}
    if unet is None:
        say(progress, f"building {model} (random weights, {dtype}, {device})")
    net = unet if unet is not None else build_unet(model, dtype=dtype, device=device, seed=seed)
    return net, step_inputs(net, img_size=img_size, batch_size=batch_size,
                            vae_scale_factor=cfg.get("vae_scale_factor", 8),
                            text_tokens=cfg.get("text_tokens", 77), seed=seed)


def bench(method_id: str, params: dict[str, Any], *, model: str = "sd15-unet", batch_size: int = 2,
          img_size: int | None = None, dtype: str = "bf16", threads: int | None = None, warmup: int = 1,
          repeats: int = 5, device: str = "cpu", seed: int = 0, command: str | None = None,
          official: bool = True, memory: bool = True, math_memory: bool | None = None, flops: bool = True,
          unet: Any = None, steps: int | None = None, baseline_every: int = 1, progress=None) -> dict[str, Any]:
    """Measure ``method_id`` on one denoising step of ``model`` (see the module doc); a tokzoo-bench record.
    ``progress`` (one-line callable) hears each step. ``steps`` (>= 2): a denoising loop of that many steps
    instead (:func:`zoo.bench.diffusion_steps.bench_steps`; ``repeats`` then counts whole loops; ``baseline_every``
    is that function's)."""
    if steps is not None:
        from zoo.bench.diffusion_steps import bench_steps

        return bench_steps(method_id, params, steps=steps, model=model, batch_size=batch_size, img_size=img_size,
                           dtype=dtype, threads=threads, warmup=warmup, repeats=repeats, device=device, seed=seed,
                           command=command, flops=flops, baseline_every=baseline_every, unet=unet,
                           progress=progress)
    import torch

    import zoo
    from zoo.bench.vlm import peak_tensor_bytes

    check_dtype(dtype)
    if threads is not None:
        torch.set_num_threads(threads)
    img_size = img_size or 512
    net, (sample, t, text) = unet_and_inputs(model, unet, dtype=dtype, device=device, seed=seed, img_size=img_size,
                                             batch_size=batch_size, progress=progress)

    def call():
        with torch.inference_mode():
            net(sample, t, encoder_hidden_states=text, return_dict=False)

    sides, official_note = _sides(method_id, params, net, official)
    say(progress, "recorded step (token schedule)")
    with torch.inference_mode():
        with zoo.apply(net, method_id, **params) as h:
            net(sample, t, encoder_hidden_states=text, return_dict=False)  # one recorded step
            table = [dict(row) for row in h.adapter.runtime.table]
            method_params = h.methods[0].params()
    samples = rotated_timing(sides, call, warmup=warmup, repeats=repeats, progress=progress)
    summary = {name: _summary(s, batch_size) for name, s in samples.items()}
    base_s, ours_s = summary["baseline"]["median_s"], summary["tokzoo"]["median_s"]
    timing = {
        "baseline": summary["baseline"], "reduced": summary["tokzoo"], "speedup": base_s / ours_s,
        "speedup_pairs_median": statistics.median(b / m for b, m in zip(samples["baseline"]["wall"],
                                                                           samples["tokzoo"]["wall"])),
    }
    extra: dict[str, Any] = {
        "seconds_per_step": {name: s["median_s"] for name, s in summary.items()},
        "cpu_time": {"baseline_s": summary["baseline"]["cpu_median_s"], "reduced_s": summary["tokzoo"]["cpu_median_s"],
                     "speedup": summary["baseline"]["cpu_median_s"] / summary["tokzoo"]["cpu_median_s"]},
        "tokens": {"input": table[0]["tokens"] * table[0]["downsample"] ** 2,
                   "after_block": [row["self_attn_queries"] for row in table], "blocks": table,
                   "what": "after_block: the tokens each transformer block's self-attention queries ran on"},
        "official": {"package": official_note},
    }
    if "official" in summary:
        off = summary["official"]
        extra["official"].update({
            "reduced": off, "speedup": base_s / off["median_s"],
            "tokzoo_vs_official": off["median_s"] / ours_s,
            "cpu_tokzoo_vs_official": off["cpu_median_s"] / summary["tokzoo"]["cpu_median_s"],
        })
    if flops:
        say(progress, "FLOPs (FlopCounterMode)")
        flop = {}
        for name, enter, leave in sides:
            if enter:
                enter()
            try:
                flop[name] = count_flops(call)
            finally:
                if leave:
                    leave()
        extra["flops"] = {"convention": "FLOPs of one UNet step (FlopCounterMode: 2 per multiply-add; "
                                        "attention by torch's SDPA formula)",
                          "baseline_gflops": flop["baseline"] / 1e9, "method_gflops": flop["tokzoo"] / 1e9,
                          "baseline_gmacs": flop["baseline"] / 2e9, "method_gmacs": flop["tokzoo"] / 2e9,
                          "theoretical_speedup": flop["baseline"] / flop["tokzoo"],
                          **({"official_gflops": flop["official"] / 1e9} if "official" in flop else {})}
    if memory and str(device) == "cpu":
        math_memory = img_size <= 512 if math_memory is None else math_memory
        say(progress, "peak memory")
        extra["memory"] = _memory(sides, call, peak_tensor_bytes, math_memory)
    setting = {"model": model, "weights": "random (exact architecture, fast normal init)" if unet is None
               else "given module", "batch_size": batch_size, "img_size": img_size,
               "latent": list(sample.shape[-2:]), "dtype": DTYPES[dtype], "threads": torch.get_num_threads(),
               "device": str(device), "warmup": warmup, "repeats": repeats,
               "what": "one denoising step: a UNet forward on a CFG batch (unconditional + conditional)"}
    hw = hardware(torch.get_num_threads(), str(device))
    return bench_record(family="diffusers-unet", method=method_id, params=method_params, setting=setting,
                        timing=timing, extra=extra, hw=hw, vers=versions("torch", "diffusers", "tomesd"),
                        command=command)


def _memory(sides, call, peak_fn, math_memory: bool) -> dict[str, Any]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    out: dict[str, Any] = {"what": "peak live tensor bytes during one step (torch profiler allocation events)"}
    backends = [("default", None)] + ([("math", SDPBackend.MATH)] if math_memory else [])
    for label, backend in backends:
        row = {}
        for name, enter, leave in sides:
            if enter:
                enter()
            try:
                if backend is None:
                    row[name] = peak_fn(call)
                else:
                    with sdpa_kernel(backend):
                        row[name] = peak_fn(call)
            finally:
                if leave:
                    leave()
        row["baseline_over_tokzoo"] = row["baseline"] / max(row["tokzoo"], 1)
        out[label] = row
    return out
