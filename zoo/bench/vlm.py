"""Decoder prefill benchmark: a tokzoo method against the same randomly initialised model unreduced.

Every decoder model tokzoo supports can be benchmarked: a configuration (:data:`CONFIGS`)
names its ``kind`` (``llava``: LLaVA-1.5 layout; ``llava-next``: LLaVA-v1.6, CLIP tiles +
anyres grid with row newlines; ``llava-next-video``: the same image path of
LLaVA-NeXT-Video, benchmarked with an image prompt; ``qwen2-vl`` / ``qwen2.5-vl``: the
native-resolution vision towers and M-RoPE; ``llava-onevision``: SigLIP + anyres tiles;
``text-lm``: a text-only Llama-style LM whose prompt holds ``context_tokens`` text tokens
where the image would be; ``qwen2-audio``: a speech LLM whose prompt holds one audio clip's
placeholder run, ``mel_frames`` log-mel frames) and the shapes; the record's ``family`` is the adapter that
served the model.

What is timed (baseline and method alternate in one process, medians reported, see
:mod:`zoo.bench.common`):

``llm_prefill``
    the language-model prefill of one prompt (``BOS + system + <image tokens> + question``)
    with the image features already computed (``mm_encoder_outputs``; Qwen2-Audio: the audio
    tower's output computed once and returned to both sides), ``logits_to_keep=1``
    and a KV cache, i.e. what ``generate`` runs before the first token. For vision-encoder
    methods the features are computed with the method applied (its cost is in ``prefill``).
    This is the part the theoretical speedup (``zoo.flops.llm``, for the recorded token
    schedule) describes.
``prefill``
    the whole first forward from pixels (vision tower, projector, language model); off for
    configurations whose vision tower alone takes tens of seconds on a CPU
    (``full_prefill=False`` in their entry).

Each call is timed with two clocks: wall-clock (the record's top-level ``baseline``,
``reduced``, ``speedup``, as every tokzoo bench) and the process's CPU time (``cpu_time``).
On a machine shared with other jobs the wall clock of a 1-thread run stretches with the
load while its CPU time does not, so ``cpu_time`` (with ``--threads 1``) is the steadier
measure of the work saved; both are medians over interleaved baseline/method pairs. The
1-minute load average before and after the run is recorded (``setting.load_average``).

Peak memory is the peak of live tensor bytes allocated during one call (from the torch
profiler's allocation events; weights and inputs allocated before the call are excluded),
for both sides. Latency does not depend on weight values for fixed-budget methods, so the
models are random (labelled so); adaptive methods (PruMerge) reduce as their random scores
dictate, which the recorded schedule shows.
"""

from __future__ import annotations

import contextlib
from typing import Any

import time

from zoo.bench.common import bench_record, hardware, say, summarize, versions

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
#: Qwen2.5-VL-7B's vision tower (Qwen/Qwen2.5-VL-7B-Instruct config.json): 32 blocks, window attention
#: except blocks 7/15/23/31, 2x2 patch merger; ``out_hidden_size`` is set to the LM width
QWEN25_VL_7B_VISION = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, in_channels=3,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31], hidden_act="silu", tokens_per_second=2)
#: the same grid arithmetic with a narrow, shallow tower (quick runs)
QWEN25_VL_NARROW_VISION = dict(QWEN25_VL_7B_VISION, depth=4, hidden_size=128, intermediate_size=256, num_heads=2,
                               fullatt_block_indexes=[3])
#: a scaled-down Qwen2.5 LM (Qwen2.5-1.5B widths, 8 layers; head_dim 128 as Qwen2.5-VL-7B, so mrope_section fits)
QWEN25_SMALL_LM = dict(num_hidden_layers=8, hidden_size=1536, intermediate_size=8960, num_attention_heads=12,
                       num_key_value_heads=2, vocab_size=32064, tie_word_embeddings=True,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]})
#: LLaVA-OneVision-0.5B (llava-hf/llava-onevision-qwen2-0.5b-ov-hf config.json): SigLIP so400m/14-384 + Qwen2-0.5B
SIGLIP_SO400M_384 = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=26, num_attention_heads=16,
                         image_size=384, patch_size=14, hidden_act="gelu_pytorch_tanh")
