"""Family adapter for Hugging Face LLaVA (``LlavaForConditionalGeneration``, LLaVA-1.5 layout).

Layout: a ViT vision tower with a [CLS] token (CLIP), a multimodal projector, and a
Llama-style decoder (Llama, Vicuna, Mistral, Qwen2). Stages:

``"vision"``
    the vision tower's encoder layers. Vision reducers act on the selected features right
    before the projector (``placement="vision-encoder"``).
``"llm"``
    the decoder layers. Prefill events act inside the language model
    (``placement="llm-prefill"``).

Layer convention for the language model: an event at ``layer=e`` reduces the tokens *before*
decoder layer ``e`` runs, i.e. after ``e`` layers have seen all tokens (FastV's ``K``,
PyramidDrop's stage boundaries). The image-token span is always found from the inputs
(``input_ids == config.image_token_id``, or the placeholder embedding when only
``inputs_embeds`` are given); batches may be padded (left padding for generation).

Records (``zoo.interface.Run``): ``tokens["llm"]`` counts the tokens leaving every decoder
layer of the last prefill; ``events["llm"]`` has one entry per reduction (``block`` = the
layer the tokens leave); with ``record_indices``, ``kept_indices["llm"]`` holds per event a
``[B, K]`` tensor of indices into the sequence entering that event (-1 for padding slots of
rows keeping fewer tokens and for inserted tokens). ``tokens["vision"]``/``kept_indices
["vision"]`` describe a vision reducer's output per image (patch indices, -1 for merged
tokens).

transformers: this adapter relies on the 5.x decoder layout (decoder layers return a tensor,
the ``cache`` keyword, ``mm_encoder_outputs`` pre-encoding in ``generate``). Tested with
:data:`TESTED_TRANSFORMERS`; versions below 5.0 are refused, other 5.x versions warn.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, ClassVar

from zoo.families.base import FamilyAdapter

#: transformers versions the LLaVA adapter was tested with (the test suite checks the installed one)
TESTED_TRANSFORMERS: tuple[str, ...] = ("5.24.0",)
#: the range the adapter declares support for
SUPPORTED_TRANSFORMERS = ">=5.24,<6"


def _version_tuple(version: str) -> tuple[int, int]:
    parts = version.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"cannot parse transformers version {version!r}") from exc


def check_transformers_version(version: str) -> None:
    """Refuse transformers < 5 (incompatible decoder layout); warn outside the tested 5.x range."""
    major, minor = _version_tuple(version)
    if major < 5:
        raise RuntimeError(f"tokzoo's LLaVA adapter needs transformers {SUPPORTED_TRANSFORMERS} "
                           f"(found {version}): 4.x decoder layers return tuples and take past_key_value(s)")
    if (major, minor) < (5, 24) or major >= 6:
        warnings.warn(f"tokzoo's LLaVA adapter is tested with transformers {', '.join(TESTED_TRANSFORMERS)} "
                      f"(declared {SUPPORTED_TRANSFORMERS}); found {version}", stacklevel=3)


class LlavaAdapter(FamilyAdapter):
    """Hugging Face ``LlavaForConditionalGeneration`` (LLaVA-1.5 layout)."""

    name: ClassVar[str] = "llava"
    stages: ClassVar[tuple[str, ...]] = ("vision", "llm")
    pruning_stage: ClassVar[str] = "llm"

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        import transformers

        check_transformers_version(transformers.__version__)
        self.config = model.config
        self.llava = model.model
        self.lm = self.llava.language_model
        self.layers = self.lm.layers
        self.projector = self.llava.multi_modal_projector
        self.vision_tower = self.llava.vision_tower
        vm = getattr(self.vision_tower, "vision_model", self.vision_tower)
        self.vision_layers = vm.encoder.layers
        self._runtime = None

    @classmethod
    def matches(cls, model: Any) -> bool:
        cfg = getattr(model, "config", None)
        inner = getattr(model, "model", None)
        return (getattr(cfg, "model_type", None) == "llava" and inner is not None
                and all(hasattr(inner, a) for a in ("vision_tower", "multi_modal_projector", "language_model")))

    # ----------------------------------------------------------------- structure
    def depth(self, stage: str) -> int:
        if stage == "llm":
            return len(self.layers)
        if stage == "vision":
            return len(self.vision_layers)
        raise ValueError(f"llava has stages {self.stages}, not {stage!r}")

    @property
    def attn_implementation(self) -> str:
        return str(self.lm.config._attn_implementation)

    @property
    def image_token_id(self) -> int:
        return int(self.config.image_token_id)

    @property
    def pad_token_id(self) -> int:
        for cfg in (self.config, self.config.text_config):
            pad = getattr(cfg, "pad_token_id", None)
            if pad is not None and pad != self.image_token_id:
                return int(pad)
        return 0 if self.image_token_id != 0 else 1

    @property
    def vision_feature_layer_index(self) -> int:
        """Encoder layer whose output LLaVA feeds to the projector (``config.vision_feature_layer``)."""
        vfl = self.config.vision_feature_layer
        if not isinstance(vfl, int):
            raise ValueError(f"vision reducers need a single vision_feature_layer, the config has {vfl!r}")
        n = len(self.vision_layers)
        idx = (vfl % (n + 1)) - 1
        if idx < 0:
            raise ValueError("vision_feature_layer selects the embeddings; no encoder layer to probe")
        return idx

    def resolve_vision_layer(self, layer: int) -> int:
        """Encoder layer index; negative values count from the end (-1 = last encoder layer)."""
        n = len(self.vision_layers)
        if not -n <= layer < n:
            raise ValueError(f"vision layer {layer} outside -{n}..{n - 1} (the vision tower has {n} layers)")
        return layer % n

    def check_vision_reduction_supported(self) -> None:
        strategy = self.config.vision_feature_select_strategy
        if strategy != "default":
            raise ValueError(f"vision reducers need vision_feature_select_strategy='default' (patch tokens, "
                             f"[CLS] dropped); this model uses {strategy!r}")
        self.vision_feature_layer_index  # noqa: B018  (validates the feature layer)

    def image_mask(self, input_ids, inputs_embeds):
        """``[B, N]`` bool: image placeholder tokens of the prompt."""
        import torch

        if input_ids is not None:
            return input_ids == self.image_token_id
        emb = self.llava.get_input_embeddings()(
            torch.tensor(self.image_token_id, device=inputs_embeds.device)).to(inputs_embeds.dtype)
        return (inputs_embeds == emb).all(-1)

    def rotary(self, hidden, positions):
        """``(cos, sin)`` of the language model's rotary embedding at ``positions [B, N]``."""
        return self.lm.rotary_emb(hidden, position_ids=positions)

    # ----------------------------------------------------------------- primitives for methods
    def runtime(self, patch: Any, run: Any):
        from zoo.families.llava_runtime import LlavaRuntime

        if self._runtime is None:
            self._runtime = LlavaRuntime(self, patch, run)
        elif self._runtime.patch is not patch:
            raise RuntimeError("one LlavaAdapter serves one zoo.apply call")
        return self._runtime

    def install_llm_reduction(self, patch: Any, run: Any, events: list, *, positions: str = "keep",
                              mode: str = "drop") -> None:
        """Install prefill events (:class:`zoo.families.llava_runtime.LlmEvent`) in the language model."""
        from zoo.families.llava_probes import check_decoder_attention

        for e in events:
            if e.score_layer is not None:
                check_decoder_attention(self.layers[e.score_layer].self_attn)
                if e.score_layer == e.layer and not hasattr(self.layers[e.layer], "input_layernorm"):
                    raise TypeError(f"{type(self.layers[e.layer]).__name__} has no input_layernorm")
        self.runtime(patch, run).add_llm_events(list(events), positions=positions, mode=mode)

    def install_vision_reduction(self, patch: Any, run: Any, reducer: Callable, *,
                                 probe_layers: tuple[int, ...] = ()) -> None:
        """Install a vision reducer (see :class:`zoo.families.llava_runtime.VisionContext`)."""
        self.runtime(patch, run).set_vision_reducer(reducer, tuple(probe_layers))

    def install_token_pruning(self, patch: Any, run: Any, *, layer: int, keep_ratio: float | None = None,
                              keep_tokens: int | None = None, scorer: Callable) -> None:
        """Generic primitive (``zoo.families.base``): prune image tokens leaving decoder layer ``layer``.

        The tokens entering decoder layer ``layer + 1`` are reduced: ``scorer(image_hidden
        [1, n, C]) -> [1, n]`` scores the image tokens output by layer ``layer``, one row at a
        time (rows may hold different numbers of image tokens, and a row's result never
        depends on the rest of the batch); the
        ``zoo.core.select.keep_count(n, keep_ratio, keep_tokens)`` highest survive, text tokens
        are never removed and positions keep their original values (as FastV). FastV's ``K``
        corresponds to ``layer = K - 1``: ``random`` with ``layers=K-1`` prunes at FastV's place.
        """
        from zoo.core.select import keep_count
        from zoo.families.llava_runtime import LlmEvent, PruneSelection

        depth = len(self.layers)
        if not 0 <= layer < depth - 1:
            raise ValueError(f"llava prunes image tokens leaving decoder layer 0..{depth - 2} "
                             f"(pruning after the last of {depth} layers saves nothing); got layer={layer}")

        def select(ctx):
            import torch

            scores = torch.zeros(ctx.image.shape, dtype=torch.float32, device=ctx.hidden.device)
            ks = []
            for b in range(ctx.hidden.shape[0]):  # row by row: a row's result never depends on the batch
                img = ctx.image[b]
                scores[b, img] = scorer(ctx.hidden[b, img][None]).reshape(-1).float()
                ks.append(keep_count(int(img.sum()), keep_ratio, keep_tokens))
            return PruneSelection(keep=ctx.keep_top_images(scores, ks))

        self.install_llm_reduction(patch, run, [LlmEvent(layer=layer + 1, select=select)], positions="keep")


class LlavaNextAdapter(LlavaAdapter):
    """Hugging Face ``LlavaNextForConditionalGeneration`` (LLaVA-NeXT / 1.6, anyres tiles).

    Prefill methods inside the language model (``llm-prefill``: FastV, PyramidDrop, SparseVLM,
    the ``random`` control) work as on LLaVA-1.5: the image tokens (base image, tiles and
    newline tokens, up to 2880 per image) are found from ``input_ids``. Vision-encoder methods
    are not supported yet: they would have to act per tile and respect the newline tokens
    that ``pack_image_features`` inserts.
    """

    name: ClassVar[str] = "llava-next"

    @classmethod
    def matches(cls, model: Any) -> bool:
        cfg = getattr(model, "config", None)
        inner = getattr(model, "model", None)
        return (getattr(cfg, "model_type", None) == "llava_next" and inner is not None
                and all(hasattr(inner, a) for a in ("vision_tower", "multi_modal_projector", "language_model")))

    def check_vision_reduction_supported(self) -> None:
        raise ValueError("vision-encoder methods support LLaVA-1.5 (family 'llava') only; on LLaVA-NeXT use an "
                         "llm-prefill method (fastv, pyramiddrop, sparsevlm, random)")
