"""The encoder protocol: what an encoder stack offers a token-reduction method.

An encoder adapter (timm ViT, HF ViT/DeiT, CLIP/SigLIP vision, BERT-family text, AST, Whisper
encoder) describes one stack of blocks and how each block splits around its attention; the
shared :class:`zoo.families.encoders.runtime.EncoderRuntime` does the rest (reducers, attention
signals, token sizes/sources, padding, run records), so every encoder method is written once
as a :class:`zoo.core.reduce.BlockReducer`.

What a method may ask an encoder adapter:

- ``depth(stage)``, ``stage`` (run-record key: ``"vit"``, ``"text"``, ``"audio"``),
  ``num_prefix_tokens`` (CLS, distillation, register tokens: never reduced, always first),
  ``has_class_token`` (a first token whose attention row summarises the input: EViT, PPT, ATS),
  ``grid_for(n)`` (the 2-D patch grid of ``n`` reducible tokens, or ``None``: GTP's spatial graph);
- the attention signals of :data:`zoo.core.reduce.NEEDS` at any block (``keys``, ``cls_attn``,
  ``attn``, ``values``), through ``BlockReducer.needs``;
- ``install_reducer(patch, run, reducer)`` and the generic ``install_token_pruning``.

What an adapter implements (the block anatomy): ``find_blocks``, ``block_inputs`` (hidden states,
attention mask, causal flag from a block call), ``native`` (the block's own forward),
``attention_part`` (norm, q/k/v, the ``attend`` callback, output projection, residual, and a
post-norm where the block has one), ``mlp_part``, ``native_fused``, and for padded models
``padding_mask``. Class attributes ``SIGNALS`` state what the family offers for the support matrix
(:mod:`zoo.families.encoders.support`): ``True``, ``False`` or ``None`` (depends on the model).

After a forward, ``output_mask()`` and ``output_sizes()`` describe the tokens the stack returned
(padding slots, how many input tokens each output token stands for): mean pooling over a reduced
output weights tokens by size (:func:`zoo.families.encoders.pooling.mean_pool`).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from zoo.core.reduce import BlockReducer, BlockView
from zoo.families.base import FamilyAdapter

#: what an encoder family may offer (keys of ``EncoderAdapter.SIGNALS``) -> meaning
SIGNALS: dict[str, str] = {
    "class_token": "a first token ([CLS]) whose attention row scores the other tokens",
    "grid": "the reducible tokens form a 2-D grid (image patches, spectrogram patches)",
    "padding": "batches carry a padding mask (variable-length text)",
}


class EncoderAdapter(FamilyAdapter):
    """Base of the encoder adapters (see the module docstring)."""

    #: run-record key of the stack
    stage: ClassVar[str] = "encoder"
    #: "general" (an SDPA mask follows the tokens, timm) or "padding" (a key-padding mask, HF models)
    mask_kind: ClassVar[str] = "padding"
    SIGNALS: ClassVar[dict[str, bool | None]] = {"class_token": None, "grid": None, "padding": False}
    #: what the adapter serves, for error messages and the support matrix
    serves: ClassVar[str] = ""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.blocks = list(self.find_blocks(model))
        if not self.blocks:
            raise TypeError(f"{self.name} adapter: {type(model).__name__} has no encoder blocks")
        for i, blk in enumerate(self.blocks):
            self.check_block(i, blk)
        self._runtime: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.stages = (cls.stage,)
        cls.pruning_stage = cls.stage

    # -- what methods ask -----------------------------------------------------------------
    def depth(self, stage: str | None = None) -> int:
        if stage is not None and stage != self.stage:
            raise KeyError(f"{self.name} has one stage {self.stage!r}, not {stage!r}")
        return len(self.blocks)

    @property
    def num_prefix_tokens(self) -> int:
        """CLS + distillation + register tokens at the front (never reduced)."""
        return 0

    @property
    def has_class_token(self) -> bool:
        return False

    def grid_for(self, n_tokens: int) -> tuple[int, int] | None:
        """The 2-D grid ``(h, w)`` of ``n_tokens`` reducible tokens, or ``None``."""
        return None

    def output_mask(self) -> Any:
        """``[B, N_out]`` bool of the last forward's output tokens (``None``: all real tokens)."""
        return None if self._runtime is None else self._runtime.output_valid

    def output_sizes(self) -> Any:
        """``[B, N_out, 1]``: how many input tokens each output token stands for (``None``: all ones);
        padding slots have size 0."""
        return None if self._runtime is None else self._runtime.output_size

    # -- primitives -----------------------------------------------------------------------
    def install_reducer(self, patch: Any, run: Any, reducer: BlockReducer) -> None:
        """Run ``reducer`` inside the blocks (see :mod:`zoo.core.reduce`). Several reducers may be
        installed by one application; at a block they act in installation order."""
        if self._runtime is None:
            from zoo.families.encoders.runtime import EncoderRuntime

            self._runtime = EncoderRuntime(self, run)
            self._runtime.install(patch)
        self._runtime.reducers.append(reducer)

    def install_token_pruning(self, patch: Any, run: Any, *, layer: int, keep_ratio: float | None = None,
                              keep_tokens: int | None = None, scorer: Callable[[Any], Any]) -> None:
        """Prune the reducible tokens between the attention and the MLP of block ``layer`` (see the base class)."""
        if not 0 <= layer < len(self.blocks):
            raise ValueError(f"layer={layer}: the model has {len(self.blocks)} blocks (0..{len(self.blocks) - 1})")
        self.install_reducer(patch, run, ScoredPruning(layer, keep_ratio, keep_tokens, scorer))

    def install_hooks(self, patch: Any) -> None:
        """Extra hooks the runtime needs (e.g. timm's dynamic patch grid); default none."""

    # -- block anatomy (subclasses) -------------------------------------------------------
    def find_blocks(self, model: Any) -> list[Any]:
        raise NotImplementedError

    def check_block(self, index: int, block: Any) -> None:
        """Raise ``TypeError`` naming what is supported when ``block`` is of an unsupported kind."""

    def block_inputs(self, block: Any, args: tuple, kwargs: dict) -> tuple[Any, Any, bool]:
        """``(hidden_states [B, N, C], attention mask or None, is_causal)`` from a block call."""
        x = args[0] if args else kwargs["hidden_states"]
        mask = args[1] if len(args) > 1 else kwargs.get("attention_mask")
        return x, mask, False

    def native(self, block: Any, args: tuple, kwargs: dict) -> Any:
        """The block's own forward (the class method; the instance attribute is the patch)."""
        return type(block).forward(block, *args, **kwargs)

    def block_output(self, block: Any, x: Any) -> Any:
        """The block's return value for hidden states ``x`` (HF 5.x and timm blocks return the tensor)."""
        return x

    def attention_part(self, block: Any, x: Any, attend: Callable) -> Any:
        """``x`` ``[B, N, C]`` -> the residual stream after the attention half of the block.
        ``attend(q, k, v, scale, dropout_p=0.0)`` takes ``[B, H, N, d]`` and returns ``[B, N, H * d]``."""
        raise NotImplementedError

    def mlp_part(self, block: Any, x: Any) -> Any:
        """The rest of the block (MLP half) on ``x`` ``[B, N', C]``."""
        raise NotImplementedError

    def native_fused(self, block: Any) -> bool:
        """Whether the block's own attention uses fused SDPA."""
        return True

    def padding_mask(self, mask: Any, batch: int, n: int) -> Any:
        """``valid`` ``[B, N]`` (bool) from the block's attention mask, ``None`` when nothing is padded."""
        return key_padding(mask, batch, n, self.name)


