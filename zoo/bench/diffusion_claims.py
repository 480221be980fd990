"""Measure functions of the diffusion repro scripts (``repro/tomesd.py``, ``todo.py``, ``ca-tome.py``, ``sito.py``).

- analytic: token counts and patched blocks from the UNet config (``zoo.flops.diffusion``), and
  what the implementation plans (merged fractions) on a grid: :func:`tokens_at`,
  :func:`patched_count`, :func:`largest_merge_fraction`, :func:`kv_reduction`;
- speed: :func:`step_speedup`: one denoising step of the exact SD 1.5 UNet with random weights,
  baseline and method alternating in one process (``zoo.repro.harness.speed.paired_timing``),
  with the peak memory of both next to it;
- conformance: the authors' code on identical tiny random UNets (:func:`tomesd_conformance`,
  :func:`ca_tome_conformance`, and the repository checkouts of SiTo and ToDo given by
  ``TOKZOO_OFFICIAL_SITO`` / ``TOKZOO_OFFICIAL_TODO``: :mod:`zoo.bench.diffusion_official`);
- quality: FID / CLIP score of generated images (:mod:`zoo.bench.diffusion_quality`), which need
  the real weights, a dataset and usually a GPU.
"""

from __future__ import annotations

import contextlib
from typing import Any

from zoo.repro.spec import Measurement, Unavailable

SD15 = "sd15-unet"


def _cfg(name: str = SD15) -> dict[str, Any]:
    from zoo.repro import loader

    return loader.load_config(name)


def latent_side(img_size: int, name: str = SD15) -> int:
    return img_size // int(_cfg(name).get("vae_scale_factor", 8))


# ---------------------------------------------------------------- analytic
def tokens_at(img_size: int, name: str = SD15):
    """Tokens of the first (full-resolution) transformer blocks at ``img_size`` px."""

    def measure(ctx) -> Measurement:
        from zoo.flops.diffusion import unet_transformer_blocks

        side = latent_side(img_size, name)
        blocks = unet_transformer_blocks(_cfg(name)["unet"], (side, side))
        return Measurement(blocks[0].tokens, details={
            "latent": [side, side], "vae_scale_factor": _cfg(name).get("vae_scale_factor", 8),
            "tokens_per_level": sorted({(b.downsample, b.tokens) for b in blocks}),
            "first_block": blocks[0].name})

    return measure


def patched_count(max_downsample: int, what: str = "patched", name: str = SD15):
    """How many transformer blocks act for ``max_downsample`` (``what="total"``: all blocks)."""

    def measure(ctx) -> Measurement:
        from zoo.flops.diffusion import patched_blocks, unet_transformer_blocks

        blocks = unet_transformer_blocks(_cfg(name)["unet"], (64, 64))
        patched = patched_blocks(blocks, max_downsample)
        value = len(blocks) if what == "total" else len(patched)
        return Measurement(value, params={"max_downsample": max_downsample}, details={
            "total_blocks": len(blocks), "patched_blocks": [b.name for b in patched],
            "downsampling_of_blocks": [b.downsample for b in blocks]})

    return measure


