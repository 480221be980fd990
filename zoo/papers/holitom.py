"""HoliTom: Holistic Token Merging for Fast Video Large Language Models (Shao, Tao, Qin, You, Sui,
Wang; NeurIPS 2025, arXiv 2505.21334).

Outer-LLM merging before the LLM, then optionally one inner-LLM merge (official code:
cokeshao/HoliTom, ``holitom/llava_arch.py`` and ``holitom/modeling_qwen2.py``). For one video
``frames [T, N, C]`` (after the model's pooling) with per-token vision attention ``a [T, N]``:

**Global redundancy-aware temporal segmentation.** ``s_t [N]``: cosine similarity of every grid
cell between frames ``t`` and ``t + 1``. A window ``[i, j]`` of frames saves
``(j - i) * #{n: s_i..s_{j-1} > tau at n}`` tokens (its static cells are kept once instead of
``j - i + 1`` times); a dynamic programme picks the partition of the video into windows that
saves the most (:func:`static_windows`, ``tau = 0.8``, windows up to ``max_window`` frames).

**Spatio-temporal merging.** In a window, the cells similar across all its consecutive frames are
*static*: averaged over the window into one token each; the rest are *dynamic*, per frame. The
retention ratio ``r`` is rescaled by the share of tokens left after the static averaging
(``r' = min(1, r * T N / (T N - saved))``); then

- the static tokens of a window are reduced to ``round(n r')`` DPC-KNN cluster tokens
  (:func:`merge_by_density`);
- the dynamic tokens of each frame keep their ``round(ceil(n r') (1 - D))`` most attended ones
  (*dominant*, in grid order) and reduce the rest to the remaining ``ceil(n r')`` minus that as cluster tokens
  (*contextual*, :func:`merge_by_attention_density`);
- a cluster token is ``beta * centre + (1 - beta) * mean(members)`` (``beta = 0.6``), the
  centre alone when it has no member.

Order given to the LLM (LLaVA-OneVision's one-token video layout): per window, the static
cluster tokens (centre order), then each frame's dominant tokens and contextual tokens (grid
order of the tokens and of the centres).

The official contextual branch (``D > 0``) fails in its position bookkeeping (a broadcast
``masked_select``); its default ``D = 0`` keeps only dominant dynamic tokens. tokzoo implements
the contextual branch as described and uses ``D = 0`` by default.

**Inner-LLM merging (optional, ``inner_layer`` set).** At decoder layer ``K`` the last prompt
token's attention at layer ``K - 1`` (head mean) keeps the top ``round(n (1 - R))`` visual
tokens; every other visual token is folded, one after another in sequence order, into its
most similar kept token (cosine of the hidden states): ``h_keep = (h_keep + h) / 2``
(:func:`inner_merge`). The official survivors keep their positions there; tokzoo uses one position
rule per application (renumbered on 1-D RoPE, as the outer merge needs), a documented divergence.

Divergences (documented, tested): no density noise (the official ``1e-6 * U(0, 1)``); the
grid-newline layouts of LLaVA-Video are not reproduced (tokzoo's runtime marks newline tokens
separately). Budget vocabulary: ``keep_ratio`` is HoliTom's retention ratio ``r``
(``RETAIN_RATIO``); ``tau``, ``beta``, ``D``, ``k`` keep the paper's names; ``inner_layer`` /
``inner_ratio`` are ``HOLITOM_k`` / ``HOLITOM_r``.
"""

from __future__ import annotations

import math

import torch

from zoo.core.density import peak_scores
from zoo.core.temporal import VideoTokens, token_similarity_to_next


