"""Paired timing: baseline and method measured alternately in the same process.

The machine's other load hits both sides; alternating the order every repeat and taking the
median of per-pair ratios keeps that noise out of the ratio. Every call is timed twice: wall
time and this process's CPU time (``time.process_time``, all threads), which other processes'
load hardly changes. The load average is recorded before and after. Timings synchronise CUDA
when a ``sync`` callable is given.

:func:`busy_verdict` turns a timing on a busy machine into the reason a speed claim is
``inconclusive`` (unless wall time and CPU time both reproduce the claim).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable, Optional


def _time(fn: Callable[[], Any], sync: Optional[Callable[[], None]]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    if sync:
        sync()
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    if sync:
        sync()
    return time.perf_counter() - start, time.process_time() - cpu


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def paired_timing(baseline: Callable[[], Any], method: Callable[[], Any], *, repeats: int = 5, warmup: int = 1,
                  sync: Optional[Callable[[], None]] = None,
                  progress: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Time ``baseline()`` and ``method()`` alternately; returns the ratio and the raw times.

    ``ratio`` is ``min(method times) / min(baseline times)`` (< 1: the method is faster) and
    ``speedup`` its inverse: on a shared machine, other load only ever adds time, so the
    fastest run of each side is the best estimate of its own cost. The median of per-pair
    ratios and the medians are kept too; ``cpu_ratio``/``cpu_speedup`` are the same from
    CPU time.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats} must be >= 1")
    load_start = _load()
    for _ in range(warmup):
        baseline()
        method()
    base_t, meth_t, ratios, base_cpu, meth_cpu = [], [], [], [], []
    for i in range(repeats):
        if progress:
            progress(f"timing pair {i + 1}/{repeats}")
        if i % 2 == 0:
            b, bc = _time(baseline, sync)
            m, mc = _time(method, sync)
        else:
            m, mc = _time(method, sync)
            b, bc = _time(baseline, sync)
        base_t.append(b)
        meth_t.append(m)
        base_cpu.append(bc)
        meth_cpu.append(mc)
        ratios.append(m / b)
    load_end = _load()
    ratio = min(meth_t) / min(base_t)
    cpu_ratio = min(meth_cpu) / min(base_cpu) if min(base_cpu) > 0 else float("nan")
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
        "baseline_cpu_s": min(base_cpu),
        "method_cpu_s": min(meth_cpu),
        "baseline_cpu_all_s": base_cpu,
        "method_cpu_all_s": meth_cpu,
        "cpu_ratio": cpu_ratio,
        "cpu_speedup": 1.0 / cpu_ratio if cpu_ratio and cpu_ratio == cpu_ratio else float("nan"),
        "repeats": repeats,
        "warmup": warmup,
        "load_average_1m": [load_start, load_end],
        "cpu_count": os.cpu_count(),
        "busy_machine": busy(load_start) or busy(load_end),
    }


def busy(load: float | None) -> bool:
    """True when other work already used every core (ratios then unreliable)."""
    return load is not None and load > (os.cpu_count() or 1)


def busy_verdict(claim: Any, timing: dict[str, Any], *, wall_value: float, cpu_value: float) -> str:
    """Why a speed claim gets no verdict from ``timing`` ("" when it does).

    On a quiet machine the wall-time value decides. On a busy one (load average above the
    core count at the start or the end) a verdict stands only when the wall-time value and
    the CPU-time value both reproduce the claim; otherwise the claim is ``inconclusive``
    (never ``deviates``: the machine, not the method, may be slow).
    """
    if not timing.get("busy_machine"):
        return ""
    from zoo.repro.spec import compare

    wall, cpu = compare(claim, wall_value), compare(claim, cpu_value)
    if wall == cpu == "reproduced":
        return ""
    loads = timing.get("load_average_1m") or [None, None]
    return (f"machine busy (load average {loads[0]} -> {loads[1]} on {timing.get('cpu_count')} cores): "
            f"wall-time value {wall_value:.3g} ({wall}), CPU-time value {cpu_value:.3g} ({cpu}); "
            "rerun on a quiet machine for a verdict")
