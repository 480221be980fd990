"""Video LLM prefill benchmark: a tokzoo video method against the same random LLaVA-OneVision unreduced.

The model has LLaVA-OneVision-7B's *vision layout* (SigLIP at 384 px with 14 px patches: 27 x 27
patches per frame, bilinearly pooled by the model to 14 x 14 = 196 tokens; 32 frames = 6,272 video
tokens, one newline token) with a narrow vision tower and a scaled-down Qwen2 language model
(:data:`CONFIGS`); weights are random (latency does not depend on their values for fixed-budget
methods; adaptive methods reduce as their random scores dictate, which the recorded schedule
shows).

What is timed (baseline and method alternate in one process, medians; wall clock and process CPU
time, as :mod:`zoo.bench.vlm`): ``llm_prefill``, the language-model prefill of the prompt with the
video features already computed (``mm_encoder_outputs``, ``logits_to_keep=1``, a KV cache): what
``generate`` runs before the first token, the part the theoretical speedup (``zoo.flops.llm``,
tokzoo convention, for the recorded token schedule) describes; it is given twice, counting the
full attention square (``theoretical_speedup``) and only its causal half
(``theoretical_speedup_causal``: what SDPA's causal kernel computes; with 6,000-token video
prompts the attention is a large share of the prefill, so the two differ). The video methods run at the
language model's input (or inside it), so their own cost is in this time. Methods reading the
vision tower's attention (FastVID, HoliTom) get their signal from the feature computation, which
runs outside the timed call.

Peak memory: the peak of live tensor bytes allocated during one prefill (torch profiler), both sides.
"""

from __future__ import annotations

from typing import Any

from zoo.bench.common import bench_record, hardware, say, summarize, versions
from zoo.bench.vlm import DTYPES, interleaved_clocks, peak_tensor_bytes

#: LLaVA-OneVision-7B's vision layout (SigLIP so400m: 384 px, 14 px patches), narrow and shallow
NARROW_SIGLIP_384 = dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
                         image_size=384, patch_size=14)

CONFIGS: dict[str, dict[str, Any]] = {
    "llava-onevision-7b-layout-0.1b": {
        "description": "LLaVA-OneVision-7B vision layout (384 px SigLIP patches, 196 pooled tokens per frame) with a "
                       "narrow 2-layer tower and a scaled-down Qwen2 LM (6 layers, d=768, SwiGLU m=2048, 12 heads, "
                       "4 KV heads)",
        "vision": NARROW_SIGLIP_384,
        "text": dict(num_hidden_layers=6, hidden_size=768, intermediate_size=2048, num_attention_heads=12,
                     num_key_value_heads=4, vocab_size=1024),
    },
}
CONFIGS["llava-onevision-7b-layout-tiny-lm"] = {
    "description": "LLaVA-OneVision-7B vision layout (384 px SigLIP patches, 196 pooled tokens per frame) with a "
                   "narrow 2-layer tower and a small Qwen2 LM (4 layers, d=512, SwiGLU m=1408, 8 heads, 2 KV heads)",
    "vision": NARROW_SIGLIP_384,
    "text": dict(num_hidden_layers=4, hidden_size=512, intermediate_size=1408, num_attention_heads=8,
                 num_key_value_heads=2, vocab_size=1024),
}
DEFAULT_CONFIG = "llava-onevision-7b-layout-tiny-lm"
VIDEO_TOKEN_ID, IMAGE_TOKEN_ID = 5, 4


