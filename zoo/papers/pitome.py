"""PiToMe: Accelerating Transformers with Spectrum-Preserving Token Merging
(Tran et al., NeurIPS 2024, arXiv 2405.16148; workshop version ICLRW 2024 "Energy Minimizing-based
Token Merging").

Between the attention and the MLP of each acting block, with ``T`` reducible tokens and the
attention keys ``k`` (averaged over heads) as the metric:

1. cosine similarities ``S = k_hat k_hat^T`` ``[B, T, T]``;
2. an *energy* per token, ``E_i = mean_j f(S_ij)``: high for tokens with many similar
   neighbours (redundant), low for distinctive ones. Vision recipe: ``f(s) = ELU(s - m)``
   (Eq. 4 of the paper); text recipe (the official BERT code): a Gaussian kernel
   ``exp(-((1 - s) / sigma)^2 / 2) / (sigma sqrt(2 pi))`` with ``sigma = 1 - m``; margins ``m``
   fall with depth;
3. tokens sorted by energy (descending); with ``r = floor(T - T * ratio)`` merges:
   - *bipartite* step (vision recipe, first ``ceil(L / 2)`` blocks): all tokens split
     alternately by energy rank into A and B, ToMe's bipartite soft matching among them (the
     ``r`` best A->B edges merge);
   - *energy* step (otherwise): only the ``2r`` highest-energy tokens may merge; they are split
     into A and B (vision: alternately by rank; text: the top ``r`` and the next ``r``) and every
     A token merges into its most similar B token; the low-energy rest is protected, which is
     what keeps the spectrum of the token graph (the paper's argument);
4. merged tokens are size-weighted averages; sizes add.

Output order (as the official code): ``[prefix, protected (energy order) | unmerged A, B]``.

Budget: the paper's ``ratio`` is the fraction of tokens a block keeps (``r`` above; at least
0.5, since ``2r <= T``); ``keep_ratio``/``keep_tokens`` (the zoo's vocabulary: what survives
after the last acting block) are turned into a per-block ratio ``keep ** (1 / n_blocks)``, so the
final count matches up to the per-block floors. Where it acts: ``layers`` (default: every block
for the vision recipe; the last three for the text recipe, as the official BERT code does).

``recipe="auto"`` picks the text recipe on text encoders (``adapter.stage == "text"``) and the
vision recipe elsewhere (images, spectrograms, speech frames). Written for tokzoo from the paper
and the official code (github.com/hchautran/PiToMe, ``algo/pitome/merge.py``); differences:
padding never merges (the official BERT patch merges padding tokens too and keeps a merged token
when any member is real), sizes carry over between blocks in both recipes (the official text
code restarts them at each block), no proportional attention unless ``prop_attn`` (the official
default), and protected prefix tokens (CLS, distillation, registers) are all kept first. Under
bfloat16/float16 the similarities and energies are computed in float32 (the official code uses the
model's dtype, so near-ties can order differently there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from zoo.core.reduce import BlockReducer
from zoo.core.select import add_tokens_, gather_tokens, keep_count
from zoo.core.tokens import TokenState
from zoo.interface import Method, _fail, check_budget, check_choice, check_layer, check_number
from zoo.papers._vit import VIT_FAMILIES, as_layers

RECIPES = ("auto", "vision", "text")


def energy(metric: torch.Tensor, margin: float, recipe: str, alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """PiToMe's energy score per token and the cosine similarities.

    metric ``[B, T, d]`` -> ``(energy [B, T], sim [B, T, T])``. ``recipe``: ``vision`` (ELU of
    ``sim - margin``, averaged over all tokens, the token itself included) or ``text`` (the
    official code's Gaussian kernel, ``sigma = 1 - margin``).
    """
    m = metric / metric.norm(dim=-1, keepdim=True)
    sim = m @ m.transpose(-1, -2)
    if recipe == "vision":
        return _mean_elu(sim - margin, alpha), sim
    sigma = 1.0 - margin
    kernel = torch.exp(-(((1.0 - sim) / sigma) ** 2) * 0.5).mean(dim=-1)
    return kernel / (sigma * math.sqrt(2.0 * math.pi)), sim


def _mean_elu(z: torch.Tensor, alpha: float) -> torch.Tensor:
    """``elu(z, alpha).mean(-1)`` for z ``[B, T, T]`` (overwritten) as
    ``(sum max(z, 0) + alpha * sum (exp(min(z, 0)) - 1)) / T``: the same function, but ``exp``
    is vectorised on CPU where ``elu``'s ``expm1`` is not (float32/bfloat16: about 6 ms against
    under 2 ms for ``[16, 196, 196]``, one thread)."""
    t = z.shape[-1]
    positive = z.clamp_min(0).sum(dim=-1)
    negative = z.clamp_max_(0).exp_().sum(dim=-1)
    return (positive + alpha * (negative - t)) / t


def _rows_then_columns(sim: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``sim[b, rows[b, i], columns[b, j]]``: sim ``[B, T, T]``, rows ``[B, R]``, columns ``[B, D]`` -> ``[B, R, D]``."""
    picked = gather_tokens(sim, rows)  # whole rows (fast row copies), then the columns
    return picked.gather(2, columns.unsqueeze(1).expand(-1, rows.shape[1], -1))


