"""BibTeX entries for catalog papers (key = catalog id).

Conference and workshop papers become ``@inproceedings`` (booktitle = the venue's full
name), journal papers ``@article``, preprints ``@misc`` with ``eprint``/``archivePrefix``
(biblatex and natbib both understand them). Authors are written when the catalog has them.

Every value is made safe for a ``.bib`` file whatever the catalog holds: control characters
are dropped, TeX specials escaped in text, and a URL's braces, backslashes, quotes and
whitespace are percent-encoded (``%`` stays: URLs already use it), so no value can close its
field and start an entry of its own (the validator already rejects such links; this is the
second line of defence).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from zoo.catalog.schema import strip_controls
from zoo.catalog.venues import full_venue_name

if TYPE_CHECKING:
    from zoo.catalog.schema import Paper

_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    """Escape the characters that are special in (La)TeX (control characters are dropped)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in strip_controls(text))


_URL_UNSAFE = re.compile(r"[{}\\\s\"<>^`|]")


def bibtex_url(url: str) -> str:
    """A URL safe inside ``url = {...}``: braces, backslashes, quotes and whitespace percent-encoded."""
    return _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8")), strip_controls(url))


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
    fields.append(("year", str(venue.year if venue.year is not None else paper.section_year)))
    if venue.note:
        fields.append(("note", latex_escape(venue.note)))
    if paper.arxiv:
        fields += [("eprint", latex_escape(paper.arxiv)), ("archivePrefix", "arXiv")]
    fields.append(("url", bibtex_url(paper.links.paper)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    key = re.sub(r"[^a-z0-9-]", "", paper.id)
    return f"@{kind}{{{key},\n{body}\n}}\n"


def bibtex(papers: Iterable["Paper"]) -> str:
    """Entries for several papers, separated by blank lines."""
    return "\n".join(paper_bibtex(p) for p in papers)
