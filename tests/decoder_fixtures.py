"""Tiny random decoder models of every supported class beyond LLaVA-1.5/NeXT, and their prompts.

``build(kind, path)`` writes a randomly initialised checkpoint with ``save_pretrained``;
``load(kind, path)`` reads it back with ``from_pretrained`` (no network). ``prompts(model,
kind, ...)`` builds a batch and, for every row, the same row alone without padding: rows
put their images/videos at different offsets, hold several items (an image and a video
where the model allows), and are left-padded to one length, so nothing can rely on fixed
offsets. Kinds:

``llava-onevision``  SigLIP tower (no [CLS]), Qwen2 LM; anyres images + pooled video frames
``llava-next-video`` CLIP tower, Llama LM; anyres images + pooled video frames
``qwen2-vl`` / ``qwen2.5-vl``  native-resolution ViT + 2x2 merger, M-RoPE Qwen2 LM
``llama`` / ``qwen2`` / ``mistral``  text-only causal LMs
``qwen2-audio``  Whisper-style audio encoder + linear projector, Qwen2 LM; rows hold one or two
                 clips of different lengths (expanded <|AUDIO|> placeholders, as the processor makes)
"""

from __future__ import annotations

from pathlib import Path

import torch

IMAGE, VIDEO, VSTART, VEND, PAD, BOS, EOS = 5, 6, 7, 8, 0, 1, 2
AUDIO = 9
VOCAB = 97
TEXT_LOW = 10  # ordinary text ids are >= 10 (no special token)
#: placeholder/special ids generation must not produce (an uncached re-computation would read them as items)
SPECIAL = [IMAGE, VIDEO, VSTART, VEND, AUDIO]

QWEN_VL = ("qwen2-vl", "qwen2.5-vl")
VLM_KINDS = ("llava-onevision", "llava-next-video", *QWEN_VL)
TEXT_KINDS = ("llama", "qwen2", "mistral")
AUDIO_KINDS = ("qwen2-audio",)
#: every kind with media placeholder tokens (images, videos or audio)
MEDIA_KINDS = VLM_KINDS + AUDIO_KINDS
KINDS = VLM_KINDS + TEXT_KINDS + AUDIO_KINDS
MEL_BINS = 16
#: mel frames of a full clip: the audio encoder's 2 x max_source_positions (50 audio tokens after pooling)
MEL_FRAMES = 200
PINPOINTS = [[56, 112], [112, 56], [112, 112]]


def _text_kwargs(**extra):
    return dict(vocab_size=VOCAB, hidden_size=48, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=512, pad_token_id=PAD, bos_token_id=BOS,
                eos_token_id=EOS, **extra)


def config(kind: str):
    """The tiny config of ``kind`` (4 decoder layers, width 48, 97-token vocabulary)."""
    import transformers as tf

    if kind == "llava-onevision":
        vision = tf.SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                       image_size=56, patch_size=14)
        return tf.LlavaOnevisionConfig(vision_config=vision, text_config=tf.Qwen2Config(**_text_kwargs()),
                                       image_token_index=IMAGE, video_token_index=VIDEO, image_grid_pinpoints=PINPOINTS,
                                       vision_feature_layer=-1, vision_feature_select_strategy="full")
    if kind == "llava-next-video":
        vision = tf.CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                     image_size=56, patch_size=14, projection_dim=32)
        return tf.LlavaNextVideoConfig(vision_config=vision, text_config=tf.LlamaConfig(**_text_kwargs()),
                                       image_token_index=IMAGE, video_token_index=VIDEO, image_grid_pinpoints=PINPOINTS,
                                       vision_feature_layer=-2)
    if kind in ("qwen2-vl", "qwen2.5-vl"):
        rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 2, 2]}
        vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, in_channels=3, patch_size=14,
                      spatial_merge_size=2, temporal_patch_size=2)
        ids = dict(image_token_id=IMAGE, video_token_id=VIDEO, vision_start_token_id=VSTART, vision_end_token_id=VEND)
        if kind == "qwen2.5-vl":
            vision.update(window_size=56, fullatt_block_indexes=[1], out_hidden_size=48, tokens_per_second=2)
            return tf.Qwen2_5_VLConfig(text_config=_text_kwargs(rope_parameters=rope), vision_config=vision, **ids)
        vision.update(embed_dim=32, mlp_ratio=2)
        vision.pop("hidden_size")
        vision.pop("intermediate_size")
        return tf.Qwen2VLConfig(text_config=_text_kwargs(rope_parameters=rope), vision_config=dict(vision, hidden_size=48),
                                **ids)
    if kind == "qwen2-audio":
        audio = tf.Qwen2AudioEncoderConfig(num_mel_bins=MEL_BINS, encoder_layers=2, encoder_attention_heads=4,
                                           encoder_ffn_dim=64, d_model=32, max_source_positions=MEL_FRAMES // 2)
        return tf.Qwen2AudioConfig(audio_config=audio, text_config=tf.Qwen2Config(**_text_kwargs()),
                                   audio_token_index=AUDIO)
    if kind == "llama":
        return tf.LlamaConfig(**_text_kwargs())
    if kind == "qwen2":
        return tf.Qwen2Config(**_text_kwargs())
    if kind == "mistral":
        return tf.MistralConfig(**_text_kwargs(sliding_window=4096))
    raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(KINDS)}")


