"""The ``random`` control: prune reducible tokens uniformly at random at the same budget.

Not a paper (``arxiv = ""``, no catalog entry). It is the baseline every scoring rule has to
beat: at each layer in ``layers`` it keeps a random subset of the reducible tokens (image
patch tokens of a ViT, image tokens inside an LLM), drawn from a generator seeded with
``seed + layer`` at every forward, so a given input always gives the same output.

It runs on every family adapter implementing the generic primitive
``install_token_pruning`` (see ``zoo.families.base``): ``families`` is derived from the
adapter table, so a new adapter implementing the primitive supports ``random`` at once.

On decoder models the reducible tokens are the visual tokens (VLMs; images and video frames
together) or the prompt tokens but the last one (text-only LLMs), pruned as they leave
decoder layer ``l``; survivors keep their original positions (1-D ids, or 3-D M-RoPE
positions on Qwen2-VL/2.5-VL).

Budget: ``keep_ratio`` is the fraction of reducible tokens surviving after the last layer;
with several layers each keeps ``keep_ratio ** (1 / len(layers))`` of what reaches it.
``keep_tokens`` (absolute count) needs a single layer. On adapters whose reductions are undone
after each block (``reductions_restored``: the diffusion denoisers, where pruned tokens skip the
self-attention and the full grid goes on), every listed block keeps ``keep_ratio`` of its tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.interface import Method, _fail, check_budget, check_int, check_layer
from zoo.papers._vit import as_layers


class _AdaptersImplementing:
    """Class attribute computed on access: the adapters implementing a primitive."""

    def __init__(self, primitive: str) -> None:
        self.primitive = primitive

    def __get__(self, obj: Any, owner: type) -> tuple[str, ...]:
        from zoo.families.base import adapters_implementing

        return adapters_implementing(self.primitive)


class _SeededScorer:
    """Uniform random scores ``[B, N]`` from a generator reseeded with ``seed`` at every call."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, tokens):
        import torch

        gen = torch.Generator(device=tokens.device).manual_seed(self.seed)
        return torch.rand(tokens.shape[0], tokens.shape[1], generator=gen, device=tokens.device)


@dataclass
class RandomPruning(Method):
    """Random control: keep a seeded random subset of the reducible tokens at the same budget."""

    layers: tuple[int, ...] | int = 2
    keep_ratio: float | None = None
    keep_tokens: int | None = None
    seed: int = 0

    id: ClassVar[str] = "random"
    arxiv: ClassVar[str] = ""
    families = _AdaptersImplementing("install_token_pruning")
    placement: ClassVar[str] = "backbone"
    paper_notation: ClassVar[dict[str, str]] = {
        "layers": "layers: block/decoder-layer index (or indices) where the random pruning acts",
        "keep_ratio": "keep_ratio: fraction of reducible tokens surviving after the last layer (default 0.5)",
        "keep_tokens": "keep_tokens: reducible tokens kept (single layer only)",
        "seed": "seed: generator seed; layer l uses seed + l, reseeded at every forward",
    }

    def validate(self) -> None:
        self.layers = as_layers(self, "layers", self.layers)
        check_budget(self, self.keep_ratio, self.keep_tokens)
        if self.keep_ratio is None and self.keep_tokens is None:
            self.keep_ratio = 0.5
        if self.keep_tokens is not None and len(self.layers) > 1:
            _fail("keep_tokens", self.keep_tokens, "a single layer (use keep_ratio for several layers)", self.id)
        check_int(self, "seed", self.seed, low=0)

    def check_model(self, adapter: Any) -> None:
        stage = getattr(adapter, "pruning_stage", "")
        if stage:
            for layer in self.layers:
                check_layer(self, "layers", layer, adapter.depth(stage))

    def install(self, adapter, patch, run) -> None:
        ratio = None if self.keep_ratio is None else self.keep_ratio ** (1.0 / len(self.layers))
        if getattr(adapter, "reductions_restored", False):  # diffusion: every block sees all tokens again
            ratio = self.keep_ratio
        for layer in self.layers:
            adapter.install_token_pruning(patch, run, layer=layer, keep_ratio=ratio, keep_tokens=self.keep_tokens,
                                          scorer=_SeededScorer(self.seed + layer))
