"""Narrow random-weight models for the encoder and diffusion reference setups of the site
(:data:`zoo.site.metadata.REFERENCE_SETUPS`), and the shapes their FLOPs are computed for.

Used only when ``tokzoo site metadata`` regenerates ``site/data/methods.json`` (imports torch,
transformers, diffusers); the site build reads the recorded schedules and shapes instead.

- ``encoder`` setups (``config``: a model of :data:`zoo.bench.encoder.CONFIGS`): the benchmark's
  transformers class and configuration with the reference depth and input length, narrowed to
  width 64 (4 heads, MLP 128), on the benchmark's input (``seq_len`` random token ids; a random
  spectrogram / mel input of the configured length). The cost shape is read by
  :meth:`zoo.flops.encoder.EncoderShape.from_adapter` from the *full-width* model built on the
  meta device (no weights allocated).
- ``unet`` setups (``config``: ``repro/configs/<name>.json``): the UNet layout of the config
  (block types, layers per block, levels) with narrow channels, one denoising step on a random
  latent of the reference size and 77 random text tokens, as :mod:`zoo.bench.diffusion` steps it
  (batch 1 here). The cost shape is the config's ``unet`` dict and the latent size
  (:func:`zoo.flops.diffusion.unet_transformer_blocks`).
"""

from __future__ import annotations

from typing import Any, Callable

#: width of the narrow encoders (token counts do not depend on it)
_ENCODER_NARROW: dict[str, dict[str, Any]] = {
    "BertModel": dict(hidden_size=64, num_attention_heads=4, intermediate_size=128, vocab_size=128),
    "ASTModel": dict(hidden_size=64, num_attention_heads=4, intermediate_size=128),
    "WhisperEncoder": dict(d_model=64, encoder_attention_heads=4, encoder_ffn_dim=128),
}
#: channels of the narrow UNet (the layout, hence the token grid of every block, is the config's)
_UNET_NARROW = dict(block_out_channels=[32, 32, 64, 64], norm_num_groups=16, attention_head_dim=2,
                    cross_attention_dim=32)
#: where the recorded UNet cost is exact: reductions at the self-attention (queries and/or keys)
UNET_COSTED_PLACEMENTS = frozenset({"self_attn"})


def _encoder_config(name: str, **overrides: Any) -> tuple[str, Any, Any]:
    import transformers

    from zoo.bench.encoder import CONFIGS, model_class

    family, cls_name, kw, _, _ = CONFIGS[name]
    config_cls = {"BertModel": transformers.BertConfig, "ASTModel": transformers.ASTConfig,
                  "WhisperEncoder": transformers.WhisperConfig}[cls_name]
    return family, model_class(cls_name), config_cls(**{**kw, **overrides})


def encoder_model(name: str) -> tuple[Any, Callable[[], Any]]:
    """``(model, call)``: the narrow random encoder of benchmark model ``name`` and one forward."""
    import torch

    from zoo.bench.encoder import CONFIGS, DEFAULT_SEQ

    cls_name = CONFIGS[name][1]
    family, cls, config = _encoder_config(name, **_ENCODER_NARROW[cls_name])
    torch.manual_seed(0)
    model = cls(config).eval()
    g = torch.Generator().manual_seed(0)
    if family == "hf-bert":
        inputs = {"input_ids": torch.randint(10, config.vocab_size, (1, DEFAULT_SEQ.get(name, 512)), generator=g)}
    elif family == "hf-ast":
        inputs = {"input_values": torch.randn(1, config.max_length, config.num_mel_bins, generator=g)}
    else:
        inputs = {"input_features": torch.randn(1, config.num_mel_bins, 2 * config.max_source_positions, generator=g)}
    return model, lambda: model(**inputs)


def encoder_tokens(name: str, config: Any) -> int:
    """Tokens entering the encoder on the benchmark input: ``seq_len`` (text), [CLS] + distillation token +
    spectrogram patches (AST), ``max_source_positions`` frames (Whisper: 2 x that many mel frames in)."""
    from zoo.bench.encoder import CONFIGS, DEFAULT_SEQ

    family = CONFIGS[name][0]
    if family == "hf-bert":
        return DEFAULT_SEQ.get(name, 512)
    if family == "hf-ast":
        from transformers.models.audio_spectrogram_transformer.modeling_audio_spectrogram_transformer import (
            ASTEmbeddings,
        )

        f, t = ASTEmbeddings.get_shape(None, config)
        return int(f * t) + 2
    return int(config.max_source_positions)


def encoder_shape(name: str) -> dict[str, Any]:
    """The full-width model's :class:`zoo.flops.encoder.EncoderShape` fields on the benchmark input
    (the model is built on the meta device: no weights allocated)."""
    import dataclasses

    import torch

    from zoo.families import adapter_class
    from zoo.flops.encoder import EncoderShape

    family, cls, config = _encoder_config(name)
    with torch.device("meta"):
        model = cls(config)
    shape = EncoderShape.from_adapter(adapter_class(family)(model), encoder_tokens(name, config))
    return dataclasses.asdict(shape)


def unet_model(name: str, img_size: int) -> tuple[Any, Callable[[], Any]]:
    """``(unet, call)``: the narrow random UNet of ``repro/configs/<name>.json`` and one denoising step."""
    import torch
    from diffusers import UNet2DConditionModel

    from zoo.repro import loader

    ref = loader.load_config(name)
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config({**ref["unet"], **_UNET_NARROW}).eval()
    side = img_size // ref["vae_scale_factor"]
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(1, unet.config.in_channels, side, side, generator=g)
    text = torch.randn(1, ref["text_tokens"], unet.config.cross_attention_dim, generator=g)
    t = torch.tensor([500.0])
    return unet, lambda: unet(sample, t, encoder_hidden_states=text, return_dict=False)


def unet_shape(name: str, img_size: int) -> dict[str, Any]:
    """What :func:`zoo.site.theory.cost` needs for a UNet setup: the config's ``unet``, latent, text tokens."""
    from zoo.repro import loader

    ref = loader.load_config(name)
    side = img_size // ref["vae_scale_factor"]
    return {"unet": ref["unet"], "latent": [side, side], "text_tokens": ref["text_tokens"]}


def unet_keys(handle: Any, stage: str) -> list[int]:
    """Self-attention key/value counts per transformer block of the recorded forward: the ``downsample-kv``
    events of the run (ToDo), else the block's query count. Raises ``ValueError`` when a reducer acts at a
    placement the site's UNet cost does not count separately (cross-attention, feed-forward)."""
    runtime = getattr(handle.adapter, "runtime", None)
    for reducer in getattr(runtime, "reducers", None) or ():
        extra = set(reducer.placements) - UNET_COSTED_PLACEMENTS
        if extra:
            raise ValueError(f"reduces at {', '.join(sorted(extra))}: the site's UNet cost counts "
                             "self-attention reductions only")
    run = handle.run
    keys = [int(v) for v in run.tokens[stage]]
    for event in run.events.get(stage, []):
        if event.kind == "downsample-kv":
            keys[event.block] = int(event.n_after)
    return keys
