"""Paired timing: baseline and method measured alternately in the same process.

The machine's other load hits both sides; alternating the order every repeat and taking the
median of per-pair ratios keeps that noise out of the ratio. Timings synchronise CUDA when a
``sync`` callable is given.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable, Optional


def _time(fn: Callable[[], Any], sync: Optional[Callable[[], None]]) -> float:
    if sync:
        sync()
    start = time.perf_counter()
    fn()
    if sync:
        sync()
    return time.perf_counter() - start


def paired_timing(baseline: Callable[[], Any], method: Callable[[], Any], *, repeats: int = 5, warmup: int = 1,
                  sync: Optional[Callable[[], None]] = None,
                  progress: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Time ``baseline()`` and ``method()`` alternately; returns the ratio and the raw times.

    ``ratio`` is ``min(method times) / min(baseline times)`` (< 1: the method is faster) and
    ``speedup`` its inverse: on a shared machine, other load only ever adds time, so the
    fastest run of each side is the best estimate of its own cost. The median of per-pair
    ratios and the medians are kept too.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats} must be >= 1")
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    for _ in range(warmup):
        baseline()
        method()
    base_t, meth_t, ratios = [], [], []
    for i in range(repeats):
        if progress:
            progress(f"timing pair {i + 1}/{repeats}")
        if i % 2 == 0:
            b = _time(baseline, sync)
            m = _time(method, sync)
        else:
            m = _time(method, sync)
            b = _time(baseline, sync)
        base_t.append(b)
        meth_t.append(m)
        ratios.append(m / b)
    ratio = min(meth_t) / min(base_t)
    return {
        "baseline_s": min(base_t),
        "method_s": min(meth_t),
        "baseline_median_s": statistics.median(base_t),
        "method_median_s": statistics.median(meth_t),
        "median_pair_ratio": statistics.median(ratios),
        "ratio": ratio,
        "speedup": 1.0 / ratio,
        "baseline_all_s": base_t,
        "method_all_s": meth_t,
        "repeats": repeats,
        "warmup": warmup,
        "load_average_1m": [load_start, os.getloadavg()[0] if hasattr(os, "getloadavg") else None],
        "busy_machine": busy(load_start),
    }


def busy(load: float | None) -> bool:
    """True when other work already used every core as the timing started (ratios then unreliable)."""
    return load is not None and load > (os.cpu_count() or 1)