def saved_tokens(sim: torch.Tensor, tau: float) -> torch.Tensor:
    """``[T, T]`` tokens saved by making frames ``i..j`` one window (``i <= j``; 0 elsewhere).

    ``sim [T - 1, N]``: cell similarity of consecutive frames. A cell is static over ``i..j`` when
    ``sim[i..j-1] > tau`` everywhere; the window saves ``(j - i)`` copies of each static cell.
    """
    t = sim.shape[0] + 1
    static = torch.ones(t, t, sim.shape[1], device=sim.device)
    for start in range(t - 1):
        run = torch.cumprod((sim[start:] > tau).to(static.dtype), dim=0)
        static[start, start + 1:start + 1 + run.shape[0]] = run
    length = (torch.arange(t, device=sim.device)[None, :] - torch.arange(t, device=sim.device)[:, None]).clamp(min=0)
    return static.sum(dim=-1) * length


def static_windows(sim: torch.Tensor, tau: float = 0.8, max_window: int = 1024) -> tuple[list[tuple[int, int]], float]:
    """HoliTom's segmentation: windows ``(first, last)`` covering the frames, chosen to save the most
    tokens (dynamic programme over window ends; ties keep the shorter last window), and the total saved."""
    t = sim.shape[0] + 1
    gain = saved_tokens(sim, tau)
    best = [0.0] * t
    start_of = [0] * t
    for i in range(t):
        value, first = (best[i - 1] if i > 0 else 0.0), i
        for size in range(2, min(i + 1, max_window) + 1):
            j = i - size
            cand = (best[j] if j >= 0 else 0.0) + float(gain[j + 1, i])
            if cand > value:
                value, first = cand, j + 1
        best[i], start_of[i] = value, first
    windows, i = [], t - 1
    while i >= 0:
        windows.append((start_of[i], i))
        i = start_of[i] - 1
    return windows[::-1], best[-1]


def _cluster_tokens(feat: torch.Tensor, centres: torch.Tensor, dist: torch.Tensor, beta: float) -> torch.Tensor:
    """Cluster tokens ``[c, C]``: every non-centre token of ``feat [n, C]`` joins its nearest centre
    (``dist [n, n]``); a centre with members becomes ``beta * centre + (1 - beta) * mean(members)``."""
    n = feat.shape[0]
    is_centre = torch.zeros(n, dtype=torch.bool, device=feat.device)
    is_centre[centres] = True
    others = torch.nonzero(~is_centre).reshape(-1)
    label = dist[others][:, centres].argmin(dim=-1)
    out = []
    for c in range(centres.shape[0]):
        members = feat[others[label == c]]
        centre = feat[centres[c]]
        out.append(beta * centre + (1 - beta) * members.mean(dim=0) if members.shape[0] else centre)
    return torch.stack(out) if out else feat[:0]


