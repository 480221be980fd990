"""CA-ToMe: Cached Adaptive Token Merging (Saghatchian et al., arXiv 2501.00946).

ToMeSD's merge with two changes:

1. *Adaptive merging*: instead of a fixed ratio, a source merges into its most similar
   destination when their cosine similarity reaches the threshold ``T``: ``r`` is the largest
   number of such sources in any batch row (``r = max_b #{sources with best similarity >= T}``),
   and the ``r`` strongest proposals of every row merge (ToMeSD's 2-D windows, random or fixed
   destinations, mean merge, unmerge by copying);
2. *Caching*: the matching (destinations, merged sets) of each block is recomputed only at the
   denoising steps listed in ``cache_steps`` and reused at the other steps (temporal redundancy
   of adjacent steps); ``cache_steps=None`` recomputes at every step.

Shapes: block input ``x`` ``[B, N, C]`` -> ``[B, N - r, C]`` in the self-attention -> ``[B, N, C]``.
Steps are numbered from 1 like the official pipeline (its UNet receives ``i + 1``); tokzoo counts
them from the timesteps the denoiser receives (a new step when the timestep decreases, a new run
when it increases), so it works with any pipeline. A block recomputes also when its token count
or batch changed since its cached matching, and at the first step of every new run: the official
package never resets its cache, so its step 1 of a second image reuses the last matching of the
previous image (the one place where the two differ; the first run of an application is equal).

Paper notation -> zoo: the threshold ``T`` (the official ``r``) is ``threshold``; the caching
configurations are ``cache_steps`` (the official ``CacheConf``; the default is ``CONFIG_3``, the
README's best: 0, 8, 11, 13, 20, 25, 30, 35, 45, 46, 47, 48, 49). The budget is adaptive: there
is no ``keep_ratio``. ``max_downsample``, ``sx``/``sy``, ``use_rand``, ``merge_*``, ``seed`` as ToMeSD.

Official package: ``ca-tome`` on PyPI (0.1.3, github.com/omidiu/ca_tome); tokzoo is compared with
it where it imports (``tests/test_diffusion_conformance.py``). Written for tokzoo from the paper
and that code's algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.core.grid import grid_bipartite_scores, merge_plan_from_scores, threshold_merge_count, window_destinations
from zoo.families.diffusion.runtime import BlockAction, DenoiserReducer
from zoo.interface import Method, _fail, check_int, check_number
from zoo.papers._diffusion import (DIFFUSION_FAMILIES, PLACEMENT, ForkedGenerator, check_bool, check_seed,
                                   check_signals, check_stride, placements)

CONFIG_3 = (0, 8, 11, 13, 20, 25, 30, 35, 45, 46, 47, 48, 49)


@dataclass
class CAToMe(Method):
    """Cached Adaptive ToMe: merge tokens above a similarity threshold, reuse the matching between steps (training-free)."""

    threshold: float = 0.7
    cache_steps: tuple[int, ...] | None = CONFIG_3
    max_downsample: int = 1
    sx: int = 2
    sy: int = 2
    use_rand: bool = True
    merge_attn: bool = True
    merge_crossattn: bool = False
    merge_mlp: bool = False
    seed: int | None = None

    id: ClassVar[str] = "ca-tome"
    arxiv: ClassVar[str] = "2501.00946"
    families: ClassVar[tuple[str, ...]] = DIFFUSION_FAMILIES
    placement: ClassVar[str] = PLACEMENT
    needs: ClassVar[frozenset[str]] = frozenset({"block_input", "grid", "step"})
    paper_notation: ClassVar[dict[str, str]] = {
        "T (official r)": "threshold: cosine similarity a source needs to merge (-1..1; >= 1 merges nothing)",
        "caching configuration": "cache_steps: 1-based steps recomputing the matching (official CacheConf); None: every step",
        "max_downsample, sx, sy, use_rand, merge_*": "as ToMeSD",
        "seed": "seed: None forks torch's global RNG at first use (official behaviour); an int seeds it",
    }

    def validate(self) -> None:
        check_number(self, "threshold", self.threshold, low=-1, high=1)
        if self.cache_steps is not None:
            if isinstance(self.cache_steps, list):
                self.cache_steps = tuple(self.cache_steps)
            if not isinstance(self.cache_steps, tuple):
                _fail("cache_steps", self.cache_steps, "a tuple of step numbers or None (every step)", self.id)
            for s in self.cache_steps:
                check_int(self, "cache_steps", s, low=0)
        check_int(self, "max_downsample", self.max_downsample, low=1)
        check_stride(self, self.sx, self.sy)
        for name in ("use_rand", "merge_attn", "merge_crossattn", "merge_mlp"):
            check_bool(self, name, getattr(self, name))
        check_seed(self, self.seed)

    def check_model(self, adapter) -> None:
        check_signals(self, adapter, self.needs)

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _CAToMeReducer(self))


class _CAToMeReducer(DenoiserReducer):
    needs = CAToMe.needs

    def __init__(self, method: CAToMe) -> None:
        self.m = method
        self.placements = placements(method.merge_attn, method.merge_crossattn, method.merge_mlp)
        self.generator = ForkedGenerator(method.seed)
        self.cache: dict[int, tuple[tuple[int, int], Any]] = {}  # block -> ((n, batch), plan)
        self.recomputed = 0  # matchings computed (not reused) by this application

    def act(self, ctx, x):
        m = self.m
        if not self.placements or ctx.grid is None or ctx.downsample > m.max_downsample:
            return None
        gen = self.generator.get(x.device)
        if m.threshold >= 1:
            return None
        key = (ctx.n_tokens, ctx.batch, ctx.generation)
        cached = self.cache.get(ctx.index)
        reuse = cached is not None and cached[0] == key and m.cache_steps is not None and ctx.step not in m.cache_steps
        if reuse:
            plan = cached[1]
        else:
            plan = self._match(ctx, x, gen)
            self.cache[ctx.index] = (key, plan)
            self.recomputed += 1
        return None if plan is None else BlockAction(kind="merge", tokens=plan, placements=self.placements)

    def _match(self, ctx, x, gen):
        import torch

        m = self.m
        h, w = ctx.grid
        choice = None
        if m.use_rand and ctx.batch % 2 == 0:
            choice = torch.randint(m.sx * m.sy, size=(h // m.sy, w // m.sx, 1), device=gen.device,
                                   generator=gen).to(x.device)[..., 0]
        dst, src = window_destinations(h, w, m.sx, m.sy, choice, x.device)
        node_max, node_idx, edge_idx = grid_bipartite_scores(x, dst, src)
        r = threshold_merge_count(node_max, m.threshold)
        return merge_plan_from_scores(node_idx, edge_idx, dst, src, r, ctx.n_tokens)