QWEN2_05B_LM = dict(num_hidden_layers=24, hidden_size=896, intermediate_size=4864, num_attention_heads=14,
                    num_key_value_heads=2, vocab_size=32064, rope_theta=1000000.0)

CONFIGS.update({
    "qwen2.5-vl-7b-vision": {
        "kind": "qwen2.5-vl",
        "description": "Qwen2.5-VL-7B vision layout (32-block window-attention ViT, 2x2 merger) on a 896x896 image "
                       "(64x64 patches -> 1024 visual tokens) + a scaled-down Qwen2.5 LM (8 layers, d=1536, m=8960, "
                       "12 heads, 2 KV heads, tied embeddings, M-RoPE)",
        "vision": QWEN25_VL_7B_VISION, "text": QWEN25_SMALL_LM, "grid": (1, 64, 64), "full_prefill": False,
    },
    "qwen2.5-vl-narrow-vision": {
        "kind": "qwen2.5-vl",
        "description": "as qwen2.5-vl-7b-vision with a narrow 4-block vision tower (same 1024 visual tokens)",
        "vision": QWEN25_VL_NARROW_VISION, "text": QWEN25_SMALL_LM, "grid": (1, 64, 64),
    },
    "llava-onevision-0.5b": {
        "kind": "llava-onevision",
        "description": "LLaVA-OneVision-0.5B layout: SigLIP so400m/14-384 + Qwen2-0.5B LM; one 384x768 image "
                       "(base tile 729 + anyres grid 27x54 + 27 newlines = 2214 visual tokens)",
        "vision": SIGLIP_SO400M_384, "text": QWEN2_05B_LM, "image_size": (384, 768), "full_prefill": False,
        "pinpoints": [[384, 384], [384, 768], [768, 384], [768, 768]],
    },
})
#: LLaVA-v1.6 (llava-hf/llava-v1.6-vicuna-7b-hf): CLIP ViT-L/14-336 tiles, the five anyres pinpoints
LLAVA_NEXT_PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
#: a 160M-class Llama-style LM (the llava-1.5-160m shape)
LLAMA_160M_LM = dict(num_hidden_layers=12, hidden_size=768, intermediate_size=2048, num_attention_heads=12,
                     num_key_value_heads=12, vocab_size=32064)
#: Qwen2-VL-7B's vision tower (Qwen/Qwen2-VL-7B-Instruct config.json): 32 blocks, embed 1280, 16 heads, MLP ratio 4,
#: QuickGELU, full attention in every block (no windows), 2x2 patch merger; ``hidden_size`` (the merger's output) is
#: set to the LM width
QWEN2_VL_7B_VISION = dict(depth=32, embed_dim=1280, mlp_ratio=4, num_heads=16, in_channels=3, patch_size=14,
                          spatial_merge_size=2, temporal_patch_size=2, hidden_act="quick_gelu")
#: a Llama-style text LM for prompt-token methods: 16 layers, d=768, SwiGLU m=2048, 12 heads, 4 KV heads
LLAMA_TEXT_LM = dict(num_hidden_layers=16, hidden_size=768, intermediate_size=2048, num_attention_heads=12,
                     num_key_value_heads=4, vocab_size=32064)

