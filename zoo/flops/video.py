"""Analytic cost of video token reduction in a decoder LLM, under each paper's own counting.

Token schedules of the video methods (tokens entering each decoder layer at prefill, split into
visual and other tokens, :class:`zoo.flops.llm.TokenSchedule`) and the costs the papers print:

- :func:`dycoke_cost`: DyCoke (arXiv 2411.15024) counts prefill *and* decoding: TTM shortens the
  prefill; during decoding, layers ``>= L`` attend to ``(1 - P)`` of the visual tokens. Counted
  with the ``"dycoke"`` convention of :mod:`zoo.flops.llm` (FastV's Eq. 5 per layer, one query
  token per decoding step against the tokens it can see). tokzoo could not check this reading
  against the paper's supplement (no copy of its equations was available offline); the
  convention stays marked as tokzoo's reading.
- :func:`prunevid_schedule`: PruneVid (arXiv 2412.16117): the merged tokens up to and including
  ``selected_layer``, the selected ones after it.
- :func:`prefill_schedule`: methods acting before the LLM (FastVID, VidCom2, HoliTom outer,
  SlowFast-LLaVA, uniform frame subsampling): every layer sees the reduced tokens; HoliTom's
  inner merge halves them from layer ``K`` on (:func:`holitom_schedule`).
- :func:`token_cost`: FrameFusion's (arXiv 2501.01986) *token cost*: the average over layers of
  the fraction of visual tokens each layer processes (its ``cost`` parameter).
- :func:`retained_ratio`: visual tokens kept / visual tokens in.

FLOPs ratios use :func:`zoo.flops.llm.flops_ratio` with a named convention; which convention a
paper used is part of each claim (see the repro scripts). Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from zoo.flops.llm import (
    DecoderConfig,
    TokenSchedule,
    drop_schedule,
    full_schedule,
    layer_flops,
    stack_flops,
)


def prefill_schedule(num_layers: int, n_visual: int, n_other: int) -> TokenSchedule:
    """A reduction before the LLM: every layer sees ``n_visual`` visual + ``n_other`` other tokens."""
    return full_schedule(num_layers, n_visual, n_other)


def prunevid_schedule(num_layers: int, n_merged: int, n_selected: int, n_other: int, *,
                      selected_layer: int = 10) -> TokenSchedule:
    """PruneVid: layers ``0..selected_layer`` see the ``n_merged`` merged tokens, later layers ``n_selected``."""
    return drop_schedule(num_layers, n_merged, n_other, boundaries=[selected_layer + 1], image_tokens=[n_selected])


def holitom_schedule(num_layers: int, n_outer: int, n_other: int, *, inner_layer: int | None = None,
                     inner_ratio: float = 0.5) -> TokenSchedule:
    """HoliTom: ``n_outer`` visual tokens after the outer merging; from ``inner_layer`` on (when set)
    ``round(n_outer * (1 - inner_ratio))`` (its inner merge)."""
    if inner_layer is None:
        return prefill_schedule(num_layers, n_outer, n_other)
    return drop_schedule(num_layers, n_outer, n_other, boundaries=[inner_layer],
                         image_tokens=[round(n_outer * (1 - inner_ratio))])


def retained_ratio(n_kept: int, n_visual: int) -> float:
    """Visual tokens kept / visual tokens in."""
    return n_kept / n_visual


def token_cost(visual_per_layer: Sequence[int], n_visual: int) -> float:
    """FrameFusion's token cost: ``mean_l(visual tokens at layer l) / n_visual``."""
    if not visual_per_layer:
        raise ValueError("token_cost needs the visual token count of at least one layer")
    return sum(visual_per_layer) / (len(visual_per_layer) * n_visual)


@dataclass(frozen=True)
class DecodeCost:
    """Prefill and decoding cost of one generation (in the convention's units)."""

    prefill: float
    decode: float

    @property
    def total(self) -> float:
        return self.prefill + self.decode


def decode_cost(visible_per_layer: Sequence[int], cfg: DecoderConfig, convention: str, new_tokens: int) -> float:
    """Cost of ``new_tokens`` decoding steps when step ``s`` of layer ``l`` attends to
    ``visible_per_layer[l] + s + 1`` keys (the visible prompt tokens, the generated ones, itself)."""
    if len(visible_per_layer) != cfg.num_layers:
        raise ValueError(f"{len(visible_per_layer)} visible counts for a {cfg.num_layers}-layer decoder")
    return float(sum(layer_flops(1, cfg, convention, kv_len=v + step + 1)
                     for step in range(int(new_tokens)) for v in visible_per_layer))


def dycoke_cost(cfg: DecoderConfig, *, n_visual: int, n_other: int, new_tokens: int,
                decode_keep: int | None = None, layer: int = 3, convention: str = "dycoke") -> DecodeCost:
    """DyCoke's generation cost: prefill on ``n_visual`` (after TTM) + ``n_other`` tokens; decoding with
    layers ``>= layer`` seeing ``decode_keep`` visual tokens (``None``: all, i.e. no dynamic pruning).

    Every step is counted as pruned; the official code skips the pruning at steps whose attention
    stays within cosine 0.9 of the previous step's, so this is the decoding cost's lower bound.
    """
    if not 0 <= layer <= cfg.num_layers:
        raise ValueError(f"dycoke_cost: layer={layer} outside 0..{cfg.num_layers}")
    prefill = stack_flops(prefill_schedule(cfg.num_layers, n_visual, n_other), cfg, convention)
    kept = n_visual if decode_keep is None else min(int(decode_keep), n_visual)
    visible = [n_visual + n_other] * layer + [kept + n_other] * (cfg.num_layers - layer)
    return DecodeCost(prefill=prefill, decode=decode_cost(visible, cfg, convention, new_tokens))


__all__ = [
    "DecodeCost", "decode_cost", "dycoke_cost", "holitom_schedule", "prefill_schedule", "prunevid_schedule",
    "retained_ratio", "token_cost",
]
