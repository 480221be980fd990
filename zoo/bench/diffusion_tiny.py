"""Tiny local diffusers components: a StableDiffusionPipeline assembled offline (tests, conformance runs).

Nothing is downloaded: the tokenizer is a word-level tokenizer built in-process, the text encoder a
2-layer CLIP text model, the VAE and the UNet (SD 1.x layout: cross-attention at downsampling 1 and 2)
a few hundred KB of random weights. Latents are 16x16 for 32 px images.
"""

from __future__ import annotations

from typing import Any

CROSS_DIM = 16
WORDS = ["<|endoftext|>", "<|startoftext|>", "<unk>", "a", "photo", "of", "cat", "dog", "red", "blue", "on",
         "the", "moon", "painting", "astronaut", "horse"]


def tiny_tokenizer(max_length: int = 12):
    """A CLIP-style word-level tokenizer trained in-process (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<|endoftext|>",
                                   bos_token="<|startoftext|>", eos_token="<|endoftext|>")
    fast.model_max_length = max_length
    return fast


def sharpen(model: Any, factor: float = 4.0) -> None:
    """Random init gives near-uniform attention and near-identical tokens; scale the query/key weights
    so that similarities and attention differ between tokens."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("to_q.weight", "to_k.weight")):
                p.mul_(factor)


def tiny_sd_unet(seed: int = 0, sample_size: int = 16, channels: tuple[int, ...] = (16, 32, 32), groups: int = 8,
                 **overrides: Any):
    """A narrow SD 1.x-layout ``UNet2DConditionModel`` (7 transformer blocks) with random weights."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    kw = dict(sample_size=sample_size, in_channels=4, out_channels=4, block_out_channels=channels,
              down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
              up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), layers_per_block=1,
              cross_attention_dim=CROSS_DIM, attention_head_dim=8, norm_num_groups=groups)
    kw.update(overrides)
    model = UNet2DConditionModel(**kw).eval()
    sharpen(model)
    return model


def tiny_sd_pipeline(seed: int = 0, scheduler: str = "ddim", unet: Any = None):
    """``StableDiffusionPipeline`` from tiny components (see the module doc); progress bars off."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, EulerDiscreteScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel

    tok = tiny_tokenizer()
    torch.manual_seed(seed)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=CROSS_DIM, intermediate_size=32,
                                        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=16,
                                        bos_token_id=1, eos_token_id=0, pad_token_id=0)).eval()
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8),
                        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), layers_per_block=1,
                        norm_num_groups=4, sample_size=32).eval()
    common = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                  steps_offset=1)
    if scheduler == "ddim":
        sched = DDIMScheduler(clip_sample=False, **common)
    elif scheduler == "euler":
        sched = EulerDiscreteScheduler(**common)
    else:
        raise ValueError(f"scheduler={scheduler!r}; allowed: ddim, euler")
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok,
                                   unet=unet if unet is not None else tiny_sd_unet(seed), scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe
