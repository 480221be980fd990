"""SparseVLM: Visual Token Sparsification for Efficient Vision-Language Model Inference
(Zhang et al., ICML 2025, arXiv 2410.04417).

Text-guided, progressive pruning with token recycling, as the official v1.5 code does
(Gumpest/SparseVLMs, ``llava/model/language_model/modelling_sparse_llama.py`` at 14cb5a9 and
9e376ce, its default path, not ``USE_VERSION=2_0``; ``score.py`` at 14cb5a9; ``utils.py``):

1. **Raters** (once, on the language model's input embeddings): the text tokens after the
   image whose relevance to the image is above average: ``softmax_text(V Tᵀ)`` averaged over
   the image tokens ``V``, compared with its mean over the text tokens ``T``.
2. **Sparsify** at each layer of ``layers`` (paper: 2, 6, 15): that layer's attention
   (as it ran; recomputed for the rater rows only, no attention map materialised), averaged
   over heads, rows of the raters, averaged over raters, gives each image token a relevance;
   the top ``schedule[i]`` image tokens survive into the next layer (a budget at or above
   the current image-token count leaves that layer alone; the official code keeps
   ``min(budget, current - 1)``, which differs only for such budgets).
3. **Recycle**: of the pruned image tokens, the most relevant ``int(0.3 · pruned) + 1`` are
   clustered (DPC-KNN on the layer's output hidden states, ``int(m / 10) + 1`` clusters,
   members averaged) and the cluster tokens are inserted right after the kept image tokens.

Layer mapping: ``layers`` uses the official ``pruning_loc`` indices unchanged. Decoder layer
``L`` in ``layers`` runs whole (attention and MLP) on every token that reaches it, its
attention rates the image tokens, and its *output* is pruned; layer ``L + 1`` is the first to
run on the reduced set. So with the paper's (2, 6, 15) on LLaVA-1.5 (32 layers), layers 0-2
compute on all 576 image tokens, 3-6 on the first stage's tokens, 7-15 on the second's and
16-31 on the third's. Positions: on 1-D RoPE models (LLaVA family) they are renumbered
contiguously afterwards (the official ``position_ids[:, :L']``); on Qwen2-VL/2.5-VL the
survivors keep their original 3-D M-RoPE positions and the recycled cluster tokens take the
position of the visual token they follow (renumbering 3-D grid positions has no defined
meaning). Where it acts: the visual tokens of every decoder model tokzoo supports (images
and video frames together); the raters are the text tokens after the last visual token, and
every row of a batch must hold the same number of visual tokens.

Token counts: the cluster tokens come *on top of* the schedule's kept count, as in the
official code (``v_token_num = kept + cluster_num``): for 576 image tokens the image tokens
after the three layers are 309 / 204 / 113 at ``tokens=192`` (300 + 9, 200 + 4, 110 + 3),
312 / 117 / 39 at 128 (303 + 9, 110 + 7, 36 + 3) and 82 / 32 / 18 at 64 (66 + 16, 30 + 2,
17 + 1). The budget names are the official log's "Equal Tokens": the image-token count
*after* each decoder layer (a pruning layer counted with its pruned output, clusters
included), averaged over the 32 layers: 192.03 / 128.63 / 64.81. Averaged over what the layers
compute on (tokens *entering* each layer) the same runs give 206.5 / 145.41 / 82.25. The
comment next to the official 192 list ("2*576 4*300 10*200 16*110") is a rough tally: it
matches neither the computation (3 / 4 / 9 / 16 layers) nor the log (2 / 4 / 9 / 17 layers)
and leaves out the cluster tokens.

Budget: the paper's settings (``tokens`` = 64 / 128 / 192) use the official per-layer kept
counts for LLaVA-1.5's 576 image tokens: 64: (66, 30, 17), 128: (303, 110, 36), 192:
(300, 200, 110); other image-token counts scale them by ``n / 576``. ``schedule`` gives the
kept counts directly; ``keep_ratio`` is the fraction kept after the last sparsification
layer, reached geometrically (each layer keeps ``keep_ratio ** (1 / len(layers))`` of what
reaches it). In both, cluster tokens are added as above. The official rank-adaptive count
(``matrix_rank`` of the rater attention, the first release's ``score.py`` at 91fb6d9) is
not used: it makes the count differ per image, and the v1.5 code ships the fixed schedules
above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from zoo.families.decoders.support import DecoderFamilies
from zoo.interface import Method, _fail, check_budget, check_choice, check_int, check_ratio

#: official image tokens kept by top-k at each sparsification layer (2, 6, 15) for 576 image tokens
#: (``sparse_token_list_{64,128,192}``); the recycled cluster tokens come on top
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
    families = DecoderFamilies()
    needs: ClassVar[tuple[str, ...]] = ("media-tokens", "decoder-attention")
    placement: ClassVar[str] = "llm-prefill"
    paper_notation: ClassVar[dict[str, str]] = {
        "pruning_loc": "layers: same indices (paper: 2, 6, 15); decoder layer L runs on all tokens reaching it, "
                       "its attention scores the image tokens and its output is pruned; layer L + 1 is the first "
                       "on the reduced set (LLaVA-1.5, tokens=128: layers 0-2 see 576 image tokens, 3-6 312, "
                       "7-15 117, 16-31 39)",
        "64/128/192 tokens": "tokens: the paper's budget setting, mapped to the official per-layer schedule; the "
                             "number is the official 'Equal Tokens' (image tokens after each decoder layer, "
                             "averaged over the layers)",
        "sparse_token_list": "schedule: image tokens kept by top-k at each layer of `layers`; the recycled "
                             "cluster tokens come on top (official v_token_num = kept + cluster_num)",
        "keep_ratio": "keep_ratio: fraction of image tokens kept by top-k after the last layer (geometric per layer; "
                      "cluster tokens on top)",
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
        from zoo.families.decoders.runtime import LlmEvent

        state: dict[str, Any] = {}
        events = [LlmEvent(layer=layer + 1, select=_Sparsify(self, i, state), score_layer=layer)
                  for i, layer in enumerate(self.layers)]
        adapter.install_llm_reduction(patch, run, events, positions="compact")


def text_raters(image_hidden, text_hidden, text_valid):
    """Rater mask ``[B, T]`` (SparseVLM 3.2): text tokens whose mean image relevance is above average.

    image_hidden ``[B, V, C]``, text_hidden ``[B, T, C]``, text_valid ``[B, T]`` bool.
    """
    import torch

    from zoo.families.decoders.sequence import accumulation_dtype

    acc = accumulation_dtype(image_hidden)
    logits = torch.bmm(image_hidden.to(acc), text_hidden.to(acc).transpose(1, 2))  # [B, V, T]
    logits = logits.masked_fill(~text_valid[:, None, :], float("-inf"))
    relevance = torch.softmax(logits, dim=2).mean(dim=1)  # [B, T]
    mean = (relevance * text_valid).sum(-1, keepdim=True) / text_valid.sum(-1, keepdim=True).clamp(min=1)
    return (relevance > mean) & text_valid


def dpc_knn_merge(x, n_clusters: int):
    """Cluster tokens ``x [B, M, C]`` by density peaks (DPC-KNN) and average each cluster -> ``[B, n_clusters, C]``.

    As the official ``cluster_and_merge`` (Gumpest/SparseVLMs ``llava/model/language_model/
    utils.py`` at 26a5f48), in ``x``'s own dtype: pairwise distances ``||x_i - x_j|| / sqrt(C)``
    (exact differences, no matrix-product shortcut), density from the ``n_clusters`` nearest
    neighbours, centres = highest ``density · distance to a denser token``, every token joins
    its nearest centre, and each cluster is ``Σ x_j / (count + 1e-6)`` (the official
    normalisation). The official code adds ``rand · 1e-6`` to the densities to break ties;
    tokzoo does not (ties go to the lower index), so outputs can differ only where two
    densities tie.
    """
    import torch

    b, m, c = x.shape
    dist = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist") / c ** 0.5  # [B, M, M]
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
    counts = onehot.sum(dim=1)  # [B, k]
    weight = 1.0 / (counts.gather(1, assign) + 1e-6)  # [B, M]: official token_weight / (count + 1e-6)
    return torch.bmm(onehot.transpose(1, 2), x * weight[..., None])


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

        from zoo.families.decoders.runtime import PruneSelection

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
