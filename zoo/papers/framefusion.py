"""FrameFusion: Combining Similarity and Importance for Video Token Reduction on Large Vision
Language Models (Fu et al., ICCV 2025, arXiv 2501.01986).

Inside the LLM's first layers, at prefill (official code: thu-nics/FrameFusion,
``framefusion/main.py::FrameFusion``):

**Similarity-based merging, layer after layer.** Every visual token has a *patch type*: its grid
position in its frame. At each merging step, each visual token is compared (cosine similarity of
the hidden states) with the previous surviving token of the same patch type, i.e. the same grid
cell in the closest earlier frame. Tokens at least ``S_th`` similar (``similarity_lower_bound``)
are merged into that predecessor: a run of consecutive mergeable tokens of one patch joins the
token before the run, which becomes the plain mean of itself and the run. Steps repeat at the
following layers while the share of mergeable visual tokens stays at or above
``ratio_lower_bound`` (0.1).

**Importance-based pruning, once.** When merging stops, the next layer's attention of the last
prompt token (head mean) ranks the remaining visual tokens and only enough survive to meet the
token *cost*: ``cost`` (0.3) is the average, over the ``L`` layers, of the fraction of visual
tokens each layer processes, where the merging layers count their own fractions and the pruning
ratio for the remaining layers solves the rest (:func:`pruning_ratio`). When one merging step
alone would exceed the budget, the most similar tokens up to the budget are merged and no
pruning follows.

Where tokzoo acts (documented divergence): the official code merges on the embeddings before
layer 0's attention and then *between the attention and the MLP* of each later layer; the
decoder runtime reduces tokens between layers, so tokzoo's step ``l >= 1`` runs after layer
``l - 1``'s MLP (on the hidden state after that layer instead of after its attention), and the
pruning step applies before the layer after the scoring layer. The official cost formula uses
28 layers whatever the model (``num_layers=28`` default); tokzoo uses the model's depth
(identical on the 28-layer Qwen2-7B models the paper evaluates). Positions: survivors keep
their original positions (the official code slices the rotary embeddings).

Budget vocabulary: ``cost`` is FrameFusion's own budget (fraction of visual-token computation
kept, averaged over layers); ``similarity_lower_bound`` = ``S_th``; ``ratio_lower_bound``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

TEXT = -1
IGNORE = -2.0


def pruning_ratio(sparsities: list[float], cost: float, num_layers: int) -> float:
    """Sparsity the layers after the merging steps need so that the average cost is ``cost``.

    ``sparsities``: the fraction merged away at each step so far. The steps' layers cost
    ``s_1, s_1 s_2, ...`` (``s_i = prod (1 - sparsity)``); the remaining ``L - len`` layers cost
    ``s (1 - ratio)`` each. Returns 0 when no pruning is needed; raises when the steps already
    spent more than ``cost`` allows.
    """
    s, spent = 1.0, 0.0
    for sp in sparsities:
        s *= 1 - sp
        spent += s
    remaining = num_layers * cost - spent
    if remaining < 0:
        raise ValueError(f"FrameFusion: cost={cost} is too small for the merging steps already taken "
                         f"({spent:.3f} of {num_layers} layers)")
    per_layer = remaining / ((num_layers - len(sparsities)) * s)
    return 0.0 if per_layer > 1 else 1 - per_layer


def similarity_by_patch(hidden: torch.Tensor, patch_type: torch.Tensor, n_patches: int
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Visual tokens grouped by patch type: ``(similarity [V], token_index [V])``.

    hidden ``[n, C]``; patch_type ``[n]`` (grid cell, or ``-1`` for text). ``token_index`` lists
    the visual tokens sorted by (patch type, sequence order); ``similarity[i]`` is the cosine
    similarity of token ``token_index[i]`` with ``token_index[i - 1]`` when both share a patch
    type, else ``-2``.
    """
    patch, index = torch.where(patch_type[None, :] == torch.arange(n_patches, device=hidden.device)[:, None])
    a, b = hidden[index[:-1]], hidden[index[1:]]
    sim = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
    sim[patch[:-1] != patch[1:]] = IGNORE
    return torch.cat([sim.new_full((1,), IGNORE), sim]), index


