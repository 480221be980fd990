"""GTP-ViT: Efficient Vision Transformers via Graph-based Token Propagation
(Xu et al., WACV 2024, arXiv 2311.03035).

Before the first block a graph over the patch tokens is built (``spatial``: the 8
neighbours on the patch grid; ``semantic``: each token's most similar tokens by cosine
similarity; ``mixed``: both) and symmetrically normalised (``D^-1/2 A D^-1/2``). In every
block, between attention and MLP, the ``r`` least important patch tokens are eliminated,
importance being the official default "MixedAttnMax": the largest self-attention over
heads times the largest attention received over heads. Instead of being lost, the
eliminated tokens propagate into their graph neighbours among the kept tokens:
``x_kept += alpha * W[kept, eliminated] @ x_eliminated``; the graph shrinks with the tokens.

Written for tokzoo from the paper and the idea of the official code (Ackesnal/GTP-ViT,
``models_v3.py``); defaults follow its README evaluation command (``alpha = 0.1``,
``num_prop = 4``, graph ``spatial`` as its code picks when none is named, 8 neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from zoo.core.select import gather_tokens, split_topk, with_prefix
from zoo.core.tokens import TokenState
from zoo.interface import check_choice, check_int, check_number
from zoo.papers._vit import PerBlockBudget, ScheduleReducer

GRAPHS = ("spatial", "semantic", "mixed")


def spatial_graph(h: int, w: int, device: torch.device) -> torch.Tensor:
    """8-neighbour adjacency of an ``h x w`` patch grid, ``[h*w, h*w]`` (no self loops)."""
    rows = torch.arange(h * w, device=device) // w
    cols = torch.arange(h * w, device=device) % w
    near = ((rows[:, None] - rows[None, :]).abs() <= 1) & ((cols[:, None] - cols[None, :]).abs() <= 1)
    return (near & ~torch.eye(h * w, dtype=torch.bool, device=device)).float()


def semantic_graph(x: torch.Tensor, k: int) -> torch.Tensor:
    """Each token linked to its ``k`` most cosine-similar other tokens: x ``[B, N, C]`` -> ``[B, N, N]``."""
    xn = x.float() / x.float().norm(dim=-1, keepdim=True).clamp_min(1e-12)
    sim = xn @ xn.transpose(1, 2)
    n = x.shape[1]
    sim.diagonal(dim1=1, dim2=2).fill_(-float("inf"))
    idx = sim.topk(min(k, n - 1), dim=-1).indices
    return torch.zeros_like(sim).scatter_(-1, idx, 1.0)


def normalise(adj: torch.Tensor) -> torch.Tensor:
    """Symmetric normalisation ``D^-1/2 A D^-1/2`` (isolated nodes stay zero)."""
    deg = adj.sum(-1)
    inv = torch.where(deg > 0, deg.clamp_min(1e-12).rsqrt(), torch.zeros_like(deg))
    return inv.unsqueeze(-1) * adj * inv.unsqueeze(-2)


def mixed_attn_max(attn: torch.Tensor, n_prefix: int) -> torch.Tensor:
    """GTP's MixedAttnMax rank of the patch tokens ``[B, N - n_prefix]`` from attn ``[B, H, N, N]``."""
    diag = attn.diagonal(dim1=-2, dim2=-1)[:, :, n_prefix:].amax(dim=1)
    received = attn[:, :, :, n_prefix:].sum(dim=-2).amax(dim=1)
    return diag * received


