"""DaTo: Token Pruning for Caching Better: 9x Acceleration on Stable Diffusion for Free (Zhang et al.,
arXiv 2501.00375). Dynamics-aware token pruning on top of feature caching.

Two parts, both training-free:

1. *Feature caching across steps* (UNets): step ``s`` runs at the depth ``cache_strategy[s - 2]``
   (step 1 always runs in full; steps past the schedule too): ``0`` reuses every block's output of
   the previous computed step (the step's output equals the previous one), ``1`` recomputes only the
   shallowest branch (``conv_in`` and the last layer of the last up block), ``>= 2`` recomputes
   everything (:mod:`zoo.families.diffusion.cache`). The schedule is the result of the paper's NSGA-II
   search; the default is the one the official search scripts fix while they search pruning ratios.
2. *Dynamics-aware token pruning*, in every transformer block whose downsampling is at most
   ``max_downsample``, before its self-attention, on the block input ``x`` ``[B, N, C]``:

   a. the temporal difference of the noise prediction, ``D = mean_c |eps_{s-1} - eps_{s-2}|``
      ``[B, N]`` (the ``output_difference`` signal; absent at steps 1 and 2), scores the tokens:
      ``score = gamma * D + alpha * noise`` with ``noise ~ N(0, 1)`` and the sign of ``gamma`` flipped
      with probability 1/2 at every block call (the official code's rule); without ``D`` the score
      is the noise alone;
   b. the highest-scoring token of every ``sy x sx`` window is a *base* token; with ``align_cfg``
      the second half of an even batch (the conditional half of a CFG batch) takes the first half's
      base tokens; ``base_selection="random"`` picks a random token per window instead (one choice
      for the batch, the official ``local_random``);
   c. with the cosine similarity ``S`` of the block input, the ``P = int(N * prune_ratio)`` non-base
      tokens most similar to their most similar base token are pruned; the sub-layer runs on the
      ``N - P`` others and every pruned token copies the output of its most similar kept token
      (:func:`zoo.core.grid.redundancy_prune_plan_from_tokens`, shared with SiTo: it computes only the
      non-base x base and kept x pruned blocks of ``S``, never the ``[B, N, N]`` graph, whose float32
      product and gathers cost about as much per block on a CPU as the pruning saved).

Shapes: ``x`` ``[B, N, C]`` -> ``[B, N - P, C]`` in the self-attention -> ``[B, N, C]``.

Paper notation -> zoo: the pruning ratio is ``prune_ratio`` (``keep_ratio = 1 - prune_ratio``; a
tuple gives one ratio per step, entry ``s - 1`` for step ``s``, the last entry past its end: the
paper's searched per-step ratios); the official ``cache_strategy`` (per-step ``cache_block_id``) is
``cache_strategy`` (``None``: no caching); ``local_random`` is ``base_selection="random"`` (else
``"dynamics"``); ``diff_gema`` is ``diff_gamma``; ``noise_alpha``, ``align_cfg``, ``sx``/``sy``,
``max_downsample_ratio`` (``max_downsample``) and ``prune_*_flag`` (``prune_selfattn``...) as there.
Defaults follow the official search scripts' call (``search_ratio.py``: guided base tokens,
``align_cfg``, ``noise_alpha=0.1``, ``diff_gema=0.1``, its fixed cache strategy) and the ratio its
patch applies (``current_prune_ratio=0.4``: the per-step ratios are not read there).

Randomness: the noise draws from a torch generator and the sign flips from a Python ``random.Random``,
each forked from the global state at first use (``seed=None``; the official code draws from the
global generators, which gives the same numbers when nothing else draws in between) or seeded
(``seed``); both advance across blocks and steps. ``base_selection="random"`` forks torch's global
state afresh at *every* block call, as the official ``init_generator`` call does (so every block and
step uses the same choice while nothing else draws from the global generator; with ``seed``, every
call starts from the seeded state). The official code divides the tokens by their norms rounded to
float16 before the similarity (``norm_dtype="float16"``, the default; ``"input"`` keeps x's dtype).

Where tokzoo differs from the official code (``sd1/scripts/datosd`` @e747cd1), by design: it counts
steps from the timesteps the UNet receives, resets the temporal difference at the first step of
every run (the official globals carry the last image's over), does not recompute the mid block at
depth-1 steps (the official wrapper names it ``mid_block`` but tests ``middle_block``, so it runs
there and its output is discarded: same outputs), computes ``D`` with caching off too (the
official code computes it in its cache helper only, so without caching its score is noise only),
accepts any timestep (the official code needs one of the 50 DDIM timesteps 1, 21, ..., 981), lets an
odd batch choose base tokens per row under ``align_cfg`` (the official code raises), and uses the
block's ``h x w`` grid (the official code assumes square latents).

The caching part acts on UNets (``diffusers-unet``); on DiT and SD3 denoisers DaTo prunes tokens only
(``cache_strategy=None`` is required there). Written for tokzoo from the paper and the official
code's algorithm; shared ops in ``zoo.core.grid``, the cache in ``zoo.families.diffusion.cache``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from zoo.core.grid import redundancy_prune_plan_from_tokens, window_argmax, window_destinations
from zoo.families.diffusion.runtime import BlockAction, DenoiserReducer
from zoo.interface import Method, _fail, check_choice, check_int, check_number
from zoo.papers._diffusion import (DIFFUSION_FAMILIES, PLACEMENT, ForkedGenerator, check_bool, check_seed,
                                   check_signals, check_stride, placements)
from zoo.papers.dato_schedule import SEARCH_CACHE_STRATEGY, depth_at

BASE_SELECTIONS = ("dynamics", "random")
NORM_DTYPES = ("float16", "input")


@dataclass
class DaTo(Method):
    """Dynamics-aware token pruning with feature caching: prune low-dynamics tokens, reuse UNet features across steps (training-free)."""

    prune_ratio: float | tuple[float, ...] | None = None
    keep_ratio: float | None = None
    cache_strategy: tuple[int, ...] | None = SEARCH_CACHE_STRATEGY
    base_selection: str = "dynamics"
    align_cfg: bool = True
    noise_alpha: float = 0.1
    diff_gamma: float = 0.1
    max_downsample: int = 1
    prune_selfattn: bool = True
    prune_crossattn: bool = False
    prune_mlp: bool = False
    sx: int = 2
    sy: int = 2
    norm_dtype: str = "float16"
    seed: int | None = None

    id: ClassVar[str] = "dato"
    arxiv: ClassVar[str] = "2501.00375"
    families: ClassVar[tuple[str, ...]] = DIFFUSION_FAMILIES
    placement: ClassVar[str] = PLACEMENT
    default_ratio: ClassVar[float] = 0.4
    needs: ClassVar[frozenset[str]] = frozenset({"block_input", "grid", "step", "output_difference"})
    paper_notation: ClassVar[dict[str, str]] = {
        "pruning ratio": "prune_ratio: P = int(N * prune_ratio) per pruned block; a tuple: one per step (default 0.4)",
        "keep_ratio": "not in the paper: 1 - prune_ratio (give one of them; a single ratio)",
        "cache strategy (cache_block_id per step)": "cache_strategy: depth of step k + 2 (0 reuse, 1 shallow, >= 2 "
                                                     "full); None: no caching",
        "local_random": "base_selection='random' (else 'dynamics': temporal noise difference + noise)",
        "diff_gema, noise_alpha": "diff_gamma, noise_alpha: score gamma * D + alpha * N(0, 1), gamma's sign random",
        "align_cfg": "align_cfg: the conditional half of a CFG batch takes the unconditional half's base tokens",
        "max_downsample_ratio, prune_*_flag, sx, sy": "max_downsample, prune_selfattn/crossattn/mlp, sx, sy",
        "norm_dtype": "not in the paper: dtype of the token norms (official: float16; 'input': x's dtype)",
        "seed": "seed: None forks torch's and Python's global RNGs at first use; an int seeds them",
    }

    def validate(self) -> None:
        if self.prune_ratio is not None and self.keep_ratio is not None:
            raise ValueError("dato: give one budget, not prune_ratio and keep_ratio; "
                             "allowed: one of prune_ratio, keep_ratio")
        if self.keep_ratio is not None:
            check_number(self, "keep_ratio", self.keep_ratio, low=0, high=1, low_open=True)
            self.prune_ratio, self.keep_ratio = 1.0 - self.keep_ratio, None
        if self.prune_ratio is None:
            self.prune_ratio = self.default_ratio
        if isinstance(self.prune_ratio, list):
            self.prune_ratio = tuple(self.prune_ratio)
        ratios = self.prune_ratio if isinstance(self.prune_ratio, tuple) else (self.prune_ratio,)
        if not ratios:
            _fail("prune_ratio", self.prune_ratio, "a number in [0, 1) or a non-empty tuple of them", self.id)
        for r in ratios:
            check_number(self, "prune_ratio", r, low=0, high=1)
            if r >= 1:
                _fail("prune_ratio", self.prune_ratio, "ratios with 0 <= prune_ratio < 1", self.id)
        if self.cache_strategy is not None:
            if isinstance(self.cache_strategy, list):
                self.cache_strategy = tuple(self.cache_strategy)
            if not isinstance(self.cache_strategy, tuple):
                _fail("cache_strategy", self.cache_strategy, "a tuple of per-step cache depths (0, 1, >= 2) or None",
                      self.id)
            for d in self.cache_strategy:
                check_int(self, "cache_strategy", d, low=0)
        check_choice(self, "base_selection", self.base_selection, BASE_SELECTIONS)
        check_choice(self, "norm_dtype", self.norm_dtype, NORM_DTYPES)
        for name in ("align_cfg", "prune_selfattn", "prune_crossattn", "prune_mlp"):
            check_bool(self, name, getattr(self, name))
        check_number(self, "noise_alpha", self.noise_alpha, low=0)
        check_number(self, "diff_gamma", self.diff_gamma)
        check_int(self, "max_downsample", self.max_downsample, low=1)
        if self.base_selection == "dynamics" and self.max_downsample > 1:
            _fail("max_downsample", self.max_downsample, "1 with base_selection='dynamics' (the temporal difference "
                  "is on the latent grid; the official code uses it at downsampling 1 only), or "
                  "base_selection='random'", self.id)
        check_stride(self, self.sx, self.sy)
        check_seed(self, self.seed)

    def check_model(self, adapter) -> None:
        check_signals(self, adapter, self.needs)
        if self.cache_strategy is not None and getattr(adapter, "kind", "unet") != "unet":
            raise TypeError(f"dato: feature caching (cache_strategy) reuses a UNet's down/mid/up blocks; "
                            f"{type(adapter.denoiser).__name__} has none: pass cache_strategy=None to prune "
                            "tokens only")

    def ratio_at(self, step: int) -> float:
        """The pruning ratio of denoising step ``step`` (1-based)."""
        if isinstance(self.prune_ratio, tuple):
            return float(self.prune_ratio[min(max(step, 1), len(self.prune_ratio)) - 1])
        return float(self.prune_ratio)

    def depth_at(self, step: int) -> int:
        """The cache depth of step ``step`` (1-based): 2 (full) at step 1 and past the schedule."""
        return depth_at(self.cache_strategy, step)

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _DaToReducer(self))
        if self.cache_strategy is not None:
            adapter.install_feature_cache(patch, run, self.depth_at)


class _ForkedRandom:
    """A Python ``random.Random`` forked from the global state at first use, or seeded."""

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self.rng: random.Random | None = None

    def get(self) -> random.Random:
        if self.rng is None:
            self.rng = random.Random(self.seed)
            if self.seed is None:
                self.rng.setstate(random.getstate())
        return self.rng


class _DaToReducer(DenoiserReducer):
    needs = DaTo.needs

    def __init__(self, method: DaTo) -> None:
        self.m = method
        self.placements = placements(method.prune_selfattn, method.prune_crossattn, method.prune_mlp)
        self.noise = ForkedGenerator(method.seed)
        self.signs = _ForkedRandom(method.seed)

    def act(self, ctx, x):
        m = self.m
        if not self.placements or ctx.grid is None or ctx.downsample > m.max_downsample:
            return None
        n_prune = int(ctx.n_tokens * m.ratio_at(ctx.step))
        if n_prune <= 0:
            return None
        return BlockAction(kind="prune", tokens=self._plan(ctx, x, n_prune), placements=self.placements)

    def _plan(self, ctx, x, n_prune: int):
        import torch

        m = self.m
        h, w = ctx.grid
        bsz, n, _ = x.shape
        with torch.no_grad():
            norm = x.norm(dim=-1, keepdim=True)
            xn = x / (norm.to(torch.float16) if m.norm_dtype == "float16" else norm)  # [B, N, C]
            if m.base_selection == "random":
                choice = self._random_choice(h // m.sy, w // m.sx, x.device)      # [hsy, wsx]
            else:
                choice = self._dynamics_choice(ctx, xn, h, w)                     # [B, hsy, wsx]
            base, rest = window_destinations(h, w, m.sx, m.sy, choice, x.device)  # [B', K], [B', N - K]
            if base.shape[0] != bsz:
                base, rest = base.expand(bsz, -1), rest.expand(bsz, -1)
        return redundancy_prune_plan_from_tokens(xn, base, rest, n_prune)

    def _dynamics_choice(self, ctx, xn, h: int, w: int):
        import torch

        m = self.m
        bsz, n, _ = xn.shape
        gen = self.noise.get(xn.device)
        noise = torch.randn(bsz, n, dtype=xn.dtype, device=gen.device, generator=gen).to(xn.device)  # [B, N]
        gamma = -m.diff_gamma if self.signs.get().random() < 0.5 else m.diff_gamma
        diff = ctx.output_difference
        if diff is not None and tuple(diff.shape) == (bsz, n):
            score = gamma * diff + m.noise_alpha * noise
        else:
            score = noise
        choice = window_argmax(score, h, w, m.sx, m.sy)                           # [B, hsy, wsx]
        if m.align_cfg and bsz % 2 == 0:
            choice = torch.cat([choice[: bsz // 2], choice[: bsz // 2]], dim=0)
        return choice

    def _random_choice(self, hsy: int, wsx: int, device):
        import torch

        gen = ForkedGenerator(self.m.seed).get(device)  # afresh at every call, as the official init_generator
        return torch.randint(self.m.sx * self.m.sy, size=(hsy, wsx, 1), device=gen.device,
                             generator=gen).to(device)[..., 0]
