"""BibTeX entries for catalog papers (key = catalog id).

Conference and workshop papers become ``@inproceedings`` (booktitle = the venue's full
name), journal papers ``@article``, preprints ``@misc`` with ``eprint``/``archivePrefix``
(biblatex and natbib both understand them). Authors are written when the catalog has them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from zoo.catalog.venues import full_venue_name

if TYPE_CHECKING:
    from zoo.catalog.schema import Paper

_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    """Escape the characters that are special in (La)TeX."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def paper_bibtex(paper: "Paper") -> str:
    """One BibTeX entry. The title is double-braced so that its capitalisation is kept."""
    venue = paper.venue
    fields: list[tuple[str, str]] = [("title", "{" + latex_escape(paper.title) + "}")]
    if paper.authors:
        fields.append(("author", " and ".join(latex_escape(a) for a in paper.authors)))
    if venue.kind in {"conference", "workshop"}:
        kind = "inproceedings"
        fields.append(("booktitle", latex_escape(f"{full_venue_name(venue.name)} ({venue.name})")))
    elif venue.kind == "journal":
        kind = "article"
        fields.append(("journal", latex_escape(full_venue_name(venue.name))))
    else:
        kind = "misc"
        if venue.name != "arXiv":
            fields.append(("howpublished", latex_escape(venue.name)))
    fields.append(("year", str(venue.year if venue.year is not None else paper.year)))
    if venue.note:
        fields.append(("note", latex_escape(venue.note)))
    if paper.arxiv:
        fields += [("eprint", paper.arxiv), ("archivePrefix", "arXiv")]
    fields.append(("url", paper.links.paper))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{kind}{{{paper.id},\n{body}\n}}\n"


def bibtex(papers: Iterable["Paper"]) -> str:
    """Entries for several papers, separated by blank lines."""
    return "\n".join(paper_bibtex(p) for p in papers)