def build_model(name: str, *, dtype: str = "bf16", device: str = "cpu"):
    """A random ``LlavaOnevisionForConditionalGeneration`` of the named configuration (sdpa attention)."""
    import torch
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, Qwen2Config, SiglipVisionConfig

    if name not in CONFIGS:
        raise ValueError(f"unknown video bench config {name!r}; available: {', '.join(CONFIGS)}")
    spec = CONFIGS[name]
    config = LlavaOnevisionConfig(vision_config=SiglipVisionConfig(**spec["vision"]),
                                  text_config=Qwen2Config(max_position_embeddings=16384, **spec["text"]),
                                  image_token_index=IMAGE_TOKEN_ID, video_token_index=VIDEO_TOKEN_ID,
                                  vision_feature_layer=-1, vision_feature_select_strategy="full")
    config._attn_implementation = "sdpa"
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, DTYPES[dtype]))
    try:
        with torch.device(device):
            model = LlavaOnevisionForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def video_tokens(model: Any, frames: int) -> int:
    """Placeholder tokens of one video: ``frames x ceil(grid / 2)^2 + 1`` (the newline)."""
    grid = model.config.vision_config.image_size // model.config.vision_config.patch_size
    side = (grid + 1) // 2
    return frames * side * side + 1


def prompt(model: Any, *, frames: int, n_system: int, n_question: int, device: str, seed: int = 0):
    """``system text + <video>*n + question text``: random ids and random frames."""
    import torch

    g = torch.Generator().manual_seed(seed)
    text = torch.randint(10, model.config.text_config.vocab_size, (n_system + n_question,), generator=g)
    ids = torch.cat([text[:n_system], torch.full((video_tokens(model, frames),), VIDEO_TOKEN_ID), text[n_system:]])[None]
    size = model.config.vision_config.image_size
    pixels = torch.randn(1, frames, 3, size, size, generator=g).to(device=device, dtype=next(model.parameters()).dtype)
    return {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device), "pixel_values_videos": pixels}


