"""Which encoder method runs on which encoder adapter, and the reason where it does not.

A method states the signals it needs (:data:`zoo.families.encoders.protocol.SIGNALS`) through
``required_signals()`` (default: none); an adapter class states in ``SIGNALS`` whether its
models offer each one: ``True``, ``False`` or ``None`` (depends on the model, e.g. a timm ViT
with or without a class token). :func:`support` combines the two; :func:`support_matrix` lists
every (method, adapter) pair for ``tokzoo methods`` and the site.

Light: imports the method and adapter modules, not torch's model libraries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from zoo.families.encoders import ENCODER_FAMILIES

#: status words of a (method, adapter) pair
STATUSES = ("yes", "depends", "no")


@dataclass(frozen=True)
class Support:
    """``status``: ``yes`` (runs on every model of the family), ``depends`` (runs on the models that
    offer the signals named in ``reason``), ``no`` (never; ``reason`` says why)."""

    method: str
    adapter: str
    status: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "no"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def required_signals(method: Any) -> dict[str, str]:
    """Signal -> why, for a ``Method`` instance (``required_signals()`` when it defines one)."""
    fn = getattr(method, "required_signals", None)
    return dict(fn()) if callable(fn) else {}


def support(method_id: str, adapter: str, **params: Any) -> Support:
    """Whether ``method_id`` (with ``params``, default the method's defaults) runs on ``adapter``."""
    from zoo.families import ADAPTERS, adapter_class
    from zoo.interface import method_class

    cls = method_class(method_id)
    if adapter not in ADAPTERS:
        raise KeyError(f"unknown adapter {adapter!r}; known: {', '.join(ADAPTERS)}")
    if adapter not in tuple(cls.families):
        return Support(method_id, adapter, "no", f"{method_id} acts on {', '.join(cls.families)} models")
    method = cls(**params)
    offered = getattr(adapter_class(adapter), "SIGNALS", {})
    missing, maybe = [], []
    for signal, why in required_signals(method).items():
        have = offered.get(signal, False)
        if have is False:
            missing.append(f"{adapter} models have no {signal.replace('_', ' ')} ({why})")
        elif have is None:
            maybe.append(f"needs a model with a {signal.replace('_', ' ')} ({why})")
    if missing:
        return Support(method_id, adapter, "no", "; ".join(missing))
    if maybe:
        return Support(method_id, adapter, "depends", "; ".join(maybe))
    return Support(method_id, adapter, "yes")


def encoder_methods() -> list[str]:
    """Registered methods that run on at least one encoder adapter."""
    from zoo.interface import method_class
    from zoo.papers import REGISTRY

    return [m for m in REGISTRY if set(method_class(m).families) & set(ENCODER_FAMILIES)]


def support_matrix(methods: list[str] | None = None, adapters: tuple[str, ...] = ENCODER_FAMILIES) -> list[Support]:
    """Every (method, adapter) pair with its status and reason (default parameters)."""
    return [support(m, a) for m in (methods if methods is not None else encoder_methods()) for a in adapters]
