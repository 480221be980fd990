"""Filters over catalog papers: the logic behind ``tokzoo list`` and ``Catalog.filter``.

Semantics: several values of one criterion are alternatives (OR); different criteria must
all hold (AND). Text terms must all match.

- ``years``: ``2024``, ``2023..2024`` (inclusive), ``2023..``, ``..2022``, or comma lists.
  They test the paper's ``section_year`` (the upstream list's section year: the year of its
  first version). ``venue_years`` tests ``venue.year`` (papers without a venue year never
  match), ``arxiv_years`` the year of ``arxiv_published`` (the arXiv v1 date).
- ``venues``: a venue name, optionally with a year (``"CVPR 2024"``); case-insensitive;
  shell-style wildcards allowed (``"CVPR*"`` also matches CVPRW).
- ``authors``: a name or part of one (``"Song Han"``, ``"han"``), case- and accent-insensitive,
  matched against each author; with ``*``/``?`` a wildcard over the whole name (``"* Han"``).
- ``text``: a term with ``*``, ``?`` or ``[`` is a wildcard matched against the whole id,
  short name, arXiv id or title (case-insensitive: ``fast*`` finds FastV, FastVLM, ...);
  any other term is a substring searched in those, in the venue name and in the authors.

A filter given an empty value (``--modality ''``) is an error, never silently dropped.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Optional, Union

from zoo import vocab
from zoo.catalog.schema import Paper

YearRange = tuple[Optional[int], Optional[int]]
Values = Union[None, str, Iterable[str]]

_GLOB_CHARS = re.compile(r"[*?\[]")
_YEAR_RE = re.compile(r"^\s*(\d{4})?\s*(\.\.)?\s*(\d{4})?\s*$")


class QueryError(ValueError):
    """A filter value is not valid; the message names the option and what is allowed."""


def _as_list(values: Values, option: str = "filter") -> list[str]:
    """Comma-separated or repeated values; an empty value is an error naming ``option``."""
    if values is None:
        return []
    if isinstance(values, (str, int)):
        values = [str(values)]
    out: list[str] = []
    for value in values:
        parts = [part.strip() for part in str(value).split(",")]
        if not any(parts):
            raise QueryError(f"{option}: empty value; give a value or leave the option out")
        out.extend(part for part in parts if part)
    return out


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for author search (``'Müller'`` -> ``'muller'``)."""
    if text.isascii():
        return text.casefold()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def parse_years(spec: Union[None, int, str, Iterable[Union[int, str]]], option: str = "--year") -> tuple[YearRange, ...]:
    """``"2023..2024"`` -> ``((2023, 2024),)``; ``"2021,2023"`` -> two single-year ranges."""
    if spec is None:
        return ()
    items = [spec] if isinstance(spec, (int, str)) else list(spec)
    ranges: list[YearRange] = []
    for item in items:
        if not str(item).strip(" ,"):
            raise QueryError(f"{option}: empty value; allowed: YYYY, YYYY..YYYY, YYYY.., ..YYYY")
        for part in str(item).split(","):
            if not part.strip():
                continue
            match = _YEAR_RE.match(part)
            if not match or not (match.group(1) or match.group(3)) or (not match.group(2) and match.group(3)):
                raise QueryError(
                    f"{option}: {part.strip()[:40]!r} is not a year or range; allowed: YYYY, YYYY..YYYY, YYYY.., ..YYYY "
                    "(comma-separated for several)"
                )
            lo = int(match.group(1)) if match.group(1) else None
            hi = int(match.group(3)) if match.group(3) else None
            if not match.group(2):
                hi = lo
            if lo is not None and hi is not None and lo > hi:
                raise QueryError(f"{option}: range {part.strip()!r} is empty (start after end)")
            ranges.append((lo, hi))
    return tuple(ranges)


