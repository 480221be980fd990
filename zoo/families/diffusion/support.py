"""Which method runs on which diffusers adapter, and the reason where it does not.

A diffusion method declares the signals it reads (``needs``, keys of
:data:`zoo.families.diffusion.runtime.SIGNALS`) and the adapters it accepts (``families``); every
diffusers adapter provides the signals in its ``signals`` table (today all three provide all of
them). :func:`support` combines the two the way applying does
(:meth:`~zoo.families.diffusion.adapter.DiffusersAdapter.require_signals`), so the matrix and
``zoo.apply`` cannot disagree. Unsupported denoiser classes (FLUX) are named by
:data:`zoo.families.diffusion.models.UNSUPPORTED` and never listed as served.

Imports neither torch nor diffusers (the method module it loads may import torch).
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.families.diffusion.adapter import FAMILIES


@dataclass(frozen=True)
class Support:
    """One (method, diffusers adapter) pair: ``supported`` or the ``reason`` why not."""

    method: str
    adapter: str
    supported: bool
    reason: str = ""


def support(method_id: str, adapter: str) -> Support:
    """Whether ``method_id`` runs on the diffusers adapter ``adapter`` (``KeyError`` for other names)."""
    from zoo.families import adapter_class
    from zoo.interface import method_class

    if adapter not in FAMILIES:
        raise KeyError(f"unknown diffusers adapter {adapter!r}; known: {', '.join(FAMILIES)}")
    cls = method_class(method_id)
    families = tuple(cls.families)
    if adapter not in families:
        return Support(method_id, adapter, False, f"{method_id} runs on {', '.join(families) or 'no registered family'}")
    needs = set(getattr(cls, "needs", ()) or ())
    offered = adapter_class(adapter).signals
    missing = sorted(needs - set(offered))
    if missing:
        return Support(method_id, adapter, False,
                       f"{method_id} needs the signal(s) {', '.join(missing)}, which {adapter} does not provide")
    return Support(method_id, adapter, True)


def support_matrix(methods: list[str] | None = None) -> list[Support]:
    """Every (method, diffusers adapter) pair (default: every registered method)."""
    from zoo.papers import REGISTRY

    return [support(m, a) for m in (methods if methods is not None else list(REGISTRY)) for a in FAMILIES]