CONFIGS.update({
    "llava-next-160m": {
        "kind": "llava-next",
        "description": "LLaVA-NeXT (v1.6) layout: CLIP ViT-L/14-336 tiles, anyres pinpoints 336x672 .. 672x672, one "
                       "672x672 image (base tile 576 + 48x48 grid + 48 newlines = 2928 image tokens) + the 160M-class "
                       "Llama-style LM of llava-1.5-160m (12 layers, d=768, m=2048, 12 heads)",
        "vision": CLIP_L_336, "text": LLAMA_160M_LM, "image_size": (672, 672), "pinpoints": LLAVA_NEXT_PINPOINTS,
        "full_prefill": False,
    },
    "llava-next-video-160m": {
        "kind": "llava-next-video",
        "description": "LLaVA-NeXT-Video-7B layout (CLIP ViT-L/14-336, anyres pinpoints, 2x2 video pooling) with an "
                       "image prompt: one 672x672 image (576 + 48x48 + 48 newlines = 2928 image tokens, as LLaVA-NeXT) "
                       "+ the 160M-class Llama-style LM (12 layers, d=768, m=2048, 12 heads)",
        "vision": CLIP_L_336, "text": LLAMA_160M_LM, "image_size": (672, 672), "pinpoints": LLAVA_NEXT_PINPOINTS,
        "full_prefill": False,
    },
    "qwen2-vl-7b-vision": {
        "kind": "qwen2-vl",
        "description": "Qwen2-VL-7B vision layout (32-block ViT, embed 1280, full attention in every block, 2x2 "
                       "merger) on a 896x896 image (64x64 patches -> 1024 visual tokens) + the scaled-down Qwen2.5 LM "
                       "of qwen2.5-vl-7b-vision (8 layers, d=1536, m=8960, 12 heads, 2 KV heads, M-RoPE)",
        "vision": QWEN2_VL_7B_VISION, "text": QWEN25_SMALL_LM, "grid": (1, 64, 64), "full_prefill": False,
    },
    "llama-text-0.1b": {
        "kind": "text-lm",
        "description": "text-only Llama-style LM (16 layers, d=768, SwiGLU m=2048, 12 heads, 4 KV heads) on a "
                       "2000-token prompt (BOS + system + 1935-token context + question)",
        "text": LLAMA_TEXT_LM, "context_tokens": 1935,
    },
})
#: Qwen2-Audio-7B (Qwen/Qwen2-Audio-7B config.json): a Whisper-large-v3-shaped encoder (32 layers, d=1280) on 128
#: mel bins, 1500 positions (30 s); here narrowed to 4 layers, d=256 (the same 750 audio tokens per 30 s)
QWEN2_AUDIO_NARROW_ENCODER = dict(num_mel_bins=128, encoder_layers=4, encoder_attention_heads=4, encoder_ffn_dim=1024,
                                  d_model=256, max_source_positions=1500)
#: a 160M-class Qwen2 LM (the llava-1.5-160m widths) standing in for Qwen2-Audio-7B's Qwen-7B LM
QWEN2_160M_LM = dict(num_hidden_layers=12, hidden_size=768, intermediate_size=2048, num_attention_heads=12,
                     num_key_value_heads=12, vocab_size=32064)
CONFIGS.update({
    "qwen2-audio-7b-narrow": {
        "kind": "qwen2-audio",
        "description": "Qwen2-Audio-7B layout: Whisper-style audio encoder (narrowed: 4 layers, d=256) on a 30 s "
                       "clip (3000 mel frames -> 1500 encoder frames -> pooled to 750 audio tokens) + a 160M-class "
                       "Qwen2 LM (12 layers, d=768, m=2048, 12 heads); the audio tower's output is computed once",
        "audio": QWEN2_AUDIO_NARROW_ENCODER, "text": QWEN2_160M_LM, "mel_frames": 3000, "full_prefill": False,
    },
})
DEFAULT_CONFIG = "llava-1.5-0.4b-narrow-vision"
IMAGE_TOKEN_ID = 32000
VIDEO_TOKEN_ID = 32001
VISION_START_ID, VISION_END_ID = 32002, 32003
AUDIO_TOKEN_ID = 32004


def config_kind(name: str) -> str:
    """The model kind of a :data:`CONFIGS` entry (``llava`` unless it says otherwise)."""
    return CONFIGS[name].get("kind", "llava")


