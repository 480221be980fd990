"""Small Markdown building blocks shared by the page generators (tables, badges, paper cells).

Every catalog string passes through :mod:`zoo.site.escape`. Paths are docs-relative POSIX
paths (``methods/fastv.md``); links between pages are made relative with :func:`rel`.
"""

from __future__ import annotations

import posixpath
from typing import Any, Iterable, Sequence

from zoo.site.badges import Badge
from zoo.site.escape import md_link, md_text

BADGE_DIR = "assets/badges"


def rel(from_page: str, target: str) -> str:
    """Relative link from docs page ``from_page`` to docs path ``target`` (keeps ``#anchor``)."""
    path, _, anchor = target.partition("#")
    out = posixpath.relpath(path, posixpath.dirname(from_page) or ".")
    return out + (f"#{anchor}" if anchor else "")


def url_rel(page: str, target: str) -> str:
    """Relative URL for *raw HTML* (MkDocs does not rewrite it): from the built URL of docs page
    ``page`` (``claims.md`` is served as ``claims/``) to ``target`` (a docs path such as
    ``assets/badges/x.svg``, or a directory URL such as ``methods/tome/``)."""
    if page.endswith("index.md"):
        base = posixpath.dirname(page)
    else:
        base = page[:-3]
    path, _, anchor = target.partition("#")
    out = posixpath.relpath(path or ".", base or ".")
    if path.endswith("/") and not out.endswith("/"):
        out += "/"
    return out + (f"#{anchor}" if anchor else "")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: Sequence[str] | None = None) -> str:
    """A Markdown table; cells must already be escaped Markdown (one line each)."""
    align = align or ["l"] * len(headers)
    marks = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    count = 0
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells, expected {len(headers)}: {row!r}")
        lines.append("| " + " | ".join(cell or " " for cell in row) + " |")
        count += 1
    if count == 0:
        return ""
    return "\n".join(lines) + "\n"


def wide(table_md: str, css_class: str = "") -> str:
    """Wrap a Markdown table so the stylesheet lays it out at full content width (md_in_html)."""
    if not table_md:
        return ""
    classes = " ".join(["tz-wide", css_class]).strip()
    return f'<div class="{classes}" markdown>\n\n{table_md}\n</div>\n'


def badge(page: str, kind: str, value: str, link: str | None = None, *, tone: str = "",
          registry: dict[str, Badge] | None = None) -> str:
    """Markdown image of a status badge, optionally wrapped in a link (docs path or URL).

    ``registry`` (``SiteData.badges``) collects the badges outside the standard set, so the
    build writes their SVG files. Badges keep their natural size (class ``tz-badge``).
    """
    b = Badge(kind, value, tone)
    if registry is not None:
        registry[f"{BADGE_DIR}/{b.filename}"] = b
    img = (f"![{md_text(kind)}: {md_text(value)}]({rel(page, f'{BADGE_DIR}/{b.filename}')})"
           f"{{ .tz-badge }}")
    if link is None:
        return img
    if link.startswith(("http://", "https://")):
        from zoo.site.escape import safe_url

        target = safe_url(link)
        return f"[{img}]({target})" if target else img
    return f"[{img}]({rel(page, link)})"


def code_span(text: object) -> str:
    """Inline code that shows ``text`` literally. Python-Markdown still parses links, images and
    emphasis inside an inline ``<code>`` element (``[x](javascript:...)`` became a live link), so
    the text is escaped as Markdown (entities and backslashes), ``|`` included."""
    return f"<code>{md_text(text)}</code>"


def display_name(paper: dict[str, Any]) -> str:
    """The name the field uses (``short_name``) or the title."""
    return paper.get("short_name") or paper["title"]


def venue_text(paper: dict[str, Any]) -> str:
    """Plain text such as ``ECCV 2024 Oral`` or ``arXiv``."""
    venue = paper.get("venue") or {}
    parts = [venue.get("name") or ""]
    if venue.get("year"):
        parts.append(str(venue["year"]))
    if venue.get("note"):
        parts.append(str(venue["note"]))
    return " ".join(p for p in parts if p)


def method_page(method_id: str) -> str:
    return f"methods/{method_id}.md"


def paper_cell(page: str, paper: dict[str, Any], implemented: set[str]) -> str:
    """``**Name**: Title`` with the title linked to the paper and the name to the method page."""
    links = paper.get("links") or {}
    method = (paper.get("zoo") or {}).get("method")
    title = md_link(paper["title"], links.get("paper"))
    short = paper.get("short_name")
    if short and paper["title"].casefold().startswith(short.casefold()):
        return title  # "DyCoke: Dynamic ..." already names it; the zoo badge links the method page
    if method and method in implemented:
        name = f"**[{md_text(short or method)}]({rel(page, method_page(method))})**"
        return f"{name}: {title}"
    if short:
        return f"**{md_text(short)}**: {title}"
    return title


def labels(values: Iterable[str]) -> str:
    return ", ".join(md_text(v) for v in values)


# ---------------------------------------------------------------- catalog fields, read defensively
# (the catalog schema grows: authors, section_year / arxiv_published / venue.year, code_license,
# links.other_code, sources.*; a field a catalog does not have yet is simply not shown)
def section_year(paper: dict[str, Any]) -> int | None:
    """The upstream list's section year (``section_year``; ``year`` in schema version 1)."""
    value = paper.get("section_year", paper.get("year"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def arxiv_date(paper: dict[str, Any]) -> str:
    value = paper.get("arxiv_published")
    return value if isinstance(value, str) else ""


def venue_year(paper: dict[str, Any]) -> int | None:
    value = (paper.get("venue") or {}).get("year")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def authors(paper: dict[str, Any]) -> list[str]:
    return [a for a in (paper.get("authors") or []) if isinstance(a, str) and a]


def code_links(paper: dict[str, Any]) -> list[str]:
    """The official code repositories: ``links.code`` then ``links.other_code``."""
    links = paper.get("links") or {}
    out = [links.get("code")] + list(links.get("other_code") or [])
    return [u for u in out if isinstance(u, str) and u]


def project_link(paper: dict[str, Any]) -> str:
    value = (paper.get("links") or {}).get("project")
    return value if isinstance(value, str) else ""


def other_links(paper: dict[str, Any]) -> list[str]:
    return [u for u in ((paper.get("links") or {}).get("other") or []) if isinstance(u, str) and u]


def code_license(paper: dict[str, Any]) -> str:
    value = paper.get("code_license")
    return value if isinstance(value, str) else ""


def source_link(paper: dict[str, Any], key: str) -> str:
    """Where a curated value was found (``sources.<key>``), when the catalog says."""
    value = (paper.get("sources") or {}).get(key)
    return value if isinstance(value, str) else ""


def author_text(paper: dict[str, Any], limit: int = 0) -> str:
    names = authors(paper)
    if limit and len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return ", ".join(names)
