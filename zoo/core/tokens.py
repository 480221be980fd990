"""The token state a reduction acts on, and the pruning-style reductions (keep, keep + fuse).

A :class:`TokenState` is the residual stream ``x`` ``[B, N, C]`` plus bookkeeping that
survives reductions: ``size`` ``[B, N, 1]`` (how many input tokens each token stands for,
``None`` meaning all ones) and ``source`` ``[B, N, N0]`` (0/1: which of the ``N0`` tokens
entering the stack each token stands for; only tracked when a run asks for it). The first
``n_prefix`` tokens (CLS, distillation, register tokens) are protected: every reduction
keeps them first and unchanged. ``valid`` ``[B, N]`` (bool, ``None`` meaning all valid) marks the
real tokens of a padded batch: padding slots never take part in a reduction (the encoder runtime
hands reducers one row's valid tokens at a time, see ``zoo.families.encoders.runtime``).

Every reduction returns the new state and ``rep`` ``[B, N_out]``: for each output token the
index of its *representative* input token (the kept token itself, a merge destination, the
heaviest member of a fused group). Per-token side data (attention-mask rows, graph nodes,
recorded indices) follows the representative.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from zoo.core.select import gather_tokens, with_prefix


@dataclass
class TokenState:
    """Tokens between two reductions. Shapes: x ``[B, N, C]``, size ``[B, N, 1]``, source ``[B, N, N0]``,
    valid ``[B, N]`` (bool)."""

    x: torch.Tensor
    size: torch.Tensor | None = None
    source: torch.Tensor | None = None
    n_prefix: int = 0
    valid: torch.Tensor | None = None

    @property
    def n(self) -> int:
        return self.x.shape[1]

    @property
    def n_reducible(self) -> int:
        return self.x.shape[1] - self.n_prefix

    def sizes(self) -> torch.Tensor:
        """``size`` with the implicit ones filled in: ``[B, N, 1]`` in x's dtype."""
        if self.size is not None:
            return self.size
        return torch.ones(self.x.shape[0], self.x.shape[1], 1, dtype=self.x.dtype, device=self.x.device)

    def with_x(self, x: torch.Tensor) -> "TokenState":
        return replace(self, x=x)


def initial_source(batch: int, n: int, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Identity source map ``[B, n, n]``: every token stands for itself."""
    return torch.eye(n, device=device, dtype=dtype).unsqueeze(0).expand(batch, n, n).contiguous()


def _gather_rows(t: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    return None if t is None else gather_tokens(t, idx)


def keep(state: TokenState, keep_reducible: torch.Tensor) -> tuple[TokenState, torch.Tensor]:
    """Keep the protected prefix and the reducible tokens ``keep_reducible`` ``[B, K]`` (indices
    into the reducible tokens, ascending). Returns the new state (``n_prefix + K`` tokens) and ``rep``."""
    idx = with_prefix(keep_reducible, state.n_prefix)
    new = TokenState(
        x=gather_tokens(state.x, idx),
        size=_gather_rows(state.size, idx),
        source=_gather_rows(state.source, idx),
        n_prefix=state.n_prefix,
        valid=None if state.valid is None else state.valid.gather(1, idx),
    )
    return new, idx


def keep_and_fuse(
    state: TokenState,
    keep_reducible: torch.Tensor,
    drop_reducible: torch.Tensor,
    drop_weights: torch.Tensor,
) -> tuple[TokenState, torch.Tensor]:
    """Keep ``keep_reducible`` ``[B, K]`` and fuse the dropped tokens ``drop_reducible`` ``[B, D]``
    into one extra token ``sum_d w_d x_d`` appended at the end (EViT's inattentive-token fusion).

    ``drop_weights`` ``[B, D]`` are used as given (normalise them first for a weighted mean).
    The fused token's size is the sum of the dropped sizes; its source is their union; its
    representative is the dropped token with the largest weight. With ``D == 0`` nothing is fused.
    """
    kept, rep = keep(state, keep_reducible)
    if drop_reducible.shape[1] == 0:
        return kept, rep
    n_prefix = state.n_prefix
    drop_idx = drop_reducible + n_prefix
    x_drop = gather_tokens(state.x, drop_idx)
    fused = (x_drop * drop_weights.unsqueeze(-1).to(x_drop.dtype)).sum(dim=1, keepdim=True)
    sizes = state.sizes()
    size = torch.cat([gather_tokens(sizes, rep), gather_tokens(sizes, drop_idx).sum(dim=1, keepdim=True)], dim=1)
    source = None
    if state.source is not None:
        source = torch.cat([kept.source, gather_tokens(state.source, drop_idx).amax(dim=1, keepdim=True)], dim=1)
    heaviest = drop_idx.gather(1, drop_weights.argmax(dim=1, keepdim=True))
    valid = None
    if state.valid is not None:
        valid = torch.cat([kept.valid, state.valid.gather(1, drop_idx).any(dim=1, keepdim=True)], dim=1)
    new = TokenState(x=torch.cat([kept.x, fused], dim=1), size=size, source=source, n_prefix=n_prefix, valid=valid)
    return new, torch.cat([rep, heaviest], dim=1)


def pack_rows(rows: list[tuple[TokenState, torch.Tensor]], *, fill: int) -> tuple[TokenState, torch.Tensor]:
    """Stack single-row states ``[1, N_b, C]`` (with their ``rep`` ``[1, N_b]``) into one batch of the
    widest row's width. Shorter rows end in padding slots: x = 0, size 0 (hidden from attention by the
    runtime), no source, representative ``fill``. Sizes are returned whenever a row carries them or
    the widths differ (size 0 marks the slots); otherwise ``None``."""
    states = [s for s, _ in rows]
    width = max(s.n for s in states)
    ragged = any(s.n != width for s in states)
    first = states[0]
    b, c = len(states), first.x.shape[-1]
    x = first.x.new_zeros(b, width, c)
    rep = torch.full((b, width), fill, dtype=torch.long, device=first.x.device)
    need_size = ragged or any(s.size is not None for s in states)
    size = first.x.new_zeros(b, width, 1) if need_size else None
    source = None
    if first.source is not None:
        source = first.source.new_zeros(b, width, first.source.shape[-1])
    for i, (s, r) in enumerate(rows):
        x[i, :s.n] = s.x[0]
        rep[i, :s.n] = r[0]
        if size is not None:
            size[i, :s.n] = s.sizes()[0]
        if source is not None:
            source[i, :s.n] = s.source[0]
    return TokenState(x=x, size=size, source=source, n_prefix=first.n_prefix), rep
