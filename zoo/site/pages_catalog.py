"""The catalog pages: the interactive table (data embedded as JSON) and static per-modality
and per-year tables (which also serve readers without JavaScript).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from zoo import vocab
from zoo.site.badges import Badge, standard_badges
from zoo.site.data import SiteData
from zoo.site.escape import json_for_attribute, md_text, safe_url
from zoo.site import status
from zoo.site.markdown import (
    BADGE_DIR,
    arxiv_date,
    authors,
    badge,
    code_license,
    code_links,
    labels,
    paper_cell,
    project_link,
    section_year,
    table,
    venue_text,
    venue_year,
    wide,
)

CATALOG_PAGE = "catalog.md"


def sort_key(paper: dict[str, Any]) -> tuple:
    """Newest first, then by name (case-insensitive)."""
    return (-int(section_year(paper) or 0), (paper.get("short_name") or paper["title"]).casefold())


def row_record(paper: dict[str, Any], data: SiteData) -> dict[str, Any]:
    """The JSON record of one paper for the interactive table (site-root-relative URLs)."""
    links = paper.get("links") or {}
    zoo = paper.get("zoo") or {}
    method = zoo.get("method") if zoo.get("method") in data.methods else None
    venue = paper.get("venue") or {}
    entry = data.repro.get(paper["id"])
    kinds = []
    for b in status.kind_badges(entry.kinds) if entry else []:
        path = f"{BADGE_DIR}/{b.filename}"
        data.badges[path] = b
        kinds.append({"kind": b.kind, "text": b.value, "badge": path})
    repro = data.repro_status(paper["id"])
    return {
        "id": paper["id"],
        "title": paper["title"],
        "short_name": paper.get("short_name"),
        "authors": authors(paper),
        "year": section_year(paper),
        "arxiv_published": arxiv_date(paper) or None,
        "venue": venue_text(paper),
        "venue_name": venue.get("name"),
        "venue_year": venue_year(paper),
        "venue_kind": venue.get("kind"),
        "arxiv": paper.get("arxiv"),
        "paper_url": safe_url(links.get("paper")),
        "code_url": safe_url(links.get("code")),
        "code_urls": [u for u in (safe_url(x) for x in code_links(paper)) if u],
        "project_url": safe_url(project_link(paper)),
        "code_license": code_license(paper) or None,
        "modality": list(paper.get("modality") or []),
        "technique": list(paper.get("technique") or []),
        "family": list(paper.get("family") or []),
        "training_free": paper.get("training_free"),
        "zoo": zoo.get("status") or "none",
        "method_url": f"methods/{method}/" if method else None,
        "repro": status.shown_word(repro, entry.kinds) if entry else repro,
        "repro_kinds": kinds,
        "bibtex": data.bibtex.get(paper["id"], ""),
    }


def catalog_payload(data: SiteData) -> dict[str, Any]:
    """Everything the catalog script needs: rows, vocabularies (with descriptions), badges."""
    papers = sorted(data.papers, key=sort_key)
    return {
        "rows": [row_record(p, data) for p in papers],
        "vocab": {
            "modality": vocab.MODALITY,
            "technique": vocab.TECHNIQUE,
            "family": vocab.FAMILY,
            "zoo": vocab.ZOO_STATUS,
            "repro": {**vocab.REPRO_STATUS, **status.SHOWN_WORDS},
        },
        "badges": {f"{b.kind}:{b.value}": f"{BADGE_DIR}/{b.filename}" for b in standard_badges()}
        | {"repro:reproduced, no accuracy claim": f"{BADGE_DIR}/{Badge('repro', 'reproduced, no accuracy claim').filename}"},
    }


def catalog_page(data: SiteData) -> str:
    n = len(data.papers)
    implemented = sum(1 for p in data.papers if (p.get("zoo") or {}).get("status") == "implemented")
    with_code = sum(1 for p in data.papers if (p.get("links") or {}).get("code"))
    data.badges[f"{BADGE_DIR}/{Badge('repro', 'reproduced, no accuracy claim').filename}"] = Badge(
        "repro", "reproduced, no accuracy claim")
    # Raw HTML (inside <noscript>): links are to built pages, relative to catalog/.
    year_links = ", ".join(f'<a href="../year/{y}/">{y}</a>' for y in sorted(years(data), reverse=True))
    return f"""---
title: Catalog
hide:
  - navigation
  - toc
---

# Catalog of token reduction papers

{n} papers, {with_code} with code, {implemented} implemented in tokzoo. Search by name, title, author or
arXiv id (words match by prefix: `fast` finds FastV; `*` and `?` are wildcards as in `tokzoo list`:
`fast*v`); several values of one filter are alternatives, different filters must all hold, and each
count says how many papers the value would leave. **Year** is the upstream list's section year (the
year of the paper's first version); the venue's year is in the Venue column. The address bar keeps
the current view, so it can be shared; the filtered list exports as BibTeX or CSV.