def key_padding(mask: Any, batch: int, n: int, who: str) -> Any:
    """A key-padding mask ``valid`` ``[B, N]`` from an HF attention mask as the layers receive it:
    ``None``; 2-D ``[B, N]`` (1 = token); or 4-D ``[B, 1, N|1, N]`` (bool: True = attend; float:
    0 = attend, large negative = masked). Returns ``None`` when every token is valid. A mask that is
    not a pure key-padding mask (rows differ) is refused."""
    import torch

    if mask is None:
        return None
    if mask.dim() == 2:
        keep = mask.bool()
    elif mask.dim() == 4:
        allowed = mask if mask.dtype == torch.bool else mask == 0
        keep = allowed[:, 0, 0, :]
        if not bool((allowed == keep[:, None, None, :]).all()):
            raise ValueError(f"{who}: only key-padding attention masks are supported (every query row must "
                             "see the same tokens); got a mask whose rows differ")
    else:
        raise ValueError(f"{who}: attention mask of shape {tuple(mask.shape)}; expected [B, N] or [B, 1, N, N]")
    keep = keep.expand(batch, n) if keep.shape[0] == 1 else keep
    if tuple(keep.shape) != (batch, n):
        raise ValueError(f"{who}: attention mask covers {tuple(keep.shape)} tokens; the hidden states are {batch}x{n}")
    return None if bool(keep.all()) else keep


class ScoredPruning(BlockReducer):
    """The generic ``install_token_pruning``: keep the highest ``scorer`` scores at one block."""

    kind = "prune"

    def __init__(self, layer: int, keep_ratio: float | None, keep_tokens: int | None, scorer: Callable) -> None:
        self.layer, self.keep_ratio, self.keep_tokens, self.scorer = layer, keep_ratio, keep_tokens, scorer

    def acts_at(self, index: int) -> bool:
        return index == self.layer

    def reduce(self, view: BlockView):
        from zoo.core.select import keep_count, topk_keep_indices
        from zoo.core.tokens import keep

        state = view.state
        n_red = state.n_reducible
        k = keep_count(n_red, self.keep_ratio, self.keep_tokens)
        if k >= n_red:
            return None
        scores = self.scorer(state.x[:, state.n_prefix:])
        if tuple(scores.shape) != (state.x.shape[0], n_red):
            raise ValueError(f"scorer returned shape {tuple(scores.shape)}; expected {(state.x.shape[0], n_red)}")
        return keep(state, topk_keep_indices(scores, k))
