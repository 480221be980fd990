"""Text views of the support matrix (:mod:`zoo.support`) for ``tokzoo methods --support``.

- :func:`render_grid`: methods as rows, one section per runtime, one short column per adapter,
  cells ``yes`` / ``dep`` / ``-``; a key of the column names and a legend. A section lists only
  the methods running on at least one of its adapters, so it stays narrow (under 80 columns).
- :func:`render_method`: every adapter for one method, with the reason where it does not run.
- :func:`render_adapter`: every method on one adapter, with the reason where it does not run.

Pure text over :class:`zoo.support.Cell` objects (no torch here).
"""

from __future__ import annotations

import textwrap
from typing import Any, Iterable

#: column header of each adapter in the grid (display only; an adapter missing here gets its name's start)
SHORT_NAMES: dict[str, str] = {
    "timm-vit": "timm", "hf-vit": "vit", "hf-clip-vision": "clip", "hf-siglip-vision": "siglip",
    "hf-bert": "bert", "hf-ast": "ast", "hf-whisper-encoder": "whispr",
    "llava": "llava", "llava-next": "next", "llava-onevision": "ov", "llava-next-video": "nxtvid",
    "qwen2-vl": "qw2", "qwen2.5-vl": "qw2.5", "text-lm": "textlm",
    "qwen2-audio": "qw2a",
    "diffusers-unet": "unet", "diffusers-dit": "dit", "diffusers-mmdit": "mmdit",
}
RUNTIME_TITLES: dict[str, str] = {"encoder": "encoders", "decoder": "decoder LMs", "diffusion": "diffusion"}


def short_name(adapter: str) -> str:
    return SHORT_NAMES.get(adapter) or adapter[:6]


def _by_runtime(cells: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for c in cells:
        out.setdefault(c.runtime, []).append(c)
    return out


def _wrap(text: str, width: int, indent: int) -> list[str]:
    return textwrap.wrap(text, max(width - indent, 20), break_long_words=False, break_on_hyphens=False) or [""]


def render_grid(cells: list[Any], width: int = 80) -> str:
    """The whole matrix as one grid section per runtime (see the module doc)."""
    from zoo.support import SHORT, STATUSES

    lines: list[str] = []
    methods_seen = list(dict.fromkeys(c.method for c in cells))
    id_width = max([len(m) for m in methods_seen] + [6])
    for runtime, group in _by_runtime(cells).items():
        adapters = list(dict.fromkeys(c.adapter for c in group))
        table = {(c.method, c.adapter): c for c in group}
        rows = [m for m in dict.fromkeys(c.method for c in group)
                if any(table[(m, a)].ok for a in adapters)]
        col = [max(len(short_name(a)), 3) for a in adapters]
        title = RUNTIME_TITLES.get(runtime, runtime)
        lines.append(f"{title} ({len(rows)} of {len(methods_seen)} methods run on one of its adapters)")
        lines.append(" ".join([f"{'method':<{id_width}}"] + [f"{short_name(a):<{w}}" for a, w in zip(adapters, col)])
                     .rstrip())
        for m in rows:
            cells_text = [f"{SHORT[table[(m, a)].status]:<{w}}" for a, w in zip(adapters, col)]
            lines.append(" ".join([f"{m:<{id_width}}"] + cells_text).rstrip())
        if not rows:
            lines.append("(none)")
        key = [f"{short_name(a)}={a}" for a in adapters if short_name(a) != a]
        if key:
            lines.extend("  " + line for line in _wrap("columns: " + ", ".join(key), width, 2))
        lines.append("")
    legend = "; ".join(f"{SHORT[s]} {what}" for s, what in STATUSES.items())
    lines.extend(_wrap(f"legend: {legend}. A method runs on no adapter of the sections it is missing from. "
                       "Reasons: tokzoo methods ID --support, or --json.", width, 0))
    return "\n".join(lines) + "\n"


def _entry(label: str, label_width: int, status: str, text: str, width: int) -> list[str]:
    from zoo.support import SHORT

    head = f"  {label:<{label_width}} {SHORT[status]:<3} "
    body = _wrap(text, width, len(head)) if text else [""]
    return [(head + body[0]).rstrip()] + [" " * len(head) + line for line in body[1:]]


def _entries(cells: list[Any], label_of, width: int, extra=lambda c: "") -> list[str]:
    """One entry per cell; cells that do not run for one and the same reason share one entry."""

    shared: dict[str, list[Any]] = {}
    for c in cells:
        if c.status == "no":
            shared.setdefault(c.reason, []).append(c)
    label_width = max([len(label_of(c)) for c in cells] + [6])
    lines: list[str] = []
    done: set[str] = set()
    for c in cells:
        group = shared.get(c.reason, []) if c.status == "no" else []
        if len(group) > 1:
            if c.reason in done:
                continue
            done.add(c.reason)
            names = ", ".join(label_of(g) for g in group) + ":"
            lines.extend("  " + line for line in _wrap(names, width, 2))
            lines.extend(_entry("", label_width, "no", c.reason, width))
            continue
        text = c.reason if c.status != "yes" else extra(c)
        if c.status == "depends" and extra(c):
            text = f"{extra(c)}; {c.reason}"
        lines.extend(_entry(label_of(c), label_width, c.status, text, width))
    return lines


def render_method(method_id: str, cells: list[Any], width: int = 80) -> str:
    """Every adapter for one method: status, and what it serves (runs) or why not."""
    mine = [c for c in cells if c.method == method_id]
    runs = [c for c in mine if c.ok]
    lines = [f"{method_id}: runs on {len(runs)} of {len(mine)} adapters"]
    for runtime, group in _by_runtime(mine).items():
        lines.append(f"{RUNTIME_TITLES.get(runtime, runtime)}:")
        lines.extend(_entries(group, lambda c: c.adapter, width, lambda c: c.serves))
    return "\n".join(lines) + "\n"


def render_adapter(adapter: str, cells: list[Any], width: int = 80) -> str:
    """Every method on one adapter: status, and the reason where it does not run (or on which models)."""
    mine = [c for c in cells if c.adapter == adapter]
    runs = [c for c in mine if c.ok]
    serves = mine[0].serves if mine else ""
    lines = [f"{adapter}: {len(runs)} of {len(mine)} methods run on it"]
    if serves:
        lines.extend("  " + line for line in _wrap(f"serves: {serves}", width, 2))
    lines.extend(_entries(mine, lambda c: c.method, width))
    return "\n".join(lines) + "\n"
