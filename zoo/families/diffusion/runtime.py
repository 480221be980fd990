"""The denoiser runtime: reversible per-block token reductions inside a diffusers denoiser.

It follows the shape of diffusers' own ``HookRegistry`` (named, removable forward rewrites), but
every change is an *instance-level* attribute recorded in a :class:`zoo.interface.Patch`:

- a forward pre-hook on the denoiser reads the latent size (the token grid of the first level),
  the timestep and the denoising step (the *signals*, :data:`SIGNALS`);
- every transformer block gets an instance ``forward`` that builds the context of that call
  (:class:`BlockContext`: tokens, downsampling level, grid, timestep, step), asks each installed
  :class:`DenoiserReducer` for a :class:`BlockAction`, and then runs diffusers' own block
  forward unchanged;
- the sub-modules a reduction acts at (:data:`PLACEMENTS`) get thin instance wrappers: the
  self-attention (``attn1``; ``attn`` and, with SD3.5's dual attention, ``attn2`` of a joint
  block), the cross-attention (``attn2`` of a basic block), the feed-forward (``ff``), and the
  key/value projections of the self-attention (``to_k``/``to_v``) for reductions that shorten
  only keys and values (ToDo). A wrapper reduces its input tokens, calls the wrapped module, and
  restores the output tokens (``GridPlan.restore``). With no action the wrapped module is called
  with exactly its own arguments, so a no-op budget reproduces the model bit for bit.

Because the attention *modules* are wrapped, not their processors, every attention backend
diffusers uses (SDPA by default, xFormers, the attention dispatcher) runs unchanged on the
reduced tokens. Accelerate hooks (``_hf_hook``) are patched below (``_old_forward``), not over.

Two cross-step pieces, installed only when a reducer asks for them (DaTo):

- the ``output_difference`` signal: a forward hook on the denoiser keeps its last output and gives
  the next call ``mean_c |out_s - out_{s-1}|`` on the first level's grid (``[B, H0 * W0]``; average-
  pooled by the patch size of a DiT), reset at the first step of every run;
- a feature cache (:class:`zoo.families.diffusion.cache.UNetFeatureCache`, UNets only): instance
  wrappers on the UNet's down/mid/up blocks return the outputs of an earlier step instead of
  recomputing them, at the steps and depth a schedule says (DeepCache's shallow branch).

Record (``run``, stage ``"denoiser"``), for the last denoiser forward: ``run.input_tokens`` is
the token count of the first level (``h * w`` of the latent, or of the patch grid);
``run.tokens["denoiser"][i]`` the tokens block ``i``'s self-attention queries ran on;
``run.events`` one event per reduction (``kind``: ``"merge"``, ``"prune"``, ``"downsample-kv"``,
``n_before`` -> ``n_after``); ``run.kept_indices`` (with ``record_indices``) the full-grid position
of each reduced token. :attr:`DenoiserRuntime.table` has one row per block of the last forward.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

STAGE = "denoiser"

#: the signals the runtime provides to reducers (a reducer declares those it reads in ``needs``)
SIGNALS: dict[str, str] = {
    "block_input": "hidden states entering each transformer block [B, N, C], before its first norm",
    "grid": "the block's token grid (h, w): downsampling d = ceil(sqrt(N0 // N)), h = ceil(H0 / d), w = ceil(W0 / d)",
    "timestep": "the denoiser's timestep argument (first batch element, as a float)",
    "step": "denoising step (1-based): +1 when the timestep decreases, back to 1 when it increases (new run)",
    "output_difference": "mean over channels of |denoiser output at the previous step - the one before| on the "
                         "first level's grid [B, H0 * W0] (None until two steps of the run have run)",
}

#: where a token plan can act inside a block
PLACEMENTS: dict[str, str] = {
    "self_attn": "the self-attention: attn1 of a basic block; attn (and attn2 with dual attention) of a joint block",
    "cross_attn": "the cross-attention of a basic block (attn2); its queries are the image tokens",
    "mlp": "the feed-forward (ff)",
}


@dataclass(frozen=True)
class BlockContext:
    """What a reducer knows about one call of one transformer block.

    ``grid``: ``(h, w)`` by ToMeSD's rule (``None`` when it does not tile the ``n_tokens``);
    ``floor_grid``: ``(H0 // d, W0 // d)`` (ToDo's rule; ``None`` likewise); ``base``: ``(H0, W0)``,
    the first level's grid; ``downsample``: ``d``; ``step``: the denoising step (1-based);
    ``generation``: how many runs (step 1 events) this application has seen, from 1;
    ``output_difference``: ``[B, H0 * W0]`` (the ``output_difference`` signal) when a reducer asked for it
    and two steps of this run have run, else ``None``.
    """

    index: int
    name: str
    kind: str
    n_tokens: int
    batch: int
    downsample: int
    grid: tuple[int, int] | None
    floor_grid: tuple[int, int] | None
    base: tuple[int, int] | None
    timestep: float | None
    step: int
    generation: int = 0
    output_difference: Any = None


@dataclass
class BlockAction:
    """What one reducer does in one block call.

    ``tokens``: a :class:`zoo.core.grid.GridPlan` applied at ``placements`` (reduce before,
    restore after); ``kv``: a function ``[B, N, C] -> [B, M, C]`` applied to the inputs of the
    self-attention's key/value projections (queries keep every token), ``kv_tokens`` its ``M``.
    """

    kind: str
    tokens: Any = None
    placements: frozenset[str] = frozenset({"self_attn"})
    kv: Callable[[Any], Any] | None = None
    kv_tokens: int | None = None


class DenoiserReducer:
    """Decides, per block call, what to reduce. Subclasses set ``needs`` (keys of :data:`SIGNALS`),
    ``placements`` (keys of :data:`PLACEMENTS` they may act at), ``uses_kv``, and implement :meth:`act`."""

    needs: frozenset[str] = frozenset()
    placements: frozenset[str] = frozenset()
    uses_kv: bool = False

    def act(self, ctx: BlockContext, x: Any) -> BlockAction | None:
        """``x``: the block input ``[B, N, C]``. Return ``None`` to leave this call unchanged."""
        raise NotImplementedError


def forward_attr(module: Any) -> str:
    """The attribute holding the forward to wrap: ``_old_forward`` below an accelerate hook, else ``forward``."""
    d = module.__dict__
    return "_old_forward" if "_hf_hook" in d and "_old_forward" in d else "forward"


def wrap_forward(patch: Any, module: Any, make: Callable[[Callable], Callable]) -> None:
    attr = forward_attr(module)
    patch.set_attr(module, attr, make(getattr(module, attr)))


def _first_param_and_timestep(denoiser: Any) -> tuple[str, int | None]:
    params = list(inspect.signature(denoiser.forward).parameters)
    return params[0], (params.index("timestep") if "timestep" in params else None)


def _as_float(t: Any) -> float | None:
    if t is None:
        return None
    if hasattr(t, "flatten"):
        flat = t.flatten()
        return float(flat[0]) if flat.numel() else None
    return float(t)


@dataclass
class _Forward:
    """Per-forward state of the denoiser (reset by its pre-hook)."""

    base: tuple[int, int] | None = None
    timestep: float | None = None
    active: dict[int, list[BlockAction]] = field(default_factory=dict)
    kv_memo: dict[int, tuple[Any, Any]] = field(default_factory=dict)


class _OutputDifference:
    """The ``output_difference`` signal: the denoiser's last output and ``mean_c |out - last|``.

    ``diff`` ``[B, H0 * W0]`` is what the blocks of the current call see: the difference of the two
    previous calls of this run (``None`` at its first two steps, or when the batch/shape changed).
    """

    def __init__(self, patch_size: int) -> None:
        self.patch_size = int(patch_size or 1)
        self.last: Any = None
        self.diff: Any = None
        self.key: tuple[int, int] | None = None

    def begin(self, generation: int, step: int) -> None:
        if step == 1 or self.key is None or self.key[0] != generation:
            self.last, self.diff = None, None
        self.key = (generation, step)

    def end(self, output: Any) -> None:
        import torch.nn.functional as F

        out = output[0] if isinstance(output, tuple) else getattr(output, "sample", output)
        if getattr(out, "dim", lambda: 0)() != 4:
            self.last, self.diff = None, None
            return
        out = out.detach()
        if self.last is not None and self.last.shape == out.shape:
            d = (out - self.last).abs()
            if self.patch_size > 1:
                d = F.avg_pool2d(d, self.patch_size)
            self.diff = d.reshape(d.shape[0], d.shape[1], -1).mean(dim=1)   # [B, H0 * W0]
        else:
            self.diff = None
        self.last = out


class DenoiserRuntime:
    """Installs the hooks and wrappers described in the module doc; holds per-application state."""

    def __init__(self, adapter: Any, run: Any) -> None:
        self.adapter = adapter
        self.run = run
        self.reducers: list[DenoiserReducer] = []
        self.state = _Forward()
        self.step = 0
        self.generation = 0
        self._last_t: float | None = None
        self.forwards = 0
        self.table: list[dict[str, Any]] = []
        self._wrapped: set[str] = set()
        self._patch: Any = None
        self._sample_name, self._t_index = _first_param_and_timestep(adapter.denoiser)
        self.cache: Any = None  # a UNetFeatureCache (set_cache)
        self._outputs = None    # _OutputDifference, when a reducer needs the output_difference signal

    # -- installation -------------------------------------------------------------------------------
    def install(self, patch: Any) -> None:
        self._patch = patch
        handle = self.adapter.denoiser.register_forward_pre_hook(self._pre_forward, with_kwargs=True)
        patch.add_hook(handle)
        for info in self.adapter.blocks:
            wrap_forward(patch, info.module, lambda orig, info=info: self._block_forward(info, orig))

    def add(self, reducer: DenoiserReducer) -> None:
        unknown = set(reducer.placements) - set(PLACEMENTS)
        if unknown:
            raise ValueError(f"unknown placement(s) {sorted(unknown)}; known: {', '.join(PLACEMENTS)}")
        for placement in reducer.placements:
            self._ensure(placement)
        if reducer.uses_kv:
            self._ensure("kv")
        if "output_difference" in reducer.needs and self._outputs is None:
            self._outputs = _OutputDifference(self.adapter.patch_size)
            self._patch.add_hook(self.adapter.denoiser.register_forward_hook(self._post_forward))
        self.reducers.append(reducer)

    def set_cache(self, cache: Any) -> None:
        """Install a cross-step feature cache (one per application)."""
        if self.cache is not None:
            raise RuntimeError("a feature cache is already installed in this application")
        cache.install(self._patch)
        self.cache = cache

    def _ensure(self, placement: str) -> None:
        if placement in self._wrapped:
            return
        self._wrapped.add(placement)
        for info in self.adapter.blocks:
            for module in self._modules_at(info, placement):
                if placement == "kv":
                    wrap_forward(self._patch, module, lambda orig, i=info.index: self._kv_forward(i, orig))
                else:
                    wrap_forward(self._patch, module,
                                 lambda orig, i=info, p=placement: self._token_forward(i, p, orig))

    @staticmethod
    def _modules_at(info: Any, placement: str) -> list[Any]:
        blk = info.module
        if placement == "self_attn":
            mods = [blk.attn1] if info.kind == "basic" else [blk.attn, getattr(blk, "attn2", None)]
        elif placement == "cross_attn":
            mods = [getattr(blk, "attn2", None)] if info.kind == "basic" else []
        elif placement == "mlp":
            mods = [blk.ff]
        elif placement == "kv":
            if info.kind == "basic" and getattr(blk, "only_cross_attention", False):
                return []  # attn1 attends to the text there: no image keys to shorten
            attns = [blk.attn1] if info.kind == "basic" else [blk.attn, getattr(blk, "attn2", None)]
            mods = [m for a in attns if a is not None for m in (a.to_k, a.to_v)]
        else:
            raise KeyError(placement)
        return [m for m in mods if m is not None]

    # -- the signals --------------------------------------------------------------------------------
    def _pre_forward(self, module: Any, args: tuple, kwargs: dict) -> None:
        sample = args[0] if args else kwargs.get(self._sample_name)
        t = None
        if self._t_index is not None and len(args) > self._t_index:
            t = args[self._t_index]
        elif "timestep" in kwargs:
            t = kwargs["timestep"]
        st = _Forward()
        if sample is not None and getattr(sample, "dim", lambda: 0)() == 4:
            p = self.adapter.patch_size
            st.base = (int(sample.shape[-2]) // p, int(sample.shape[-1]) // p)
        st.timestep = _as_float(t)  # one host read per denoiser call (a device sync on GPUs)
        self._advance_step(st.timestep)
        self.state = st
        if self._outputs is not None:
            self._outputs.begin(self.generation, self.step)
        if self.cache is not None:
            self.cache.begin(self.generation, self.step, sample)
        self.forwards += 1
        self.table = []
        self.run.start(STAGE, st.base[0] * st.base[1] if st.base else 0)

    def _post_forward(self, module: Any, args: tuple, output: Any) -> None:
        self._outputs.end(output)

    def _advance_step(self, t: float | None) -> None:
        if t is None:
            self.step += 1
        elif self._last_t is None or t > self._last_t:
            self.step = 1
        elif t < self._last_t:
            self.step += 1
        if self.step == 1 and (t is None or self._last_t is None or t != self._last_t):
            self.generation += 1
        self._last_t = t

    def context(self, info: Any, x: Any) -> BlockContext:
        n = int(x.shape[1]) if x.dim() == 3 else 0
        base = self.state.base
        ds, grid, floor_grid = 1, None, None
        if base and n:
            ds = int(math.ceil(math.sqrt((base[0] * base[1]) // n))) if base[0] * base[1] >= n else 1
            h, w = int(math.ceil(base[0] / ds)), int(math.ceil(base[1] / ds))
            grid = (h, w) if h * w == n else None
            fh, fw = base[0] // ds, base[1] // ds
            floor_grid = (fh, fw) if fh * fw == n else None
        return BlockContext(index=info.index, name=info.name, kind=info.kind, n_tokens=n, batch=int(x.shape[0]),
                            downsample=ds, grid=grid, floor_grid=floor_grid, base=base,
                            timestep=self.state.timestep, step=self.step, generation=self.generation,
                            output_difference=self._outputs.diff if self._outputs is not None else None)

    # -- the wrappers -------------------------------------------------------------------------------
    def _block_forward(self, info: Any, orig: Callable) -> Callable:
        def forward(*args: Any, **kwargs: Any) -> Any:
            x = args[0] if args else kwargs["hidden_states"]
            ctx = self.context(info, x)
            actions = []
            for reducer in self.reducers:
                action = reducer.act(ctx, x)
                if action is not None:
                    actions.append(action)
            if actions:
                self.state.active[info.index] = actions
            try:
                return orig(*args, **kwargs)
            finally:
                self.state.active.pop(info.index, None)
                self.state.kv_memo.pop(info.index, None)
                self._log(info, ctx, actions)

        return forward

    def _token_forward(self, info: Any, placement: str, orig: Callable) -> Callable:
        index = info.index

        def forward(*args: Any, **kwargs: Any) -> Any:
            plans = [a.tokens for a in self.state.active.get(index, ())
                     if a.tokens is not None and placement in a.placements]
            if not plans:
                return orig(*args, **kwargs)
            if placement == "mlp" and getattr(info.module, "_chunk_size", None) is not None:
                raise RuntimeError(f"block {info.name}: a token reduction at the feed-forward cannot run with "
                                   "chunked feed-forward (set_chunk_feed_forward(None) or leave the mlp placement off)")
            if args:
                hs, rest = args[0], args[1:]
            else:
                hs, rest = kwargs.pop("hidden_states"), ()
            for plan in plans:
                hs = plan.reduce(hs)
            out = orig(hs, *rest, **kwargs)

            def restore(t: Any) -> Any:
                for plan in reversed(plans):
                    t = plan.restore(t)
                return t

            if isinstance(out, tuple):
                return (restore(out[0]), *out[1:])
            return restore(out)

        return forward

    def _kv_forward(self, index: int, orig: Callable) -> Callable:
        def forward(x: Any, *args: Any, **kwargs: Any) -> Any:
            fns = [a.kv for a in self.state.active.get(index, ()) if a.kv is not None]
            if not fns:
                return orig(x, *args, **kwargs)
            memo = self.state.kv_memo.get(index)
            if memo is not None and memo[0] is x:
                y = memo[1]
            else:
                y = x
                for fn in fns:
                    y = fn(y)
                self.state.kv_memo[index] = (x, y)
            return orig(y, *args, **kwargs)

        return forward

    # -- the record ---------------------------------------------------------------------------------
    def _log(self, info: Any, ctx: BlockContext, actions: list[BlockAction]) -> None:
        n = ctx.n_tokens
        q = n
        kv = n
        for a in actions:
            if a.tokens is not None:
                self.run.log_event(STAGE, info.index, a.kind, n, a.tokens.n_out)
                if "self_attn" in a.placements:
                    q = kv = a.tokens.n_out
                if self.run.record_indices:
                    self.run.kept_indices.setdefault(STAGE, []).append(a.tokens.keep.expand(ctx.batch, -1))
            if a.kv is not None:
                kv = a.kv_tokens if a.kv_tokens is not None else kv
                self.run.log_event(STAGE, info.index, "downsample-kv", n, kv)
        self.run.log(STAGE, q)
        self.table.append({"block": info.index, "name": info.name, "tokens": n, "downsample": ctx.downsample,
                           "self_attn_queries": q, "self_attn_keys": kv,
                           "actions": [a.kind for a in actions]})
