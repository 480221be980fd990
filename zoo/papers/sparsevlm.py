"""SparseVLM: Visual Token Sparsification for Efficient Vision-Language Model Inference
(Zhang et al., ICML 2025, arXiv 2410.04417).

Text-guided, progressive pruning with token recycling, as the official code does
(Gumpest/SparseVLMs, ``modelling_sparse_llama.py`` / ``score.py`` / ``utils.py``):

1. **Raters** (once, on the language model's input embeddings): the text tokens after the
   image whose relevance to the image is above average: ``softmax_text(V Tᵀ)`` averaged over
   the image tokens ``V``, compared with its mean over the text tokens ``T``.
2. **Sparsify** at each layer of ``layers`` (paper: 2, 6, 15): that layer's attention
   (as it ran; recomputed for the rater rows only, no attention map materialised), averaged
   over heads, rows of the raters, averaged over raters, gives each image token a relevance;
   the top ``schedule[i]`` image tokens survive into the next layer (a budget at or above
   the current image-token count leaves that layer alone; the official code always prunes
   at least one token).
3. **Recycle**: of the pruned image tokens, the most relevant ``int(0.3 · pruned) + 1`` are
   clustered (DPC-KNN on the layer's output hidden states, ``int(m / 10) + 1`` clusters,
   members averaged) and the cluster tokens are inserted right after the kept image tokens.

The layer's *output* is pruned, so the decoder layers ``0..layers[0]`` see every token;
positions are renumbered contiguously afterwards (the official ``position_ids[:, :L']``).

Budget: the paper's settings (``tokens`` = 64 / 128 / 192) use the official per-layer kept
counts for LLaVA-1.5's 576 image tokens: 64: (66, 30, 17), 128: (303, 110, 36), 192:
(300, 200, 110); other image-token counts scale them by ``n / 576``. ``schedule`` gives the
kept counts directly; ``keep_ratio`` is the fraction kept after the last sparsification
layer, reached geometrically (each layer keeps ``keep_ratio ** (1 / len(layers))`` of what
reaches it). The official rank-adaptive count (``matrix_rank`` of the rater attention) is
not used: it makes the count differ per image, and the official repository's current code
ships the fixed schedules above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.interface import Method, _fail, check_budget, check_choice, check_int, check_ratio

#: official kept image tokens after each sparsification layer (2, 6, 15) for 576 image tokens
OFFICIAL_SCHEDULES: dict[int, tuple[int, int, int]] = {
    64: (66, 30, 17),
    128: (303, 110, 36),
    192: (300, 200, 110),
}


@dataclass
class SparseVLM(Method):
    """SparseVLM: text-rater-guided progressive pruning of image tokens with token recycling."""

    layers: tuple[int, ...] = (2, 6, 15)
    tokens: int | None = None
    schedule: tuple[int, ...] | None = None
    keep_ratio: float | None = None
    recycle: bool = True

    id: ClassVar[str] = "sparsevlm"
    arxiv: ClassVar[str] = "2410.04417"
    families: ClassVar[tuple[str, ...]] = ("llava", "llava-next")
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "pruning_loc": "layers: decoder layers whose attention scores the image tokens and whose outputs are "
                       "pruned (paper: 2, 6, 15); the next layer sees the reduced tokens",
        "64/128/192 tokens": "tokens: the paper's budget setting, mapped to the official per-layer schedule",
        "sparse_token_list": "schedule: image tokens kept after each layer of `layers`",
        "keep_ratio": "keep_ratio: fraction of image tokens kept after the last layer (geometric per layer)",
        "recycling": "recycle: cluster the most relevant pruned tokens and insert them back (paper: on)",
    }

    def validate(self) -> None:
        items = [self.layers] if isinstance(self.layers, int) else list(self.layers)
        for v in items:
            check_int(self, "layers", v, low=0)
        if not items or items != sorted(set(items)):
            _fail("layers", self.layers, "a non-empty strictly increasing list of decoder layers", self.id)
        self.layers = tuple(items)
        sched = tuple(self.schedule) if self.schedule is not None else None
        check_budget(self, self.keep_ratio, None, others={"tokens": self.tokens, "schedule": sched})
        if self.tokens is None and sched is None and self.keep_ratio is None:
            self.tokens = 192
        if self.tokens is not None:
            check_choice(self, "tokens", self.tokens, tuple(OFFICIAL_SCHEDULES))
            if len(self.layers) != 3:
                _fail("tokens", self.tokens, "the official schedules, defined for three layers (use schedule=...)",
                      self.id)
        if sched is not None:
            if len(sched) != len(self.layers):
                _fail("schedule", self.schedule, f"{len(self.layers)} counts, one per layer", self.id)
            for v in sched:
                check_int(self, "schedule", v, low=1)
            self.schedule = sched
        if self.keep_ratio is not None:
            check_ratio(self, "keep_ratio", self.keep_ratio)
        if not isinstance(self.recycle, bool):
            _fail("recycle", self.recycle, "True or False", self.id)

    def counts(self, n: int) -> list[int]:
        """Kept image tokens after each layer for an image of ``n`` tokens."""
        if self.schedule is not None:
            return list(self.schedule)
        if self.tokens is not None:
            return [max(1, int(c * n / 576 + 0.5)) for c in OFFICIAL_SCHEDULES[self.tokens]]
        per = self.keep_ratio ** (1.0 / len(self.layers))
        return [max(1, int(n * per ** (i + 1) + 0.5)) for i in range(len(self.layers))]

    def check_model(self, adapter: Any) -> None:
        depth = adapter.depth("llm")
        if self.layers[-1] >= depth - 1:
            _fail("layers", self.layers, f"decoder layers within 0..{depth - 2} (the model has {depth}; the last "
                                         "layer's output cannot feed a later layer)", self.id)

    def install(self, adapter, patch, run) -> None:
        from zoo.families.llava_runtime import LlmEvent

        state: dict[str, Any] = {}
        events = [LlmEvent(layer=layer + 1, select=_Sparsify(self, i, state), score_layer=layer)
                  for i, layer in enumerate(self.layers)]
        adapter.install_llm_reduction(patch, run, events, positions="compact")


def text_raters(image_hidden, text_hidden, text_valid):
    """Rater mask ``[B, T]`` (SparseVLM 3.2): text tokens whose mean image relevance is above average.

    image_hidden ``[B, V, C]``, text_hidden ``[B, T, C]``, text_valid ``[B, T]`` bool.
    """
    import torch

    logits = torch.bmm(image_hidden.float(), text_hidden.float().transpose(1, 2))  # [B, V, T]
    logits = logits.masked_fill(~text_valid[:, None, :], float("-inf"))
    relevance = torch.softmax(logits, dim=2).mean(dim=1)  # [B, T]
    mean = (relevance * text_valid).sum(-1, keepdim=True) / text_valid.sum(-1, keepdim=True).clamp(min=1)
    return (relevance > mean) & text_valid


def dpc_knn_merge(x, n_clusters: int):
    """Cluster tokens ``x [B, M, C]`` by density peaks (DPC-KNN) and average each cluster -> ``[B, n_clusters, C]``.

    Density from the ``n_clusters`` nearest neighbours, centres = highest ``density · distance to
    a denser token``, every token joins its nearest centre (official ``cluster_and_merge``,
    without its random tie-breaking noise).
    """
    import torch

    b, m, c = x.shape
    dist = torch.cdist(x.float(), x.float()) / c ** 0.5  # [B, M, M]
    nearest = torch.topk(dist, k=n_clusters, dim=-1, largest=False).values
    density = torch.exp(-(nearest ** 2).mean(dim=-1))  # [B, M]
    denser = (density[:, None, :] > density[:, :, None]).to(dist.dtype)
    dist_max = dist.flatten(1).max(dim=-1).values[:, None, None]
    to_denser = (dist * denser + dist_max * (1 - denser)).min(dim=-1).values
    centres = torch.topk(to_denser * density, k=n_clusters, dim=-1).indices  # [B, k]
    to_centres = torch.gather(dist, 1, centres[..., None].expand(-1, -1, m))  # [B, k, M]
    assign = to_centres.argmin(dim=1)  # [B, M]
    assign.scatter_(1, centres, torch.arange(n_clusters, device=x.device).expand(b, -1))
    onehot = torch.nn.functional.one_hot(assign, n_clusters).to(x.dtype)  # [B, M, k]
    sums = torch.bmm(onehot.transpose(1, 2), x)
    return sums / onehot.sum(dim=1)[..., None].clamp(min=1e-6)


class _Sparsify:
    """Selector of one SparseVLM layer (see the module docstring)."""

    def __init__(self, method: SparseVLM, stage: int, state: dict) -> None:
        self.m, self.stage, self.state = method, stage, state

    def raters(self, ctx):
        import torch

        img, valid, h = ctx.input_image, ctx.input_valid, ctx.input_hidden
        n = h.shape[1]
        cols = torch.arange(n, device=h.device).expand_as(img)
        last_img = torch.where(img, cols, -1).max(dim=1).values  # [B]
        after = (cols > last_img[:, None]) & valid & ~img
        n_img = int(img.sum(-1)[0])
        image_h = h[img].view(h.shape[0], n_img, -1)
        width = int(after.sum(-1).max())
        text_idx = torch.sort(torch.where(after, cols, n), dim=1).values[:, :width]
        text_ok = text_idx < n
        text_h = torch.gather(h, 1, text_idx.clamp(max=n - 1)[..., None].expand(-1, -1, h.shape[-1]))
        mask = text_raters(image_h, text_h, text_ok)
        if not bool(mask.any(-1).all()):
            raise ValueError("sparsevlm: a row has no text tokens after the image to rate the image tokens")
        return text_idx, mask

    def __call__(self, ctx):
        import torch

        from zoo.families.llava_runtime import PruneSelection

        if self.stage == 0:
            self.state["n"] = ctx.n_image
            self.state["raters"] = self.raters(ctx)
        text_idx, mask = self.state["raters"]
        # rows with fewer raters repeat their first one (then de-weighted by the mask)
        width = int(mask.sum(-1).max())
        order = torch.sort(torch.where(mask, text_idx, torch.iinfo(torch.long).max), dim=1).values[:, :width]
        present = order != torch.iinfo(torch.long).max
        order = torch.where(present, order, order[:, :1])
        rows = ctx.locate(order)  # [B, r] current indices of the raters
        probs = ctx.attention(rows).mean(dim=1)  # [B, r, N]
        relevance = (probs * present[..., None]).sum(1) / present.sum(-1, keepdim=True)  # [B, N]
        n_img = ctx.n_image
        target = self.m.counts(self.state["n"])[self.stage]
        if target >= n_img:  # budget at or above the image tokens: this layer does nothing
            return PruneSelection(keep=ctx.keep_top_images(relevance, n_img))
        keep = ctx.keep_top_images(relevance, target)
        k = target
        if not self.m.recycle:
            return PruneSelection(keep=keep)
        b = keep.shape[0]
        kept_mask = torch.zeros_like(ctx.image)
        kept_mask.scatter_(1, keep, True)
        pruned = ctx.image & ~kept_mask  # [B, N]
        n_pruned = n_img - k
        n_recycle = int(n_pruned * 0.3) + 1
        n_clusters = int(n_recycle / 10) + 1
        score = torch.where(pruned, relevance, torch.full_like(relevance, float("-inf")))
        pick = torch.topk(score, n_recycle, dim=1).indices  # [B, m] most relevant pruned tokens
        merged = dpc_knn_merge(torch.gather(ctx.hidden, 1, pick[..., None].expand(-1, -1, ctx.hidden.shape[-1])),
                               n_clusters)
        # insert after the last kept image token
        kept_is_image = torch.gather(ctx.image, 1, keep)
        pos = torch.arange(keep.shape[1], device=keep.device).expand(b, -1)
        at = torch.where(kept_is_image, pos, -1).max(dim=1).values + 1
        return PruneSelection(keep=keep, extra=merged, extra_at=at)
