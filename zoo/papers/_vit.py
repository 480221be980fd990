"""Shared budget handling of the encoder methods that remove tokens block by block.

They run on every encoder adapter (``zoo.families.encoders``: timm and HF ViTs, CLIP/SigLIP
vision, BERT-family text, AST, Whisper's encoder); a method needing a signal a model lacks
(a class token, a patch grid) says so in ``check_model`` and in :func:`zoo.families.encoders.support.support`.

Budget vocabulary (one meaning across the zoo):

- ``r``: the paper-level parameter of ToMe and its descendants: tokens removed per block.
  An int (constant over the acting blocks), a per-block list/tuple (ToMe's
  ``List[int]``: entry ``i`` for block ``i``, padded with zeros), optionally bent by
  ``inflect`` (ToMe's ``(r, inflect)``: ``-1`` = the paper's decreasing schedule).
- ``keep_ratio``: fraction of the reducible (patch) tokens still present after the last
  acting block; ``keep_tokens``: their absolute number. Both are spread evenly over the
  acting blocks (earlier blocks take the remainder).

Methods cap their per-block removals as their papers do (ToMe: at most half of the
reducible tokens per block), so the schedule actually run is the one in the ``Run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.core.reduce import BlockReducer
from zoo.core.schedule import inflected_schedule, padded_schedule, spread
from zoo.core.select import keep_count
from zoo.interface import Method, _fail, check_budget, check_int, check_layer, check_number

from zoo.families.encoders import ENCODER_FAMILIES

#: kept name: the encoder methods' families (every encoder adapter)
VIT_FAMILIES = ENCODER_FAMILIES


def as_layers(method: Method, name: str, value: Any) -> tuple[int, ...]:
    """Normalise a block index or a list of block indices to a sorted tuple without repeats."""
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)) or not items:
        _fail(name, value, "a block index or a non-empty list of block indices", method.id)
    for v in items:
        check_int(method, name, v, low=0)
    if len(set(items)) != len(items):
        _fail(name, value, "distinct block indices", method.id)
    return tuple(sorted(items))


@dataclass
class PerBlockBudget(Method):
    """Base of ViT methods removing ``r`` tokens per acting block (see the module docstring).

    Subclasses set ``default_r`` and may restrict the acting blocks by overriding
    :meth:`acting_blocks` (e.g. with a ``layers`` field).
    """

    r: int | tuple[int, ...] | None = None
    inflect: float = 0.0
    keep_ratio: float | None = None
    keep_tokens: int | None = None

    families: ClassVar[tuple[str, ...]] = VIT_FAMILIES
    placement: ClassVar[str] = "backbone"
    default_r: ClassVar[int] = 16

    def validate(self) -> None:
        if isinstance(self.r, list):
            self.r = tuple(self.r)
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"r": self.r})
        if self.r is None and self.keep_ratio is None and self.keep_tokens is None:
            self.r = self.default_r
        if isinstance(self.r, tuple):
            for v in self.r:
                check_int(self, "r", v, low=0)
        elif self.r is not None:
            check_int(self, "r", self.r, low=0)
        check_number(self, "inflect", self.inflect, low=-1.0, high=1.0)
        if self.inflect != 0 and not isinstance(self.r, int):
            _fail("inflect", self.inflect, "0 unless r is a single integer (inflect bends a constant r)", self.id)

    def acting_blocks(self, depth: int) -> tuple[int, ...]:
        """Blocks that may reduce tokens (default: all)."""
        return tuple(range(depth))

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth(adapter.pruning_stage)
        for layer in self.acting_blocks(depth):
            check_layer(self, "layers", layer, depth)
        if isinstance(self.r, tuple) and len(self.r) > depth:
            _fail("r", self.r, f"a per-block list of at most {depth} entries (the model has {depth} blocks)", self.id)

    def per_block(self, depth: int, n_reducible: int) -> list[int]:
        """Tokens to remove in each block, before the method's own caps."""
        blocks = self.acting_blocks(depth)
        if isinstance(self.r, tuple):
            plan = padded_schedule(depth, self.r)
            return [v if i in blocks else 0 for i, v in enumerate(plan)]
        if self.r is not None:
            out = [0] * depth
            for layer, v in zip(blocks, inflected_schedule(len(blocks), self.r, self.inflect)):
                out[layer] = v
            return out
        total = n_reducible - keep_count(n_reducible, self.keep_ratio, self.keep_tokens)
        return spread(total, blocks, depth)


class ScheduleReducer(BlockReducer):
    """A reducer whose per-block removal counts come from a :class:`PerBlockBudget` method."""

    def __init__(self, method: PerBlockBudget) -> None:
        self.method = method
        self.plan: list[int] = []

    def begin(self, state, depth, grid, scratch) -> None:
        self.plan = self.method.per_block(depth, state.n_reducible)

    def acts_at(self, index: int) -> bool:
        return index < len(self.plan) and self.plan[index] > 0
