"""LLaVA prefill benchmark: a tokzoo method against the same randomly initialised model unreduced.

What is timed (baseline and method alternate in one process, medians reported, see
:mod:`zoo.bench.common`):

``llm_prefill``
    the language-model prefill of one prompt (``BOS + system + <image>×576 + question``) with
    the image features already computed (``mm_encoder_outputs``), ``logits_to_keep=1`` and a
    KV cache, i.e. what ``generate`` runs before the first token. For vision-encoder methods
    the features are computed with the method applied (its cost is in ``prefill``). This is
    the part the theoretical speedup (``zoo.flops.llm``, for the recorded token schedule)
    describes.
``prefill``
    the whole first forward from pixels (vision tower, projector, language model).

Each call is timed with two clocks: wall-clock (the record's top-level ``baseline``,
``reduced``, ``speedup``, as every tokzoo bench) and the process's CPU time (``cpu_time``).
On a machine shared with other jobs the wall clock of a 1-thread run stretches with the
load while its CPU time does not, so ``cpu_time`` (with ``--threads 1``) is the steadier
measure of the work saved; both are medians over interleaved baseline/method pairs.

Peak memory is the peak of live tensor bytes allocated during one call (from the torch
profiler's allocation events; weights and inputs allocated before the call are excluded),
for both sides. Latency does not depend on weight values for fixed-budget methods, so the
models are random (labelled so); adaptive methods (PruMerge) reduce as their random scores
dictate, which the recorded schedule shows.
"""

from __future__ import annotations

from typing import Any

import time

from zoo.bench.common import bench_record, hardware, summarize, versions

DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}

#: CLIP ViT-L/14-336, LLaVA-1.5's vision tower (576 image tokens)
CLIP_L_336 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                  image_size=336, patch_size=14, hidden_act="quick_gelu")
#: same image/patch size (576 tokens), narrow and shallow: keeps the whole forward dominated by the LM
NARROW_336 = dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=4,
                  image_size=336, patch_size=14, hidden_act="quick_gelu")

#: named configurations: Llama-style LM shapes with a LLaVA-1.5 vision tower
CONFIGS: dict[str, dict[str, Any]] = {
    "llava-1.5-0.4b": {
        "description": "LLaVA-1.5 layout: CLIP ViT-L/14-336 + 2-layer GELU projector + a 0.4B Llama-style LM "
                       "(16 layers, d=1536, SwiGLU m=4096, 12 heads, 4 KV heads)",
        "vision": CLIP_L_336,
        "text": dict(num_hidden_layers=16, hidden_size=1536, intermediate_size=4096, num_attention_heads=12,
                     num_key_value_heads=4, vocab_size=32064),
    },
    "llava-1.5-0.4b-narrow-vision": {
        "description": "as llava-1.5-0.4b with a narrow 6-layer vision tower (still 576 image tokens)",
        "vision": NARROW_336,
        "text": dict(num_hidden_layers=16, hidden_size=1536, intermediate_size=4096, num_attention_heads=12,
                     num_key_value_heads=4, vocab_size=32064),
    },
    "llava-1.5-tinyllama": {
        "description": "LLaVA-1.5 layout with the TinyLlama-1.1B LM shape (22 layers, d=2048, m=5632, 32 heads, "
                       "4 KV heads) and CLIP ViT-L/14-336",
        "vision": CLIP_L_336,
        "text": dict(num_hidden_layers=22, hidden_size=2048, intermediate_size=5632, num_attention_heads=32,
                     num_key_value_heads=4, vocab_size=32064),
    },
    "llava-1.5-160m": {
        "description": "LLaVA-1.5 layout with a 160M-class LM (12 layers, d=768, m=2048, 12 heads) and a narrow "
                       "vision tower (576 image tokens)",
        "vision": NARROW_336,
        "text": dict(num_hidden_layers=12, hidden_size=768, intermediate_size=2048, num_attention_heads=12,
                     num_key_value_heads=12, vocab_size=32064),
    },
}
DEFAULT_CONFIG = "llava-1.5-0.4b-narrow-vision"
IMAGE_TOKEN_ID = 32000


