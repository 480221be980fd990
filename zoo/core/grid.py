"""Token ops on 2-D token grids (diffusion latents): destination windows, grid bipartite matching,
prune-and-copy plans, and grid downsampling.

All tokens of one feature map are ``[B, N, C]`` with ``N = h * w`` in raster order (row-major).

- :func:`window_destinations`: split a ``h x w`` grid into ``sy x sx`` windows and pick one
  *destination* per complete window (a given choice per window, e.g. random); every other token
  (including the rows/columns left over when ``sy``/``sx`` do not divide ``h``/``w``) is a *source*.
  Destinations come first in the order of torch's sort of the marks (the official code's order).
- :class:`GridPlan`: a reduction of ``N`` tokens to ``N_out`` and back. ``reduce(x)`` gathers
  (and optionally merges) tokens, ``restore(y)`` gives every original position the output of the
  token that stood for it (a single gather). Built by :func:`grid_bipartite_merge` (ToMeSD's
  merge: sources merged into their most similar destination by a mean) and by
  :func:`prune_and_copy` (pruned tokens copy a kept token's output: SiTo, DaTo; their redundancy
  rule is :func:`redundancy_prune_plan`, or :func:`redundancy_prune_plan_from_tokens` without the
  ``N x N`` graph).
- :func:`grid_resample`: downsample a ``[B, h*w, C]`` grid by an integer factor (ToDo).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from zoo.core.select import gather_tokens


def _gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x ``[B, N, C]``, idx ``[B, K]`` (or ``[1, K]``, broadcast over the batch) -> ``[B, K, C]``."""
    if idx.shape[0] != x.shape[0]:
        idx = idx.expand(x.shape[0], -1)
    return gather_tokens(x, idx)


