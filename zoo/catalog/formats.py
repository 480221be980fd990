"""Render lists of papers: table, JSON, YAML, CSV, BibTeX.

JSON shape (``schema_version`` 2; new keys may be added without a bump, a key is renamed or
removed only with one)::

    {"schema_version": 2, "tokzoo_version": "0.1.0", "count": 2,
     "papers": [{"id": ..., "title": ..., "short_name": ..., "authors": [...],
                 "section_year": ..., "arxiv_published": "YYYY-MM-DD" | null,
                 "venue": {"name", "year", "kind", "note"}, "arxiv": ...,
                 "links": {"paper", "code", "other_code": [...], "project", "other": [...]},
                 "code_license": ..., "modality": [...], "technique": [...], "family": [...],
                 "training_free": bool, "zoo": {"status", "method"}, "added": "upstream" | "tokzoo",
                 "sources": {"authors", "arxiv_published", "venue", "code", "project", "code_license"},
                 "year": ...}]}

Three years: ``section_year`` is the upstream list's section (what ``tokzoo list --year``
filters), ``venue.year`` the venue's (``--venue-year``), ``arxiv_published`` the arXiv v1
date (``--arxiv-year``). ``year`` is the deprecated schema_version 1 name of ``section_year``
(same value), still written so that version 1 readers keep working.

Every key is always present (null or [] when empty). YAML output is a valid catalog file
(``schema_version`` + ``papers``) that ``tokzoo validate`` accepts. CSV has one row per
paper with the columns in :data:`CSV_COLUMNS`; list fields are joined with ``;``.

Text formats (table, CSV, BibTeX) never print control characters: they are stripped on
output (the validator rejects them too), so a catalog string cannot drive the terminal.
"""

from __future__ import annotations

import csv
import io
import shutil
import unicodedata
from typing import Any, Callable, Iterable, Optional, Sequence

from pydantic import BaseModel, ConfigDict

from zoo.catalog.bibtex import bibtex
from zoo.catalog.schema import SCHEMA_VERSION, Paper, strip_controls

FORMATS = ("table", "json", "yaml", "csv", "bibtex")

