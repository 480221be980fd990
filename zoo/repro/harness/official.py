"""Shared pieces of the conformance comparisons (see :mod:`zoo.repro.conformance`).

- :func:`imported`: import modules from an official checkout for the duration of a block, then
  drop them again (official repositories ship top-level packages such as ``llava`` or
  ``models`` that must not leak into the rest of the process);
- :func:`max_abs_diff`, :func:`same_rows`: how two outputs / kept-index lists are compared;
- :func:`torch_dtype`, :func:`seeded`.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence


def _registry_snapshot() -> list[tuple[Any, str, Any]]:
    """Copies of timm's model registry tables (official ViT code registers models under timm's own
    names, e.g. ``deit_small_patch16_224``; they must not outlive the comparison)."""
    import copy

    if "timm" not in sys.modules and "torch" not in sys.modules:
        return []  # nothing official can have registered into a timm that is not loaded (and loading it is slow)
    try:
        from timm.models import _registry as reg
    except ImportError:
        return []
    return [(reg, name, copy.copy(value)) for name, value in vars(reg).items()
            if name.startswith(("_model", "_module")) and isinstance(value, (dict, set))]


@contextlib.contextmanager
def imported(path: Path | str, *modules: str, stubs: dict[str, Any] | None = None) -> Iterator[list[Any]]:
    """Import ``modules`` from the checkout at ``path`` (put first on ``sys.path``); yields them.

    ``stubs``: module name -> object placed in ``sys.modules`` first (for imports the official
    code makes but the compared function never uses, e.g. a CUDA extension). Afterwards every
    module loaded from ``path`` and every stub is removed again, ``sys.path`` restored, and
    timm's model registry put back as it was. The block runs in a fresh temporary working
    directory (removed afterwards): official code may write files next to itself (GTP-ViT's
    ``models_v3.py`` appends to ``./missing`` on every forward), never into the caller's folder.
    """
    import os
    import shutil
    import tempfile

    root = str(Path(path).resolve())
    before = set(sys.modules)
    saved_path = list(sys.path)
    saved_stubs = {name: sys.modules.get(name) for name in (stubs or {})}
    registry = _registry_snapshot()
    saved_cwd = os.getcwd()
    workdir = tempfile.mkdtemp(prefix="tokzoo-official-")
    sys.path.insert(0, root)
    os.chdir(workdir)
    try:
        for name, obj in (stubs or {}).items():
            sys.modules[name] = obj
        importlib.invalidate_caches()
        yield [importlib.import_module(m) for m in modules]
    finally:
        os.chdir(saved_cwd)
        shutil.rmtree(workdir, ignore_errors=True)
        sys.path[:] = saved_path
        for name in list(sys.modules):
            if name in before:
                continue
            mod = sys.modules.get(name)
            origin = str(getattr(mod, "__file__", "") or "")
            if origin.startswith(root) or name in (stubs or {}):
                del sys.modules[name]
        for name, old in saved_stubs.items():
            if old is not None:
                sys.modules[name] = old
            else:
                sys.modules.pop(name, None)
        for module, name, value in registry:
            current = getattr(module, name)
            current.clear()
            current.update(value)
        importlib.invalidate_caches()


def max_abs_diff(ours: Any, theirs: Any) -> float:
    """``max |ours - theirs|`` of two tensors of equal shape (``inf`` when the shapes differ)."""
    import torch

    a, b = torch.as_tensor(ours), torch.as_tensor(theirs)
    if a.shape != b.shape:
        return float("inf")
    if a.numel() == 0:
        return 0.0
    return float((a.double() - b.double()).abs().max())


def same_rows(ours: Sequence[Sequence[int]], theirs: Sequence[Sequence[int]], *, ordered: bool = False) -> bool:
    """Whether two per-row lists of kept indices are equal (as sets unless ``ordered``)."""
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs):
        a, b = [int(v) for v in a], [int(v) for v in b]
        if (a != b) if ordered else (sorted(a) != sorted(b)):
            return False
    return True


def torch_dtype(name: str):
    import torch

    return {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16,
            "float16": torch.float16}[name]


def seeded(seed: int):
    """A ``torch.Generator`` seeded with ``seed`` (inputs identical for both sides)."""
    import torch

    return torch.Generator().manual_seed(int(seed))


__all__ = ["imported", "max_abs_diff", "same_rows", "torch_dtype", "seeded"]
