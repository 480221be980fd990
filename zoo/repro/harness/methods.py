"""Apply a registered method (and the random-pruning control) by id, or say it is not there yet."""

from __future__ import annotations

from typing import Any, Optional

from zoo.repro.spec import Unavailable

CONTROL_ID = "random"


def require_method(method_id: str) -> None:
    """Raise :class:`Unavailable` when ``method_id`` is not registered in ``zoo.papers.REGISTRY``."""
    from zoo.papers import REGISTRY

    if method_id not in REGISTRY:
        raise Unavailable(f"method {method_id} (not registered in zoo.papers.REGISTRY yet)")


def require_package(module: str, extra: str) -> Any:
    """Import ``module`` or raise :class:`Unavailable` naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"package {module} (pip install 'tokzoo[{extra}]')") from None


def apply(model: Any, method_id: str, params: dict[str, Any]):
    """``zoo.apply(model, method_id, **params)`` after checking the method is registered."""
    import zoo

    require_method(method_id)
    return zoo.apply(model, method_id, **params)


def control(model: Any, params: Optional[dict[str, Any]]):
    """The random-pruning control at the same budget, or ``(None, reason)`` when unavailable."""
    if params is None:
        return None, "no random control for this claim"
    try:
        return apply(model, CONTROL_ID, params), ""
    except Unavailable as exc:
        return None, f"random control not available: {exc}"
    except (TypeError, ValueError) as exc:
        return None, f"random control rejected parameters {params}: {exc}"
