"""PruneVid: Visual Token Pruning for Efficient Video Large Language Models (Huang, Zhou, Han;
ACL 2025 Findings, arXiv 2412.16117).

Two stages (official code: Visual-AI/PruneVid, ``models/pllava/modeling_pllava.py::
merge_frames_dynamic`` and ``models/pllava/elastic_cache.py::VTPWindowCache``):

**1. Spatial-temporal token merging, before the LLM.** For a video ``frames [T, N, C]``:

a. *temporal segments*: the frame descriptors (token means ``[T, C]``) are clustered with
   DPC-KNN (``zoo.core.density``; ``int(T * temporal_segment_ratio)`` clusters, ``k = 7``);
   the labels are made contiguous (:func:`refine_labels`: every label keeps its longest run,
   other runs join their longer neighbour) and each run of equal labels is a segment;
b. *static / dynamic tokens*: in a segment of ``W`` frames, grid position ``n`` is static when
   the mean pairwise cosine similarity of its ``W`` tokens exceeds ``tau`` (0.8); static
   positions are averaged over the segment's frames (one token each), dynamic ones stay per frame;
c. *spatial merging*: the static tokens of a segment, and each frame's dynamic tokens, are
   clustered with DPC-KNN into ``int(n * cluster_ratio)`` cluster means when there are more than
   14 of them.

The LLM receives, per segment, ``[static tokens, dynamic tokens of frame 1, frame 2, ...]``.

**2. Attention-based selection inside the LLM.** After decoder layer ``selected_layer`` (10) ran
on all tokens, every visual token is scored by the maximum, over heads and over the text tokens
after the video, of that layer's attention; per segment the top ``int(alpha * n)`` static
tokens and, per frame, the top ``int(alpha * n)`` dynamic tokens survive (``alpha = 0.4``).
Later layers see only the survivors, and the official code also cuts them from the KV cache of
layers ``0..selected_layer``: decoding steps never see the pruned tokens. Positions: the merged
sequence is numbered contiguously; the official selection keeps those positions, while tokzoo
(one position rule per application in the decoder runtime) renumbers the survivors again on
1-D RoPE models (documented divergence; 3-D M-RoPE positions are always kept). tokzoo hides the
selected-out tokens from every decoding step in layers ``0..selected_layer`` (a decoding-step
event) instead of cutting them from those layers' caches: the same attention, nothing edited.

Divergences (documented, tested): the official DPC-KNN adds ``1e-6 * U(0, 1)`` noise to the
densities; tokzoo adds none (identical selections on the random-feature tests, see
``zoo.core.density``). The temporal clustering uses ``k = min(7, T)`` (the official code
fails for fewer than 7 frames). A one-frame segment has no static tokens (the official
``0/0`` similarity is NaN, i.e. not above ``tau``: the same outcome).

Budget vocabulary: ``keep_ratio`` is ``alpha`` (fraction of the merged visual tokens each group
keeps at ``selected_layer``); ``cluster_ratio``, ``temporal_segment_ratio`` and ``tau`` set the
merging.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from zoo.core.density import cluster, cluster_means
from zoo.core.temporal import VideoTokens, segment_sizes_from_labels

#: PruneVid clusters a token set only when it holds more than this many tokens (official constant)
MIN_TOKENS_TO_CLUSTER = 14


def refine_labels(labels: list[int]) -> list[int]:
    """Make a per-frame cluster labelling contiguous in time (PruneVid's ``refine_clusters``).

    Every label keeps its longest run(s) of consecutive frames (a label whose longest run has
    length 1 keeps nothing); every other run is relabelled, left to right, with the label of
    its longer neighbouring run (left on ties; label 0 when it has no neighbour).
    """
    n = len(labels)
    out = list(labels)
    runs: dict[int, list[tuple[int, int]]] = {}
    start = 0
    for i in range(1, n + 1):
        if i == n or labels[i] != labels[start]:
            runs.setdefault(labels[start], []).append((start, i - 1))
            start = i
    for segs in runs.values():
        longest = max(e - s + 1 for s, e in segs)
        for s, e in segs:
            if longest == 1 or e - s + 1 != longest:
                out[s:e + 1] = [-1] * (e - s + 1)
    i = 0
    while i < n:
        if out[i] != -1:
            i += 1
            continue
        s = i
        while i < n and out[i] == -1:
            i += 1
        e = i - 1
        left = right = None
        left_len = right_len = 0
        if s > 0:
            left = out[s - 1]
            j = s - 1
            while j >= 0 and out[j] == left:
                j -= 1
            left_len = s - 1 - j
        if e < n - 1:
            right = out[e + 1]
            j = e + 1
            while j < n and out[j] == right:
                j += 1
            right_len = j - e - 1
        if left_len > right_len:
            new = left
        elif right_len > left_len:
            new = right
        else:
            new = left if left is not None else right
        out[s:e + 1] = [0 if new is None else new] * (e - s + 1)
    return out


def temporal_segments(frames: torch.Tensor, segment_ratio: float = 0.25, k: int = 7,
                      noise: torch.Tensor | None = None) -> list[int]:
    """Segment sizes of ``frames [T, N, C]``: DPC-KNN on the frame means, refined to contiguous runs."""
    t = frames.shape[0]
    n_clusters = int(t * segment_ratio)
    if n_clusters < 1:
        return [t]
    labels, _ = cluster(frames.mean(dim=1)[None], n_clusters, min(k, t), noise)
    return segment_sizes_from_labels(torch.tensor(refine_labels(labels[0].tolist())))


def static_mask(window: torch.Tensor, tau: float) -> torch.Tensor:
    """``[N]`` bool: grid positions whose mean pairwise cosine similarity over the window ``[W, N, C]``
    exceeds ``tau`` (diagonal excluded; all ``False`` for ``W = 1``)."""
    w = window.shape[0]
    if w < 2:
        return torch.zeros(window.shape[1], dtype=torch.bool, device=window.device)
    normed = F.normalize(window, p=2, dim=-1)
    sim = torch.einsum("wlc,tlc->wtl", normed, normed)
    mean_sim = (sim.sum(dim=-2) - 1).sum(dim=-2) / (w * (w - 1))
    return mean_sim > tau


def merge_spatially(tokens: torch.Tensor, index: torch.Tensor, cluster_ratio: float, k: int = 7,
                    noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cluster ``tokens [n, C]`` into ``int(n * cluster_ratio)`` means when ``n > 14``.

    ``index [n]``: what each input token stands at. Returns ``(tokens, index, size)``: cluster means
    in cluster-label order (= centre score order), each standing at its centre's index, with its
    member count; or the input unchanged (size 1) when ``n <= 14`` or ``cluster_ratio >= 1``
    (tokzoo's no-op: the official code would form ``n`` singleton clusters in centre order).
    """
    n = tokens.shape[0]
    if n <= MIN_TOKENS_TO_CLUSTER or cluster_ratio >= 1:
        return tokens, index, torch.ones(n, dtype=torch.float32, device=tokens.device)
    m = int(n * cluster_ratio)
    labels, centres = cluster(tokens[None], m, k, noise)
    means = cluster_means(tokens[None], labels, m)[0]
    size = torch.bincount(labels[0], minlength=m).float()
    return means, index[centres[0]], size


@dataclass
class PruneVidGroups:
    """Where PruneVid's groups sit in its merged token sequence (the official ``static_sizes``,
    ``dynamic_sizes`` and ``window_sizes``): segment ``s`` holds ``static[s]`` static tokens then
    ``dynamic[s]`` dynamic tokens, ``dynamic[s] / window[s]`` per frame."""

    static: list[int]
    dynamic: list[int]
    window: list[int]

    def groups(self) -> list[tuple[int, int]]:
        """``(start, length)`` of every selection group in the merged sequence, in order."""
        out, pos = [], 0
        for s, d, w in zip(self.static, self.dynamic, self.window):
            out.append((pos, s))
            pos += s
            per = d // w
            for _ in range(w):
                out.append((pos, per))
                pos += per
        return out


def merge_video(frames: torch.Tensor, *, tau: float = 0.8, cluster_ratio: float = 0.5,
                temporal_segment_ratio: float = 0.25, k: int = 7) -> tuple[VideoTokens, PruneVidGroups]:
    """PruneVid's stage 1 on one video ``frames [T, N, C]``: merged tokens and their groups."""
    t, n, _ = frames.shape
    sizes = temporal_segments(frames, temporal_segment_ratio, k)
    grid_index = torch.arange(t * n, device=frames.device).reshape(t, n)
    tokens, index, size = [], [], []
    groups = PruneVidGroups([], [], [])
    start = 0
    for w in sizes:
        window = frames[start:start + w]
        mask = static_mask(window, tau)
        static = window[:, mask].mean(dim=0)
        st, si, ss = merge_spatially(static, grid_index[start, mask], cluster_ratio, k)
        tokens.append(st), index.append(si), size.append(ss * w)
        n_dyn = 0
        for f in range(w):
            dt, di, ds = merge_spatially(window[f, ~mask], grid_index[start + f, ~mask], cluster_ratio, k)
            tokens.append(dt), index.append(di), size.append(ds)
            n_dyn += dt.shape[0]
        groups.static.append(st.shape[0])
        groups.dynamic.append(n_dyn)
        groups.window.append(w)
        start += w
    return VideoTokens(torch.cat(tokens), torch.cat(index), torch.cat(size)), groups


def select_tokens(scores: torch.Tensor, groups: PruneVidGroups, alpha: float = 0.4) -> torch.Tensor:
    """PruneVid's stage 2: ascending indices into the merged sequence of the tokens that survive.

    scores ``[M]``: each merged token's attention score (max over heads and text queries); every
    group (a segment's static tokens; a frame's dynamic tokens) keeps its ``int(alpha * n)`` best.
    """
    kept = []
    for start, length in groups.groups():
        k = int(length * alpha)
        if k > 0:
            kept.append(torch.topk(scores[start:start + length], k).indices + start)
    if not kept:
        return torch.zeros(0, dtype=torch.long, device=scores.device)
    return torch.cat(kept).sort().values


# ----------------------------------------------------------------------------- the method
from dataclasses import dataclass as _dataclass  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

from zoo.interface import Method, _fail, check_int, check_number, check_ratio  # noqa: E402
from zoo.papers._video import VIDEO_NEEDS, VideoFamilies, VideoReasons, check_video_model, video_event  # noqa: E402


@_dataclass
class PruneVid(Method):
    """PruneVid: merge static and similar tokens per temporal segment, then keep the text-attended ones at a middle layer."""

    keep_ratio: float = 0.4
    selected_layer: int = 10
    tau: float = 0.8
    cluster_ratio: float = 0.5
    temporal_segment_ratio: float = 0.25
    k: int = 7

    id: ClassVar[str] = "prunevid"
    arxiv: ClassVar[str] = "2412.16117"
    needs: ClassVar[tuple[str, ...]] = (*VIDEO_NEEDS, "decoder-attention")
    families = VideoFamilies()
    unsupported_reasons = VideoReasons()
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "alpha": "keep_ratio: share of each group's merged tokens kept at selected_layer (README: 0.4)",
        "selected_layer": "selected_layer: the decoder layer whose attention selects (README: 10); later layers and "
                          "every decoding step see only the selected tokens",
        "tau": "tau: static threshold of the mean pairwise similarity (0.8)",
        "cluster_ratio": "cluster_ratio: DPC-KNN clusters per token set of more than 14 tokens (0.5)",
        "temporal_segment_ratio": "temporal_segment_ratio: temporal clusters per frame (0.25)",
    }

    def validate(self) -> None:
        check_ratio(self, "keep_ratio", self.keep_ratio)
        check_int(self, "selected_layer", self.selected_layer, low=0)
        check_number(self, "tau", self.tau, low=-1.0, high=1.0)
        check_ratio(self, "cluster_ratio", self.cluster_ratio)
        check_ratio(self, "temporal_segment_ratio", self.temporal_segment_ratio, allow_zero=True)
        check_int(self, "k", self.k, low=1)

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)
        depth = adapter.depth("llm")
        if not 0 <= self.selected_layer < depth - 1:
            _fail("selected_layer", self.selected_layer, f"0..{depth - 2} (the model has {depth} decoder layers)",
                  self.id)

    def install(self, adapter, patch, run) -> None:
        import torch

        from zoo.families.decoders.runtime import DecodeEvent, DecodeSelection, LlmEvent, PruneSelection

        state: dict[str, Any] = {"merged": {}, "hide": None}  # per prefill: (row, video) -> (input columns, groups)

        def reduce(view):
            out, groups = merge_video(view.frames, tau=self.tau, cluster_ratio=self.cluster_ratio,
                                      temporal_segment_ratio=self.temporal_segment_ratio, k=self.k)
            state["merged"][(view.row, view.item.index)] = (view.columns[:len(out)], groups)
            return out

        merge_event = video_event(adapter, reduce, positions="compact")
        merge_select = merge_event.select

        def first(ctx):
            state["merged"], state["hide"] = {}, None
            return merge_select(ctx)

        merge_event.select = first

        def select(ctx):
            b = ctx.hidden.shape[0]
            where = ctx.where_now()
            keep = ctx.valid.clone()
            hide = torch.zeros_like(ctx.input_valid)
            text = ctx.valid & ~ctx.visual
            spans = {}  # row -> (current indices of its merged tokens per video, groups, input columns)
            for (row, vid), (cols, groups) in state["merged"].items():
                spans.setdefault(row, []).append((where[row, cols], groups, cols))
            if not spans:
                return PruneSelection(keep=ctx.keep_mask(keep))
            queries = []
            for row in range(b):
                last = max((int(now.max()) for now, _, _ in spans.get(row, [])), default=-1)
                q = torch.nonzero(text[row]).reshape(-1)
                q = q[q > last]
                queries.append(q if q.numel() else ctx.last_valid()[row:row + 1])
            width = max(q.numel() for q in queries)
            qidx = torch.stack([torch.cat([q, q[-1:].expand(width - q.numel())]) for q in queries])
            att = ctx.attention(qidx).amax(dim=1).amax(dim=1)  # [B, N]: max over heads, then over the text queries
            for row, items in spans.items():
                for now, groups, cols in items:
                    kept = select_tokens(att[row, now], groups, self.keep_ratio)
                    drop = torch.ones(now.numel(), dtype=torch.bool, device=now.device)
                    drop[kept] = False
                    keep[row, now[drop]] = False
                    hide[row, cols[drop]] = True
            state["hide"] = hide
            return PruneSelection(keep=ctx.keep_mask(keep))

        def decode_select(ctx):
            hide = state["hide"]
            return None if hide is None else DecodeSelection(hide=hide)

        events = [merge_event, LlmEvent(layer=self.selected_layer + 1, select=select, score_layer=self.selected_layer)]
        adapter.install_llm_reduction(patch, run, events, positions="compact")
        adapter.install_decode_reduction(patch, run, [DecodeEvent(layer=0, select=decode_select)])