def _terms(option: str, values: Values, vocabulary: dict[str, str]) -> frozenset[str]:
    try:
        chosen = _as_list(values, option)
    except QueryError:
        raise QueryError(f"{option}: empty value; allowed: {', '.join(vocabulary)}") from None
    for value in chosen:
        if value not in vocabulary:
            close = difflib.get_close_matches(value, list(vocabulary), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise QueryError(f"{option}: unknown term {value[:40]!r}{hint}; allowed: {', '.join(vocabulary)}")
    return frozenset(chosen)


def _in_ranges(value: Optional[int], ranges: tuple[YearRange, ...]) -> bool:
    return value is not None and any((lo is None or value >= lo) and (hi is None or value <= hi) for lo, hi in ranges)


@dataclass(frozen=True)
class VenueSpec:
    """``CVPR``, ``CVPR 2024`` or ``NeurIPS*``."""

    pattern: str
    year: Optional[int] = None

    @classmethod
    def parse(cls, text: str) -> "VenueSpec":
        match = re.match(r"^(.*?)[\s-]+(\d{4})$", text.strip())
        if match and match.group(1):
            return cls(match.group(1).strip().casefold(), int(match.group(2)))
        return cls(text.strip().casefold())

    def matches(self, paper: Paper) -> bool:
        name = paper.venue.name.casefold()
        if _GLOB_CHARS.search(self.pattern):
            ok = fnmatch.fnmatchcase(name, self.pattern)
        else:
            ok = name == self.pattern
        return ok and (self.year is None or paper.venue.year == self.year)


@dataclass(frozen=True)
class Query:
    """A parsed filter; build it with :func:`build_query`."""

    modality: frozenset[str] = frozenset()
    technique: frozenset[str] = frozenset()
    family: frozenset[str] = frozenset()
    status: frozenset[str] = frozenset()
    years: tuple[YearRange, ...] = ()
    venue_years: tuple[YearRange, ...] = ()
    arxiv_years: tuple[YearRange, ...] = ()
    venues: tuple[VenueSpec, ...] = ()
    authors: tuple[str, ...] = ()
    training_free: Optional[bool] = None
    has_code: Optional[bool] = None
    implemented: Optional[bool] = None
    text: tuple[str, ...] = ()

    def matches(self, paper: Paper) -> bool:
        if self.modality and self.modality.isdisjoint(paper.modality):
            return False
        if self.technique and self.technique.isdisjoint(paper.technique):
            return False
        if self.family and self.family.isdisjoint(paper.family):
            return False
        if self.status and paper.zoo.status not in self.status:
            return False
        if self.years and not _in_ranges(paper.section_year, self.years):
            return False
        if self.venue_years and not _in_ranges(paper.venue.year, self.venue_years):
            return False
        if self.arxiv_years and not _in_ranges(int(paper.arxiv_published[:4]) if paper.arxiv_published else None,
                                                self.arxiv_years):
            return False
        if self.venues and not any(spec.matches(paper) for spec in self.venues):
            return False
        if self.authors and not any(_author_matches(term, paper) for term in self.authors):
            return False
        if self.training_free is not None and paper.training_free != self.training_free:
            return False
        if self.has_code is not None and paper.has_code != self.has_code:
            return False
        if self.implemented is not None and paper.implemented != self.implemented:
            return False
        return all(_text_matches(term, paper) for term in self.text)


def _author_matches(term: str, paper: Paper) -> bool:
    """``term`` is folded already (:func:`fold`)."""
    if _GLOB_CHARS.search(term):
        return any(fnmatch.fnmatchcase(fold(name), term) for name in paper.authors)
    return any(term in fold(name) for name in paper.authors)


def _text_matches(term: str, paper: Paper) -> bool:
    fields = [paper.id, paper.short_name or "", paper.arxiv or "", paper.title]
    if _GLOB_CHARS.search(term):
        return any(fnmatch.fnmatchcase(value.casefold(), term) for value in fields if value)
    fields.append(paper.venue.name)
    return any(term in value.casefold() for value in fields) or _author_matches(fold(term), paper)


def build_query(
    *,
    modality: Values = None,
    technique: Values = None,
    family: Values = None,
    status: Values = None,
    year: Union[None, int, str, Iterable[Union[int, str]]] = None,
    venue_year: Union[None, int, str, Iterable[Union[int, str]]] = None,
    arxiv_year: Union[None, int, str, Iterable[Union[int, str]]] = None,
    venue: Values = None,
    author: Values = None,
    training_free: Optional[bool] = None,
    has_code: Optional[bool] = None,
    implemented: Optional[bool] = None,
    text: Values = None,
) -> Query:
    """Validate filter values (unknown vocabulary terms and empty values raise :class:`QueryError`)."""
    text_terms: list[str] = []
    for value in [text] if isinstance(text, str) else list(text or []):
        words = str(value).split()
        if not words:
            raise QueryError("search text: empty value; give words to search for, or none at all")
        text_terms.extend(word.casefold() for word in words)
    authors: list[str] = []
    for value in [author] if isinstance(author, str) else list(author or []):
        if not str(value).strip(" ,;\t"):
            raise QueryError("--author: empty value; give a name or part of one")
        authors.append(fold(" ".join(str(value).split())))
    return Query(
        modality=_terms("--modality", modality, vocab.MODALITY),
        technique=_terms("--technique", technique, vocab.TECHNIQUE),
        family=_terms("--family", family, vocab.FAMILY),
        status=_terms("--status", status, vocab.ZOO_STATUS),
        years=parse_years(year),
        venue_years=parse_years(venue_year, "--venue-year"),
        arxiv_years=parse_years(arxiv_year, "--arxiv-year"),
        venues=tuple(VenueSpec.parse(v) for v in _as_list(venue, "--venue")),
        authors=tuple(authors),
        training_free=training_free,
        has_code=has_code,
        implemented=implemented,
        text=tuple(text_terms),
    )
