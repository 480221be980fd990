"""Cross-step feature caching in a diffusers UNet (DeepCache's shallow branch), reversibly.

A UNet call at denoising step ``s`` runs at one of three *depths* (``level(s)``):

- ``FULL`` (``>= 2``): every block runs; the outputs of the wrapped blocks are stored (every computed
  output is stored, at any depth);
- ``SHALLOW`` (``1``): only the outermost layers run: ``conv_in`` and the last layer of the last up
  block (its last resnet and, when it has one, its last attention), whose input is the stored output of
  the layer before it concatenated with the fresh ``conv_in`` skip. The down blocks, the mid block, the
  other up blocks and the other layers of the last up block return their stored outputs;
- ``REUSE`` (``0``): every block returns its stored output; only ``conv_in``, the time embedding and the
  output head (norm, activation, ``conv_out``) run, so the output equals the previous call's.

These are the depths of the DaTo code's ``cache_block_id`` on the original SD UNet (``input_blocks`` /
``output_blocks``: ``0`` skips every block, ``1`` all but ``input_blocks[0]`` and ``output_blocks[11]``,
``>= 2`` none); in diffusers ``input_blocks[0]`` is ``conv_in`` and ``output_blocks[-1]`` is the last
(resnet, attention) pair of ``up_blocks[-1]``.

Stored outputs are one per module for the whole batch (a classifier-free-guidance batch stays one batch).
A call reuses only what a *full* call of the same run stored for the same input shape; otherwise it
runs in full. The first step of a run always runs in full. Two calls at the same denoising step (guidance
done by two denoiser calls) cannot share a per-step cache: a reusing call that follows a call of the same
step is refused with that reason.

Shapes: the wrapped modules' outputs are kept as they are (down blocks: ``(hidden [B, C, h, w], res
samples)``, the others ``[B, C, h, w]`` or the attention's output object).
"""

from __future__ import annotations

from typing import Any, Callable

from zoo.families.diffusion.runtime import wrap_forward

FULL, SHALLOW, REUSE = 2, 1, 0


def depth_name(level: int) -> str:
    return "full" if level >= FULL else ("shallow" if level == SHALLOW else "reuse")


class UNetFeatureCache:
    """Per-application cache; ``level(step) -> int`` is the schedule (see the module doc).

    ``history``: ``(generation, step, depth)`` of every call of this application (``depth``: what ran,
    ``"full"``, ``"shallow"`` or ``"reuse"``).
    """

    def __init__(self, denoiser: Any, level: Callable[[int], int]) -> None:
        for attr in ("conv_in", "down_blocks", "mid_block", "up_blocks"):
            if getattr(denoiser, attr, None) is None:
                raise TypeError(f"{type(denoiser).__name__} has no {attr}: the feature cache acts on a UNet's "
                                "down/mid/up blocks")
        self.denoiser = denoiser
        self.level = level
        self.store: dict[tuple, Any] = {}
        self.history: list[tuple[int, int, str]] = []
        self.mode = FULL
        self._filled: tuple | None = None  # (generation, input shape) of the last full call
        self._last_call: tuple[int, int] | None = None

    # -- installation -------------------------------------------------------------------------------
    def install(self, patch: Any) -> None:
        den = self.denoiser
        for i, blk in enumerate(den.down_blocks):
            self._wrap(patch, blk, ("down", i), reuse_at=SHALLOW)
        if den.mid_block is not None:
            self._wrap(patch, den.mid_block, ("mid",), reuse_at=SHALLOW)
        last = len(den.up_blocks) - 1
        for j, blk in enumerate(den.up_blocks):
            self._wrap(patch, blk, ("up", j), reuse_at=SHALLOW if j < last else REUSE)
        inner = den.up_blocks[last]
        for k, res in enumerate(list(inner.resnets)[:-1]):
            self._wrap(patch, res, ("last-resnet", k), reuse_at=SHALLOW)
        attns = list(getattr(inner, "attentions", None) or [])
        for k, attn in enumerate(attns[:-1]):
            self._wrap(patch, attn, ("last-attn", k), reuse_at=SHALLOW)

    def _wrap(self, patch: Any, module: Any, key: tuple, reuse_at: int) -> None:
        """``module`` returns its stored output when this call's depth is at most ``reuse_at``."""

        def make(orig: Callable) -> Callable:
            def forward(*args: Any, **kwargs: Any) -> Any:
                if self.mode <= reuse_at:
                    return self.store[key]
                out = orig(*args, **kwargs)
                self.store[key] = out  # the latest computed output (a shallow call refreshes the last up block)
                return out

            return forward

        wrap_forward(patch, module, make)

    # -- per call -----------------------------------------------------------------------------------
    def begin(self, generation: int, step: int, sample: Any) -> None:
        """Decide the depth of this denoiser call (called by the runtime's pre-hook)."""
        shape = tuple(sample.shape) if hasattr(sample, "shape") else None
        key = (generation, shape)
        want = FULL if step <= 1 else int(self.level(step))
        if want < FULL and self._filled != key:
            want = FULL  # nothing stored for this run and input shape: compute
        if want < FULL and self._last_call == (generation, step):
            raise RuntimeError(f"feature cache: the denoiser was called twice at denoising step {step}; a per-step "
                               "cache needs one call per step (classifier-free guidance in one batch, as diffusers "
                               "pipelines do)")
        self.mode = FULL if want >= FULL else want
        if self.mode >= FULL:
            self._filled = key
        self._last_call = (generation, step)
        self.history.append((generation, step, depth_name(self.mode)))
