"""Base class of family adapters, and the primitives adapters offer to methods.

An adapter wraps one model and answers the questions methods ask: which blocks form a
stage, how deep it is, where the reducible tokens are (CLS/prefix tokens, the image-token
span found from the inputs), and how to install per-block behaviour reversibly through a
``zoo.interface.Patch``. Methods never branch on model class names; adapters do the
family-specific work.

Primitives (an adapter implements those that make sense for its family; a method that
needs one declares ``families`` as the adapters implementing it, see
:func:`adapters_implementing`):

- :meth:`FamilyAdapter.install_token_pruning`: prune reducible tokens at one layer by a
  score. Generic: the ``random`` control runs on every adapter implementing it.
- ``install_reducer(patch, run, reducer)`` (block-stack adapters such as ``timm-vit``): run a
  :class:`zoo.core.reduce.BlockReducer` between attention and MLP of the blocks.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

#: primitive name -> what it does (the method names adapters implement)
PRIMITIVES: dict[str, str] = {
    "install_token_pruning": "prune reducible tokens at one layer, keeping the highest scores",
    "install_reducer": "run a zoo.core.reduce.BlockReducer inside the blocks of a single stack",
}


class FamilyAdapter:
    name: ClassVar[str] = ""
    #: stages this adapter exposes, e.g. ("vit",) or ("vision", "llm")
    stages: ClassVar[tuple[str, ...]] = ()
    #: the stage whose layers ``install_token_pruning``'s ``layer`` indexes ("" if not implemented)
    pruning_stage: ClassVar[str] = ""

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def matches(cls, model: Any) -> bool:
        """Cheap structural check; must not import heavy libraries unless the model is of that kind."""
        raise NotImplementedError

    @classmethod
    def implements(cls, primitive: str) -> bool:
        """Whether this adapter class overrides the primitive ``primitive`` (a key of :data:`PRIMITIVES`)."""
        if primitive not in PRIMITIVES:
            raise KeyError(f"unknown adapter primitive {primitive!r}; known: {', '.join(PRIMITIVES)}")
        own = getattr(cls, primitive, None)
        return own is not None and own is not getattr(FamilyAdapter, primitive, None)

    def depth(self, stage: str) -> int:
        """Number of blocks in ``stage``."""
        raise NotImplementedError

    def install_token_pruning(
        self,
        patch: Any,
        run: Any,
        *,
        layer: int,
        keep_ratio: float | None = None,
        keep_tokens: int | None = None,
        scorer: Callable[[Any], Any],
    ) -> None:
        """Prune the reducible tokens once, at block ``layer`` of the adapter's reducible stage.

        - Which tokens are *reducible* is the adapter's business: image patch tokens of a ViT
          (never CLS/distillation/register tokens), the image-token span inside an LLM (found
          from the inputs, never the text).
        - Where exactly it acts is documented by the adapter: ``timm-vit`` prunes between the
          attention and the MLP of block ``layer``; a VLM adapter prunes the image tokens
          leaving decoder layer ``layer``.
        - Budget: keep ``zoo.core.select.keep_count(n_reducible, keep_ratio, keep_tokens)``
          reducible tokens (exactly one of ``keep_ratio``/``keep_tokens`` is given), those with
          the highest scores, in their original order.
        - ``scorer(tokens)`` gets the hidden states of the reducible tokens ``[B, N_red, C]`` at
          that point and returns scores ``[B, N_red]`` (higher = keep). It must not modify them.
        - Every change goes through ``patch`` (reversible); the token counts go into ``run``.
        """
        raise NotImplementedError(f"the {self.name or type(self).__name__} adapter does not implement token pruning")


def adapters_implementing(primitive: str) -> tuple[str, ...]:
    """Names of the registered adapters (``zoo.families.ADAPTERS``) implementing ``primitive``.

    Imports the adapter modules (which keep heavy imports out of module level) but no model
    library.
    """
    from zoo.families import ADAPTERS, adapter_class

    return tuple(name for name in ADAPTERS if adapter_class(name).implements(primitive))