def model_class(kind: str):
    import transformers as tf

    return {"llava-onevision": tf.LlavaOnevisionForConditionalGeneration,
            "llava-next-video": tf.LlavaNextVideoForConditionalGeneration,
            "qwen2-vl": tf.Qwen2VLForConditionalGeneration, "qwen2.5-vl": tf.Qwen2_5_VLForConditionalGeneration,
            "llama": tf.LlamaForCausalLM, "qwen2": tf.Qwen2ForCausalLM, "mistral": tf.MistralForCausalLM,
            "qwen2-audio": tf.Qwen2AudioForConditionalGeneration}[kind]


def build(kind: str, path: Path, seed: int = 0) -> Path:
    """Save a random tiny checkpoint of ``kind`` to ``path`` (q/k weights sharpened so rankings separate)."""
    torch.manual_seed(seed)
    model = model_class(kind)(config(kind))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("q_proj.weight", "k_proj.weight")) and "visual" not in name and "audio" not in name:
                p.mul_(4.0)
    model.save_pretrained(path)
    return Path(path)


def load(kind: str, path: Path, *, attn: str = "sdpa", dtype: torch.dtype = torch.float32):
    return model_class(kind).from_pretrained(path, attn_implementation=attn, dtype=dtype).eval()


# --------------------------------------------------------------------------- prompts
#: per kind, the items of each row: ("image", (height, width)) / ("video", frames) / Qwen: ("image", (t, h, w))
ROW_ITEMS = {
    "llava-onevision": [[("image", (60, 100)), ("video", 3)], [("video", 3), ("image", (100, 60))]],
    "llava-next-video": [[("image", (60, 100)), ("video", 2)], [("video", 2), ("image", (100, 60))]],
    "qwen2-vl": [[("image", (1, 4, 6)), ("video", (2, 4, 4))], [("image", (1, 6, 4)), ("image", (1, 4, 4))]],
    "qwen2.5-vl": [[("image", (1, 4, 6)), ("video", (2, 4, 4))], [("image", (1, 6, 4)), ("image", (1, 4, 4))]],
    "qwen2-audio": [[("audio", 120), ("audio", 60)], [("audio", 200)]],  # mel frames of each clip
}


#: rows holding the same visual-token count (methods that need it, e.g. SparseVLM), items in different orders
SAME_COUNT_ITEMS = {
    "llava-onevision": [[("image", (60, 100)), ("video", 3)], [("video", 3), ("image", (60, 100))]],
    "llava-next-video": [[("image", (60, 100)), ("video", 2)], [("video", 2), ("image", (60, 100))]],
    "qwen2-vl": [[("image", (1, 4, 6)), ("video", (2, 4, 4))], [("video", (2, 4, 4)), ("image", (1, 4, 6))]],
    "qwen2.5-vl": [[("image", (1, 4, 6)), ("video", (2, 4, 4))], [("video", (2, 4, 4)), ("image", (1, 4, 6))]],
    "qwen2-audio": [[("audio", 120), ("audio", 80)], [("audio", 200)]],  # 30 + 20 = 50 audio tokens per row
}


def _text(g, n):
    return torch.randint(TEXT_LOW, VOCAB, (n,), generator=g).tolist()


class _Row:
    def __init__(self):
        self.ids: list[int] = []
        self.images: list = []  # per image: (pixels, size) / Qwen: (patches, thw)
        self.videos: list = []
        self.audios: list = []  # per clip: (log-mel frames [MEL_BINS, n], n)


def _item_tokens(model, kind: str, modality: str, spec, g):
    """(placeholder count, pixel payload) of one item."""
    cfg = model.config
    if modality == "audio":
        frames = spec
        mel = torch.randn(MEL_BINS, frames, generator=g)
        _, n = model.model.audio_tower._get_feat_extract_output_lengths(torch.tensor(frames))
        return int(n), (mel, frames)
    if kind in QWEN_VL:
        t, h, w = spec
        vc = cfg.vision_config
        n_patch = t * h * w
        pixels = torch.randn(n_patch, vc.in_channels * vc.temporal_patch_size * vc.patch_size ** 2, generator=g)
        return n_patch // vc.spatial_merge_size ** 2, (pixels, torch.tensor([t, h, w]))
    side = cfg.vision_config.image_size
    if modality == "image":
        from transformers.models.llava_next.modeling_llava_next import image_size_to_num_patches

        from zoo.families.decoders.anyres import anyres_layout

        tiles = image_size_to_num_patches(list(spec), cfg.image_grid_pinpoints, side)
        pixels = torch.randn(tiles, 3, side, side, generator=g)
        kw = {"max_tiles": 9} if kind == "llava-onevision" else {}
        return anyres_layout(spec, cfg, **kw).length, (pixels, torch.tensor(spec))
    frames = spec
    pixels = torch.randn(frames, 3, side, side, generator=g)
    grid = side // cfg.vision_config.patch_size
    if kind == "llava-onevision":
        pooled = (grid + 1) // 2
        return frames * pooled * pooled + 1, pixels
    pooled = grid // cfg.spatial_pool_stride
    return frames * pooled * pooled, pixels