def build_model(name: str, *, dtype: str = "bf16", device: str = "cpu"):
    """A random ``LlavaForConditionalGeneration`` of the named configuration (sdpa attention)."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    if name not in CONFIGS:
        raise ValueError(f"unknown LLaVA bench config {name!r}; available: {', '.join(CONFIGS)}")
    spec = CONFIGS[name]
    vision = CLIPVisionConfig(**spec["vision"])
    text = LlamaConfig(max_position_embeddings=4096, hidden_act="silu", **spec["text"])
    n_img = (vision.image_size // vision.patch_size) ** 2
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN_ID,
                         image_seq_length=n_img, vision_feature_layer=-2, vision_feature_select_strategy="default")
    config._attn_implementation = "sdpa"
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, DTYPES[dtype]))
    try:
        with torch.device(device):
            model = LlavaForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def prompt(model: Any, *, batch_size: int, n_system: int, n_question: int, device: str, seed: int = 0):
    """``BOS + n_system text + <image>*n + n_question text`` per row, random ids and pixels."""
    import torch

    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batch_size):
        text = torch.randint(100, 30000, (n_system + n_question,), generator=g)
        rows.append(torch.cat([torch.tensor([1]), text[:n_system], torch.full((cfg.image_seq_length,), IMAGE_TOKEN_ID),
                               text[n_system:]]))
    ids = torch.stack(rows).to(device)
    size = cfg.vision_config.image_size
    pixels = torch.randn(batch_size, 3, size, size, generator=g).to(device=device, dtype=next(model.parameters()).dtype)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": pixels}


def _timed(fn, sync) -> tuple[float, float]:
    if sync:
        sync()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if sync:
        sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved_clocks(baseline, method, *, warmup: int, repeats: int, enter, leave, sync=None):
    """``zoo.bench.common.interleaved``'s protocol (warm-up, alternating order every pair), timing
    every call with the wall clock and the process CPU time: ``{"wall": {...}, "cpu": {...}}``."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0 (got repeats={repeats}, warmup={warmup})")

    def run_method():
        enter()
        try:
            return _timed(method, sync)
        finally:
            leave()

    for _ in range(warmup):
        _timed(baseline, sync)
        run_method()
    base, meth = [], []
    for i in range(repeats):
        if i % 2 == 0:
            base.append(_timed(baseline, sync))
            meth.append(run_method())
        else:
            meth.append(run_method())
            base.append(_timed(baseline, sync))
    return {clock: {"baseline": [b[j] for b in base], "method": [m[j] for m in meth]}
            for j, clock in enumerate(("wall", "cpu"))}


