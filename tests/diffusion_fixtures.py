"""Tiny random diffusers denoisers and a full StableDiffusionPipeline assembled offline.

Layouts (random weights, a few hundred KB each):

- ``unet("sd15")``: SD 1.x layout: cross-attention blocks at downsampling 1 and 2, a plain block at 4;
  16x16 latent (256 tokens at the first level), 8 transformer blocks;
- ``unet("sd2")``: the same with SD 2.x options (linear projections, per-level head dims);
- ``unet("sdxl")``: SDXL layout: no attention at the first level, 2 transformer layers per
  attention block at downsampling 2 and 4, ``text_time`` added conditioning;
- ``dit("dit")``, ``dit("pixart")``, ``dit("sd3")``: DiT (class-conditional, ada-norm-zero), PixArt
  (ada-norm-single, cross-attention), SD3 MMDiT (joint blocks); 16x16 latent, patch 2 (64 tokens).
"""

from __future__ import annotations

from typing import Any

import torch

CROSS_DIM = 16


def unet(layout: str = "sd15", seed: int = 0, sample_size: int = 16):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    common = dict(sample_size=sample_size, in_channels=4, out_channels=4, layers_per_block=1,
                  cross_attention_dim=CROSS_DIM, norm_num_groups=8)
    if layout in ("sd15", "sd2"):
        kw = dict(block_out_channels=(16, 32, 32),
                  down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                  up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                  attention_head_dim=8)
        if layout == "sd2":
            kw.update(attention_head_dim=(2, 4, 4), use_linear_projection=True)
    elif layout == "sdxl":
        kw = dict(block_out_channels=(16, 32, 32),
                  down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                  up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                  transformer_layers_per_block=(1, 2, 2), attention_head_dim=(2, 4, 4), use_linear_projection=True,
                  addition_embed_type="text_time", addition_time_embed_dim=8,
                  projection_class_embeddings_input_dim=CROSS_DIM + 6 * 8)
    else:
        raise ValueError(layout)
    model = UNet2DConditionModel(**common, **kw).eval()
    _sharpen(model)
    return model


def _sharpen(model: torch.nn.Module) -> None:
    from zoo.bench.diffusion_tiny import sharpen

    sharpen(model)


def unet_inputs(model, batch: int = 2, seed: int = 1, size: Any = None, t: float = 500.0) -> dict[str, Any]:
    """UNet inputs; ``size``: the latent side, or ``(h, w)`` for a non-square latent."""
    g = torch.Generator().manual_seed(seed)
    size = size or model.config.sample_size
    h, w = size if isinstance(size, tuple) else (size, size)
    inputs = dict(sample=torch.randn(batch, 4, h, w, generator=g), timestep=torch.tensor([t]),
                  encoder_hidden_states=torch.randn(batch, 7, CROSS_DIM, generator=g))
    if model.config.addition_embed_type == "text_time":
        inputs["added_cond_kwargs"] = {"text_embeds": torch.randn(batch, CROSS_DIM, generator=g),
                                       "time_ids": torch.randn(batch, 6, generator=g)}
    return inputs


def dit(kind: str = "dit", seed: int = 0):
    torch.manual_seed(seed)
    if kind == "dit":
        from diffusers import DiTTransformer2DModel

        model = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8,
                                      num_layers=3, norm_num_groups=8, sample_size=16, patch_size=2,
                                      num_embeds_ada_norm=10)
    elif kind == "pixart":
        from diffusers import PixArtTransformer2DModel

        model = PixArtTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8,
                                         num_layers=3, cross_attention_dim=16, sample_size=16, patch_size=2,
                                         caption_channels=CROSS_DIM, norm_num_groups=8)
    elif kind == "sd3":
        from diffusers import SD3Transformer2DModel

        model = SD3Transformer2DModel(sample_size=16, patch_size=2, in_channels=4, out_channels=4, num_layers=3,
                                      attention_head_dim=8, num_attention_heads=2, joint_attention_dim=CROSS_DIM,
                                      caption_projection_dim=16, pooled_projection_dim=8, pos_embed_max_size=16,
                                      dual_attention_layers=(0,))
    else:
        raise ValueError(kind)
    model = model.eval()
    _sharpen(model)
    return model


def dit_inputs(model, kind: str, batch: int = 2, seed: int = 1, t: float = 500.0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 4, 16, 16, generator=g)
    if kind == "dit":
        return dict(hidden_states=x, timestep=torch.full((batch,), t), class_labels=torch.arange(batch) % 10)
    if kind == "pixart":
        return dict(hidden_states=x, encoder_hidden_states=torch.randn(batch, 5, CROSS_DIM, generator=g),
                    timestep=torch.full((batch,), t), added_cond_kwargs={"resolution": None, "aspect_ratio": None})
    return dict(hidden_states=x, encoder_hidden_states=torch.randn(batch, 5, CROSS_DIM, generator=g),
                pooled_projections=torch.randn(batch, 8, generator=g), timestep=torch.full((batch,), t))


def output_of(model, inputs: dict[str, Any]) -> torch.Tensor:
    """The denoiser output; the latent goes positionally (as pipelines pass it; tomesd's hook reads args[0])."""
    rest = dict(inputs)
    first = rest.pop("sample", None)
    if first is None:
        first = rest.pop("hidden_states")
    with torch.no_grad():
        return model(first, **rest, return_dict=False)[0]


# ---------------------------------------------------------------- a full pipeline, offline
def sd_pipeline(seed: int = 0, scheduler: str = "ddim"):
    """``StableDiffusionPipeline`` from tiny components: in-process tokenizer, CLIP text encoder, VAE, UNet."""
    from zoo.bench.diffusion_tiny import tiny_sd_pipeline

    return tiny_sd_pipeline(seed=seed, scheduler=scheduler, unet=unet("sd15", seed=seed))


def run_pipeline(pipe, prompt: Any = "a photo of a cat", steps: int = 3, seed: int = 0, **kw) -> torch.Tensor:
    """Latents after ``steps`` denoising steps with classifier-free guidance (16x16 latent of a 32 px image)."""
    out = pipe(prompt, num_inference_steps=steps, guidance_scale=5.0, height=32, width=32, output_type="latent",
               generator=torch.Generator().manual_seed(seed), **kw)
    return out.images


# ---------------------------------------------------------------- snapshots
def snapshot(model: torch.nn.Module) -> dict[str, Any]:
    from vit_fixtures import snapshot as _snapshot

    return _snapshot(model)
