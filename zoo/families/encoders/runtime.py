"""The encoder runtime: runs :class:`zoo.core.reduce.BlockReducer` s inside the blocks of any encoder.

One instance per application (held by the adapter). Every block of the stack gets an
instance-level ``forward`` (recorded in the ``Patch``) that calls :meth:`EncoderRuntime.block_forward`,
which splits the block into the two halves the adapter describes (``attention_part``: up to
and including the attention residual and, for post-norm blocks, its norm; ``mlp_part``: the
rest) and applies the acting reducers in between (ToMe's placement).

Which code path a block runs:

- *native* (the model's own ``forward``): when no reducer acts anywhere in this forward (a
  no-op budget reproduces the model bit for bit), or when nothing has been reduced yet, no
  reducer acts at this block, and the native attention is already the fast path;
- *runtime*: otherwise. The attention is computed by :func:`zoo.core.attention.attend` with
  the signals the acting reducers ask for, proportional attention (``log size``) when a
  reducer wants it, the padding mask, and the faster of fused SDPA and an explicit softmax for
  the dtype/device (:func:`zoo.core.attention.prefer_explicit`, measured).

Padding (text encoders): the adapter turns the model's attention mask into ``valid``
``[B, N]``. Padding slots never take part in a reduction: the runtime hands each reducer one
row's valid tokens at a time (each row has its own copy of the reducers, begun on that row
alone), so a padded batch gives every row what it gets alone, and packs the rows back into a
batch whose shorter rows end in padding slots (``valid`` False, size 0, hidden from every
attention; sizes are kept only when a reducer produced them). ``run.tokens`` then records the
padded width (the work done). Without padding all rows are reduced together (vectorised).

An empty batch (``B == 0``) runs the model unreduced (there is nothing to reduce; the run
records the unreduced schedule).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from zoo.core.reduce import NEEDS, BlockReducer, BlockView
from zoo.core.tokens import TokenState


class EncoderRuntime:
    """Per-application execution state: the reducers and the current forward's tokens."""

    def __init__(self, adapter: Any, run: Any) -> None:
        self.adapter = adapter
        self.run = run
        self.stage = adapter.stage
        self.reducers: list[BlockReducer] = []
        self.depth = len(adapter.blocks)
        self.last_index = self.depth  # any block index starts a new forward
        self.output_valid = None
        self.output_size = None
        self._reset()

    def _reset(self) -> None:
        self.size = None
        self.source = None
        self.valid = None
        self.scratch: dict[str, Any] = {}
        self.grid: tuple[int, int] | None = None
        self.mask_in = self.mask_cur = None
        self.engaged = False
        self.reduced = False
        self.empty_slots = False  # some tokens have size 0 (padding slots of an adaptive reduction)
        self.rows: list[tuple[list[BlockReducer], dict[str, Any]]] | None = None

    # -- installation ---------------------------------------------------------------------
    def install(self, patch: Any) -> None:
        for i, blk in enumerate(self.adapter.blocks):
            patch.set_attr(blk, "forward", self._make_forward(i, blk))
        self.adapter.install_hooks(patch)

    def _make_forward(self, index: int, block: Any) -> Callable:
        def forward(*args, **kwargs):
            return self.block_forward(index, block, args, kwargs)

        forward.__doc__ = f"tokzoo-patched forward of block {index} (instance attribute; removed by Handle.remove())"
        return forward

    # -- one forward ----------------------------------------------------------------------
    def begin(self, x: Any, mask: Any) -> None:
        import torch

        ad = self.adapter
        self._reset()
        p = ad.num_prefix_tokens
        b, n = x.shape[0], x.shape[1]
        self.grid = ad.grid_for(n - p)
        self.run.start(self.stage, n)
        if self.run.record_sources:
            from zoo.core.tokens import initial_source

            self.source = initial_source(b, n, x.device)
        if b == 0:
            return  # nothing to reduce: an empty batch runs the model as it is
        if ad.mask_kind == "padding":
            self.valid = ad.padding_mask(mask, b, n)
        if self.valid is None:
            state = TokenState(x=x, size=None, source=self.source, n_prefix=p)
            for r in self.reducers:
                r.begin(state, self.depth, self.grid, self.scratch)
            reducers = [self.reducers]
        else:
            self.rows = []
            for row in range(b):
                idx = self.valid[row].nonzero()[:, 0]
                if p and not torch.equal(idx[:p].cpu(), torch.arange(p)):
                    raise ValueError(
                        f"{ad.name}: row {row} of the attention mask hides one of the first {p} token(s) "
                        "([CLS]/prefix); left padding is not supported, pad on the right")
                state = TokenState(x=x[row:row + 1, idx], n_prefix=p)
                copies = [copy.copy(r) for r in self.reducers]
                scratch: dict[str, Any] = {}
                for r in copies:
                    r.begin(state, self.depth, None, scratch)
                self.rows.append((copies, scratch))
            reducers = [c for c, _ in self.rows]
        self.engaged = any(r.acts_at(i) for group in reducers for r in group for i in range(self.depth))

    def _acting(self, index: int) -> list[BlockReducer]:
        if self.rows is None:
            return [r for r in self.reducers if r.acts_at(index)]
        return [r for copies, _ in self.rows for r in copies if r.acts_at(index)]

    def block_forward(self, index: int, block: Any, args: tuple, kwargs: dict) -> Any:
        ad = self.adapter
        x, mask, is_causal = ad.block_inputs(block, args, kwargs)
        if index <= self.last_index:
            self.begin(x, mask)
        self.last_index = index
        if not self.engaged:
            return self._finish(index, x, ad.native(block, args, kwargs))
        acting = self._acting(index)
        needs = frozenset().union(*(r.needs(index) for r in acting)) if acting else frozenset()
        unknown = needs - set(NEEDS)
        if unknown:
            raise ValueError(f"reducer asked for unknown attention outputs {sorted(unknown)}; known: {sorted(NEEDS)}")
        size = self.size if any(r.prop_attn for r in self.reducers) else None
        n = x.shape[1]
        from zoo.core.attention import prefer_explicit

        fast_explicit = prefer_explicit(x.dtype, x.device, n)
        fused_native = ad.native_fused(block)
        explicit = fast_explicit or not fused_native  # an unfused module keeps its explicit attention
        if not acting and size is None and not self.reduced and not (fast_explicit and fused_native):
            return self._finish(index, x, ad.native(block, args, kwargs))

        bias = self._bias(x, mask, size)
        info: dict[str, Any] = {}
        batch = x.shape[0]

        def attend_fn(q, k, v, scale, dropout_p=0.0):
            """q, k, v ``[B, H, N, d]`` -> attention output ``[B, N, H * d]`` (signals kept in ``info``)."""
            from zoo.core.attention import attend

            out, got = attend(q, k, v, scale=scale, bias=bias, needs=needs, explicit=explicit,
                              dropout_p=dropout_p, is_causal=is_causal)
            info.update(got)
            return out.transpose(1, 2).reshape(batch, n, -1)

        x = ad.attention_part(block, x, attend_fn)
        if acting:
            x = self._reduce(index, x, info) if self.rows is None else self._reduce_rows(index, x, info)
        x = ad.mlp_part(block, x)
        return self._finish(index, x, ad.block_output(block, x))

    def _finish(self, index: int, x: Any, out: Any) -> Any:
        """Log the token count after block ``index`` (``x``: its output tokens) and return ``out``."""
        self.run.log(self.stage, x.shape[1])
        if index == self.depth - 1:
            if self.source is not None and self.run.record_sources:
                self.run.sources[self.stage] = self.source
            self.output_valid, self.output_size = self.valid, self.size
        return out

    # -- attention bias -------------------------------------------------------------------
    def _bias(self, x: Any, mask: Any, size: Any) -> Any:
        import torch

        from zoo.core.attention import add_biases, as_additive, size_bias

        mask_bias = None
        if self.adapter.mask_kind == "general":
            mask_bias = as_additive(self._current_mask(mask), x.dtype)
        elif self.valid is not None:
            mask_bias = torch.zeros(self.valid.shape, dtype=x.dtype, device=x.device)
            mask_bias = mask_bias.masked_fill_(~self.valid, float("-inf"))[:, None, None, :]
        if size is None and self.empty_slots and self.rows is None:
            # size-0 slots (rows of an adaptive reduction padded to the batch's width) stay hidden
            # even when no reducer asks for proportional attention
            hidden = torch.zeros(self.size.shape[:2], dtype=x.dtype, device=x.device)
            mask_bias = add_biases(mask_bias, hidden.masked_fill_(self.size[..., 0] == 0, float("-inf"))[:, None, None, :])
        return add_biases(mask_bias, None if size is None else size_bias(size, x.dtype))

    def _current_mask(self, attn_mask: Any) -> Any:
        """A general mask (timm ``attn_mask``) follows the reductions through the representatives."""
        if attn_mask is None:
            return None
        if self.mask_in is not attn_mask and self.mask_cur is None:
            self.mask_in = self.mask_cur = attn_mask
        return self.mask_cur

    # -- reductions -----------------------------------------------------------------------
    def _reduce(self, index: int, x: Any, info: dict[str, Any]) -> Any:
        """All rows at once (no padding)."""
        state = TokenState(x=x, size=self.size, source=self.source, n_prefix=self.adapter.num_prefix_tokens)
        for r in self.reducers:
            if not r.acts_at(index):
                continue
            view = BlockView(index=index, depth=self.depth, state=state, grid=self.grid, scratch=self.scratch, **info)
            out = r.reduce(view)
            if out is None:
                continue
            new, rep = out
            self.run.log_event(self.stage, index, r.kind, state.n, new.n)
            if self.run.record_indices:
                self.run.kept_indices.setdefault(self.stage, []).append(rep)
            if self.mask_cur is not None:
                self.mask_cur = gather_mask(self.mask_cur, rep)
            state = new
            info = {}  # attention outputs describe the old tokens only
            self.reduced = True
        self.size, self.source = state.size, state.source
        self.empty_slots = state.size is not None and bool((state.size == 0).any())
        return state.x

    def _reduce_rows(self, index: int, x: Any, info: dict[str, Any]) -> Any:
        """Padded batch: each row's valid tokens through that row's reducers, then packed."""
        import torch

        p = self.adapter.num_prefix_tokens
        rows, kinds = [], []
        for row, (copies, scratch) in enumerate(self.rows):
            idx = self.valid[row].nonzero()[:, 0]
            state = TokenState(
                x=x[row:row + 1, idx],
                size=None if self.size is None else self.size[row:row + 1, idx],
                source=None if self.source is None else self.source[row:row + 1, idx],
                n_prefix=p)
            row_info = {k: _row_signal(k, v, row, idx) for k, v in info.items()}
            rep = idx
            for r in copies:
                if not r.acts_at(index):
                    continue
                view = BlockView(index=index, depth=self.depth, state=state, grid=None, scratch=scratch, **row_info)
                out = r.reduce(view)
                if out is None:
                    continue
                state, local = out
                rep = rep[local[0]]
                row_info = {}
                if r.kind not in kinds:
                    kinds.append(r.kind)
            rows.append((state, rep))
        if not kinds:
            return x
        width = max(s.n for s, _ in rows)
        b, c = x.shape[0], x.shape[-1]
        new_x = x.new_zeros(b, width, c)
        valid = torch.zeros(b, width, dtype=torch.bool, device=x.device)
        size = x.new_zeros(b, width, 1)
        rep_all = torch.full((b, width), -1, dtype=torch.long, device=x.device)
        source = None if self.source is None else self.source.new_zeros(b, width, self.source.shape[-1])
        for row, (s, rep) in enumerate(rows):
            m = s.n
            new_x[row, :m] = s.x[0]
            valid[row, :m] = True
            size[row, :m] = s.sizes()[0]
            rep_all[row, :m] = rep
            if source is not None:
                source[row, :m] = s.source[0]
        if all(s.size is None for s, _ in rows):
            size = None  # no row carries sizes: padding slots are marked by ``valid`` alone
        self.run.log_event(self.stage, index, "+".join(kinds), x.shape[1], width)
        if self.run.record_indices:
            self.run.kept_indices.setdefault(self.stage, []).append(rep_all)
        self.valid, self.size, self.source = valid, size, source
        self.reduced = True
        return new_x


