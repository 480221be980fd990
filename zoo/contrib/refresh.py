"""Scheduled metadata refresh: compare catalog entries with arXiv and report, never edit.

Titles and venues in the catalog are curated, so this only *reports*: entries whose arXiv
title changed (a new version renamed the paper), preprints whose arXiv comment now names
a venue (e.g. "Accepted to CVPR 2025"), and ids arXiv does not know. The maintainers
decide; ``tokzoo add``'s venue reader turns the comment into a proposed venue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from zoo.contrib.arxiv_client import FetchReport


@dataclass
class RefreshReport:
    title_changes: list[tuple[str, str, str]] = field(default_factory=list)  # id, catalog title, arXiv title
    venue_hints: list[tuple[str, str, str]] = field(default_factory=list)  # id, proposed venue, comment
    unknown: list[str] = field(default_factory=list)  # catalog ids whose arXiv id arXiv does not know
    failed: dict[str, str] = field(default_factory=dict)  # catalog id -> why its fetch failed
    checked: int = 0

    def markdown(self) -> str:
        lines = [f"### arXiv metadata ({self.checked} papers checked)", ""]
        if self.title_changes:
            lines += ["Titles that differ on arXiv (the catalog keeps its title until a maintainer decides):", ""]
            lines += [f"- `{pid}`: catalog *{old}*; arXiv *{new}*" for pid, old, new in self.title_changes]
            lines.append("")
        if self.venue_hints:
            lines += ["Preprints whose arXiv comment names a venue:", ""]
            lines += [f"- `{pid}`: {venue} (comment: \"{comment}\")" for pid, venue, comment in self.venue_hints]
            lines.append("")
        if self.unknown:
            lines += ["arXiv ids arXiv does not know: " + ", ".join(f"`{p}`" for p in self.unknown), ""]
        if self.failed:
            lines += [f"Not checked (arXiv errors, try again later): {len(self.failed)} papers", ""]
        if not (self.title_changes or self.venue_hints or self.unknown):
            lines.append("Nothing to update.")
        return "\n".join(lines) + "\n"


def refresh_report(papers: Iterable[Any], fetch: Callable[[list[str]], FetchReport]) -> RefreshReport:
    """Fetch every paper with an arXiv id through ``fetch`` and compare (see module docstring)."""
    from zoo.catalog.validate import normalized_title
    from zoo.contrib.add import venue_from_comment

    by_arxiv = {p.arxiv: p for p in papers if p.arxiv}
    fetched = fetch(list(by_arxiv))
    report = RefreshReport(checked=len(fetched.found))
    for arxiv_id, record in fetched.found.items():
        paper = by_arxiv[arxiv_id]
        if normalized_title(record.title) != normalized_title(paper.title):
            report.title_changes.append((paper.id, paper.title, record.title))
        if paper.venue.kind == "preprint":
            hint = venue_from_comment(record)
            if hint:
                venue = " ".join(str(v) for v in (hint[0]["name"], hint[0].get("year"), hint[0].get("note")) if v)
                report.venue_hints.append((paper.id, venue, hint[1]))
    report.unknown = [by_arxiv[a].id for a in fetched.missing]
    report.failed = {by_arxiv[a].id: why for a, why in fetched.failed.items() if a in by_arxiv}
    return report