def _model_config(name: str):
    import transformers as tf

    spec = CONFIGS[name]
    kind = config_kind(name)
    if kind == "llava":
        vision = tf.CLIPVisionConfig(**spec["vision"])
        text = tf.LlamaConfig(max_position_embeddings=4096, hidden_act="silu", **spec["text"])
        n_img = (vision.image_size // vision.patch_size) ** 2
        return tf.LlavaForConditionalGeneration, tf.LlavaConfig(
            vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN_ID, image_seq_length=n_img,
            vision_feature_layer=-2, vision_feature_select_strategy="default")
    if kind == "qwen2.5-vl":
        text = dict(max_position_embeddings=32768, hidden_act="silu", **spec["text"])
        vision = dict(spec["vision"], out_hidden_size=text["hidden_size"])
        return tf.Qwen2_5_VLForConditionalGeneration, tf.Qwen2_5_VLConfig(
            text_config=text, vision_config=vision, image_token_id=IMAGE_TOKEN_ID, video_token_id=VIDEO_TOKEN_ID,
            vision_start_token_id=VISION_START_ID, vision_end_token_id=VISION_END_ID)
    if kind == "llava-onevision":
        vision = tf.SiglipVisionConfig(**spec["vision"])
        text = tf.Qwen2Config(max_position_embeddings=32768, hidden_act="silu", **spec["text"])
        return tf.LlavaOnevisionForConditionalGeneration, tf.LlavaOnevisionConfig(
            vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN_ID, video_token_index=VIDEO_TOKEN_ID,
            image_grid_pinpoints=spec["pinpoints"], vision_feature_layer=-1, vision_feature_select_strategy="full")
    if kind in ("llava-next", "llava-next-video"):
        vision = tf.CLIPVisionConfig(**spec["vision"])
        text = tf.LlamaConfig(max_position_embeddings=4096, hidden_act="silu", **spec["text"])
        common = dict(vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN_ID,
                      image_grid_pinpoints=spec["pinpoints"], vision_feature_layer=-2,
                      vision_feature_select_strategy="default")
        if kind == "llava-next":
            return tf.LlavaNextForConditionalGeneration, tf.LlavaNextConfig(**common)
        return tf.LlavaNextVideoForConditionalGeneration, tf.LlavaNextVideoConfig(
            **common, video_token_index=VIDEO_TOKEN_ID, spatial_pool_mode="average", spatial_pool_stride=2)
    if kind == "qwen2-vl":
        text = dict(max_position_embeddings=32768, hidden_act="silu", **spec["text"])
        vision = dict(spec["vision"], hidden_size=text["hidden_size"])
        return tf.Qwen2VLForConditionalGeneration, tf.Qwen2VLConfig(
            text_config=text, vision_config=vision, image_token_id=IMAGE_TOKEN_ID, video_token_id=VIDEO_TOKEN_ID,
            vision_start_token_id=VISION_START_ID, vision_end_token_id=VISION_END_ID)
    if kind == "text-lm":
        return tf.LlamaForCausalLM, tf.LlamaConfig(max_position_embeddings=4096, hidden_act="silu", **spec["text"])
    if kind == "qwen2-audio":
        return tf.Qwen2AudioForConditionalGeneration, tf.Qwen2AudioConfig(
            audio_config=tf.Qwen2AudioEncoderConfig(**spec["audio"]),
            text_config=tf.Qwen2Config(max_position_embeddings=32768, **spec["text"]), audio_token_index=AUDIO_TOKEN_ID)
    raise ValueError(f"unknown model kind {kind!r} in bench config {name!r}")


def build_model(name: str, *, dtype: str = "bf16", device: str = "cpu"):
    """A random model of the named configuration (sdpa attention)."""
    import torch

    if name not in CONFIGS:
        raise ValueError(f"unknown decoder bench config {name!r}; available: {', '.join(CONFIGS)}")
    cls, config = _model_config(name)
    config._attn_implementation = "sdpa"
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, DTYPES[dtype]))
    try:
        with torch.device(device):
            model = cls(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def prompt(model: Any, *, batch_size: int, n_system: int, n_question: int, device: str, seed: int = 0,
           name: str | None = None):
    """``BOS + n_system text + <image tokens> + n_question text`` per row, random ids and pixels.

    Text-only configurations (``kind="text-lm"``) put ``context_tokens`` random text tokens
    where the image would be. Returns ``(inputs, feature_kwargs)``: the forward's inputs and
    the arguments of the model's ``get_image_features`` (the pixels and what their layout
    needs; empty for text-only models)."""
    import torch

    cfg = model.config
    kind = config_kind(name) if name in CONFIGS else "llava"
    g = torch.Generator().manual_seed(seed)
    dtype = next(model.parameters()).dtype
    if kind in ("qwen2.5-vl", "qwen2-vl"):
        t, h, w = CONFIGS[name]["grid"]
        vc = cfg.vision_config
        n_img = t * h * w // vc.spatial_merge_size ** 2
        pixels = torch.randn(batch_size * t * h * w, vc.in_channels * vc.temporal_patch_size * vc.patch_size ** 2,
                             generator=g)
        image = [VISION_START_ID] + [IMAGE_TOKEN_ID] * n_img + [VISION_END_ID]
        feat = {"pixel_values": pixels.to(device=device, dtype=dtype),
                "image_grid_thw": torch.tensor([[t, h, w]] * batch_size, device=device)}
    elif kind in ("llava-onevision", "llava-next", "llava-next-video"):
        from transformers.models.llava_next.modeling_llava_next import image_size_to_num_patches

        from zoo.families.decoders.anyres import anyres_layout

        size = CONFIGS[name]["image_size"]
        tile = cfg.vision_config.image_size
        tiles = image_size_to_num_patches(list(size), cfg.image_grid_pinpoints, tile)
        # OneVision shrinks grids over anyres_max_9 tiles; LLaVA-NeXT keeps the whole unpadded grid
        n_img = anyres_layout(size, cfg, max_tiles=9 if kind == "llava-onevision" else None).length
        image = [IMAGE_TOKEN_ID] * n_img
        pixels = torch.randn(batch_size, tiles, 3, tile, tile, generator=g)
        feat = {"pixel_values": pixels.to(device=device, dtype=dtype),
                "image_sizes": torch.tensor([list(size)] * batch_size, device=device)}
    elif kind == "qwen2-audio":
        frames = CONFIGS[name]["mel_frames"]
        n_audio = int(model.model.audio_tower._get_feat_extract_output_lengths(torch.tensor(frames))[1])
        image = [AUDIO_TOKEN_ID] * n_audio
        feat = {"input_features": torch.randn(batch_size, cfg.audio_config.num_mel_bins, frames, generator=g)
                .to(device=device, dtype=dtype),
                "feature_attention_mask": torch.ones(batch_size, frames, dtype=torch.long, device=device)}
    elif kind == "text-lm":
        n_context = CONFIGS[name]["context_tokens"]
        image = torch.randint(100, 30000, (batch_size, n_context), generator=g).tolist()
        feat = {}
    else:
        image = [IMAGE_TOKEN_ID] * cfg.image_seq_length
        size = cfg.vision_config.image_size
        pixels = torch.randn(batch_size, 3, size, size, generator=g)
        feat = {"pixel_values": pixels.to(device=device, dtype=dtype)}
    rows = []
    for b in range(batch_size):
        middle = image[b] if kind == "text-lm" else image
        text = torch.randint(100, 30000, (n_system + n_question,), generator=g)
        rows.append(torch.cat([torch.tensor([1]), text[:n_system], torch.tensor(middle), text[n_system:]]))
    ids = torch.stack(rows).to(device)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), **feat}
    if kind in ("qwen2.5-vl", "qwen2-vl"):
        inputs["mm_token_type_ids"] = (ids == IMAGE_TOKEN_ID).int()
    return inputs, feat


