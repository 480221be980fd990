"""Find and load repro scripts (``repro/<paper_id>.py``) and model configs (``repro/configs``).

The ``repro/`` folder is found from ``TOKZOO_REPRO_DIR`` or next to the ``zoo`` package (a
source checkout). Scripts are plain Python files defining ``SPEC`` (a ``PaperSpec``); they
are imported by path, so they stay readable and runnable on their own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from zoo.repro.spec import PaperSpec


def repro_dir() -> Path:
    env = os.environ.get("TOKZOO_REPRO_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "repro"


def repo_root() -> Path:
    return repro_dir().parent


def results_dir() -> Path:
    """The committed records (``repro/results``): what ``tokzoo show``, ``--list`` and the site read,
    and where ``tokzoo repro --record`` (maintainers) writes."""
    return repro_dir() / "results"


def user_results_dir() -> Path:
    """Where ``tokzoo repro`` writes by default: ``TOKZOO_RESULTS_DIR``, else a per-user data folder
    (``$XDG_DATA_HOME/tokzoo/repro-results``, ``~/.local/share/...`` on Linux,
    ``~/Library/Application Support/tokzoo/...`` on macOS, ``%LOCALAPPDATA%\\tokzoo\\...`` on Windows).
    Never inside the source checkout, so a run leaves tracked files alone."""
    env = os.environ.get("TOKZOO_RESULTS_DIR")
    if env:
        return Path(env)
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "tokzoo" / "repro-results"


def configs_dir() -> Path:
    return repro_dir() / "configs"


def list_papers(folder: Path | None = None) -> list[str]:
    """Paper ids that have a repro script (files ``repro/<id>.py``, not starting with ``_``)."""
    folder = Path(folder) if folder else repro_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))


def load_spec(paper_id: str, folder: Path | None = None) -> PaperSpec:
    """Import ``repro/<paper_id>.py`` and return its ``SPEC``."""
    folder = Path(folder) if folder else repro_dir()
    path = folder / f"{paper_id}.py"
    if not path.is_file():
        import difflib

        known = list_papers(folder)
        close = difflib.get_close_matches(paper_id, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"no repro script for {paper_id!r} in {folder}.{hint} Available: {', '.join(known) or '(none)'}")
    module_name = f"tokzoo_repro_{paper_id.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for odd files
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    paper = getattr(module, "SPEC", None)
    if not isinstance(paper, PaperSpec):
        raise TypeError(f"{path}: must define SPEC = PaperSpec(...), found {type(paper).__name__}")
    if paper.paper_id != paper_id:
        raise ValueError(f"{path}: SPEC.paper_id is {paper.paper_id!r}, expected {paper_id!r} (the file name)")
    paper.path = str(path)
    return paper


def load_config(name: str) -> dict[str, Any]:
    """A model config shipped in ``repro/configs/<name>.json`` (numbers from public config files)."""
    path = configs_dir() / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in configs_dir().glob("*.json"))
        raise KeyError(f"no model config {name!r} in {configs_dir()}; available: {', '.join(known)}")
    return json.loads(path.read_text())