def peak_tensor_bytes(fn) -> int:
    """Peak of live tensor bytes allocated while ``fn()`` runs (torch profiler allocation events)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return int(peak)


def bench(method_id: str, params: dict[str, Any], *, model: Any = DEFAULT_CONFIG, batch_size: int = 1,
          img_size: int | None = None, dtype: str = "bf16", threads: int | None = None, warmup: int = 2,
          repeats: int = 7, device: str = "cpu", seed: int = 0, command: str | None = None, n_system: int = 35,
          n_question: int = 29, full_prefill: bool = True, memory: bool = True) -> dict[str, Any]:
    """Measure ``method_id`` with ``params`` on a LLaVA configuration against the unreduced model."""
    import torch

    import zoo
    from zoo.flops import llm as flops

    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; allowed: {', '.join(DTYPES)}")
    if img_size is not None:
        raise ValueError("the LLaVA bench uses the configuration's image size (336: 576 image tokens)")
    if threads is not None:
        torch.set_num_threads(threads)
    name = model if isinstance(model, str) else type(model).__name__
    net = build_model(model, dtype=dtype, device=device) if isinstance(model, str) else model
    inputs = prompt(net, batch_size=batch_size, n_system=n_system, n_question=n_question, device=device, seed=seed)
    text_inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else None
    handle: dict[str, Any] = {}

    def enter():
        handle["h"] = zoo.apply(net, method_id, **params)

    def leave():
        handle.pop("h").remove()

    def features():
        return {"image": net.model.get_image_features(pixel_values=inputs["pixel_values"], return_dict=True)}

    with torch.inference_mode():
        base_feats = features()
        enter()
        method_feats = features()
        net(**text_inputs, mm_encoder_outputs=method_feats, logits_to_keep=1)  # recorded forward
        run = handle["h"].run
        method_params = handle["h"].methods[0].params()
        leave()

        def llm(feats):
            return lambda: net(**text_inputs, mm_encoder_outputs=feats, logits_to_keep=1, use_cache=True)

        llm_samples = interleaved_clocks(llm(base_feats), llm(method_feats), warmup=warmup, repeats=repeats,
                                         enter=enter, leave=leave, sync=sync)
        full = None
        if full_prefill:
            def whole():
                return net(**inputs, logits_to_keep=1, use_cache=True)

            full = interleaved_clocks(whole, whole, warmup=1, repeats=max(3, repeats // 2), enter=enter,
                                      leave=leave, sync=sync)
        mem = None
        if memory and str(device) == "cpu":
            base_mem = peak_tensor_bytes(llm(base_feats))
            enter()
            try:
                meth_mem = peak_tensor_bytes(llm(method_feats))
            finally:
                leave()
            mem = {"what": "peak live tensor bytes during one LLM prefill (torch profiler)",
                   "baseline_mb": base_mem / 2**20, "reduced_mb": meth_mem / 2**20,
                   "ratio": meth_mem / base_mem if base_mem else None}
        elif memory and str(device).startswith("cuda"):
            stats = []
            for fn, on in ((llm(base_feats), False), (llm(method_feats), True)):
                if on:
                    enter()
                try:
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                    start = torch.cuda.memory_allocated()
                    fn()
                    torch.cuda.synchronize()
                    stats.append(torch.cuda.max_memory_allocated() - start)
                finally:
                    if on:
                        leave()
            mem = {"what": "peak CUDA bytes allocated above the start during one LLM prefill",
                   "baseline_mb": stats[0] / 2**20, "reduced_mb": stats[1] / 2**20, "ratio": stats[1] / stats[0]}

    cfg = flops.DecoderConfig.from_pretrained_config(net.config)
    n_in = run.input_tokens["llm"]
    n_img_in = inputs["input_ids"].shape[1] - 1 - n_system - n_question
    method_sched = run.schedule("llm")
    n_text = 1 + n_system + n_question
    base_sched = [inputs["input_ids"].shape[1]] * cfg.num_layers
    image_sched = flops.TokenSchedule(tuple(max(0, n - n_text) for n in method_sched), (n_text,) * cfg.num_layers)
    base_image = flops.full_schedule(cfg.num_layers, n_img_in, n_text)
    theory = {conv: flops.theoretical_speedup(image_sched, base_image, cfg, conv) for conv in ("tokzoo", "fastv")}
    timing = summarize(llm_samples["wall"], batch_size)
    cpu = summarize(llm_samples["cpu"], batch_size)
    extra: dict[str, Any] = {
        "measured": "llm_prefill",
        "tokens": {"llm_input": n_in, "llm_entering_layer": method_sched, "baseline_llm_input": base_sched[0],
                   "vision": run.tokens.get("vision")},
        "flops": {
            "convention": "tokzoo: SwiGLU- and GQA-aware cost of the decoder stack per prompt (GMACs = "
                          "FLOPs / 2; LM head excluded); theoretical_speedup_fastv_eq5: FastV's Eq. 5",
            "baseline_gmacs": flops.stack_flops(base_image, cfg, "tokzoo") / 2e9,
            "method_gmacs": flops.stack_flops(image_sched, cfg, "tokzoo") / 2e9,
            "theoretical_speedup": theory["tokzoo"],
            "theoretical_speedup_fastv_eq5": theory["fastv"],
            "measured_over_theoretical": timing["speedup"] / theory["tokzoo"],
            "cpu_time_measured_over_theoretical": cpu["speedup"] / theory["tokzoo"],
        },
        "cpu_time": cpu,
    }
    if full is not None:
        extra["prefill"] = {"wall": summarize(full["wall"], batch_size), "cpu_time": summarize(full["cpu"], batch_size)}
    if mem is not None:
        extra["memory"] = mem
    setting = {"model": name, "config": CONFIGS.get(name, {}).get("description", "given module"),
               "weights": "random (latency does not depend on weight values)", "batch_size": batch_size,
               "prompt": {"system": n_system, "image": n_img_in, "question": n_question},
               "dtype": DTYPES[dtype], "threads": torch.get_num_threads(), "device": str(device),
               "attn_implementation": net.config.text_config._attn_implementation,
               "warmup": warmup, "repeats": repeats}
    accel = torch.cuda.get_device_name() if str(device).startswith("cuda") else None
    return bench_record(family="llava", method=method_id, params=method_params, setting=setting, timing=timing,
                        extra=extra, hw=hardware(torch.get_num_threads(), str(device), accel),
                        vers=versions("torch", "transformers"), command=command)
