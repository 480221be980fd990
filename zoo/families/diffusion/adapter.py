"""Family adapters for diffusers denoisers, applied to the model or to a whole pipeline.

``zoo.apply(pipe, "tomesd", ratio=0.5)`` and ``zoo.apply(pipe.unet, ...)`` both work: the
adapter finds the denoiser (:func:`zoo.families.diffusion.models.find_denoiser`) and installs
:class:`zoo.families.diffusion.runtime.DenoiserRuntime` on it. Supported (``diffusion`` extra,
tested with diffusers 0.42.1):

- ``diffusers-unet``: ``UNet2DConditionModel`` (SD 1.x/2.x, SDXL layouts; any latent size a
  method can tile);
- ``diffusers-dit``: ``Transformer2DModel`` with patches, ``DiTTransformer2DModel``,
  ``PixArtTransformer2DModel`` (``BasicTransformerBlock`` stacks; the patch grid is the token grid);
- ``diffusers-mmdit``: ``SD3Transformer2DModel`` (``JointTransformerBlock``: only the image
  tokens are reduced; the text tokens of the joint attention are untouched).

``FluxTransformer2DModel`` is recognised and refused with the reason
(:data:`zoo.families.diffusion.models.UNSUPPORTED`).

Applications never stack across objects either: applying to ``pipe.unet`` while a plain
application to ``pipe`` is active replaces it (and is refused inside its ``with`` block), like
re-applying to the same object.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from zoo.families.base import FamilyAdapter
from zoo.families.diffusion import models
from zoo.families.diffusion.runtime import SIGNALS, STAGE, BlockAction, DenoiserReducer, DenoiserRuntime

_OWNER_ATTR = "_tokzoo_denoiser_owner"


class DiffusersAdapter(FamilyAdapter):
    """Common base: one runtime per application; the kinds it serves are in ``kinds``."""

    kinds: ClassVar[tuple[str, ...]] = ()
    stages = (STAGE,)
    pruning_stage = STAGE
    #: every reduction is undone after its sub-layer (the UNet's convolutions need the full grid): budgets
    #: apply per block, they do not compound over blocks (see ``zoo.papers.random_control``)
    reductions_restored: ClassVar[bool] = True
    signals: ClassVar[dict[str, str]] = SIGNALS

    @classmethod
    def matches(cls, model: Any) -> bool:
        den = models.find_denoiser(model)
        return den is not None and models.denoiser_kind(den) in cls.kinds

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.denoiser = models.find_denoiser(model)
        self.kind = models.denoiser_kind(self.denoiser)
        if self.kind in models.UNSUPPORTED:
            raise TypeError(f"{self.name}: {models.UNSUPPORTED[self.kind]}")
        self.blocks = models.transformer_blocks(self.denoiser)
        if not self.blocks:
            raise TypeError(f"{self.name}: {type(self.denoiser).__name__} has no transformer blocks to reduce tokens in")
        self.patch_size = models.patch_size(self.denoiser)
        self._runtime: DenoiserRuntime | None = None

    # -- what methods ask ---------------------------------------------------------------------------
    def depth(self, stage: str = STAGE) -> int:
        if stage != STAGE:
            raise KeyError(f"{self.name} has one stage {STAGE!r}, not {stage!r}")
        return len(self.blocks)

    def require_signals(self, method_id: str, needs: frozenset[str]) -> None:
        """Raise ``TypeError`` naming the signals ``needs`` asks for that this adapter does not provide."""
        missing = sorted(set(needs) - set(self.signals))
        if missing:
            raise TypeError(f"{method_id} needs the signal(s) {', '.join(missing)}, which {self.name} does not "
                            f"provide; provided: {', '.join(self.signals)}")

    @property
    def runtime(self) -> DenoiserRuntime | None:
        """The runtime of this application (``None`` before the first install): ``runtime.table`` etc."""
        return self._runtime

    # -- primitives ---------------------------------------------------------------------------------
    def install_reducer(self, patch: Any, run: Any, reducer: DenoiserReducer) -> None:
        """Run ``reducer`` in every transformer block call (see :mod:`zoo.families.diffusion.runtime`)."""
        self._ensure_runtime(patch, run).add(reducer)

    def install_feature_cache(self, patch: Any, run: Any, level: Callable[[int], int]) -> Any:
        """Reuse UNet block outputs across denoising steps at the depth ``level(step)`` says
        (:class:`zoo.families.diffusion.cache.UNetFeatureCache`); UNets only. Returns the cache."""
        from zoo.families.diffusion.cache import UNetFeatureCache

        if self.kind != "unet":
            raise TypeError(f"{self.name}: the feature cache reuses a UNet's down/mid/up block outputs; "
                            f"{type(self.denoiser).__name__} has none")
        runtime = self._ensure_runtime(patch, run)
        cache = UNetFeatureCache(self.denoiser, level)
        runtime.set_cache(cache)
        return cache

    def _ensure_runtime(self, patch: Any, run: Any) -> DenoiserRuntime:
        if self._runtime is None:
            if run.record_sources:
                raise ValueError(f"{self.name}: record_sources is not available (every reduction is undone after "
                                 "its sub-layer, so no token stands for others beyond one block); use "
                                 "record_indices=True for the kept positions of each reduction")
            self._take_over(patch)
            self._runtime = DenoiserRuntime(self, run)
            self._runtime.install(patch)
        return self._runtime

    def install_token_pruning(self, patch: Any, run: Any, *, layer: int, keep_ratio: float | None = None,
                              keep_tokens: int | None = None, scorer: Callable[[Any], Any]) -> None:
        """Prune image tokens in the self-attention of transformer block ``layer`` (execution order).

        The self-attention runs on the kept tokens only (queries, keys and values); a pruned token
        skips it: its attention output is zero, so it leaves the sub-layer through the residual
        connection unchanged. Budget: ``keep_count(N, keep_ratio, keep_tokens)`` of the block's ``N``
        tokens, the highest ``scorer(block input [B, N, C])`` scores. Every denoising step does the same.
        """
        if not 0 <= layer < len(self.blocks):
            raise ValueError(f"layer={layer}: the denoiser has {len(self.blocks)} transformer blocks "
                             f"(0..{len(self.blocks) - 1})")
        self.install_reducer(patch, run, _ScoredPruning(layer, keep_ratio, keep_tokens, scorer))

    def _take_over(self, patch: Any) -> None:
        """Refuse or replace an application made through another object holding the same denoiser."""
        owner = self.denoiser.__dict__.get(_OWNER_ATTR)
        if owner is not None and owner is not self.model:
            handle = owner.__dict__.get("_tokzoo_handle")
            if handle is not None and handle.active:
                if handle._in_with:
                    raise RuntimeError(
                        f"the denoiser already has tokzoo methods applied through a {type(owner).__name__} in an "
                        f"enclosing `with zoo.apply(...)` block ({handle.describe()}); leave that block first")
                handle.remove()
        patch.set_attr(self.denoiser, _OWNER_ATTR, self.model)


class _ScoredPruning(DenoiserReducer):
    """The generic primitive: keep the top-scored tokens in the self-attention of one block."""

    needs = frozenset({"block_input"})
    placements = frozenset({"self_attn"})

    def __init__(self, layer: int, keep_ratio: float | None, keep_tokens: int | None, scorer: Callable) -> None:
        self.layer, self.keep_ratio, self.keep_tokens, self.scorer = layer, keep_ratio, keep_tokens, scorer

    def act(self, ctx, x):
        from zoo.core.grid import prune_and_zero
        from zoo.core.select import keep_count, split_topk

        if ctx.index != self.layer:
            return None
        n = ctx.n_tokens
        k = keep_count(n, self.keep_ratio, self.keep_tokens)
        if k >= n:
            return None
        kept, _ = split_topk(self.scorer(x), k)
        return BlockAction(kind="prune", tokens=prune_and_zero(kept, n))


class DiffusersUNetAdapter(DiffusersAdapter):
    name = "diffusers-unet"
    kinds = ("unet",)
    #: the diffusers classes served (shown in the support matrix, :mod:`zoo.support`)
    model_classes: ClassVar[tuple[str, ...]] = ("UNet2DConditionModel",)
    serves = "diffusers UNet2DConditionModel (SD 1.x/2.x, SDXL layouts), as a model or a pipeline's unet"


class DiffusersDiTAdapter(DiffusersAdapter):
    name = "diffusers-dit"
    kinds = ("dit", "flux")
    model_classes: ClassVar[tuple[str, ...]] = ("Transformer2DModel", "DiTTransformer2DModel",
                                                "PixArtTransformer2DModel")
    serves = ("diffusers Transformer2DModel with patches, DiTTransformer2DModel, PixArtTransformer2DModel "
              "(FluxTransformer2DModel is recognised and refused)")


class DiffusersMMDiTAdapter(DiffusersAdapter):
    name = "diffusers-mmdit"
    kinds = ("mmdit",)
    model_classes: ClassVar[tuple[str, ...]] = ("SD3Transformer2DModel",)
    serves = "diffusers SD3Transformer2DModel (image tokens of the joint blocks)"


#: the three adapter names (``zoo.families.ADAPTERS`` keys)
FAMILIES: tuple[str, ...] = ("diffusers-unet", "diffusers-dit", "diffusers-mmdit")