@dataclass
class PiToMePlan:
    """One block's merge plan over the reducible tokens (indices into them).

    ``keep`` ``[B, K]``: tokens passed through unchanged (protected, or unmerged A), in output
    order; ``src`` ``[B, r]`` merge into ``dst_of_src`` ``[B, r]`` (indices into ``dst``);
    ``dst`` ``[B, D]``: the B tokens, in output order after ``keep``.
    """

    keep: torch.Tensor
    src: torch.Tensor
    dst: torch.Tensor
    dst_of_src: torch.Tensor


def plan_merges(metric: torch.Tensor, r: int, margin: float, recipe: str, bipartite: bool) -> PiToMePlan:
    """The official ``pitome_bsm`` / ``pitome`` / ``pitome_text`` selection, as index tensors."""
    e, sim = energy(metric, margin, recipe)
    order = torch.argsort(e, dim=-1, descending=True, stable=True)  # [B, T]
    if bipartite:
        a_idx, b_idx = order[:, ::2], order[:, 1::2]
        node_max, node_idx = _rows_then_columns(sim, a_idx, b_idx).max(dim=-1)
        edges = torch.argsort(node_max, dim=-1, descending=True, stable=True)
        unm, src = edges[:, r:], edges[:, :r]
        return PiToMePlan(keep=a_idx.gather(1, unm), src=a_idx.gather(1, src), dst=b_idx,
                          dst_of_src=node_idx.gather(1, src))
    merge_idx, protected = order[:, :2 * r], order[:, 2 * r:]
    if recipe == "text":
        a_idx, b_idx = merge_idx[:, :r], merge_idx[:, r:]
    else:
        a_idx, b_idx = merge_idx[:, ::2], merge_idx[:, 1::2]
    return PiToMePlan(keep=protected, src=a_idx, dst=b_idx, dst_of_src=_rows_then_columns(sim, a_idx, b_idx).argmax(dim=-1))


def apply_plan(plan: PiToMePlan, state: TokenState) -> tuple[TokenState, torch.Tensor]:
    """Size-weighted merge of ``state`` by ``plan``: ``[prefix, keep, dst (+ merged src)]`` and ``rep``.

    ``rep`` (indices into all tokens) is also the gather that builds the output: one gather of the
    kept and destination tokens, then the merged tokens are added into their destinations.
    """
    p = state.n_prefix
    prefix = torch.arange(p, device=plan.keep.device).expand(plan.keep.shape[0], p)
    rep = torch.cat([prefix, plan.keep + p, plan.dst + p], dim=1)
    src = plan.src + p
    into = plan.dst_of_src + (p + plan.keep.shape[1])  # destination slots in the output

    def summed(t: torch.Tensor) -> torch.Tensor:
        return add_tokens_(gather_tokens(t, rep), into, gather_tokens(t, src))

    sizes = state.sizes()
    weighted = state.x if state.size is None else state.x * sizes  # all sizes 1: x itself
    new_size = summed(sizes)
    x = summed(weighted) / new_size
    source = None
    if state.source is not None:
        source = gather_tokens(state.source, rep).scatter_reduce_(
            1, into.unsqueeze(-1).expand(-1, -1, state.source.shape[-1]), gather_tokens(state.source, src), reduce="amax")
    return TokenState(x=x, size=new_size, source=source, n_prefix=p), rep