def merged_share(ratio: float, img_size: int, max_downsample: int = 1, sx: int = 2, sy: int = 2,
                 name: str = SD15):
    """Percent of the tokens ToMeSD removes from every patched block (``r = int(N * ratio)`` capped at the sources)."""

    def measure(ctx) -> Measurement:
        from zoo.flops.diffusion import patched_blocks, unet_transformer_blocks

        side = latent_side(img_size, name)
        rows = []
        for b in patched_blocks(unet_transformer_blocks(_cfg(name)["unet"], (side, side)), max_downsample):
            s = int(round(b.tokens ** 0.5))
            r = min(int(b.tokens * ratio), b.tokens - (s // sy) * (s // sx))
            rows.append({"block": b.name, "tokens": b.tokens, "merged": r, "kept": b.tokens - r})
        shares = {100 * row["merged"] / row["tokens"] for row in rows}
        if len(shares) != 1:
            raise ValueError(f"patched blocks remove different shares: {sorted(shares)}")
        return Measurement(shares.pop(), params={"ratio": ratio, "max_downsample": max_downsample}, details={
            "latent": [side, side], "blocks": rows})

    return measure


def largest_merge_fraction(sx: int = 2, sy: int = 2, side: int = 64):
    """The fraction of a grid's tokens ToMeSD merges at a ratio just below 1 (capped at the sources)."""

    def measure(ctx) -> Measurement:
        import torch

        from zoo.core.grid import grid_bipartite_merge, window_destinations

        metric = torch.randn(1, side * side, 8, generator=torch.Generator().manual_seed(0))
        dst, src = window_destinations(side, side, sx, sy, None, metric.device)
        plan = grid_bipartite_merge(metric, dst, src, int(side * side * 0.999))
        merged = side * side - plan.n_out
        return Measurement(merged / (side * side), params={"ratio": 0.999, "sx": sx, "sy": sy}, details={
            "grid": [side, side], "tokens": side * side, "merged": merged, "destinations": int(dst.shape[1]),
            "formula": "1 - 1/(sx*sy)"})

    return measure


def kv_reduction(factor: int, img_size: int, name: str = SD15):
    """Fraction of the keys/values ToDo removes in the first-level blocks at ``img_size`` px."""

    def measure(ctx) -> Measurement:
        side = latent_side(img_size, name)
        kept = (side // factor) ** 2
        return Measurement(1 - kept / side ** 2, params={"downsample_factor": factor}, details={
            "latent": [side, side], "keys_values_kept": kept, "tokens": side ** 2})

    return measure


# ---------------------------------------------------------------- speed
def step_speedup(method_id: str, params: dict[str, Any], img_size: int = 512, *, batch: int = 2,
                 repeats: int | None = None, dtype: str = "bf16", memory: bool = True, attention: str = "default"):
    """Speedup of one denoising step (CFG batch) of the SD 1.5 UNet, random weights, same process.

    ``attention="math"`` runs SDPA's math backend (the attention matrix materialised, as the original
    Stable Diffusion attention); ``"default"`` lets torch pick its fused kernel.
    """
    if attention not in ("default", "math"):
        raise ValueError(f"attention={attention!r}; allowed: default, math")

    def measure(ctx) -> Measurement:
        import torch

        from zoo.bench.diffusion import DTYPES, build_unet, step_inputs
        from zoo.repro.harness import methods
        from zoo.repro.harness.speed import paired_timing

        methods.require_package("diffusers", "diffusion")
        methods.require_method(method_id)
        net = build_unet(SD15, dtype=dtype, device=ctx.device)
        sample, t, text = step_inputs(net, img_size=img_size, batch_size=batch)

        def call():
            from torch.nn.attention import SDPBackend, sdpa_kernel

            with torch.inference_mode(), (sdpa_kernel(SDPBackend.MATH) if attention == "math"
                                          else contextlib.nullcontext()):
                net(sample, t, encoder_hidden_states=text, return_dict=False)

        state: dict[str, Any] = {}

        def meth():
            with methods.apply(net, method_id, params) as h:
                call()
                state["table"] = [dict(r) for r in h.adapter.runtime.table]

        sync = torch.cuda.synchronize if str(ctx.device).startswith("cuda") else None
        n = repeats or ctx.options.repeats
        timing = paired_timing(call, meth, repeats=n, warmup=1, sync=sync, progress=ctx.progress)
        details = {"model": SD15, "weights": "random (exact architecture)", "img_size": img_size,
                   "latent": list(sample.shape[-2:]), "batch": batch, "dtype": DTYPES[dtype],
                   "torch_threads": torch.get_num_threads(), "device": ctx.device, "attention": attention,
                   "blocks": state.get("table", []), **{k: v for k, v in timing.items() if k != "speedup"}}
        if memory and str(ctx.device) == "cpu":
            details["memory"] = _memory_ratio(net, method_id, params, call)
        label = f"random weights, {ctx.device}, {DTYPES[dtype]}" + (", machine busy" if timing["busy_machine"] else "")
        return Measurement(timing["speedup"], details=details, params=dict(params), label=label)

    return measure


def _memory_ratio(net, method_id, params, call) -> dict[str, Any]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    import zoo
    from zoo.bench.vlm import peak_tensor_bytes

    out = {"what": "peak live tensor bytes of one step; 'math' = SDPA math backend (attention matrix "
                   "materialised, like the original SD attention of the ToMeSD README)"}
    for label, backend in (("default", None), ("math", SDPBackend.MATH)):
        def run(fn=call):
            if backend is None:
                return peak_tensor_bytes(fn)
            with sdpa_kernel(backend):
                return peak_tensor_bytes(fn)
        base = run()
        with zoo.apply(net, method_id, **params):
            meth = run()
        out[label] = {"baseline_bytes": base, "method_bytes": meth, "baseline_over_method": base / max(meth, 1)}
    return out


# ---------------------------------------------------------------- conformance
def tiny_inputs(batch: int = 2, size: int = 16, seed: int = 1, t: float = 500.0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 4, size, size, generator=g), torch.tensor([t]),
            torch.randn(batch, 7, 16, generator=g))


def tomesd_conformance(params_list: list[dict[str, Any]]):
    """Max |tokzoo - tomesd| over option sets on a tiny SD 1.x UNet, same generator state."""

    def measure(ctx) -> Measurement:
        import copy

        import torch

        import zoo
        from zoo.bench.diffusion_tiny import tiny_sd_unet

        tomesd = _require("tomesd", "pip install 'tokzoo[diffusion]'")
        net = tiny_sd_unet()
        sample, t, text = tiny_inputs()
        rows, worst = [], 0.0
        with torch.no_grad():
            base = net(sample, t, encoder_hidden_states=text).sample
            for params in params_list:
                with zoo.apply(net, "tomesd", seed=7, **params):
                    ours = net(sample, t, encoder_hidden_states=text).sample
                ref = copy.deepcopy(net)
                tomesd.apply_patch(ref, **params)
                torch.manual_seed(7)
                theirs = ref(sample, t, encoder_hidden_states=text).sample
                diff = float((ours - theirs).abs().max())
                worst = max(worst, diff)
                rows.append({"params": params, "max_abs_diff": diff, "changed_vs_baseline": not torch.equal(ours, base),
                             "bitwise_equal": bool(torch.equal(ours, theirs))})
        return Measurement(worst, details={"official": f"tomesd {_version('tomesd')} (PyPI)", "runs": rows,
                                           "model": "tiny SD 1.x-layout UNet, random weights, float32"})

    return measure


def ca_tome_conformance(threshold: float, cache_steps: list[int], steps: int = 4):
    """Max |tokzoo - ca_tome| of the latents of a tiny StableDiffusionPipeline run (the official pipe.call)."""

    def measure(ctx) -> Measurement:
        import torch

        import zoo
        from zoo.bench.diffusion_tiny import tiny_sd_pipeline

        ca_tome = _require("ca_tome", "pip install --no-deps ca-tome (it pins torch<2.2.2)")
        kw = dict(num_inference_steps=steps, guidance_scale=5.0, height=32, width=32, output_type="latent")
        pipe = tiny_sd_pipeline()
        torch.manual_seed(0)
        with zoo.apply(pipe, "ca-tome", threshold=threshold, cache_steps=tuple(cache_steps)) as h:
            ours = pipe("a photo of a cat", generator=torch.Generator().manual_seed(0), **kw).images
            recomputed = h.adapter.runtime.reducers[0].recomputed
        ref = tiny_sd_pipeline()
        ca_tome.apply_CA_ToMe(ref, list(cache_steps), threshold)
        torch.manual_seed(0)
        theirs = ref.call("a photo of a cat", generator=torch.Generator().manual_seed(0), **kw).images
        diff = float((ours - theirs).abs().max())
        return Measurement(diff, params={"threshold": threshold, "cache_steps": tuple(cache_steps)}, details={
            "official": f"ca-tome {_version('ca-tome')} (PyPI, installed with --no-deps)",
            "bitwise_equal": bool(torch.equal(ours, theirs)), "steps": steps, "matchings_computed": recomputed,
            "model": "tiny StableDiffusionPipeline (in-process tokenizer, tiny CLIP text encoder, VAE, UNet)"})

    return measure


def _require(module: str, how: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"package {module} ({how})") from None


def _version(pkg: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "?"
