"""SiTo: Training-Free and Hardware-Friendly Acceleration for Diffusion Models via Similarity-based Token
Pruning (Zhang et al., AAAI 2025; no arXiv version).

In every transformer block with downsampling at most ``max_downsample``, before the self-attention:

1. *Base tokens*: the cosine-similarity graph ``S = x_n x_n^T`` ``[B, N, N]`` of the block input
   (``x_n``: L2-normalised tokens) gives every token its SimScore ``sum_j S_ij``; Gaussian noise is
   added (``beta * SimScore + alpha * noise``) and the highest-scoring token of every ``sy x sx``
   window is a base token (per image: rows of a batch choose independently);
2. *Pruned tokens*: every other token's similarity to its most similar base token is its
   redundancy; the ``P = int(N * prune_ratio)`` most redundant are pruned;
3. *Recovery*: the sub-layer (self-attention by default) runs on the ``N - P`` unpruned tokens;
   each pruned token copies the output of its most similar unpruned token (base or not: the
   official code's rule; the paper's overview figure says "its most similar base token").

Shapes: ``x`` ``[B, N, C]`` -> ``[B, N - P, C]`` -> ``[B, N, C]``.

Paper notation -> zoo: the pruning ratio is ``prune_ratio`` (``keep_ratio = 1 - prune_ratio``);
``noise_alpha``/``sim_beta`` as in the official code. The official code computes the similarity
graph in float16 (``score_dtype="float16"`` equals it). The default ``"auto"`` is float16 on
CUDA, as the official code runs, and float32 elsewhere: a CPU has no float16 matrix units, and
a float16 graph made SiTo 2.5x *slower* than the unreduced SD 1.5 UNet there (4096^2 x 320
similarity per full-resolution block); float32 scores can order near-ties differently.

Cost: in float16 (the official rounding) tokzoo computes the whole graph ``S`` ``[B, N, N]`` as the
official code does. In any other score dtype it computes the same quantities without it: the
SimScore by ``sum_j S_ij = x_n,i . (sum_j x_n,j)`` (``O(N C)`` instead of ``O(N^2 C)``) and only the
two blocks of ``S`` the pruning rule reads (:func:`zoo.core.grid.redundancy_prune_plan_from_tokens`);
at 4,096 tokens the full float32 graph and its gathers cost about 0.6 s per block and step on one
core of this machine's CPU (as much as the pruning saved), the factored path about 0.2 s. Equal to
the graph path up to float rounding (tests compare the two in float64). Noise is drawn from a generator forked from torch's
global state at first use (``seed=None``; the official code draws from the global generator
itself, which gives the same numbers when nothing else draws in between) or seeded (``seed``).
The official code assumes square grids (``n = sqrt(N)``); tokzoo uses the block's ``h x w``
grid, the same on square latents.

Official code: github.com/EvelynZhang-epiclab/SiTo (``sito.py``, ``patch.py``@708dddb, built on
tomesd). Written for tokzoo from the paper and that code's algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from zoo.core.grid import (redundancy_prune_plan, redundancy_prune_plan_from_tokens, window_argmax,
                           window_destinations)
from zoo.families.diffusion.runtime import BlockAction, DenoiserReducer
from zoo.interface import Method, _fail, check_choice, check_int, check_number
from zoo.papers._diffusion import (DIFFUSION_FAMILIES, PLACEMENT, ForkedGenerator, check_bool, check_seed,
                                   check_signals, check_stride, placements)

SCORE_DTYPES = ("auto", "float16", "bfloat16", "float32", "input")


@dataclass
class SiTo(Method):
    """Similarity-based token pruning: prune tokens most similar to window base tokens, copy outputs back (training-free)."""

    prune_ratio: float | None = None
    keep_ratio: float | None = None
    max_downsample: int = 1
    prune_selfattn: bool = True
    prune_crossattn: bool = False
    prune_mlp: bool = False
    sx: int = 2
    sy: int = 2
    noise_alpha: float = 0.1
    sim_beta: float = 1.0
    score_dtype: str = "auto"
    seed: int | None = None

    id: ClassVar[str] = "sito"
    arxiv: ClassVar[str] = ""
    families: ClassVar[tuple[str, ...]] = DIFFUSION_FAMILIES
    placement: ClassVar[str] = PLACEMENT
    default_ratio: ClassVar[float] = 0.5
    needs: ClassVar[frozenset[str]] = frozenset({"block_input", "grid"})
    paper_notation: ClassVar[dict[str, str]] = {
        "prune ratio": "prune_ratio: fraction of a patched block's tokens pruned, P = int(N * prune_ratio) (default 0.5)",
        "keep_ratio": "not in the paper: 1 - prune_ratio (give one of them)",
        "max_downsample_ratio": "max_downsample: prune in blocks whose downsampling is at most this",
        "prune_*_flag": "prune_selfattn / prune_crossattn / prune_mlp: where pruning acts",
        "sx, sy": "sx, sy: window of one base token",
        "noise_alpha, sim_beta": "noise_alpha, sim_beta: base-token score beta * SimScore + alpha * N(0, 1)",
        "score_dtype": "not in the paper: dtype of the similarity graph (official: float16; 'auto': float16 on CUDA, "
                       "float32 elsewhere; 'input': x's dtype)",
        "seed": "seed: None forks torch's global RNG at first use; an int seeds it",
    }

    def validate(self) -> None:
        if self.prune_ratio is not None and self.keep_ratio is not None:
            raise ValueError("sito: give one budget, not prune_ratio and keep_ratio; "
                             "allowed: one of prune_ratio, keep_ratio")
        if self.keep_ratio is not None:
            check_number(self, "keep_ratio", self.keep_ratio, low=0, high=1, low_open=True)
            self.prune_ratio, self.keep_ratio = 1.0 - self.keep_ratio, None
        if self.prune_ratio is None:
            self.prune_ratio = self.default_ratio
        check_number(self, "prune_ratio", self.prune_ratio, low=0, high=1)
        if self.prune_ratio >= 1:
            _fail("prune_ratio", self.prune_ratio, "0 <= prune_ratio < 1", self.id)
        check_int(self, "max_downsample", self.max_downsample, low=1)
        check_stride(self, self.sx, self.sy)
        for name in ("prune_selfattn", "prune_crossattn", "prune_mlp"):
            check_bool(self, name, getattr(self, name))
        check_number(self, "noise_alpha", self.noise_alpha, low=0)
        check_number(self, "sim_beta", self.sim_beta)
        check_choice(self, "score_dtype", self.score_dtype, SCORE_DTYPES)
        check_seed(self, self.seed)

    def check_model(self, adapter) -> None:
        check_signals(self, adapter, self.needs)

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _SiToReducer(self))


class _SiToReducer(DenoiserReducer):
    needs = SiTo.needs

    def __init__(self, method: SiTo) -> None:
        self.m = method
        self.placements = placements(method.prune_selfattn, method.prune_crossattn, method.prune_mlp)
        self.generator = ForkedGenerator(method.seed)

    def act(self, ctx, x):
        m = self.m
        if not self.placements or ctx.grid is None or ctx.downsample > m.max_downsample:
            return None
        n_prune = int(ctx.n_tokens * m.prune_ratio)
        if n_prune <= 0:
            return None
        plan = self._plan(ctx, x, n_prune)
        return BlockAction(kind="prune", tokens=plan, placements=self.placements)

    def _plan(self, ctx, x, n_prune: int):
        import torch
        import torch.nn.functional as F

        m = self.m
        h, w = ctx.grid
        bsz, n, _ = x.shape
        if m.score_dtype == "auto":
            dtype = torch.float16 if x.is_cuda else torch.float32
        else:
            dtype = x.dtype if m.score_dtype == "input" else getattr(torch, m.score_dtype)
        with torch.no_grad():
            xn = F.normalize(x.to(dtype), p=2, dim=-1)
            full_graph = dtype == torch.float16  # the official rounding: sums and blocks of one [B, N, N] graph
            if full_graph:
                sim = xn @ xn.transpose(-1, -2)                                  # [B, N, N]
                sim_score = sim.sum(-1)                                          # [B, N]
            else:
                sim_score = (xn @ xn.sum(1, keepdim=True).transpose(-1, -2))[..., 0]  # [B, N]: sum_j S_ij
            gen = self.generator.get(x.device)
            noise = torch.randn(bsz, n, dtype=dtype, device=gen.device, generator=gen).to(x.device)
            score = m.sim_beta * sim_score + m.noise_alpha * noise                # [B, N]
            choice = window_argmax(score, h, w, m.sx, m.sy)                    # [B, hsy, wsx]
            base, rest = window_destinations(h, w, m.sx, m.sy, choice, x.device)  # [B, K], [B, N - K]
        if full_graph:
            return redundancy_prune_plan(sim, base, rest, n_prune)
        return redundancy_prune_plan_from_tokens(xn, base, rest, n_prune)
