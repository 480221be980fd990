"""Encoder throughput benchmark: a tokzoo method on a Hugging Face encoder against the same model unreduced.

Models are built from configurations with random weights (throughput depends on shapes and the
token schedule, not on weight values; adaptive methods record the schedule they ran). Inputs:
text models get ``seq_len`` tokens with no padding (every row full length), AST a spectrogram of
its configured length, Whisper 30 s of mel frames, vision towers ``img_size`` images. The record
holds measured throughputs, the measured speedup and the theoretical one from
:mod:`zoo.flops.encoder` for the recorded schedule, and the attention path the runtime took.

Importing this module imports no torch (``CONFIGS`` is read by the CLI).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from zoo.bench.common import bench_record, hardware, interleaved, say, summarize, versions

#: model name -> (adapter family, transformers class, config keyword arguments, default batch, what it is)
CONFIGS: dict[str, tuple[str, str, dict[str, Any], int, str]] = {
    "bert-base": ("hf-bert", "BertModel", dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                               intermediate_size=3072, max_position_embeddings=512), 4,
                  "BERT-base shape (12 x 768), 512 tokens"),
    "minilm-l6": ("hf-bert", "BertModel", dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                                               intermediate_size=1536, max_position_embeddings=512), 16,
                  "all-MiniLM-L6-v2 shape (6 x 384), 256 tokens"),
    "ast": ("hf-ast", "ASTModel", dict(), 2, "AST base (12 x 768), 1024 frames x 128 mel bins: 1212 patches + 2"),
    "whisper-base": ("hf-whisper-encoder", "WhisperEncoder",
                     dict(d_model=512, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048,
                          num_mel_bins=80, max_source_positions=1500), 2, "Whisper-base encoder (6 x 512), 1500 frames"),
    "vit-base-hf": ("hf-vit", "ViTModel", dict(), 16, "HF ViT-B/16 at 224 px"),
    "clip-vit-b16": ("hf-clip-vision", "CLIPVisionModel", dict(patch_size=16, image_size=224), 16,
                     "CLIP ViT-B/16 vision tower at 224 px"),
    "siglip-b16": ("hf-siglip-vision", "SiglipVisionModel", dict(patch_size=16, image_size=224), 16,
                   "SigLIP B/16 vision tower at 224 px (no [CLS])"),
}
DEFAULT_SEQ = {"bert-base": 512, "minilm-l6": 256}
DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}


def family_of(model: str) -> str | None:
    """The adapter family of a benchmark model name, ``None`` when it is not one of :data:`CONFIGS`."""
    return CONFIGS[model][0] if model in CONFIGS else None


def model_class(cls_name: str):
    """The transformers class named ``cls_name`` (WhisperEncoder is not exported at the top level)."""
    import transformers

    if cls_name == "WhisperEncoder":
        from transformers.models.whisper.modeling_whisper import WhisperEncoder

        return WhisperEncoder
    return getattr(transformers, cls_name)


def build(model: str, *, batch_size: int, seq_len: int | None, img_size: int | None, dtype: str, device: str,
          seed: int = 0) -> tuple[Any, dict[str, Any], int | None]:
    """The model (random weights, eval, ``dtype``) and one batch of inputs; returns the text length used."""
    import torch
    import transformers

    family, cls_name, kw, _, _ = CONFIGS[model]
    cls = model_class(cls_name)
    config_cls = {"BertModel": transformers.BertConfig, "ASTModel": transformers.ASTConfig,
                  "WhisperEncoder": transformers.WhisperConfig, "ViTModel": transformers.ViTConfig,
                  "CLIPVisionModel": transformers.CLIPVisionConfig,
                  "SiglipVisionModel": transformers.SiglipVisionConfig}[cls_name]
    kw = dict(kw)
    if img_size is not None and family in ("hf-vit", "hf-clip-vision", "hf-siglip-vision"):
        kw["image_size"] = img_size
    torch.manual_seed(seed)
    net = cls(config_cls(**kw)).eval().to(device=device, dtype=getattr(torch, DTYPES[dtype]))
    gen = torch.Generator().manual_seed(seed)
    cfg = net.config
    length = None
    if family == "hf-bert":
        length = seq_len or DEFAULT_SEQ.get(model, 512)
        if length > cfg.max_position_embeddings:
            raise ValueError(f"seq_len={length}: {model} has {cfg.max_position_embeddings} positions")
        inputs = {"input_ids": torch.randint(1000, cfg.vocab_size, (batch_size, length), generator=gen).to(device)}
    elif family == "hf-ast":
        inputs = {"input_values": torch.randn(batch_size, cfg.max_length, cfg.num_mel_bins, generator=gen)}
    elif family == "hf-whisper-encoder":
        inputs = {"input_features": torch.randn(batch_size, cfg.num_mel_bins, 2 * cfg.max_source_positions,
                                                generator=gen)}
    else:
        size = cfg.image_size
        inputs = {"pixel_values": torch.randn(batch_size, 3, size, size, generator=gen)}
    dt = next(net.parameters()).dtype
    inputs = {k: (v.to(device=device, dtype=dt) if v.is_floating_point() else v) for k, v in inputs.items()}
    return net, inputs, length


def bench(method_id: str, params: dict[str, Any], *, model: str = "bert-base", batch_size: int | None = None,
          img_size: int | None = None, seq_len: int | None = None, dtype: str = "bf16", threads: int | None = None,
          warmup: int = 3, repeats: int = 10, device: str = "cpu", seed: int = 0, command: str | None = None,
          progress=None, **_: Any) -> dict[str, Any]:
    """Measure ``method_id`` with ``params`` on the benchmark encoder ``model`` (see :data:`CONFIGS`);
    ``progress`` (one-line callable) hears each step."""
    import torch

    import zoo
    from zoo.core.attention import prefer_explicit
    from zoo.flops.encoder import EncoderShape, encoder_macs, run_schedule, theoretical_speedup

    if model not in CONFIGS:
        raise ValueError(f"model={model!r}; encoder benchmark models: {', '.join(CONFIGS)}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; allowed: {', '.join(DTYPES)}")
    if threads is not None:
        torch.set_num_threads(threads)
    family, _, _, default_batch, what = CONFIGS[model]
    batch = batch_size or default_batch
    say(progress, f"building {model} (random weights, {dtype}, {device})")
    net, inputs, length = build(model, batch_size=batch, seq_len=seq_len, img_size=img_size, dtype=dtype,
                                device=device, seed=seed)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else None
    handle: dict[str, Any] = {}

    def enter():
        handle["h"] = zoo.apply(net, method_id, **params)

    def leave():
        handle.pop("h").remove()

    cpu: dict[str, list[float]] = {"baseline": [], "method": []}

    def timed(key: str):
        def call():
            start = time.process_time()
            net(**inputs)
            cpu[key].append(time.process_time() - start)
        return call

    with torch.inference_mode():
        say(progress, "recorded forward (token schedule)")
        enter()
        net(**inputs)  # one recorded forward for the schedule
        h = handle["h"]
        adapter, run = h.adapter, h.run
        method_params = h.methods[0].params()
        leave()
        samples = interleaved(timed("baseline"), timed("method"), warmup=warmup, repeats=repeats,
                              enter=enter, leave=leave, sync=sync, progress=progress)
    stage = adapter.stage
    n_in = run.input_tokens[stage]
    shape = EncoderShape.from_adapter(adapter, n_in)
    sched = run_schedule(run, stage)
    timing = summarize(samples, batch)
    dt = next(net.parameters()).dtype
    extra = {
        "tokens": {"input": n_in, "after_block": run.tokens[stage]},
        "flops": {
            "convention": "fvcore-style MACs per item (zoo.flops.encoder): projections, attention products, MLP, "
                          "input convolutions; norms, softmax and the method's own scoring not counted",
            "baseline_gmacs": encoder_macs(shape).gmacs,
            "method_gmacs": encoder_macs(shape, sched).gmacs,
            "theoretical_speedup": theoretical_speedup(shape, sched),
        },
        "attention_path": {
            "explicit_softmax_when_runtime_runs": [prefer_explicit(dt, torch.device(device), n) for n in (n_in, run.tokens[stage][-1])],
            "native": str(getattr(net.config, "_attn_implementation", "")),
        },
    }
    extra["measured_over_theoretical"] = timing["speedup"] / extra["flops"]["theoretical_speedup"]
    cpu_b, cpu_m = statistics.median(cpu["baseline"][warmup:]), statistics.median(cpu["method"][warmup:])
    extra["cpu_time"] = {"baseline_median_s": cpu_b, "method_median_s": cpu_m, "speedup": cpu_b / cpu_m}
    setting = {"model": model, "what": what, "family": family, "weights": "random (built from the configuration)",
               "batch_size": batch, "seq_len": length, "dtype": DTYPES[dtype], "threads": torch.get_num_threads(),
               "device": str(device), "warmup": warmup, "repeats": repeats}
    accel = torch.cuda.get_device_name() if str(device).startswith("cuda") else None
    return bench_record(family=family, method=method_id, params=method_params, setting=setting, timing=timing,
                        extra=extra, hw=hardware(torch.get_num_threads(), str(device), accel),
                        vers=versions("torch", "transformers"), command=command)
