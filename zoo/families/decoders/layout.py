"""Where each media item (image, video, audio clip) sits in a decoder's prompt, and how its tokens are laid out.

A multimodal prompt holds one *placeholder span* per media item (an image, a video, an
audio clip): a run of placeholder tokens (``image_token_id``, ``video_token_id``,
``audio_token_id``) that the model overwrites with the item's features. Adapters describe
each item's token layout from the model inputs (``image_sizes``, ``image_grid_thw``, video
shapes, audio feature lengths); :func:`assign_items` then finds the spans in the prompt.
Nothing relies on fixed offsets: the spans come from the token ids.

Token coordinates (``ItemLayout.coords``, ``[L, 4]`` int64, one row per placeholder token in
prompt order): ``(part, frame, y, x)``.

- ``part``: which grid the token belongs to (LLaVA-NeXT/OneVision anyres images: 0 = the
  base tile, 1 = the unpadded high-resolution grid; everything else: 0).
- ``frame``: frame index (images: 0; Qwen2-VL: the temporal patch index).
- ``y, x``: row and column in that part's grid (audio clips: ``y = 0``, ``x`` = the time
  step; their grid is ``(1, 1, T)``, a 1-D sequence, see :func:`time_coords`).
- All four are ``-1`` for tokens that are not on a grid: the newline tokens LLaVA-NeXT and
  OneVision insert (one per high-resolution row, one after an OneVision video, one after a
  multi-image OneVision tile) and tokens produced by merging (a vision reducer's output).

``ItemLayout.grids[part] = (frames, height, width)`` gives each part's grid size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

#: modality name -> the id used in ``LlmContext.modality`` (0 is text)
MODALITY_IDS: dict[str, int] = {"image": 1, "video": 2, "audio": 3}


@dataclass(frozen=True)
class ItemLayout:
    """The token layout of one media item, before it is placed in a prompt."""

    modality: str
    coords: torch.Tensor  # [L, 4] (part, frame, y, x); -1 for tokens off the grid
    grids: tuple[tuple[int, int, int], ...] = ()

    @property
    def length(self) -> int:
        return int(self.coords.shape[0])


@dataclass(frozen=True)
class VisualItem:
    """One media item of a batch (image, video or audio clip), placed in the language model's input.

    ``row``: batch row; ``index``: its rank among the batch's items of that modality (the
    order of the pixel inputs); ``columns [L]``: the language-model input columns of its
    placeholder tokens (ascending); ``coords``/``grids``: see the module docstring.
    """

    modality: str
    row: int
    index: int
    columns: torch.Tensor
    coords: torch.Tensor
    grids: tuple[tuple[int, int, int], ...] = field(default=())

    @property
    def length(self) -> int:
        return int(self.columns.shape[0])

    @property
    def frames(self) -> int:
        """Frames of the item (1 for an image)."""
        return max((g[0] for g in self.grids), default=1)

    def frame_columns(self, frame: int) -> torch.Tensor:
        """LM-input columns of the grid tokens of ``frame`` (all parts), ascending."""
        return self.columns[self.coords[:, 1] == frame]


def grid_coords(frames: int, height: int, width: int, *, part: int = 0, newline_per_row: bool = False,
                newline_at_end: bool = False) -> torch.Tensor:
    """Coordinates ``[L, 4]`` of a ``frames x height x width`` grid in row-major order.

    ``newline_per_row``: a separator token after every row (LLaVA-NeXT's high-resolution
    grid); ``newline_at_end``: one separator after the whole grid (OneVision videos).
    """
    f, y, x = torch.meshgrid(torch.arange(frames), torch.arange(height), torch.arange(width), indexing="ij")
    coords = torch.stack([torch.full_like(f, part), f, y, x], dim=-1)  # [F, H, W, 4]
    if newline_per_row:
        sep = torch.full((frames, height, 1, 4), -1, dtype=torch.long)
        coords = torch.cat([coords, sep], dim=2)
    coords = coords.reshape(-1, 4)
    if newline_at_end:
        coords = torch.cat([coords, torch.full((1, 4), -1, dtype=torch.long)])
    return coords


def time_coords(steps: int) -> torch.Tensor:
    """Coordinates ``[T, 4]`` of a 1-D sequence of ``steps`` tokens (an audio clip): ``(0, 0, 0, t)``."""
    return grid_coords(1, 1, steps)


def separators(n: int) -> torch.Tensor:
    """Coordinates of ``n`` off-grid tokens."""
    return torch.full((n, 4), -1, dtype=torch.long)


def assign_items(modality_masks: dict[str, torch.Tensor], layouts: dict[str, list[ItemLayout]]) -> list[list[VisualItem]]:
    """Place every item's layout on the prompt's placeholder tokens.

    modality_masks: modality -> ``[B, N]`` bool placeholder mask; layouts: modality -> the
    items of that modality in input order. The placeholders of a modality are read row by
    row, left to right; item ``k`` covers the next ``layouts[k].length`` of them and must not
    cross a row boundary. Returns, per row, its items in prompt order. Raises ``ValueError``
    when the placeholder counts do not match the items (the model itself would fail).
    """
    rows: list[list[VisualItem]] | None = None
    for modality, mask in modality_masks.items():
        b = mask.shape[0]
        if rows is None:
            rows = [[] for _ in range(b)]
        items = layouts.get(modality, [])
        per_row = mask.sum(-1).tolist()
        total = sum(per_row)
        need = sum(item.length for item in items)
        if total != need:
            raise ValueError(f"the prompt holds {total} {modality} placeholder tokens but the {modality} inputs give "
                             f"{need} tokens ({len(items)} {modality} item(s)); every {modality} needs exactly "
                             "its number of placeholder tokens")
        k = 0
        for row in range(b):
            cols = torch.nonzero(mask[row]).squeeze(1)
            used = 0
            while used < per_row[row]:
                if k >= len(items):
                    raise ValueError(f"row {row} holds more {modality} placeholders than the inputs give")
                item = items[k]
                if used + item.length > per_row[row]:
                    raise ValueError(f"{modality} {k} ({item.length} tokens) does not fit in the "
                                     f"{per_row[row] - used} placeholder tokens left in row {row}")
                rows[row].append(VisualItem(modality=modality, row=row, index=k,
                                            columns=cols[used:used + item.length], coords=item.coords,
                                            grids=item.grids))
                used += item.length
                k += 1
    if rows is None:
        return []
    for r in rows:
        r.sort(key=lambda it: int(it.columns[0]) if it.length else 0)
    return rows
