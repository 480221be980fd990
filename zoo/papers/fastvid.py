"""FastVID: Dynamic Density Pruning for Fast Video Large Language Models (Shen et al., NeurIPS 2025,
arXiv 2503.11187).

Before the LLM, the video's tokens ``frames [T, N, C]`` are pruned and merged in three steps
(official code: LunarShen/FastVID, the parallel LLaVA-OneVision implementation in
``fastvid_llavaonevision/LLaVA-NeXT/llava/model/language_model/modeling_qwen2.py``):

**DySeg (dynamic temporal segmentation).** From per-frame global features ``g [T, C']`` the
cosine similarity of consecutive frames is computed; the video is cut after the ``c - 1`` least
similar transitions and after every transition below ``tau`` (``c = 8``, ``tau = 0.9``).

**STPrune, salient part (ATS).** Every frame keeps ``int(N * r)`` tokens (``r`` the retention
ratio, 0.10): its ``s = R - int(R * d)`` tokens with the highest salience ``a [T, N]`` (the
vision tower's attention signal) are kept as they are (``d = 0.4`` is the context share).

**STPrune, context part (DTM, density-based temporal merging).** The remaining tokens of each
frame get DPC-KNN density scores (``zoo.core.density``, ``k = 4``).

- In a one-frame segment the frame's ``R - s`` densest-peak tokens become *anchors*; every
  remaining token of the frame joins its most similar anchor (cosine), and an anchor with
  ``m`` members becomes ``w * anchor + (1 - w) * mean(members)``, ``w = max(1 / (m + 1), beta)``
  (``beta = 0.6``; the anchor itself is one of its members).
- In a segment of ``L > 1`` frames the budget ``(R - s) * L`` goes to anchor frames: every
  ``p``-th frame counted from the segment's end (``p = 4``), each taking
  ``(R - s) * L // ceil(L / p)`` density peaks; each anchor merges the remaining tokens of
  *all* the segment's frames that are most similar to it.

Survivors are sorted by their original place and keep their **original positions**
(the official code passes ``position_ids = keep_indexs``).

Signals: FastVID needs per-frame global features and per-token salience from the vision tower.
On LLaVA-OneVision the official code reads SigLIP's attention-pooling head (a separately loaded
copy of ``siglip-so400m``: its pooled output and its probe's attention, bilinearly pooled like the
tokens); on Qwen2.5-VL it uses the mean of the frame's tokens and the attention of the frame's
mean query over merge-unit keys in the last vision block. The adapter supplies them
(``frame_global``, ``frame_salience``); this module only consumes them.

Divergence (documented, tested): the official density scores carry ``1e-6 * U(0, 1)`` noise;
tokzoo adds none. The LLaVA-Video and Qwen2.5-VL official variants distribute the budget per
segment in a slightly different ("straightforward") way; tokzoo implements the LLaVA-OneVision
(paper) variant everywhere.

Budget vocabulary: ``keep_ratio`` is FastVID's retention ratio ``r``; ``d``, ``c``, ``tau``,
``p``, ``beta`` keep the paper's names.
"""

from __future__ import annotations

import torch

from zoo.core.density import peak_scores
from zoo.core.temporal import VideoTokens, frame_similarity_to_next, segment_sizes_from_cuts
from zoo.papers.video_budgets import fastvid_budget as budget  # noqa: F401 (public here too)


def dyseg(global_features: torch.Tensor, c: int = 8, tau: float = 0.9) -> list[int]:
    """DySeg segment sizes from frame descriptors ``global_features [T, C']``."""
    t = global_features.shape[0]
    if t < 2:
        return [t]
    sim = frame_similarity_to_next(global_features)
    n_top = min(max(c - 1, 0), t - 1)
    cuts = torch.topk(sim, n_top, largest=False).indices.tolist() if n_top else []
    cuts += torch.nonzero(sim < tau).reshape(-1).tolist()
    return segment_sizes_from_cuts(cuts, t)


def anchor_context_counts(sizes: list[int], context: int, p: int) -> list[int]:
    """Context tokens each frame contributes: ``context`` in one-frame segments; in longer segments
    ``context * L // ceil(L / p)`` on every ``p``-th frame from the segment's end, 0 elsewhere."""
    out: list[int] = []
    for length in sizes:
        per_anchor = (context * length) // ((length + p - 1) // p)
        out += [per_anchor if (length - 1 - i) % p == 0 else 0 for i in range(length)]
    return out


def _merge_into(anchors: torch.Tensor, pool: torch.Tensor, beta: float) -> torch.Tensor:
    """DTM merge: anchors ``[A, C]`` absorb the tokens of ``pool [P, C]`` most similar to them."""
    unit = pool / pool.norm(dim=-1, keepdim=True)
    targets = anchors / anchors.norm(dim=-1, keepdim=True)
    assign = torch.zeros(pool.shape[0], anchors.shape[0], dtype=pool.dtype, device=pool.device)
    assign.scatter_(1, (unit @ targets.T).argmax(dim=1, keepdim=True), 1)
    members = assign.sum(dim=0).unsqueeze(-1)  # [A, 1]
    w = (1 / (members + 1)).clamp(min=beta)
    mean = (assign.T @ pool) / members.clamp(min=1)
    return w * anchors + (1 - w) * mean