@dataclass
class PiToMe(Method):
    """PiToMe: merge high-energy (redundant) tokens, protect low-energy ones (spectrum-preserving)."""

    ratio: float | None = None
    keep_ratio: float | None = None
    keep_tokens: int | None = None
    layers: tuple[int, ...] | int | None = None
    recipe: str = "auto"
    margin: float | None = None
    prop_attn: bool = False

    id: ClassVar[str] = "pitome"
    arxiv: ClassVar[str] = "2405.16148"
    families: ClassVar[tuple[str, ...]] = VIT_FAMILIES
    placement: ClassVar[str] = "backbone"
    paper_notation: ClassVar[dict[str, str]] = {
        "ratio": "ratio: fraction of tokens each acting block keeps (r = floor(T - T * ratio) merges; >= 0.5)",
        "keep_ratio": "keep_ratio: fraction of reducible tokens after the last acting block (per block: keep ** (1/L))",
        "margin m": "margin: energy margin of every block; default the official schedule "
                    "(vision 0.75 - 0.75 l/L, text 0.9 - 0.25 l/L)",
        "BSM layers": "vision recipe: bipartite matching in the first ceil(L/2) blocks, energy-guided pairs after",
        "text model": "recipe='text' (Gaussian energy, halves split; auto on text encoders), layers: last three",
    }

    def validate(self) -> None:
        if self.layers is not None:
            self.layers = as_layers(self, "layers", self.layers)
        check_budget(self, self.keep_ratio, self.keep_tokens, others={"ratio": self.ratio})
        if self.ratio is None and self.keep_ratio is None and self.keep_tokens is None:
            self.ratio = 0.9
        if self.ratio is not None:
            check_number(self, "ratio", self.ratio, low=0.5, high=1.0)
        check_choice(self, "recipe", self.recipe, RECIPES)
        if self.margin is not None:
            check_number(self, "margin", self.margin, low=-1.0, high=1.0)
            if self.margin >= 1.0:
                _fail("margin", self.margin, "a number -1 <= margin < 1 (the text recipe divides by 1 - margin)", self.id)
        if not isinstance(self.prop_attn, bool):
            _fail("prop_attn", self.prop_attn, "True or False", self.id)

    def resolved_recipe(self, adapter: Any) -> str:
        if self.recipe != "auto":
            return self.recipe
        return "text" if getattr(adapter, "stage", "") == "text" else "vision"

    def acting(self, depth: int, recipe: str) -> tuple[int, ...]:
        if self.layers is not None:
            return self.layers
        return tuple(range(max(0, depth - 3), depth)) if recipe == "text" else tuple(range(depth))

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth(adapter.pruning_stage)
        for layer in self.acting(depth, self.resolved_recipe(adapter)):
            check_layer(self, "layers", layer, depth)

    def install(self, adapter, patch, run) -> None:
        recipe = self.resolved_recipe(adapter)
        adapter.install_reducer(patch, run, _PiToMeReducer(self, recipe, adapter.depth(adapter.pruning_stage)))


class _PiToMeReducer(BlockReducer):
    kind = "merge"

    def __init__(self, method: PiToMe, recipe: str, depth: int) -> None:
        self.m, self.recipe, self.depth = method, recipe, depth
        self.layers = method.acting(depth, recipe)
        self.prop_attn = method.prop_attn
        self.rate = 1.0

    def margin(self, index: int) -> float:
        if self.m.margin is not None:
            return self.m.margin
        if self.recipe == "text":
            return 0.9 - 0.25 * index / self.depth
        return 0.75 - 0.75 * index / self.depth

    def begin(self, state, depth, grid, scratch) -> None:
        m, n_blocks = self.m, len(self.layers)
        if m.ratio is not None:
            self.rate = m.ratio
        elif m.keep_ratio is not None:
            self.rate = m.keep_ratio ** (1.0 / n_blocks)
        else:
            n = state.n_reducible
            self.rate = (keep_count(n, keep_tokens=m.keep_tokens) / n) ** (1.0 / n_blocks) if n else 1.0
        self.rate = max(self.rate, 0.5)

    def acts_at(self, index: int) -> bool:
        return index in self.layers and self.rate < 1.0

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"keys"})

    def reduce(self, view):
        state = view.state
        t = state.n_reducible
        r = math.floor(t - t * self.rate)
        r = min(r, t // 2)
        if r <= 0:
            return None
        bipartite = self.recipe == "vision" and view.index < math.ceil(self.depth * 0.5)
        metric = view.keys[:, state.n_prefix:]
        plan = plan_merges(metric.float() if metric.dtype in (torch.float16, torch.bfloat16) else metric, r,
                           self.margin(view.index), self.recipe, bipartite)
        return apply_plan(plan, state)