_ZOO_SHORT = {"implemented": "yes", "planned": "planned", "none": "-"}


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` without control characters (terminal escape sequences, bidi overrides); with
    ``keep_newlines`` the line breaks of a multi-line message stay."""
    if keep_newlines:
        return "\n".join(strip_controls(line) for line in text.split("\n"))
    return strip_controls(text)


def cell_width(text: str) -> int:
    """Terminal columns ``text`` takes (wide East Asian characters count 2, combining marks 0)."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clip_words(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` columns, else its longest prefix ending at a word boundary
    plus ``…`` (a single word longer than the cell is cut, the only case a word is split)."""
    if cell_width(text) <= width:
        return text
    cut, used = "", 0
    for word in text.split(" "):
        piece = (" " if cut else "") + word
        if used + cell_width(piece) + 1 > width:
            break
        cut, used = cut + piece, used + cell_width(piece)
    if not cut:  # one long word: nothing better than cutting it
        for ch in text:
            if used + cell_width(ch) + 1 > width:
                break
            cut, used = cut + ch, used + cell_width(ch)
    return cut.rstrip(" ,:;-") + "…"


#: (header, width cap, value, drop rank) of the ``tokzoo list`` table. The title takes the remaining
#: width (at least 20 columns); when the table does not fit, columns with a drop rank go, lowest rank
#: first (Name, arXiv, Code, Venue). ID and Year are never shortened.
TABLE_COLUMNS: tuple[tuple[str, int, Callable[[Paper], str], int], ...] = (
    ("ID", 0, lambda p: p.id, 0),
    ("Year", 4, lambda p: str(p.section_year), 0),
    ("Venue", 22, lambda p: p.venue.label(), 4),
    ("Name", 24, lambda p: p.short_name or "-", 1),
    ("Title", 0, lambda p: p.title, 0),
    ("arXiv", 10, lambda p: p.arxiv or "-", 2),
    ("Code", 4, lambda p: "yes" if p.has_code else "-", 3),
    ("Zoo", 7, lambda p: _ZOO_SHORT.get(p.zoo.status, p.zoo.status), 0),
)

CSV_COLUMNS = (
    "id", "section_year", "arxiv_published", "venue", "venue_year", "venue_kind", "venue_note", "short_name",
    "title", "authors", "arxiv", "paper", "code", "other_code", "project", "code_license", "other", "modality",
    "technique", "family", "training_free", "zoo_status", "zoo_method", "added",
)

_MIN_TITLE = 20
_GAP = 2


def _table_rows(papers: Sequence[Paper]) -> list[list[str]]:
    return [[printable(value(p)) for _, _, value, _ in TABLE_COLUMNS] for p in papers]


def table_layout(papers: Sequence[Paper], width: int, rows: Optional[list[list[str]]] = None) -> tuple[list[int], list[int]]:
    """(indices of the columns shown, their widths) for ``papers`` in ``width`` terminal columns."""
    rows = _table_rows(papers) if rows is None else rows
    natural: list[int] = []
    for i, (header, cap, _, _) in enumerate(TABLE_COLUMNS):
        longest = max([len(header)] + [cell_width(r[i]) for r in rows])
        natural.append(longest if cap == 0 else min(longest, cap))
    title_i = next(i for i, c in enumerate(TABLE_COLUMNS) if c[0] == "Title")
    shown = list(range(len(TABLE_COLUMNS)))
    droppable = sorted((rank, i) for i, (_, _, _, rank) in enumerate(TABLE_COLUMNS) if rank)

    def others(cols: list[int]) -> int:
        return sum(natural[i] for i in cols if i != title_i) + _GAP * (len(cols) - 1)

    while droppable and others(shown) + min(_MIN_TITLE, natural[title_i]) > width:
        shown.remove(droppable.pop(0)[1])
    widths = [natural[i] for i in shown]
    at = shown.index(title_i)
    widths[at] = max(min(_MIN_TITLE, natural[title_i]), min(natural[title_i], width - others(shown)))
    return shown, widths


def render_table(papers: Sequence[Paper], width: int | None = None) -> str:
    """An aligned text table that fits ``width`` columns (default: the terminal's width, or
    ``$COLUMNS``, else 200). Narrow terminals drop the Name, arXiv, Code and Venue columns in
    that order; long titles and venues are shortened at a word boundary with an ellipsis; ids
    are never shortened. At 80 columns every line fits (ids are at most 40 characters)."""
    if width is None:
        width = shutil.get_terminal_size((200, 24)).columns
    rows = _table_rows(papers)
    shown, widths = table_layout(papers, width, rows)
    headers = [TABLE_COLUMNS[i][0] for i in shown]

    def line(cells: list[str]) -> str:
        parts = []
        for cell, w in zip(cells, widths):
            text = clip_words(cell, w)
            parts.append(text + " " * max(w - cell_width(text), 0))
        return (" " * _GAP).join(parts).rstrip()

    lines = [line(headers), (" " * _GAP).join("-" * w for w in widths)]
    for row in rows:
        lines.append(line([row[i] for i in shown]))
    return "\n".join(lines) + "\n"


def records(papers: Iterable[Paper], *, with_alias: bool = True) -> list[dict[str, Any]]:
    """Each paper as plain data (all keys present), in catalog key order; ``with_alias=False``
    leaves out the deprecated ``year`` (a catalog file must not carry it)."""
    from pydantic import TypeAdapter

    exclude: Optional[Any] = None if with_alias else {"__all__": {"year"}}
    return TypeAdapter(list[Paper]).dump_python(list(papers), mode="json", exclude=exclude)


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

    payload = {"schema_version": SCHEMA_VERSION, "papers": records(papers, with_alias=False)}
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(payload, Dumper=dumper, sort_keys=False, allow_unicode=True, width=10_000)


def csv_row(paper: Paper) -> dict[str, str]:
    v, links = paper.venue, paper.links
    row = {
        "id": paper.id, "section_year": str(paper.section_year), "arxiv_published": paper.arxiv_published or "",
        "venue": v.name, "venue_year": "" if v.year is None else str(v.year), "venue_kind": v.kind,
        "venue_note": v.note or "", "short_name": paper.short_name or "", "title": paper.title,
        "authors": "; ".join(paper.authors), "arxiv": paper.arxiv or "", "paper": links.paper, "code": links.code or "",
        "other_code": ";".join(links.other_code), "project": links.project or "", "code_license": paper.code_license or "",
        "other": ";".join(links.other), "modality": ";".join(paper.modality), "technique": ";".join(paper.technique),
        "family": ";".join(paper.family), "training_free": "true" if paper.training_free else "false",
        "zoo_status": paper.zoo.status, "zoo_method": paper.zoo.method or "", "added": paper.added,
    }
    return {key: printable(value) for key, value in row.items()}


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