def bench(method_id: str, params: dict[str, Any], *, model: Any = DEFAULT_CONFIG, batch_size: int = 1,
          img_size: int | None = None, dtype: str = "bf16", threads: int | None = None, warmup: int = 1,
          repeats: int = 5, device: str = "cpu", seed: int = 0, command: str | None = None, frames: int = 32,
          n_system: int = 14, n_question: int = 40, memory: bool = True, progress=None) -> dict[str, Any]:
    """Measure ``method_id`` with ``params`` on a LLaVA-OneVision video configuration against the unreduced model;
    ``progress`` (one-line callable) hears each step."""
    import torch

    import zoo
    from zoo.flops import llm as flops

    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; allowed: {', '.join(DTYPES)}")
    if img_size is not None or batch_size != 1:
        raise ValueError("the video bench uses one 32-frame video at the configuration's frame size (batch 1)")
    if threads is not None:
        torch.set_num_threads(threads)
    name = model if isinstance(model, str) else type(model).__name__
    say(progress, f"building {name} (random weights, {dtype}, {device})")
    net = build_model(model, dtype=dtype, device=device) if isinstance(model, str) else model
    inputs = prompt(net, frames=frames, n_system=n_system, n_question=n_question, device=device, seed=seed)
    text_inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else None
    state: dict[str, Any] = {}

    def features():
        return {"video": net.model.get_video_features(pixel_values_videos=inputs["pixel_values_videos"],
                                                      vision_feature_layer=-1, vision_feature_select_strategy="full",
                                                      return_dict=True)}

    def enter():  # apply, then encode the video (untimed: the vision signals some methods read come from here)
        state["h"] = zoo.apply(net, method_id, **params)
        state["f"] = features()

    def leave():
        state.pop("h").remove()

    with torch.inference_mode():
        say(progress, "video features and the recorded forward (token schedule)")
        base_feats = features()
        enter()
        net(**text_inputs, mm_encoder_outputs=state["f"], logits_to_keep=1)  # the recorded forward
        run = state["h"].run
        method_params = state["h"].methods[0].params()
        leave()

        def baseline():
            return net(**text_inputs, mm_encoder_outputs=base_feats, logits_to_keep=1, use_cache=True)

        def method():
            return net(**text_inputs, mm_encoder_outputs=state["f"], logits_to_keep=1, use_cache=True)

        samples = interleaved_clocks(baseline, method, warmup=warmup, repeats=repeats, enter=enter, leave=leave,
                                     sync=sync, progress=progress, label="LLM prefill: ")
        mem = None
        if memory and str(device) == "cpu":
            say(progress, "peak memory")
            base_mem = peak_tensor_bytes(baseline)
            enter()
            try:
                meth_mem = peak_tensor_bytes(method)
            finally:
                leave()
            mem = {"what": "peak live tensor bytes during one LLM prefill (torch profiler)",
                   "baseline_mb": base_mem / 2**20, "reduced_mb": meth_mem / 2**20,
                   "ratio": meth_mem / base_mem if base_mem else None}

    cfg = flops.DecoderConfig.from_pretrained_config(net.config)
    n_prompt = inputs["input_ids"].shape[1]
    n_video = video_tokens(net, frames)
    n_text = n_prompt - n_video
    method_sched = run.schedule("llm")
    video_sched = flops.TokenSchedule(tuple(max(0, n - n_text) for n in method_sched), (n_text,) * cfg.num_layers)
    base_video = flops.full_schedule(cfg.num_layers, n_video, n_text)
    theory = {conv: flops.theoretical_speedup(video_sched, base_video, cfg, conv) for conv in ("tokzoo", "fastv")}
    # what a causal attention kernel computes (SDPA skips the masked upper triangle): long video prompts make the
    # attention a large share of the prefill, so both countings are recorded
    causal = flops.theoretical_speedup(video_sched, base_video, cfg, "tokzoo", causal=True)
    timing = summarize(samples["wall"], batch_size)
    cpu = summarize(samples["cpu"], batch_size)
    extra: dict[str, Any] = {
        "measured": "llm_prefill",
        "tokens": {"llm_input": run.input_tokens["llm"], "llm_entering_layer": method_sched, "baseline_llm_input": n_prompt,
                   "video_tokens_in": n_video, "events": [vars(e) for e in run.events.get("llm", [])]},
        "flops": {
            "convention": "tokzoo: SwiGLU- and GQA-aware cost of the decoder stack (GMACs = FLOPs / 2; LM head "
                          "excluded); theoretical_speedup_fastv_eq5: FastV's Eq. 5",
            "baseline_gmacs": flops.stack_flops(base_video, cfg, "tokzoo") / 2e9,
            "method_gmacs": flops.stack_flops(video_sched, cfg, "tokzoo") / 2e9,
            "theoretical_speedup": theory["tokzoo"],
            "theoretical_speedup_fastv_eq5": theory["fastv"],
            "measured_over_theoretical": timing["speedup"] / theory["tokzoo"],
            "cpu_time_measured_over_theoretical": cpu["speedup"] / theory["tokzoo"],
            "theoretical_speedup_causal": causal,
            "measured_over_theoretical_causal": timing["speedup"] / causal,
            "cpu_time_measured_over_theoretical_causal": cpu["speedup"] / causal,
        },
        "cpu_time": cpu,
    }
    if mem is not None:
        extra["memory"] = mem
    setting = {"model": name, "config": CONFIGS.get(name, {}).get("description", "given module"),
               "weights": "random (latency does not depend on weight values)", "batch_size": batch_size,
               "prompt": {"system": n_system, "video_frames": frames, "video_tokens": n_video, "question": n_question},
               "dtype": DTYPES[dtype], "threads": torch.get_num_threads(), "device": str(device),
               "attn_implementation": net.config.text_config._attn_implementation, "warmup": warmup,
               "repeats": repeats}
    accel = torch.cuda.get_device_name() if str(device).startswith("cuda") else None
    return bench_record(family="llava-onevision", method=method_id, params=method_params, setting=setting,
                        timing=timing, extra=extra, hw=hardware(torch.get_num_threads(), str(device), accel),
                        vers=versions("torch", "transformers"), command=command)