def window_destinations(h: int, w: int, sx: int, sy: int, choice: torch.Tensor | None,
                        device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Destination and source positions of an ``h x w`` grid with one destination per ``sy x sx`` window.

    ``choice``: ``[hsy, wsx]`` (one choice for the whole batch) or ``[B, hsy, wsx]`` integers in
    ``0 .. sx*sy - 1`` (index ``row * sx + col`` inside the window), ``None`` for the top-left
    token of every window; ``hsy, wsx = h // sy, w // sx``. Returns ``(dst, src)``, each
    ``[1 or B, K]`` int64 positions (``K = hsy * wsx`` destinations), in the order of torch's default
    sort of the destination marks (as the official ``tomesd``; not necessarily ascending).
    """
    hsy, wsx = h // sy, w // sx
    if choice is None:
        choice = torch.zeros(hsy, wsx, dtype=torch.int64, device=device)
    choice = choice.to(device=device, dtype=torch.int64)
    if choice.dim() == 2:
        choice = choice.unsqueeze(0)
    bsz = choice.shape[0]
    rows = torch.arange(hsy, device=device).view(1, hsy, 1) * sy + choice // sx
    cols = torch.arange(wsx, device=device).view(1, 1, wsx) * sx + choice % sx
    pos = (rows * w + cols).reshape(bsz, hsy * wsx)
    # -1 marks a destination, 0 a source; sorting puts destinations first. The sort is torch's default
    # (not stable) on a [B, N, 1] int64 buffer, as in the official tomesd: the same call on the same
    # buffer gives the same order, so downstream float sums run in the same order as theirs.
    marks = torch.zeros(bsz, h * w, dtype=torch.int64, device=device)
    marks.scatter_(1, pos, -1)
    order = marks.unsqueeze(-1).argsort(dim=1).squeeze(-1)
    n_dst = hsy * wsx
    return order[:, :n_dst], order[:, n_dst:]


def window_argmax(score: torch.Tensor, h: int, w: int, sx: int, sy: int) -> torch.Tensor:
    """``score`` ``[B, h*w]`` -> ``[B, h // sy, w // sx]``: the index (``row * sx + col``) of the highest
    score inside every complete ``sy x sx`` window (a :func:`window_destinations` choice)."""
    bsz = score.shape[0]
    hsy, wsx = h // sy, w // sx
    windows = score.view(bsz, h, w)[:, : hsy * sy, : wsx * sx]
    windows = windows.reshape(bsz, hsy, sy, wsx, sx).permute(0, 1, 3, 2, 4).reshape(bsz, hsy, wsx, -1)
    return windows.max(dim=-1).indices


@dataclass
class GridPlan:
    """Reduce ``n`` tokens to ``n_out`` and restore them.

    ``keep`` ``[B', n_out]``: the full-grid position of each reduced token (``B'`` is 1 or B);
    ``merged_src`` ``[B', r]`` / ``merged_slot`` ``[B', r]``: sources averaged into the reduced
    token at slot ``merged_slot`` (empty for pruning); ``restore_idx`` ``[B', n]``: the slot whose
    output each full-grid position receives on restore. ``kind``: ``"merge"`` or ``"prune"``.
    """

    keep: torch.Tensor
    restore_idx: torch.Tensor
    n: int
    kind: str
    merged_src: torch.Tensor | None = None
    merged_slot: torch.Tensor | None = None
    n_unmerged: int = 0
    #: restore pruned positions with zeros (the layer is skipped for them) instead of a copied output
    zero_fill: bool = False

    @property
    def n_out(self) -> int:
        return int(self.keep.shape[1])

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, n, C]`` -> ``[B, n_out, C]``: kept tokens (and each destination averaged with its sources)."""
        if self.merged_src is None or self.merged_src.shape[1] == 0:
            return _gather(x, self.keep)
        unm = _gather(x, self.keep[:, : self.n_unmerged])
        dst = _gather(x, self.keep[:, self.n_unmerged:])
        src = _gather(x, self.merged_src)
        slot = self.merged_slot
        if slot.shape[0] != x.shape[0]:
            slot = slot.expand(x.shape[0], -1)
        dst = dst.scatter_reduce(1, slot.unsqueeze(-1).expand(-1, -1, x.shape[-1]), src, reduce="mean")
        return torch.cat([unm, dst], dim=1)

    def restore(self, y: torch.Tensor) -> torch.Tensor:
        """``[B, n_out, C]`` -> ``[B, n, C]``: each position gets the output of the token standing for it
        (zero for a pruned position of a ``zero_fill`` plan)."""
        if self.zero_fill:
            y = torch.cat([y, y.new_zeros(y.shape[0], 1, y.shape[-1])], dim=1)
        return _gather(y, self.restore_idx)


def grid_bipartite_merge(metric: torch.Tensor, dst: torch.Tensor, src: torch.Tensor, r: int) -> GridPlan | None:
    """ToMeSD's matching (arXiv 2303.17604): each source proposes its most similar destination (cosine
    similarity of ``metric`` ``[B, N, C]``); the ``r`` strongest proposals merge (mean), the other sources
    stay. ``dst``/``src`` from :func:`window_destinations`. ``r`` is capped at the number of sources;
    ``r <= 0`` gives ``None`` (nothing to do).

    Reduced order: ``[unmerged sources (strongest proposal first), destinations (ascending)]``, the
    order of the official ``tomesd`` so that float sums run in the same order.
    """
    if r <= 0:
        return None
    bsz, n, _ = metric.shape
    with torch.no_grad():
        m = metric / metric.norm(dim=-1, keepdim=True)
        a, b = _gather(m, src), _gather(m, dst)
        scores = a @ b.transpose(-1, -2)
        r = min(a.shape[1], int(r))
        node_max, node_idx = scores.max(dim=-1)
        edge_idx = node_max.argsort(dim=-1, descending=True)
        return _merge_plan(edge_idx, node_idx, dst, src, r, n)


def _merge_plan(edge_idx: torch.Tensor, node_idx: torch.Tensor, dst: torch.Tensor, src: torch.Tensor, r: int,
                n: int) -> GridPlan:
    """The plan merging sources ``edge_idx[:, :r]`` into destinations ``node_idx`` (indices into ``src``/``dst``)."""
    bsz = edge_idx.shape[0]
    src_b = src.expand(bsz, -1)
    unm_src = src_b.gather(1, edge_idx[:, r:])
    moved = src_b.gather(1, edge_idx[:, :r])
    slot_in_dst = node_idx.gather(1, edge_idx[:, :r])
    n_unm = unm_src.shape[1]
    keep = torch.cat([unm_src, dst.expand(bsz, -1)], dim=1)
    restore_idx = torch.empty(bsz, n, dtype=torch.int64, device=keep.device)
    restore_idx.scatter_(1, keep, torch.arange(keep.shape[1], device=keep.device).expand(bsz, -1))
    restore_idx.scatter_(1, moved, slot_in_dst + n_unm)
    return GridPlan(keep=keep, restore_idx=restore_idx, n=n, kind="merge", merged_src=moved,
                    merged_slot=slot_in_dst, n_unmerged=n_unm)


def threshold_merge_count(node_max: torch.Tensor, threshold: float) -> int:
    """CA-ToMe's adaptive count: the most sources of any batch row whose best similarity reaches ``threshold``."""
    return int((node_max >= threshold).sum(dim=-1).max().item())


def grid_bipartite_scores(metric: torch.Tensor, dst: torch.Tensor, src: torch.Tensor):
    """Best destination of each source: ``(node_max, node_idx, edge_idx)`` ``[B, N_src]`` (edge_idx: sources by
    descending similarity), the first half of :func:`grid_bipartite_merge`."""
    with torch.no_grad():
        m = metric / metric.norm(dim=-1, keepdim=True)
        scores = _gather(m, src) @ _gather(m, dst).transpose(-1, -2)
        node_max, node_idx = scores.max(dim=-1)
        return node_max, node_idx, node_max.argsort(dim=-1, descending=True)


def merge_plan_from_scores(node_idx: torch.Tensor, edge_idx: torch.Tensor, dst: torch.Tensor, src: torch.Tensor,
                           r: int, n: int) -> GridPlan | None:
    """The :func:`grid_bipartite_merge` plan for precomputed scores (``r`` capped at the sources)."""
    r = min(int(r), edge_idx.shape[1])
    if r <= 0:
        return None
    return _merge_plan(edge_idx, node_idx, dst, src, r, n)


def prune_and_copy(keep_pos: torch.Tensor, pruned_pos: torch.Tensor, copy_slot: torch.Tensor, n: int) -> GridPlan:
    """A pruning plan: ``keep_pos`` ``[B, K]`` positions run through the layer; each ``pruned_pos``
    ``[B, P]`` position receives on restore the output of reduced slot ``copy_slot`` ``[B, P]`` (0..K-1)."""
    bsz = keep_pos.shape[0]
    restore_idx = torch.empty(bsz, n, dtype=torch.int64, device=keep_pos.device)
    restore_idx.scatter_(1, keep_pos, torch.arange(keep_pos.shape[1], device=keep_pos.device).expand(bsz, -1))
    restore_idx.scatter_(1, pruned_pos, copy_slot)
    return GridPlan(keep=keep_pos, restore_idx=restore_idx, n=n, kind="prune")


def _redundancy_plan(similarity, base: torch.Tensor, rest: torch.Tensor, n_prune: int, n: int) -> GridPlan:
    """The rule of :func:`redundancy_prune_plan`; ``similarity(rows, cols)`` gives the ``[B, R, C]``
    block of the token similarity graph for position indices ``rows`` ``[B, R]`` and ``cols`` ``[B, C]``."""
    with torch.no_grad():
        to_base = similarity(rest, base)                                     # [B, N - K, K]
        order = (-to_base.max(dim=2).values).argsort(dim=-1)                 # most redundant first
        pruned = rest.gather(1, order[:, :n_prune])
        kept = torch.cat([rest.gather(1, order[:, n_prune:]), base], dim=1)  # [B, N - P]
        copy_slot = similarity(kept, pruned).max(dim=1).indices              # [B, P]
    return prune_and_copy(kept, pruned, copy_slot, n)


def redundancy_prune_plan(sim: torch.Tensor, base: torch.Tensor, rest: torch.Tensor, n_prune: int) -> GridPlan:
    """SiTo's and DaTo's pruning: ``sim`` ``[B, N, N]`` token similarities, ``base`` ``[B, K]`` the base
    tokens (one per window), ``rest`` ``[B, N - K]`` the others (:func:`window_destinations`).

    Each non-base token's redundancy is its similarity to its most similar base token; the ``n_prune``
    most redundant are pruned (capped at ``N - K``). Kept order: ``[unpruned non-base (most redundant
    first), base]``; each pruned token copies, on restore, the output of its most similar *kept* token.
    """
    n = sim.shape[1]

    def block(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        picked = sim.gather(1, rows.unsqueeze(-1).expand(-1, -1, n))
        return picked.gather(2, cols.unsqueeze(1).expand(-1, rows.shape[1], -1))

    return _redundancy_plan(block, base, rest, n_prune, n)


def redundancy_prune_plan_from_tokens(xn: torch.Tensor, base: torch.Tensor, rest: torch.Tensor,
                                      n_prune: int) -> GridPlan:
    """:func:`redundancy_prune_plan` from the L2-normalised tokens ``xn`` ``[B, N, C]`` instead of their
    ``[B, N, N]`` similarity graph: only the two blocks of the graph the rule reads are computed,
    non-base x base ``[B, N - K, K]`` and kept x pruned ``[B, N - P, P]`` (at 4,096 tokens, 2x2
    windows and ``P = N / 2``: 7.3M of the graph's 16.8M entries, and no ``[B, N - K, N]`` gathers).
    Same plan as :func:`redundancy_prune_plan` on ``sim = xn @ xn^T`` up to the float rounding of a
    smaller matrix product (equal in float64).
    """
    if base.shape[0] != xn.shape[0]:
        base, rest = base.expand(xn.shape[0], -1), rest.expand(xn.shape[0], -1)

    def block(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return _gather(xn, rows) @ _gather(xn, cols).transpose(-1, -2)

    return _redundancy_plan(block, base, rest, n_prune, xn.shape[1])


def prune_and_zero(keep_pos: torch.Tensor, n: int) -> GridPlan:
    """A pruning plan whose pruned positions get a zero output on restore: ``keep_pos`` ``[B, K]``
    (the layer runs on those tokens only; the others skip it)."""
    bsz, k = keep_pos.shape
    restore_idx = torch.full((bsz, n), k, dtype=torch.int64, device=keep_pos.device)
    restore_idx.scatter_(1, keep_pos, torch.arange(k, device=keep_pos.device).expand(bsz, -1))
    return GridPlan(keep=keep_pos, restore_idx=restore_idx, n=n, kind="prune", zero_fill=True)


RESAMPLE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area", "avg_pool", "max_pool")


def grid_resample(x: torch.Tensor, h: int, w: int, new_h: int, new_w: int, mode: str = "nearest-exact") -> torch.Tensor:
    """Resize a token grid ``[B, h*w, C]`` to ``[B, new_h*new_w, C]``.

    ``mode``: a ``torch.nn.functional.interpolate`` mode, or ``avg_pool``/``max_pool`` with the
    kernel and stride ``h // new_h`` (ToDo's options).
    """
    if mode not in RESAMPLE_MODES:
        raise ValueError(f"resample mode {mode!r}; allowed: {', '.join(RESAMPLE_MODES)}")
    bsz, n, c = x.shape
    if n != h * w:
        raise ValueError(f"grid_resample: {n} tokens do not form a {h}x{w} grid")
    img = x.reshape(bsz, h, w, c).permute(0, 3, 1, 2)
    if mode in ("avg_pool", "max_pool"):
        k = h // new_h
        img = (F.avg_pool2d if mode == "avg_pool" else F.max_pool2d)(img, kernel_size=k, stride=k)
    else:
        img = F.interpolate(img, size=(new_h, new_w), mode=mode)
    return img.permute(0, 2, 3, 1).reshape(bsz, new_h * new_w, c)