<div id="tz-catalog" class="tz-catalog" data-total="{n}">
<noscript><p>The interactive table needs JavaScript. Static lists: by year ({year_links}) and <a href="../modality/">by modality</a>.</p></noscript>
</div>

<div id="tz-catalog-data" hidden data-json="{json_for_attribute(catalog_payload(data))}"></div>
"""


def years(data: SiteData) -> list[int]:
    return sorted({section_year(p) for p in data.papers if section_year(p) is not None})


def static_rows(page: str, papers: list[dict[str, Any]], data: SiteData, *, with_year: bool) -> str:
    """A static Markdown table of ``papers`` as seen from ``page``."""
    headers = (["Year"] if with_year else []) + ["Venue", "Paper", "Modality", "Technique", "Code", "Zoo", "Repro"]
    implemented = set(data.methods)
    rows = []
    for p in sorted(papers, key=sort_key):
        links = p.get("links") or {}
        zoo = p.get("zoo") or {}
        status = zoo.get("status") or "none"
        method = zoo.get("method")
        code = badge(page, "code", "available", links["code"]) if safe_url(links.get("code")) else "–"
        if status == "implemented" and method in implemented:
            zoo_cell = badge(page, "zoo", status, f"methods/{method}.md")
        elif status != "none":
            zoo_cell = badge(page, "zoo", status)
        else:
            zoo_cell = "–"
        repro = data.repro_status(p["id"])
        repro_cell = "–" if repro is None else badge(
            page, "repro", repro, f"methods/{method}.md#reproduction" if method in implemented else None
        )
        row = ([str(section_year(p) or "")] if with_year else []) + [
            md_text(venue_text(p)),
            paper_cell(page, p, implemented),
            labels(p.get("modality") or []),
            labels(p.get("technique") or []),
            code,
            zoo_cell,
            repro_cell,
        ]
        rows.append(row)
    return wide(table(headers, rows))


def modality_pages(data: SiteData) -> dict[str, str]:
    """``modality/index.md`` and one page per modality that has papers."""
    pages: dict[str, str] = {}
    counts = Counter(m for p in data.papers for m in (p.get("modality") or []))
    index_rows = []
    for key, desc in vocab.MODALITY.items():
        if not counts[key]:
            continue
        page = f"modality/{key}.md"
        papers = [p for p in data.papers if key in (p.get("modality") or [])]
        filtered = f"../catalog.md?modality={key}"
        pages[page] = (
            "---\nhide:\n  - toc\n---\n\n"
            f"# {md_text(key.capitalize())} ({len(papers)} papers)\n\n{md_text(desc)}\n\n"
            f"Open in the [interactive catalog]({filtered}) to filter further.\n\n"
            + static_rows(page, papers, data, with_year=True)
        )
        index_rows.append([f"[{md_text(key)}]({key}.md)", str(counts[key]), md_text(desc)])
    pages["modality/index.md"] = (
        "# Papers by modality\n\nA paper can belong to several modalities.\n\n"
        + table(["Modality", "Papers", "Meaning"], index_rows, ["l", "r", "l"])
    )
    return pages


def year_pages(data: SiteData) -> dict[str, str]:
    """``year/index.md`` and one page per year (the upstream list's section year)."""
    pages: dict[str, str] = {}
    index_rows = []
    for year in sorted(years(data), reverse=True):
        page = f"year/{year}.md"
        papers = [p for p in data.papers if section_year(p) == year]
        mods = Counter(m for p in papers for m in (p.get("modality") or []))
        pages[page] = (
            "---\nhide:\n  - toc\n---\n\n"
            f"# {year} ({len(papers)} papers)\n\n"
            f"Open in the [interactive catalog](../catalog.md?year={year}) to filter further.\n\n"
            + static_rows(page, papers, data, with_year=False)
        )
        mix = ", ".join(f"{md_text(m)} {c}" for m, c in mods.most_common())
        index_rows.append([f"[{year}]({year}.md)", str(len(papers)), mix])
    pages["year/index.md"] = (
        "# Papers by year\n\nThe year is the section of the upstream list the paper is filed under.\n\n"
        + table(["Year", "Papers", "By modality"], index_rows, ["l", "r", "l"])
    )
    return pages


def badge_files() -> dict[str, str]:
    """SVG files of every standard badge, by docs path."""
    return {f"{BADGE_DIR}/{b.filename}": b.svg() for b in standard_badges()}


def extra_badge(kind: str, value: str) -> tuple[str, str]:
    b = Badge(kind, value)
    return f"{BADGE_DIR}/{b.filename}", b.svg()