def fastvid(frames: torch.Tensor, salience: torch.Tensor, global_features: torch.Tensor, *,
            keep_ratio: float = 0.10, c: int = 8, tau: float = 0.9, d: float = 0.4, p: int = 4,
            beta: float = 0.6, k: int = 4) -> VideoTokens:
    """FastVID on one video: frames ``[T, N, C]``, salience ``[T, N]``, global_features ``[T, C']``.

    Returns the kept/merged tokens sorted by ``index`` (``t * N + n``).
    """
    t, n, _ = frames.shape
    sizes = dyseg(global_features, c, tau)
    salient, context = budget(n, keep_ratio, d)
    grid = torch.arange(t * n, device=frames.device).reshape(t, n)
    tokens, index = [], []

    sal_idx = torch.topk(salience, salient, dim=1).indices  # [T, s]
    rows = torch.arange(t, device=frames.device)[:, None]
    tokens.append(frames[rows, sal_idx].reshape(-1, frames.shape[-1]))
    index.append(grid[rows, sal_idx].reshape(-1))

    rest_mask = torch.ones(t, n, dtype=torch.bool, device=frames.device)
    rest_mask[rows.expand_as(sal_idx), sal_idx] = False
    rest_pos = torch.arange(n, device=frames.device).expand(t, n)[rest_mask].reshape(t, n - salient)
    rest = frames[rows, rest_pos]  # [T, n - s, C]
    rest_index = grid[rows, rest_pos]
    score = peak_scores(rest, min(k, rest.shape[1]))[0] if rest.shape[1] else rest.new_zeros(t, 0)

    counts = anchor_context_counts(sizes, context, p)
    start = 0
    for length in sizes:
        frames_here = range(start, start + length)
        if length == 1 and context > 0:
            f = start
            peaks = torch.topk(score[f], context).indices
            tokens.append(_merge_into(rest[f, peaks], rest[f], beta))
            index.append(rest_index[f, peaks])
        elif length > 1:
            pool = rest[start:start + length].reshape(-1, rest.shape[-1])
            for f in frames_here:
                if counts[f] > 0:
                    peaks = torch.topk(score[f], counts[f]).indices
                    tokens.append(_merge_into(rest[f, peaks], pool, beta))
                    index.append(rest_index[f, peaks])
        start += length

    index_all = torch.cat(index)
    order = torch.argsort(index_all)
    return VideoTokens(tokens=torch.cat(tokens)[order], index=index_all[order])


# ----------------------------------------------------------------------------- the method
from dataclasses import dataclass  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

from zoo.interface import Method, check_int, check_number, check_ratio  # noqa: E402
from zoo.families.video_signals import MISSING as VISION_SIGNALS_MISSING  # noqa: E402
from zoo.papers._video import VIDEO_NEEDS, VideoFamilies, VideoReasons, check_video_model, video_event  # noqa: E402


@dataclass
class FastVID(Method):
    """FastVID: dynamic temporal segments, then per frame salient tokens plus density-peak anchors that absorb the rest."""

    keep_ratio: float = 0.10
    c: int = 8
    tau: float = 0.9
    d: float = 0.4
    p: int = 4
    beta: float = 0.6

    id: ClassVar[str] = "fastvid"
    arxiv: ClassVar[str] = "2503.11187"
    needs: ClassVar[tuple[str, ...]] = VIDEO_NEEDS
    #: needs the vision tower's per-patch attention of video frames (zoo.families.video_signals)
    families = VideoFamilies(exclude=("qwen2-vl", "qwen2.5-vl"))
    unsupported_reasons = VideoReasons({n: "needs the vision tower's per-patch attention of video frames: " + why
                                        for n, why in VISION_SIGNALS_MISSING.items()})
    placement: ClassVar[str] = "projector"
    paper_notation: ClassVar[dict[str, str]] = {
        "r": "keep_ratio: retention ratio, tokens kept per frame = int(N * r) (paper: 0.10 on LLaVA-OneVision)",
        "c, tau": "c, tau: DySeg cuts after the c - 1 least similar transitions and below tau (8, 0.9)",
        "d": "d: share of the per-frame budget given to density-peak context tokens (0.4)",
        "p, beta": "p, beta: anchor frame spacing and the anchors' minimum weight when merging (4, 0.6)",
        "salience": "the frame's mean-query attention over its patches in the vision feature layer, pooled like the "
                    "tokens (the official LLaVA-OneVision code reads a separate SigLIP attention-pooling head)",
        "global features": "the mean of the frame's language-model input tokens (the official Qwen2.5-VL rule)",
    }

    def validate(self) -> None:
        check_ratio(self, "keep_ratio", self.keep_ratio)
        check_int(self, "c", self.c, low=1)
        check_number(self, "tau", self.tau, low=-1.0, high=1.0)
        check_number(self, "d", self.d, low=0.0, high=1.0)
        check_int(self, "p", self.p, low=1)
        check_number(self, "beta", self.beta, low=0.0, high=1.0)

    def check_model(self, adapter: Any) -> None:
        check_video_model(self, adapter)
        from zoo.families.video_signals import MISSING, SUPPORTED

        if adapter.name not in SUPPORTED:
            raise TypeError(f"fastvid needs the vision tower's per-patch attention of video frames; {adapter.name}: "
                            f"{MISSING.get(adapter.name, 'not available')}. Supported: {', '.join(SUPPORTED)}")

    def install(self, adapter, patch, run) -> None:
        from zoo.families.video_signals import VideoVisionSignals

        signals = VideoVisionSignals(adapter, patch, kinds=("mean_query",))

        def reduce(view):
            sal = signals.video_maps(view.item.index, "mean_query").to(view.frames.dtype)
            return fastvid(view.frames, sal, view.frames.mean(dim=1), keep_ratio=self.keep_ratio, c=self.c,
                           tau=self.tau, d=self.d, p=self.p, beta=self.beta)

        adapter.install_llm_reduction(patch, run, [video_event(adapter, reduce, positions="keep")], positions="keep")