@contextlib.contextmanager
def cached_audio_tower(net: Any, inputs: dict | None):
    """While active, ``net``'s audio tower returns the output it gave for ``inputs`` (computed once), so the
    timed prefill is the language model's, as the image features of the VLM configurations; and its LM head
    sees the last position only (``Qwen2AudioForConditionalGeneration`` takes no ``logits_to_keep``).
    Instance-level hooks on the bench's own model, removed on exit; ``None``: no-op."""
    if inputs is None:
        yield
        return
    import torch

    tower = net.model.audio_tower
    seen = {}

    def keep(module, args, out):
        seen["out"] = out

    hook = tower.register_forward_hook(keep)
    try:
        with torch.inference_mode():
            net(**inputs)
    finally:
        hook.remove()
    tower.forward = lambda *args, **kwargs: seen["out"]  # instance attribute on the bench's own model
    last = net.lm_head.register_forward_pre_hook(lambda module, args: (args[0][:, -1:],) + tuple(args[1:]))
    try:
        yield
    finally:
        del tower.forward
        last.remove()


def lookahead_runs(events) -> list[tuple[int, int]]:
    """``(layers, tokens)`` of every look-ahead pass in a run's ``events["llm"]``.

    A ``"lookahead"`` event (block = the last layer run, ``n_before`` tokens) precedes the
    reduction it fed; that reduction's block ``b`` (``-1``: before layer 0) says where the
    pass started, so it ran ``block - b`` layers."""
    out = []
    for i, event in enumerate(events):
        if event.kind != "lookahead":
            continue
        fed = next((e for e in events[i + 1:] if e.kind != "lookahead"), None)
        if fed is None:
            raise ValueError(f"a look-ahead event without the reduction it fed: {events}")
        out.append((event.block - fed.block, event.n_before))
    return out


