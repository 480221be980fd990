"""Render lists of papers: table, JSON, YAML, CSV, BibTeX.

JSON shape (``schema_version`` 1, stable; new keys may be added, none removed or renamed
without bumping it)::

    {"schema_version": 1, "tokzoo_version": "0.1.0", "count": 2,
     "papers": [{"id": ..., "title": ..., "short_name": ..., "year": ...,
                 "venue": {"name", "year", "kind", "note"}, "arxiv": ...,
                 "links": {"paper", "code", "project", "other": [...]},
                 "modality": [...], "technique": [...], "family": [...],
                 "training_free": bool, "zoo": {"status", "method"}, "authors": [...]}]}

Every key is always present (null or [] when empty). YAML output is a valid catalog file
(``schema_version`` + ``papers``) that ``tokzoo validate`` accepts. CSV has one row per
paper with the columns in :data:`CSV_COLUMNS`; list fields are joined with ``;``.
"""

from __future__ import annotations

import csv
import io
import shutil
from typing import Any, Callable, Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from zoo.catalog.bibtex import bibtex
from zoo.catalog.schema import SCHEMA_VERSION, Paper

FORMATS = ("table", "json", "yaml", "csv", "bibtex")

#: (header, width cap, value) of the ``tokzoo list`` table; the title takes the remaining width.
TABLE_COLUMNS: tuple[tuple[str, int, Callable[[Paper], str]], ...] = (
    ("ID", 32, lambda p: p.id),
    ("Year", 4, lambda p: str(p.year)),
    ("Venue", 22, lambda p: p.venue.label()),
    ("Name", 24, lambda p: p.short_name or "-"),
    ("Title", 0, lambda p: p.title),
    ("arXiv", 10, lambda p: p.arxiv or "-"),
    ("Code", 4, lambda p: "yes" if p.has_code else "-"),
    ("Zoo", 11, lambda p: p.zoo.status if p.zoo.status != "none" else "-"),
)

CSV_COLUMNS = (
    "id", "year", "venue", "venue_year", "venue_kind", "venue_note", "short_name", "title", "arxiv",
    "paper", "code", "project", "other", "modality", "technique", "family", "training_free",
    "zoo_status", "zoo_method",
)

_MIN_TITLE = 20


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def render_table(papers: Sequence[Paper], width: int | None = None) -> str:
    """An aligned text table that fits ``width`` columns (default: the terminal's width, or
    ``$COLUMNS``, else 200). Long titles and names are shortened with an ellipsis."""
    if width is None:
        width = shutil.get_terminal_size((200, 24)).columns
    rows = [[value(p) for _, _, value in TABLE_COLUMNS] for p in papers]
    widths: list[int] = []
    for i, (header, cap, _) in enumerate(TABLE_COLUMNS):
        longest = max([len(header)] + [len(r[i]) for r in rows])
        widths.append(longest if cap == 0 else min(longest, cap))
    title_i = next(i for i, c in enumerate(TABLE_COLUMNS) if c[0] == "Title")
    others = sum(w for i, w in enumerate(widths) if i != title_i) + 2 * (len(widths) - 1)
    widths[title_i] = max(_MIN_TITLE, min(widths[title_i], width - others))
    lines = ["  ".join(h.ljust(w) for (h, _, _), w in zip(TABLE_COLUMNS, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(_clip(v, w).ljust(w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(lines) + "\n"


def records(papers: Iterable[Paper]) -> list[dict[str, Any]]:
    """Each paper as plain data (all keys present), in catalog key order."""
    from pydantic import TypeAdapter

    return TypeAdapter(list[Paper]).dump_python(list(papers), mode="json")


class _ListPayload(BaseModel):
    """The JSON document of ``tokzoo list --format json`` (serialised by pydantic-core: fast)."""

    model_config = ConfigDict(defer_build=True)

    schema_version: int
    tokzoo_version: str
    count: int
    papers: list[Paper]


def render_json(papers: Sequence[Paper]) -> str:
    from zoo import __version__

    payload = _ListPayload.model_construct(
        schema_version=SCHEMA_VERSION, tokzoo_version=__version__, count=len(papers), papers=list(papers)
    )
    return payload.model_dump_json(indent=2) + "\n"


def render_yaml(papers: Sequence[Paper]) -> str:
    import yaml

    payload = {"schema_version": SCHEMA_VERSION, "papers": records(papers)}
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(payload, Dumper=dumper, sort_keys=False, allow_unicode=True, width=10_000)


def csv_row(paper: Paper) -> dict[str, str]:
    v, links = paper.venue, paper.links
    return {
        "id": paper.id, "year": str(paper.year), "venue": v.name, "venue_year": "" if v.year is None else str(v.year),
        "venue_kind": v.kind, "venue_note": v.note or "", "short_name": paper.short_name or "", "title": paper.title,
        "arxiv": paper.arxiv or "", "paper": links.paper, "code": links.code or "", "project": links.project or "",
        "other": ";".join(links.other), "modality": ";".join(paper.modality), "technique": ";".join(paper.technique),
        "family": ";".join(paper.family), "training_free": "true" if paper.training_free else "false",
        "zoo_status": paper.zoo.status, "zoo_method": paper.zoo.method or "",
    }


def render_csv(papers: Sequence[Paper]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for paper in papers:
        writer.writerow(csv_row(paper))
    return out.getvalue()


def render(papers: Sequence[Paper], fmt: str, width: int | None = None) -> str:
    """Render in one of :data:`FORMATS`."""
    if fmt == "table":
        return render_table(papers, width)
    if fmt == "json":
        return render_json(papers)
    if fmt == "yaml":
        return render_yaml(papers)
    if fmt == "csv":
        return render_csv(papers)
    if fmt == "bibtex":
        return bibtex(papers)
    raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
