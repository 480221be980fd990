"""Shared plumbing of the video methods on the decoder runtime (``zoo.families.decoders``).

A video method's core is a pure function on one video's tokens ``frames [T, N, C]`` (the
language model's input for that video: after the model's own projector and pooling, one
``h x w`` grid per frame) returning :class:`zoo.core.temporal.VideoTokens`. This module turns
such a function into a prefill event at decoder layer 0 (before the language model), row by
row and video by video, and places the result in the sequence:

- ``layout="sequence"``: the reduced tokens take the first ``M`` placeholder slots of the
  video, in the function's output order (with ``positions="compact"`` on 1-D RoPE models the
  language model then sees exactly the official codes' concatenated token list);
- ``layout="index"``: every reduced token sits at the slot of the input token it stands at
  (``VideoTokens.index``), so it keeps that token's position (FastVID's ``position_ids =
  keep_indexs``; every method on Qwen's 3-D M-RoPE, where a position encodes the grid cell).

Tokens off the frame grids (the newline token LLaVA-OneVision puts after a video) and every
image or text token stay. Budgets and signals are the methods' business; nothing here looks
at model classes: the adapter tells the position kind and the item layouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

#: the signals every video method needs from a decoder adapter
VIDEO_NEEDS: tuple[str, ...] = ("visual-tokens", "item-grid")


def check_video_model(method: Any, adapter: Any) -> None:
    """Refuse models without video inputs (clear error naming the method and what is missing)."""
    if "video" not in getattr(adapter, "token_attrs", {}):
        raise TypeError(f"{method.id} reduces video tokens; the {adapter.name} model has no video placeholder "
                        f"(supported: the decoder adapters with videos: {', '.join(video_families())})")


def video_families() -> tuple[str, ...]:
    """Decoder adapters whose models take videos (``video`` placeholder tokens)."""
    from zoo.families import adapter_class
    from zoo.families.decoders import VLM_ADAPTERS

    return tuple(n for n in VLM_ADAPTERS if "video" in adapter_class(n).token_attrs)


class VideoFamilies:
    """Class attribute computed on access: the video-capable decoder adapters providing ``needs``,
    minus those in ``exclude`` (adapter names, with the reason in the method's docstring)."""

    def __init__(self, exclude: tuple[str, ...] = ()) -> None:
        self.exclude = exclude

    def __get__(self, obj: Any, owner: type) -> tuple[str, ...]:
        from zoo.families.decoders.support import families_providing

        ok = set(families_providing(tuple(owner.needs)))
        return tuple(n for n in video_families() if n in ok and n not in self.exclude)


class VideoReasons:
    """Class attribute computed on access: adapter name -> why the method does not run there (the support
    matrix shows it): no video inputs, or the reason the method gives in ``excluded`` (adapter -> text)."""

    def __init__(self, excluded: dict[str, str] | None = None) -> None:
        self.excluded = dict(excluded or {})

    def __get__(self, obj: Any, owner: type) -> dict[str, str]:
        from zoo.families import adapter_class
        from zoo.families.decoders import DECODER_ADAPTERS

        out = {n: f"{owner.id} reduces video tokens; {n} models take no videos" for n in DECODER_ADAPTERS
               if "video" not in adapter_class(n).token_attrs}
        out.update(self.excluded)
        return out


@dataclass
class VideoView:
    """One video of one batch row, as the reduction sees it.

    ``frames [T, N, C]``; ``columns [T * N]``: the current sequence index of every grid token,
    frame-major; ``grid``: ``(T, h, w)``; ``item``: the runtime's ``VisualItem``.
    """

    row: int
    frames: Any
    columns: Any
    grid: tuple[int, int, int]
    item: Any


def videos_of_row(ctx: Any, row: int) -> list[VideoView]:
    """The videos of batch row ``row`` at a layer-0 event (grid tokens only, frame-major)."""
    out = []
    where = ctx.where_now()[row]
    for item in ctx.items[row]:
        if item.modality != "video":
            continue
        on_grid = item.coords[:, 1] >= 0
        t, h, w = item.grids[0]
        cols = where[item.columns[on_grid.to(item.columns.device)]]
        if cols.numel() != t * h * w or bool((cols < 0).any()):
            raise ValueError(f"video of row {row}: {cols.numel()} grid tokens present, expected {t}x{h}x{w}")
        out.append(VideoView(row, ctx.hidden[row, cols].reshape(t, h * w, -1), cols, (t, h, w), item))
    return out


def place(view: VideoView, reduced: Any, layout: str) -> tuple[Any, Any]:
    """``(slots [M], tokens [M, C])``: sequence indices the reduced tokens occupy and their states."""
    import torch

    if layout == "sequence":
        return view.columns[:len(reduced)], reduced.tokens
    if layout == "index":
        order = torch.argsort(reduced.index)
        idx = reduced.index[order]
        if bool((idx[1:] == idx[:-1]).any()):
            raise ValueError("two reduced tokens stand at the same input token; layout='index' needs distinct indices")
        return view.columns[idx], reduced.tokens[order]
    raise ValueError(f"layout={layout!r}; allowed: sequence, index")


def layout_for(adapter: Any, positions: str) -> str:
    """Placement rule: at their own slots when positions are kept or 3-D, else in output order."""
    return "index" if positions == "keep" or adapter.position_kind == "mrope" else "sequence"


def _ascending(index: Any) -> bool:
    return bool((index[1:] > index[:-1]).all()) if index.numel() > 1 else True


def video_event(adapter: Any, reduce: Callable[[VideoView], Any], *, positions: str, on_result=None):
    """The layer-0 :class:`~zoo.families.decoders.runtime.LlmEvent` applying ``reduce`` to every video.

    ``reduce(view) -> VideoTokens``; ``on_result(view, slots)`` (optional) is told where each video's
    reduced tokens went (sequence indices after this event).
    """
    import torch

    from zoo.families.decoders.runtime import LlmEvent, PruneSelection

    layout = layout_for(adapter, positions)

    def select(ctx):
        b, n, _ = ctx.hidden.shape
        keep = ctx.valid.clone()
        new = ctx.hidden.clone()
        placed = []
        for row in range(b):
            for view in videos_of_row(ctx, row):
                reduced = reduce(view)
                # a subset in grid order sits at its own slots whatever the rule (with renumbered positions this is
                # the same input as the output order, and Run.kept_indices then names the kept tokens themselves)
                slots, tokens = place(view, reduced, "index" if _ascending(reduced.index) else layout)
                keep[row, view.columns] = False
                keep[row, slots] = True
                new[row, slots] = tokens.to(new.dtype)
                placed.append((view, slots))
        sel = ctx.keep_mask(keep)
        replace = torch.stack([new[r].index_select(0, sel[r].clamp(min=0)) for r in range(b)])
        if on_result is not None:
            rank = torch.cumsum(keep.long(), dim=1) - 1 + (sel.shape[1] - keep.sum(-1, keepdim=True))
            for view, slots in placed:
                on_result(view, rank[view.row, slots])
        return PruneSelection(keep=sel, replace=replace)

    return LlmEvent(layer=0, select=select)