def _row_signal(name: str, value: Any, row: int, idx: Any) -> Any:
    """One row's slice of an attention signal, restricted to that row's valid tokens ``idx``."""
    v = value[row:row + 1]
    if name == "keys":  # [1, N, d]
        return v[:, idx]
    if name == "cls_attn":  # [1, H, N]
        return v[:, :, idx]
    if name == "attn":  # [1, H, N, N]
        return v[:, :, idx][:, :, :, idx]
    if name == "values":  # [1, H, N, d]
        return v[:, :, idx]
    raise KeyError(name)


def gather_mask(mask: Any, rep: Any) -> Any:
    """Follow a reduction in an SDPA-style mask (``[N, N]`` or ``[B|1, H|1, N|1, N|1]``) through the
    representatives ``rep`` ``[B, N']``: rows and columns of size ``N`` are gathered."""
    import torch

    m = mask
    while m.dim() < 4:
        m = m.unsqueeze(0)
    b = rep.shape[0]
    if m.shape[0] != b:
        m = m.expand(b, *m.shape[1:])
    heads = m.shape[1]
    if m.shape[2] > 1:
        m = torch.gather(m, 2, rep[:, None, :, None].expand(-1, heads, -1, m.shape[3]))
    if m.shape[3] > 1:
        m = torch.gather(m, 3, rep[:, None, None, :].expand(-1, heads, m.shape[2], -1))
    return m