def merge_by_density(feat: torch.Tensor, index: torch.Tensor, keep_ratio: float, beta: float, k: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``round(n * keep_ratio)`` DPC-KNN cluster tokens of ``feat [n, C]`` (centres in index order)."""
    m = round(feat.shape[0] * keep_ratio)
    if m <= 0:
        return feat[:0], index[:0]
    score, _, dist = peak_scores(feat[None], min(k, m))
    centres = torch.topk(score[0], m).indices.sort().values
    return _cluster_tokens(feat, centres, dist[0], beta), index[centres]


def merge_by_attention_density(feat: torch.Tensor, attn: torch.Tensor, index: torch.Tensor, keep_ratio: float,
                               d: float, beta: float, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One frame's dynamic tokens ``feat [n, C]``: dominant (top attention) + contextual (clusters)."""
    n = feat.shape[0]
    total = math.ceil(n * keep_ratio)
    dominant = round(total * (1 - d))
    contextual = total - dominant
    top = torch.topk(attn, dominant).indices.sort().values if dominant > 0 else index[:0]  # kept in grid order
    rest = torch.ones(n, dtype=torch.bool, device=feat.device)
    rest[top] = False
    tokens, idx = [feat[top]], [index[top]]
    if contextual > 0:
        feat_r, index_r = feat[rest], index[rest]
        score, _, dist = peak_scores(feat_r[None], min(k, contextual))
        centres = torch.topk(score[0], contextual).indices.sort().values
        tokens.append(_cluster_tokens(feat_r, centres, dist[0], beta))
        idx.append(index_r[centres])
    return torch.cat(tokens), torch.cat(idx)


def holitom(frames: torch.Tensor, attn: torch.Tensor, *, keep_ratio: float = 0.1, tau: float = 0.8,
            beta: float = 0.6, d: float = 0.0, k: int = 7, max_window: int = 1024) -> VideoTokens:
    """HoliTom's outer-LLM merging of one video: frames ``[T, N, C]``, attention ``attn [T, N]``."""
    t, n, _ = frames.shape
    sim = token_similarity_to_next(frames) if t > 1 else frames.new_zeros(0, n)
    windows, saved = static_windows(sim, tau, max_window) if t > 1 else ([(0, 0)], 0.0)
    ratio = min(keep_ratio / ((t * n - saved) / (t * n)), 1)
    grid = torch.arange(t * n, device=frames.device).reshape(t, n)
    tokens, index = [], []
    for first, last in windows:
        if first == last:
            static = torch.zeros(n, dtype=torch.bool, device=frames.device)
        else:
            static = torch.all(sim[first:last] > tau, dim=0)
            st, si = merge_by_density(frames[first:last + 1, static].mean(dim=0), grid[first, static], ratio, beta, k)
            tokens.append(st), index.append(si)
        for f in range(first, last + 1):
            dt, di = merge_by_attention_density(frames[f, ~static], attn[f, ~static], grid[f, ~static], ratio, d, beta, k)
            tokens.append(dt), index.append(di)
    return VideoTokens(torch.cat(tokens), torch.cat(index))


def inner_merge(hidden: torch.Tensor, visual: torch.Tensor, importance: torch.Tensor, ratio: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """HoliTom's inner-LLM merge on one sequence ``hidden [n, C]``.

    ``visual [V]``: sequence indices of the visual tokens (ascending); ``importance [V]``: the last
    prompt token's attention over them. Returns ``(hidden [n, C], keep [V] bool)``: the top
    ``round(V (1 - ratio))`` stay; each other one, in sequence order, is averaged into its most
    similar kept token.
    """
    n_keep = round(visual.shape[0] * (1 - ratio))
    top = torch.topk(importance, n_keep).indices
    keep = torch.zeros(visual.shape[0], dtype=torch.bool, device=hidden.device)
    keep[top] = True
    kept, dropped = visual[top], visual[~keep]
    a, b = hidden[dropped], hidden[kept]
    sim = (a @ b.T) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True).T)
    target = kept[sim.argmax(dim=-1)]
    out = hidden.clone()
    for src, dst in zip(dropped.tolist(), target.tolist()):
        out[dst] = (out[dst] + out[src]) / 2
    return out, keep


# ----------------------------------------------------------------------------- the method
from dataclasses import dataclass  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

from zoo.interface import Method, _fail, check_int, check_number, check_ratio  # noqa: E402
from zoo.families.video_signals import MISSING as VISION_SIGNALS_MISSING  # noqa: E402
from zoo.papers._video import VIDEO_NEEDS, VideoFamilies, VideoReasons, check_video_model, video_event  # noqa: E402