def _rows(model, kind: str, *, prefixes, gaps, suffixes, seed, items=None):
    g = torch.Generator().manual_seed(seed)
    rows = []
    spec_rows = items if items is not None else ROW_ITEMS.get(kind, [[], []])
    for b in range(len(prefixes)):
        row = _Row()
        row.ids = [BOS] + _text(g, prefixes[b])
        for j, (modality, spec) in enumerate(spec_rows[b % len(spec_rows)] if spec_rows else []):
            n, payload = _item_tokens(model, kind, modality, spec, g)
            token = {"image": IMAGE, "video": VIDEO, "audio": AUDIO}[modality]
            if kind in QWEN_VL:
                row.ids += [VSTART] + [token] * n + [VEND]
            else:
                row.ids += [token] * n
            {"image": row.images, "video": row.videos, "audio": row.audios}[modality].append(payload)
            row.ids += _text(g, gaps[b])
        row.ids += _text(g, suffixes[b])
        rows.append(row)
    return rows


def _collate(model, kind: str, rows: list[_Row], *, left_pad: bool = True) -> dict:
    length = max(len(r.ids) for r in rows)
    b = len(rows)
    ids = torch.full((b, length), PAD, dtype=torch.long)
    mask = torch.zeros((b, length), dtype=torch.long)
    for i, r in enumerate(rows):
        sl = slice(length - len(r.ids), length) if left_pad else slice(0, len(r.ids))
        ids[i, sl] = torch.tensor(r.ids)
        mask[i, sl] = 1
    out = {"input_ids": ids, "attention_mask": mask}
    images = [im for r in rows for im in r.images]
    videos = [v for r in rows for v in r.videos]
    dtype = model.dtype
    if kind in QWEN_VL:
        if images:
            out["pixel_values"] = torch.cat([p for p, _ in images]).to(dtype)
            out["image_grid_thw"] = torch.stack([t for _, t in images])
        if videos:
            out["pixel_values_videos"] = torch.cat([p for p, _ in videos]).to(dtype)
            out["video_grid_thw"] = torch.stack([t for _, t in videos])
        out["mm_token_type_ids"] = ((ids == IMAGE).int() + 2 * (ids == VIDEO).int())
        return out
    if kind in TEXT_KINDS:
        return out
    if kind in AUDIO_KINDS:  # one input_features row per clip, padded to the full clip length
        clips = [a for r in rows for a in r.audios]
        feats = torch.zeros(len(clips), MEL_BINS, MEL_FRAMES)
        fmask = torch.zeros(len(clips), MEL_FRAMES, dtype=torch.long)
        for i, (mel, n) in enumerate(clips):
            feats[i, :, :n] = mel
            fmask[i, :n] = 1
        out["input_features"] = feats.to(model.dtype)
        out["feature_attention_mask"] = fmask
        return out
    if images:
        tiles = max(p.shape[0] for p, _ in images)
        pix = torch.zeros(len(images), tiles, *images[0][0].shape[1:])
        for i, (p, _) in enumerate(images):
            pix[i, : p.shape[0]] = p
        out["pixel_values"] = pix.to(dtype)
        out["image_sizes"] = torch.stack([s for _, s in images])
        if kind == "llava-onevision":
            out["batch_num_images"] = torch.tensor([len(r.images) for r in rows])
    if videos:
        out["pixel_values_videos"] = torch.stack(videos).to(dtype)
    return out


def prompts(model, kind: str, *, prefixes=(3, 6), gaps=(2, 4), suffixes=(7, 5), seed: int = 1, left_pad: bool = True,
            items=None):
    """``(batch, rows)``: a left-padded batch and every row alone (no padding, its own items)."""
    rows = _rows(model, kind, prefixes=prefixes, gaps=gaps, suffixes=suffixes, seed=seed, items=items)
    return _collate(model, kind, rows, left_pad=left_pad), [_collate(model, kind, [r]) for r in rows]


def reference_step(kind: str, inputs: dict, ids, mask) -> dict:
    """Inputs of an uncached forward over prompt + generated tokens ``ids``/``mask`` (what generate's cached
    decoding computes): 1-D models get generate's position ids; Qwen recomputes its 3-D positions."""
    fixed = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask", "mm_token_type_ids")}
    out = {"input_ids": ids, "attention_mask": mask, "use_cache": False, **fixed}
    if kind in QWEN_VL:
        tt = inputs["mm_token_type_ids"]
        out["mm_token_type_ids"] = torch.cat([tt, torch.zeros((tt.shape[0], ids.shape[1] - tt.shape[1]), dtype=tt.dtype)],
                                             dim=1)
    else:
        out["position_ids"] = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    return out
