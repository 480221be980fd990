"""Provenance of a run: hardware, library versions, git commit, date. No heavy import unless loaded."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = ("tokzoo", "torch", "torchvision", "timm", "transformers", "accelerate", "lmms-eval")


def versions() -> dict[str, str]:
    """Installed versions of the packages a measurement may depend on (absent ones omitted)."""
    return dict(_versions())


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    out = [("python", platform.python_version())]
    for name in _PACKAGES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


def hardware(*, with_torch: bool = False) -> dict[str, Any]:
    """CPU model and core count; with ``with_torch`` (torch already needed), GPU name and threads."""
    info: dict[str, Any] = {"machine": platform.machine(), "system": platform.system(), "cpu_count": os.cpu_count()}
    cpu = _cpu_model()
    if cpu:
        info["cpu"] = cpu
    if hasattr(os, "getloadavg"):
        info["load_average_1m"] = round(os.getloadavg()[0], 2)  # other work on the machine during the run
    if with_torch and "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


@functools.lru_cache(maxsize=4)
def git_commit(repo: Path) -> str:
    """``<sha>`` of HEAD (``<sha>+dirty`` when tracked files differ), or ``""`` outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "zoo", "repro"],
                               cwd=repo, capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
