"""Diffusion family: diffusers denoisers (UNets, DiTs, SD3's MMDiT), as models or inside pipelines.

- :mod:`~zoo.families.diffusion.models`: find a pipeline's denoiser, its kind and transformer blocks.
- :mod:`~zoo.families.diffusion.runtime`: the reversible per-block reduction runtime and its signals.
- :mod:`~zoo.families.diffusion.adapter`: the ``diffusers-unet``, ``diffusers-dit`` and
  ``diffusers-mmdit`` adapters.

Importing this package imports neither torch nor diffusers.
"""