@dataclass
class HoliTom(Method):
    """HoliTom: globally optimal static windows, static/dynamic density merging before the LLM, optional inner merge."""

    keep_ratio: float = 0.10
    tau: float = 0.8
    beta: float = 0.6
    D: float = 0.0
    k: int = 7
    max_window: int = 1024
    inner_layer: int | None = None
    inner_ratio: float = 0.5

    id: ClassVar[str] = "holitom"
    arxiv: ClassVar[str] = "2505.21334"
    needs: ClassVar[tuple[str, ...]] = (*VIDEO_NEEDS, "decoder-attention")
    families = VideoFamilies(exclude=("qwen2-vl", "qwen2.5-vl"))
    unsupported_reasons = VideoReasons({n: "needs the vision tower's per-patch attention of video frames: " + why
                                        for n, why in VISION_SIGNALS_MISSING.items()})
    placement: ClassVar[str] = "projector"
    paper_notation: ClassVar[dict[str, str]] = {
        "RETAIN_RATIO": "keep_ratio: retention ratio before the LLM (paper: 0.25 / 0.20 / 0.15 / 0.10)",
        "T": "tau: similarity threshold of static cells (0.8)",
        "BETA, D, K": "beta, D, k: cluster-token weight, contextual share, DPC-KNN neighbours (0.6, 0, 7)",
        "HOLITOM_k, HOLITOM_r": "inner_layer, inner_ratio: decoder layer of the inner merge and the share merged away "
                                "(README: 18, 0.5; None = 'HoliTom (w/o M)')",
        "attention": "the attention each patch receives in the vision feature layer (heads and queries averaged), "
                     "pooled like the tokens (the official modified SigLIP encoder's attentions[-1])",
    }

    def validate(self) -> None:
        check_ratio(self, "keep_ratio", self.keep_ratio)
        check_number(self, "tau", self.tau, low=-1.0, high=1.0)
        check_number(self, "beta", self.beta, low=0.0, high=1.0)
        check_number(self, "D", self.D, low=0.0, high=1.0)
        check_int(self, "k", self.k, low=1)
        check_int(self, "max_window", self.max_window, low=1)
        if self.inner_layer is not None:
            check_int(self, "inner_layer", self.inner_layer, low=1)
        check_number(self, "inner_ratio", self.inner_ratio, low=0.0, high=1.0)
        if self.inner_ratio >= 1:
            _fail("inner_ratio", self.inner_ratio, "0 <= inner_ratio < 1 (the share merged away)", self.id)

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)
        from zoo.families.video_signals import MISSING, SUPPORTED

        if adapter.name not in SUPPORTED:
            raise TypeError(f"holitom needs the vision tower's per-patch attention of video frames; {adapter.name}: "
                            f"{MISSING.get(adapter.name, 'not available')}. Supported: {', '.join(SUPPORTED)}")
        depth = adapter.depth("llm")
        if self.inner_layer is not None and not 1 <= self.inner_layer < depth:
            _fail("inner_layer", self.inner_layer, f"1..{depth - 1} (the model has {depth} decoder layers)", self.id)

    def install(self, adapter, patch, run) -> None:
        import torch

        from zoo.families.decoders.runtime import LlmEvent, PruneSelection
        from zoo.families.video_signals import VideoVisionSignals

        signals = VideoVisionSignals(adapter, patch, kinds=("received",))

        def reduce(view):
            attn = signals.video_maps(view.item.index, "received").to(view.frames.dtype)
            return holitom(view.frames, attn, keep_ratio=self.keep_ratio, tau=self.tau, beta=self.beta, d=self.D,
                           k=self.k, max_window=self.max_window)

        events = [video_event(adapter, reduce, positions="compact")]
        if self.inner_layer is not None:
            ratio = self.inner_ratio

            def select(ctx):
                b = ctx.hidden.shape[0]
                att = ctx.attention(ctx.last_valid()[:, None]).mean(dim=1)[:, 0]  # [B, N]
                keep = ctx.valid.clone()
                new = ctx.hidden.clone()
                for row in range(b):
                    vis = torch.nonzero(ctx.visual[row]).reshape(-1)
                    if vis.numel() == 0:
                        continue
                    merged, kept = inner_merge(ctx.hidden[row], vis, att[row, vis], ratio)
                    new[row] = merged
                    keep[row, vis[~kept]] = False
                sel = ctx.keep_mask(keep)
                replace = torch.stack([new[r].index_select(0, sel[r].clamp(min=0)) for r in range(b)])
                return PruneSelection(keep=sel, replace=replace)

            events.append(LlmEvent(layer=self.inner_layer, select=select, score_layer=self.inner_layer - 1))
        adapter.install_llm_reduction(patch, run, events, positions="compact")