def _timed(fn, sync) -> tuple[float, float]:
    if sync:
        sync()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if sync:
        sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved_clocks(baseline, method, *, warmup: int, repeats: int, enter, leave, sync=None, progress=None,
                       label: str = ""):
    """``zoo.bench.common.interleaved``'s protocol (warm-up, alternating order every pair), timing
    every call with the wall clock and the process CPU time: ``{"wall": {...}, "cpu": {...}}``.
    ``progress`` hears "<label>warmup i/n" and "<label>pair i/n"."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0 (got repeats={repeats}, warmup={warmup})")

    def run_method():
        enter()
        try:
            return _timed(method, sync)
        finally:
            leave()

    for i in range(warmup):
        say(progress, f"{label}warmup {i + 1}/{warmup}")
        _timed(baseline, sync)
        run_method()
    base, meth = [], []
    for i in range(repeats):
        say(progress, f"{label}pair {i + 1}/{repeats}")
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
          n_question: int = 29, full_prefill: bool = True, memory: bool = True, progress=None) -> dict[str, Any]:
    """Measure ``method_id`` with ``params`` on a decoder configuration against the unreduced model;
    ``progress`` (one-line callable) hears each step."""
    import os

    import torch

    import zoo
    from zoo.families import detect
    from zoo.flops import llm as flops

    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; allowed: {', '.join(DTYPES)}")
    if img_size is not None:
        raise ValueError("the decoder bench uses the configuration's image size (LLaVA-1.5: 336, 576 image tokens)")
    if threads is not None:
        torch.set_num_threads(threads)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    name = model if isinstance(model, str) else type(model).__name__
    say(progress, f"building {name} (random weights, {dtype}, {device})")
    net = build_model(model, dtype=dtype, device=device) if isinstance(model, str) else model
    if isinstance(model, str):
        full_prefill = full_prefill and CONFIGS[model].get("full_prefill", True)
    inputs, feat_kwargs = prompt(net, batch_size=batch_size, n_system=n_system, n_question=n_question, device=device,
                                 seed=seed, name=name)
    text_inputs = {k: v for k, v in inputs.items() if k != "pixel_values"}
    audio = "input_features" in feat_kwargs  # a speech LLM: the audio tower runs once, its output is reused
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else None
    handle: dict[str, Any] = {}

    def enter():
        handle["h"] = zoo.apply(net, method_id, **params)

    def leave():
        handle.pop("h").remove()

    def features():
        if not feat_kwargs or audio:  # a text-only LM: nothing to encode; audio: see cached_audio_tower
            return None
        return {"image": net.model.get_image_features(**feat_kwargs, return_dict=True)}

    def media(feats) -> dict:
        return {} if feats is None else {"mm_encoder_outputs": feats}

    with torch.inference_mode(), cached_audio_tower(net, inputs if audio else None):
        say(progress, "image features and the recorded forward (token schedule)")
        base_feats = features()
        enter()
        vision_side = any(m.placement == "vision-encoder" for m in handle["h"].methods)
        method_feats = features() if vision_side else base_feats  # llm-side methods see the same features
        net(**text_inputs, **media(method_feats), logits_to_keep=1)  # recorded forward
        run = handle["h"].run
        method_params = handle["h"].methods[0].params()
        leave()

        def llm(feats):
            return lambda: net(**text_inputs, **media(feats), logits_to_keep=1, use_cache=True)

        llm_samples = interleaved_clocks(llm(base_feats), llm(method_feats), warmup=warmup, repeats=repeats,
                                         enter=enter, leave=leave, sync=sync, progress=progress,
                                         label="LLM prefill: ")
        full = None
        if full_prefill:
            def whole():
                return net(**inputs, logits_to_keep=1, use_cache=True)

            full = interleaved_clocks(whole, whole, warmup=1, repeats=max(3, repeats // 2), enter=enter,
                                      leave=leave, sync=sync, progress=progress, label="whole prefill: ")
        mem = None
        if memory:
            say(progress, "peak memory")
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
    image_token = getattr(net.config, "image_token_id", None) or getattr(net.config, "audio_token_id", None)
    n_img_in = 0 if image_token is None else int((inputs["input_ids"][0] == image_token).sum())
    method_sched = run.schedule("llm")
    n_prompt = inputs["input_ids"].shape[1]
    base_sched = [n_prompt] * cfg.num_layers
    if feat_kwargs:  # a VLM: image tokens are reduced, the text tokens stay
        n_text = n_prompt - n_img_in
        image_sched = flops.TokenSchedule(tuple(max(0, n - n_text) for n in method_sched), (n_text,) * cfg.num_layers)
        base_image = flops.full_schedule(cfg.num_layers, n_img_in, n_text)
    else:  # a text-only LM: every prompt token is reducible (counted as the schedule's reducible part)
        n_text = n_prompt
        image_sched = flops.TokenSchedule(tuple(method_sched), (0,) * cfg.num_layers)
        base_image = flops.full_schedule(cfg.num_layers, n_prompt, 0)
    # layers a selector ran ahead on the unreduced prompt (GemFilter's filter pass) cost extra, outside the schedule
    ahead = lookahead_runs(run.events.get("llm", []))
    extra_cost = {conv: sum(layers * flops.layer_flops(n, cfg, conv) for layers, n in ahead) for conv in ("tokzoo", "fastv")}
    theory = {conv: flops.stack_flops(base_image, cfg, conv)
              / (flops.stack_flops(image_sched, cfg, conv) + extra_cost[conv]) for conv in ("tokzoo", "fastv")}
    timing = summarize(llm_samples["wall"], batch_size)
    cpu = summarize(llm_samples["cpu"], batch_size)
    extra: dict[str, Any] = {
        "measured": "llm_prefill",
        "tokens": {"llm_input": n_in, "llm_entering_layer": method_sched, "baseline_llm_input": base_sched[0],
                   "vision": run.tokens.get("vision")},
        "flops": {
            "convention": "tokzoo: SwiGLU- and GQA-aware cost of the decoder stack per prompt (GMACs = "
                          "FLOPs / 2; LM head excluded; look-ahead layers run on the unreduced prompt, as "
                          "GemFilter's filter pass, counted in method_gmacs); theoretical_speedup_fastv_eq5: FastV's Eq. 5",
            "baseline_gmacs": flops.stack_flops(base_image, cfg, "tokzoo") / 2e9,
            "method_gmacs": (flops.stack_flops(image_sched, cfg, "tokzoo") + extra_cost["tokzoo"]) / 2e9,
            "lookahead": [{"layers": layers, "tokens": n} for layers, n in ahead],
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
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    setting = {"model": name, "config": CONFIGS.get(name, {}).get("description", "given module"),
               "load_average": {"before": load_before, "after": load_after, "logical_cpus": os.cpu_count()},
               "weights": "random (latency does not depend on weight values)", "batch_size": batch_size,
               "prompt": {"system": n_system, "image": n_img_in, "question": n_question, "text_total": n_text,
                          **({} if feat_kwargs else {"context": CONFIGS.get(name, {}).get("context_tokens")})},
               "dtype": DTYPES[dtype], "threads": torch.get_num_threads(), "device": str(device),
               "attn_implementation": getattr(net.config, "text_config", net.config)._attn_implementation,
               "warmup": warmup, "repeats": repeats}
    accel = torch.cuda.get_device_name() if str(device).startswith("cuda") else None
    return bench_record(family=detect(net).name, method=method_id, params=method_params, setting=setting, timing=timing,
                        extra=extra, hw=hardware(torch.get_num_threads(), str(device), accel),
                        vers=versions("torch", "transformers"), command=command)
