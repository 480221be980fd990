"""Base class of family adapters.

An adapter wraps one model and answers the questions methods ask: which blocks form a
stage, how deep it is, where the reducible tokens are (CLS/prefix tokens, the image-token
span found from the inputs), and how to install per-block behaviour reversibly through a
``zoo.interface.Patch``. Methods never branch on model class names; adapters do the
family-specific work.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FamilyAdapter:
    name: ClassVar[str] = ""
    #: stages this adapter exposes, e.g. ("vit",) or ("vision", "llm")
    stages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def matches(cls, model: Any) -> bool:
        """Cheap structural check; must not import heavy libraries unless the model is of that kind."""
        raise NotImplementedError

    def depth(self, stage: str) -> int:
        """Number of blocks in ``stage``."""
        raise NotImplementedError
