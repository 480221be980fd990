"""EViT: Not All Patches are What You Need: Expediting Vision Transformers via Token
Reorganizations (Liang et al., ICLR 2022, arXiv 2202.07800).

At a few blocks (the paper: the 4th, 7th and 10th of DeiT, 0-based 3, 6, 9), between the
attention and the MLP, the patch tokens are ranked by the attention the CLS token pays them
(averaged over heads). The attentive ones are kept (``ceil(keep_rate * n)``); the
inattentive ones are fused into one extra token, their sum weighted by that CLS attention
(as the official code does, unnormalised), which takes part in later blocks like any token.

Written for tokzoo from the paper and the idea of the official code (youweiliang/evit).
EViT is usually fine-tuned with the reorganisation in place; off the shelf it is a
training-free baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.core.reduce import BlockReducer
from zoo.core.select import keep_count, split_topk
from zoo.core.tokens import keep, keep_and_fuse
from zoo.interface import Method, _fail, check_budget, check_layer, check_ratio
from zoo.papers._vit import VIT_FAMILIES, as_layers


@dataclass
class EViT(Method):
    """EViT: keep the tokens the CLS token attends to, fuse the inattentive rest into one token."""

    layers: tuple[int, ...] = (3, 6, 9)
    keep_rate: float | None = None
    keep_ratio: float | None = None
    keep_tokens: int | None = None
    fuse: bool = True

    id: ClassVar[str] = "evit"
    arxiv: ClassVar[str] = "2202.07800"
    families: ClassVar[tuple[str, ...]] = VIT_FAMILIES
    placement: ClassVar[str] = "backbone"
    paper_notation: ClassVar[dict[str, str]] = {
        "keep rate": "keep_rate: fraction of the patch tokens kept at each reorganisation block (paper: 0.7, 0.6, 0.5)",
        "keep_ratio": "keep_ratio: fraction surviving after the last block = keep_rate ** len(layers) (fused token extra)",
        "keep_tokens": "keep_tokens: attentive tokens kept at the last block; earlier blocks keep a geometric share",
        "layers": "layers: 0-based blocks with token reorganisation (paper: 4th, 7th, 10th = (3, 6, 9))",
        "fuse": "fuse: inattentive-token fusion (paper's EViT) or plain dropping (its ablation)",
    }

    def validate(self) -> None:
        self.layers = as_layers(self, "layers", self.layers)
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"keep_rate": self.keep_rate})
        if self.keep_rate is None and self.keep_ratio is None and self.keep_tokens is None:
            self.keep_rate = 0.7
        if self.keep_rate is not None:
            check_ratio(self, "keep_rate", self.keep_rate)
        if not isinstance(self.fuse, bool):
            _fail("fuse", self.fuse, "True or False", self.id)

    def check_model(self, adapter: Any) -> None:
        for layer in self.layers:
            check_layer(self, "layers", layer, adapter.depth(adapter.pruning_stage))
        if not adapter.has_class_token:
            raise ValueError("evit: the model has no class token; EViT ranks tokens by the CLS token's attention "
                             "(supported: models with class_token=True)")

    def required_signals(self) -> dict[str, str]:
        return {"class_token": "EViT ranks tokens by the attention the class token pays them"}

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _EViTReducer(self))


class _EViTReducer(BlockReducer):
    kind = "prune+fuse"

    def __init__(self, method: EViT) -> None:
        self.m = method
        self.rate = 1.0
        self.final_keep: int | None = None

    def begin(self, state, depth, grid, scratch) -> None:
        m, n_layers, n = self.m, len(self.m.layers), state.n_reducible
        self.final_keep = None
        if m.keep_rate is not None:
            self.rate = m.keep_rate
        elif m.keep_ratio is not None:
            self.rate = m.keep_ratio ** (1.0 / n_layers)
        else:
            self.final_keep = keep_count(n, keep_tokens=m.keep_tokens)
            self.rate = (self.final_keep / n) ** (1.0 / n_layers) if n else 1.0

    def acts_at(self, index: int) -> bool:
        return index in self.m.layers

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"cls_attn"})

    def reduce(self, view):
        state = view.state
        n = state.n_reducible
        last = view.index == self.m.layers[-1]
        k = keep_count(n, keep_tokens=self.final_keep) if (last and self.final_keep is not None) \
            else keep_count(n, keep_ratio=self.rate)
        if k >= n:
            return None
        scores = view.cls_attn[:, :, state.n_prefix:].mean(dim=1)  # [B, N_red]
        kept, dropped = split_topk(scores, k)
        if not self.m.fuse:
            return keep(state, kept)
        return keep_and_fuse(state, kept, dropped, scores.gather(1, dropped))
