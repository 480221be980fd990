"""tokzoo: the reference zoo for token reduction in transformers.

``import zoo`` is light (no torch). ``zoo.apply`` and ``zoo.methods`` load the
interface on first use; ``zoo.support_matrix`` (:mod:`zoo.support`) lists where each method runs.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["apply", "methods", "method_class", "support_matrix", "__version__"]


def __getattr__(name: str):
    if name in {"apply", "methods", "method_class"}:
        from zoo import interface

        return getattr(interface, name)
    if name == "support_matrix":
        from zoo.support import support_matrix

        return support_matrix
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