def merge_runs(hidden: torch.Tensor, token_index: torch.Tensor, merge_at: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge every run of consecutive marked entries (in patch order) into the entry before the run.

    hidden ``[n, C]``; ``merge_at`` indexes ``token_index`` (the entries to merge away). Returns
    ``(new hidden [n, C], keep [n] bool)``: the run's predecessor becomes the plain mean of itself
    and the run; merged tokens are marked ``False`` in ``keep``.
    """
    keep = torch.ones(hidden.shape[0], dtype=torch.bool, device=hidden.device)
    if merge_at.numel() == 0:
        return hidden, keep
    marked = torch.zeros(token_index.shape[0], dtype=torch.bool, device=hidden.device)
    marked[merge_at] = True
    keep[token_index[marked]] = False
    out = hidden.clone()
    dest_of = torch.full_like(token_index, -1)
    current = -1
    for i, m in enumerate(marked.tolist()):  # the predecessor of each run
        if m:
            dest_of[i] = current
        else:
            current = i
    members = torch.nonzero(marked).reshape(-1)
    dests = dest_of[members]
    counts = torch.bincount(dests, minlength=token_index.shape[0])
    # along dim 1 of a [1, n, C] view, as the official code (the bf16 accumulation order follows the layout)
    out[None].index_add_(1, token_index[dests], hidden[token_index[members]][None])
    has = torch.nonzero(counts).reshape(-1)
    out[token_index[has]] = out[token_index[has]] / (counts[has].to(out.dtype)[:, None] + 1)
    return out, keep


@dataclass
class FrameFusionPlan:
    """FrameFusion's per-prefill state machine (one sequence).

    Call :meth:`merge_step` at each merging point while ``merging``; once merging stopped and
    ``pruning`` is set, call :meth:`prune_step` with the next layer's attention.
    """

    cost: float
    similarity_lower_bound: float
    ratio_lower_bound: float
    num_layers: int
    sparsities: list[float] = field(default_factory=list)
    merging: bool = True
    pruning: bool = True

    def merge_step(self, hidden: torch.Tensor, patch_type: torch.Tensor, n_patches: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """One merging step on ``hidden [n, C]`` with ``patch_type [n]``: ``(new hidden, keep [n])``."""
        upper = pruning_ratio(self.sparsities, self.cost, self.num_layers)
        sim, token_index = similarity_by_patch(hidden, patch_type, n_patches)
        n_visual = int((patch_type != TEXT).sum())
        merge_at = torch.nonzero(sim >= self.similarity_lower_bound).reshape(-1)
        ratio = merge_at.shape[0] / max(n_visual, 1)
        if ratio < upper:
            self.sparsities.append(ratio)
            if ratio < self.ratio_lower_bound:
                self.merging = False
        else:
            merge_at = torch.topk(sim, int(upper * n_visual)).indices.sort().values
            self.merging = False
            self.pruning = False
        return merge_runs(hidden, token_index, merge_at)

    def prune_count(self, n_visual: int) -> int:
        """Visual tokens the pruning step keeps: ``round(n_visual * (1 - ratio))``."""
        return round(n_visual * (1 - pruning_ratio(self.sparsities, self.cost, self.num_layers)))

    def prune_step(self, importance: torch.Tensor) -> torch.Tensor:
        """``importance [V]`` (attention of the last prompt token over the visual tokens): ascending
        indices of the visual tokens kept."""
        self.pruning = False
        return torch.topk(importance, self.prune_count(importance.shape[0])).indices.sort().values


# ----------------------------------------------------------------------------- the method
from dataclasses import dataclass as _dataclass  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

from zoo.interface import Method, _fail, check_int, check_number  # noqa: E402
from zoo.papers._video import VIDEO_NEEDS, VideoFamilies, VideoReasons, check_video_model  # noqa: E402


@_dataclass
class FrameFusion(Method):
    """FrameFusion: merge tokens similar to the same cell in the previous frame, layer by layer, then prune by attention."""

    cost: float = 0.3
    similarity_lower_bound: float = 0.6
    ratio_lower_bound: float = 0.1
    max_steps: int = 8

    id: ClassVar[str] = "framefusion"
    arxiv: ClassVar[str] = "2501.01986"
    needs: ClassVar[tuple[str, ...]] = (*VIDEO_NEEDS, "decoder-attention")
    families = VideoFamilies()
    unsupported_reasons = VideoReasons()
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "cost": "cost: average fraction of visual-token computation kept over the decoder layers (README: 0.3, "
                "the '70% vision token reduction')",
        "S_th": "similarity_lower_bound: merge threshold (README example: 0.6; the paper lists one per model)",
        "ratio_lower_bound": "ratio_lower_bound: merging stops when fewer mergeable tokens remain (0.1)",
        "max_steps": "max_steps: tokzoo's cap on merging steps (decoder layers 0..max_steps - 1); the pruning step "
                     "follows at the latest before layer max_steps (the official code has no cap)",
    }

    def validate(self) -> None:
        check_number(self, "cost", self.cost, low=0.0, high=1.0, low_open=True)
        check_number(self, "similarity_lower_bound", self.similarity_lower_bound)
        check_number(self, "ratio_lower_bound", self.ratio_lower_bound, low=0.0, high=1.0)
        check_int(self, "max_steps", self.max_steps, low=1)

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)
        depth = adapter.depth("llm")
        if self.max_steps >= depth:
            _fail("max_steps", self.max_steps, f"1..{depth - 1} (the model has {depth} decoder layers)", self.id)

    def install(self, adapter, patch, run) -> None:
        import torch

        from zoo.families.decoders.runtime import LlmEvent, PruneSelection

        depth = adapter.depth("llm")
        state: dict[str, Any] = {}

        def patch_types(ctx):
            """``[B, N0]`` grid cell of every video token of the language model's input (-1 elsewhere), cells per frame."""
            pt = torch.full(ctx.input_valid.shape, TEXT, dtype=torch.long, device=ctx.hidden.device)
            cells = 1
            for row, items in enumerate(ctx.items):
                for item in items:
                    if item.modality != "video":
                        continue
                    on = item.coords[:, 1] >= 0
                    _, h, w = item.grids[0]
                    cells = max(cells, h * w)
                    yx = item.coords[on][:, 2] * w + item.coords[on][:, 3]
                    pt[row, item.columns[on.to(item.columns.device)]] = yx.to(pt.device)
            return pt, cells

        def make(layer):
            def select(ctx):
                b = ctx.hidden.shape[0]
                if layer == 0:
                    pt, cells = patch_types(ctx)
                    state.update(pt=pt, cells=cells, plans=[FrameFusionPlan(self.cost, self.similarity_lower_bound,
                                                                            self.ratio_lower_bound, depth)
                                                            for _ in range(b)])
                pt_now = torch.where(ctx.source >= 0, state["pt"].gather(1, ctx.source.clamp(min=0)),
                                     torch.full_like(ctx.source, TEXT))
                pt_now = torch.where(ctx.valid, pt_now, torch.full_like(pt_now, TEXT))
                keep = ctx.valid.clone()
                new = ctx.hidden
                att = None
                for row, plan in enumerate(state["plans"]):
                    if plan.merging and layer == self.max_steps:
                        plan.merging = False  # tokzoo's cap: prune now
                    if plan.merging:
                        merged, kept = plan.merge_step(ctx.hidden[row], pt_now[row], state["cells"])
                        if new is ctx.hidden:
                            new = ctx.hidden.clone()
                        new[row] = merged
                        keep[row] &= kept
                    elif plan.pruning and layer > 0:
                        if att is None:
                            att = ctx.attention(ctx.last_valid()[:, None]).mean(dim=1)[:, 0]  # [B, N]
                        vis = torch.nonzero(pt_now[row] != TEXT).reshape(-1)
                        if vis.numel():
                            kept = plan.prune_step(att[row, vis])
                            drop = torch.ones(vis.numel(), dtype=torch.bool, device=vis.device)
                            drop[kept] = False
                            keep[row, vis[drop]] = False
                        else:
                            plan.pruning = False
                sel = ctx.keep_mask(keep)
                if new is ctx.hidden:
                    return PruneSelection(keep=sel)
                replace = torch.stack([new[r].index_select(0, sel[r].clamp(min=0)) for r in range(b)])
                return PruneSelection(keep=sel, replace=replace)

            return select

        events = [LlmEvent(layer=e, select=make(e), score_layer=None if e == 0 else e - 1)
                  for e in range(min(self.max_steps, depth - 1) + 1)]
        adapter.install_llm_reduction(patch, run, events, positions="keep")