@dataclass
class GTPViT(PerBlockBudget):
    """GTP-ViT: eliminate the least important tokens and propagate them into graph neighbours."""

    alpha: float = 0.1
    graph: str = "spatial"
    num_neighbours: int = 8
    prop_attn: bool = False

    id: ClassVar[str] = "gtp-vit"
    arxiv: ClassVar[str] = "2311.03035"
    default_r: ClassVar[int] = 4
    paper_notation: ClassVar[dict[str, str]] = {
        "num_prop": "r: tokens eliminated (propagated) per block (README example: 4)",
        "alpha": "alpha: weight of the propagated features (README: 0.1)",
        "graph_type": "graph: 'spatial', 'semantic' or 'mixed'",
        "num_neighbours": "num_neighbours: neighbours per token in the semantic graph (code default 8)",
        "token_scale": "prop_attn: proportional attention over propagated token scales (code default off)",
    }

    def validate(self) -> None:
        super().validate()
        check_number(self, "alpha", self.alpha, low=0.0)
        check_choice(self, "graph", self.graph, GRAPHS)
        check_int(self, "num_neighbours", self.num_neighbours, low=1)

    def check_model(self, adapter) -> None:
        super().check_model(adapter)
        if self.graph != "semantic" and getattr(adapter, "SIGNALS", {}).get("grid", True) is False:
            raise ValueError(f"gtp-vit: graph={self.graph!r} needs a patch grid and {adapter.name} models have no grid "
                             "(text, speech frames); use graph='semantic'")

    def required_signals(self) -> dict[str, str]:
        if self.graph == "semantic":
            return {}
        return {"grid": f"graph={self.graph!r} links each token to its 8 neighbours on the patch grid "
                        "(graph='semantic' needs no grid)"}

    def install(self, adapter, patch, run) -> None:
        adapter.install_reducer(patch, run, _GTPReducer(self))


class _GTPReducer(ScheduleReducer):
    kind = "propagate"

    def __init__(self, method: GTPViT) -> None:
        super().__init__(method)
        self.prop_attn = method.prop_attn

    def begin(self, state, depth, grid, scratch) -> None:
        super().begin(state, depth, grid, scratch)
        m = self.method
        patches = state.x[:, state.n_prefix:]
        adj = None
        if m.graph in ("spatial", "mixed"):
            if grid is None:
                raise ValueError(f"gtp-vit: graph={m.graph!r} needs the patch grid; {state.n_reducible} patch tokens "
                                 "do not form the model's grid or a square (use graph='semantic')")
            adj = spatial_graph(grid[0], grid[1], state.x.device).unsqueeze(0)
        if m.graph in ("semantic", "mixed"):
            sem = semantic_graph(patches, m.num_neighbours)
            adj = sem if adj is None else torch.maximum(adj.expand_as(sem), sem)
        # normalise in at least float32 (float64 models keep float64: a float32 graph alone moves float64
        # logits by ~1e-9 against the official code, which normalises in the model's dtype)
        work = torch.promote_types(state.x.dtype, torch.float32)
        scratch["gtp_graph"] = normalise(adj.to(work)).to(state.x.dtype)

    def needs(self, index: int) -> frozenset[str]:
        return frozenset({"attn"})

    def reduce(self, view):
        state = view.state
        n = state.n_reducible
        r = min(self.plan[view.index], n - 1)
        if r <= 0:
            return None
        graph = view.scratch["gtp_graph"]
        graph = graph.expand(state.x.shape[0], -1, -1)
        kept, elim = split_topk(mixed_attn_max(view.attn, state.n_prefix), n - r)
        w_rows = graph.gather(1, kept.unsqueeze(-1).expand(-1, -1, n))      # [B, K, n]
        w_prop = w_rows.gather(2, elim.unsqueeze(1).expand(-1, kept.shape[1], -1))  # [B, K, r]
        view.scratch["gtp_graph"] = w_rows.gather(2, kept.unsqueeze(1).expand(-1, kept.shape[1], -1))

        p = state.n_prefix
        patches = state.x[:, p:]
        x_kept = gather_tokens(patches, kept) + self.method.alpha * (w_prop @ gather_tokens(patches, elim))
        x = torch.cat([state.x[:, :p], x_kept], dim=1)
        size = None
        if state.size is not None or self.prop_attn:
            sizes = state.sizes()[:, p:]
            s_kept = gather_tokens(sizes, kept) + self.method.alpha * (w_prop @ gather_tokens(sizes, elim))
            size = torch.cat([state.sizes()[:, :p], s_kept], dim=1)
        source = None
        if state.source is not None:
            src = state.source[:, p:]
            s_kept = gather_tokens(src, kept)
            target = w_prop.argmax(dim=1)  # [B, r]: kept neighbour receiving most of each eliminated token
            linked = (w_prop.amax(dim=1) > 0).unsqueeze(-1).to(src.dtype)
            s_kept = s_kept.scatter_reduce(1, target.unsqueeze(-1).expand(-1, -1, src.shape[-1]),
                                           gather_tokens(src, elim) * linked, reduce="amax")
            source = torch.cat([state.source[:, :p], s_kept], dim=1)
        new = TokenState(x=x, size=size, source=source, n_prefix=p)
        return new, with_prefix(kept, p)
