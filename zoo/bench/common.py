"""Benchmark building blocks shared by every family: interleaved timing, provenance, records.

Timing protocol (the machine may be shared): after ``warmup`` runs of each side, the
baseline and the method are timed alternately ``repeats`` times (the order flips every
repeat so drifts hit both sides alike); each sample is one call, the summary is the
median, and the speedup is reported both as the ratio of medians and as the median of the
per-pair ratios.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

RECORD_KIND = "tokzoo-bench"
RECORD_SCHEMA = 1


def say(progress: Callable[[str], None] | None, message: str) -> None:
    """Tell ``progress`` (a callable taking one line, e.g. the CLI's stderr printer) what starts now."""
    if progress is not None:
        progress(message)


def machine_load() -> tuple[float | None, int]:
    """(1-minute load average or ``None`` where the OS has none, logical CPUs)."""
    try:
        load: float | None = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    return load, os.cpu_count() or 1


def is_busy(load: float | None, cpus: int) -> bool:
    """True when the 1-minute load average is above the CPU count: other work competes for every
    core and timings are noisy (records say so: ``hardware.busy_machine``)."""
    return load is not None and load > cpus


def time_call(fn: Callable[[], Any], sync: Callable[[], None] | None = None) -> float:
    """Wall-clock seconds of one call (``sync`` e.g. ``torch.cuda.synchronize`` before reading the clock)."""
    if sync:
        sync()
    t0 = time.perf_counter()
    fn()
    if sync:
        sync()
    return time.perf_counter() - t0


def interleaved(baseline: Callable[[], Any], method: Callable[[], Any], *, warmup: int, repeats: int,
                enter: Callable[[], Any] | None = None, leave: Callable[[], Any] | None = None,
                sync: Callable[[], None] | None = None,
                progress: Callable[[str], None] | None = None) -> dict[str, list[float]]:
    """Time ``baseline`` and ``method`` alternately. ``enter``/``leave`` switch the method on and off
    (e.g. apply and remove a patch) outside the timed region; ``progress`` hears "warmup i/n" and
    "pair i/n" before each step."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0 (got repeats={repeats}, warmup={warmup})")

    def run_method() -> float:
        if enter:
            enter()
        try:
            return time_call(method, sync)
        finally:
            if leave:
                leave()

    for i in range(warmup):
        say(progress, f"warmup {i + 1}/{warmup}")
        time_call(baseline, sync)
        run_method()
    base, meth = [], []
    for i in range(repeats):
        say(progress, f"pair {i + 1}/{repeats}")
        if i % 2 == 0:
            base.append(time_call(baseline, sync))
            meth.append(run_method())
        else:
            meth.append(run_method())
            base.append(time_call(baseline, sync))
    return {"baseline": base, "method": meth}


def summarize(samples: dict[str, list[float]], items_per_call: int) -> dict[str, Any]:
    """Medians, throughputs (items/s) and speedups from :func:`interleaved` samples.

    Keys: ``baseline`` and ``reduced`` (the model with the method), each ``median_s``,
    ``throughput``, ``samples_s``; ``speedup`` (ratio of medians) and ``speedup_pairs_median``.
    """
    b, m = samples["baseline"], samples["method"]
    mb, mm = statistics.median(b), statistics.median(m)
    return {
        "baseline": {"median_s": mb, "throughput": items_per_call / mb, "samples_s": b},
        "reduced": {"median_s": mm, "throughput": items_per_call / mm, "samples_s": m},
        "speedup": mb / mm,
        "speedup_pairs_median": statistics.median(x / y for x, y in zip(b, m)),
    }


def cpu_model() -> str:
    """The CPU's marketing name (Linux ``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(threads: int | None = None, device: str = "cpu", accelerator: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "device": device,
        "platform": platform.platform(),
    }
    if accelerator:
        info["accelerator"] = accelerator
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        pass
    else:
        info["busy_machine"] = is_busy(info["load_average"][0], os.cpu_count() or 1)
    return info


def versions(*packages: str) -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("tokzoo", *packages):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def bench_command(method: str, params: dict[str, Any], **options: Any) -> str:
    """The ``tokzoo bench`` command line that reproduces a run, from its arguments.

    ``options`` are the command's long options by parameter name (``batch_size`` ->
    ``--batch-size``; ``None`` values are left out); ``params`` become ``-p key=value``.
    Built from what the run received, not ``sys.argv``, so a record written from Python or a
    test runner still names a command a user can paste.
    """
    import shlex

    words = ["tokzoo", "bench", method]
    for name, value in options.items():
        if value is not None:
            words += [f"--{name.replace('_', '-')}", str(value)]
    for key, value in params.items():
        words += ["-p", f"{key}={value}"]
    return " ".join(shlex.quote(w) for w in words)


def bench_record(*, family: str, method: str, params: dict[str, Any], setting: dict[str, Any],
                 timing: dict[str, Any], extra: dict[str, Any], hw: dict[str, Any], vers: dict[str, str],
                 command: str | None = None) -> dict[str, Any]:
    """One benchmark result with its provenance (the JSON the site renders).

    Top-level keys: ``kind`` (``"tokzoo-bench"``), ``schema``, ``family``, ``method`` (id),
    ``params`` (all method fields), ``setting`` (model, weights, batch_size, img_size, dtype,
    threads, device, warmup, repeats), the :func:`summarize` keys (``baseline``, ``reduced``,
    ``speedup``, ``speedup_pairs_median``), the family's extras (ViT: ``tokens`` with ``input``
    and ``after_block``; ``flops`` with ``convention``, ``baseline_gmacs``, ``method_gmacs``,
    ``theoretical_speedup``), ``hardware``, ``versions``, ``date`` (UTC ISO) and ``command``.
    """
    return {
        "kind": RECORD_KIND,
        "schema": RECORD_SCHEMA,
        "family": family,
        "method": method,
        "params": params,
        "setting": setting,
        **timing,
        **extra,
        "hardware": hw,
        "versions": vers,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(["tokzoo", *sys.argv[1:]]),
    }


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
