"""The contract between a token-reduction method and a block-stack adapter.

A method that reduces tokens *inside* the blocks of a single-stack transformer (ViT, DeiT)
writes a :class:`BlockReducer`: it says at which blocks it acts, which attention outputs it
needs there, and how it turns the tokens into fewer tokens using the shared ops of
``zoo.core`` (``keep``, ``keep_and_fuse``, ``bipartite_soft_matching`` + merges). The family
adapter (e.g. ``zoo.families.timm_vit``) runs the blocks, computes only the requested
attention outputs, applies the reduction between the attention and the MLP of the block
(ToMe's placement), tracks sizes/sources, and records the token counts in the ``Run``.

Reducers never see model classes; adapters never see method details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from zoo.core.tokens import TokenState

#: attention outputs a reducer may request from the adapter at a block
NEEDS: dict[str, str] = {
    "keys": "keys averaged over heads, [B, N, d] (ToMe's matching metric)",
    "cls_attn": "attention of the first token (CLS) over all tokens, [B, H, N]",
    "attn": "the full attention probabilities, [B, H, N, N] (forces unfused attention at that block)",
    "values": "the value vectors, [B, H, N, d]",
}


@dataclass
class BlockView:
    """What a reducer sees inside block ``index`` after attention (before the MLP).

    ``state.x`` is the residual stream after the attention branch ``[B, N, C]``; the other
    tensors are those requested through :meth:`BlockReducer.needs` (else ``None``).
    ``grid`` is the patch grid ``(h, w)`` of the stack's input tokens when known;
    ``scratch`` is per-forward storage shared by the reducer's calls (e.g. a token graph).
    """

    index: int
    depth: int
    state: TokenState
    keys: torch.Tensor | None = None
    cls_attn: torch.Tensor | None = None
    attn: torch.Tensor | None = None
    values: torch.Tensor | None = None
    grid: tuple[int, int] | None = None
    scratch: dict[str, Any] = field(default_factory=dict)


class BlockReducer:
    """Base class: a token reduction acting between attention and MLP of chosen blocks.

    Subclasses implement :meth:`acts_at`, optionally :meth:`needs` and :meth:`begin`, and
    :meth:`reduce`. Set ``prop_attn = True`` to have every block use proportional attention
    (``log(size)`` added to the attention logits, ToMe) once tokens stand for several inputs.
    """

    prop_attn: bool = False
    #: short label of the operation for the run record ("merge", "prune", ...)
    kind: ClassVar[str] = "reduce"

    def acts_at(self, index: int) -> bool:
        """Whether this reducer may change the tokens at block ``index``."""
        raise NotImplementedError

    def needs(self, index: int) -> frozenset[str]:
        """Attention outputs (keys of :data:`NEEDS`) required at block ``index``."""
        return frozenset()

    def begin(self, state: TokenState, depth: int, grid: tuple[int, int] | None, scratch: dict[str, Any]) -> None:
        """Called once per forward with the stack's input tokens (before block 0)."""

    def reduce(self, view: BlockView) -> tuple[TokenState, torch.Tensor] | None:
        """Return ``(new_state, rep)`` (see :mod:`zoo.core.tokens`) or ``None`` to leave tokens as they are."""
        raise NotImplementedError
