"""DaTo's per-step schedules, without torch (the analytic repro claims import this with the core install).

``cache_strategy[k]`` is the feature-cache depth of denoising step ``k + 2`` (1-based steps; step 1
always runs in full, as do steps past the schedule): ``0`` reuse every block, ``1`` the shallow branch,
``>= 2`` the full UNet (see :mod:`zoo.families.diffusion.cache`).
"""

from __future__ import annotations

#: the cache strategy the official search scripts fix while they search pruning ratios
#: (github.com/EvelynZhang-epiclab/DaTo sd1/scripts/search_ratio.py and search_new.py @e747cd1)
SEARCH_CACHE_STRATEGY: tuple[int, ...] = (
    0, 1, 1, 1, 1, 1, 11, 1, 1, 1, 1, 1, 1, 1, 0, 0, 11, 1, 1, 1, 0, 11, 1, 0, 1, 1, 1, 1, 1, 11,
    0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 11, 1, 1, 1, 1, 1, 1, 1, 1, 1)


def depth_at(strategy: tuple[int, ...] | None, step: int) -> int:
    """The cache depth of step ``step`` (1-based): 2 (full) at step 1, past the schedule, or without one."""
    if strategy is None or step < 2 or step - 2 >= len(strategy):
        return 2
    return int(strategy[step - 2])


def depth_counts(strategy: tuple[int, ...] | None, steps: int) -> dict[str, int]:
    """How many of ``steps`` denoising steps run in full, on the shallow branch, or reuse everything."""
    out = {"full": 0, "shallow": 0, "reuse": 0}
    for s in range(1, steps + 1):
        d = depth_at(strategy, s)
        out["full" if d >= 2 else ("shallow" if d == 1 else "reuse")] += 1
    return out
