"""Which method runs on which decoder model class, and why not where it does not.

A decoder method declares the signals it needs (``Method.needs``, keys of
:data:`zoo.families.decoders.base.SIGNALS`); every decoder adapter declares the signals its
model classes provide (``provides``) and, for the others, why they are missing (``lacks``).
Both the methods' ``families`` (what ``zoo.apply`` accepts) and the support matrix
(``tokzoo methods``, the site) are derived from these declarations, so they cannot disagree.

Imports no torch (adapter modules keep heavy imports inside functions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo.families.decoders import DECODER_ADAPTERS


def _adapter(name: str):
    from zoo.families import adapter_class

    return adapter_class(name)


def families_providing(needs: tuple[str, ...]) -> tuple[str, ...]:
    """Decoder adapter names whose models provide every signal in ``needs``."""
    from zoo.families.decoders.base import SIGNALS

    unknown = [s for s in needs if s not in SIGNALS]
    if unknown:
        raise KeyError(f"unknown signal(s) {unknown}; known: {', '.join(SIGNALS)}")
    return tuple(name for name in DECODER_ADAPTERS if set(needs) <= _adapter(name).provides)


class DecoderFamilies:
    """Class attribute computed on access: the decoder adapters providing the method's ``needs``."""

    def __get__(self, obj: Any, owner: type) -> tuple[str, ...]:
        return families_providing(tuple(owner.needs))


@dataclass(frozen=True)
class Support:
    """One cell of the support matrix."""

    method: str
    adapter: str
    model_class: str
    supported: bool
    reason: str  # "" when supported


def missing_reason(method_id: str, needs: tuple[str, ...], adapter_name: str) -> str:
    """Why a method needing ``needs`` does not run on ``adapter_name`` ("" if it does)."""
    from zoo.families.decoders.base import SIGNALS

    cls = _adapter(adapter_name)
    missing = [s for s in needs if s not in cls.provides]
    if not missing:
        return ""
    parts = []
    for s in missing:
        why = cls.lacks.get(s, f"{adapter_name} does not offer it")
        parts.append(f"{method_id} needs {SIGNALS[s]}; {why}")
    return "; ".join(parts)


def support_matrix() -> list[Support]:
    """Every registered method x every decoder model class: supported, or the reason why not."""
    from zoo.families.decoders.base import SIGNALS
    from zoo.interface import method_class
    from zoo.papers import REGISTRY

    rows = []
    for method_id in REGISTRY:
        cls = method_class(method_id)
        families = tuple(cls.families)
        needs = tuple(getattr(cls, "needs", ()) or ())
        if not set(needs) <= set(SIGNALS):  # another runtime's signals (encoders, diffusion): not a decoder method
            needs = ()
        for name in DECODER_ADAPTERS:
            adapter = _adapter(name)
            ok = name in families
            if ok:
                reason = ""
            elif needs:
                reason = (missing_reason(method_id, needs, name)
                          or dict(getattr(cls, "unsupported_reasons", None) or {}).get(name)  # the method's own word
                          or f"{method_id} does not declare support for {name}")
            else:
                reason = f"{method_id} runs on {', '.join(families) or 'no registered family'}, not on decoder models"
            for model_class in adapter.model_classes:
                rows.append(Support(method_id, name, model_class, ok, reason))
    return rows
