"""Filters over catalog papers: the logic behind ``tokzoo list`` and ``Catalog.filter``.

Semantics: several values of one criterion are alternatives (OR); different criteria must
all hold (AND). Text terms must all match.

- ``years``: ``2024``, ``2023..2024`` (inclusive), ``2023..``, ``..2022``, or comma lists.
  They test the paper's ``year`` (the upstream list's section year).
- ``venues``: a venue name, optionally with a year (``"CVPR 2024"``); case-insensitive;
  shell-style wildcards allowed (``"CVPR*"`` also matches CVPRW).
- ``text``: a term with ``*``, ``?`` or ``[`` is a wildcard matched against the whole id,
  short name, arXiv id or title (case-insensitive: ``fast*`` finds FastV, FastVLM, ...);
  any other term is a substring searched in those and in the venue name.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
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


def _as_list(values: Values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (str, int)):
        values = [str(values)]
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in str(value).split(",") if part.strip())
    return out


def parse_years(spec: Union[None, int, str, Iterable[Union[int, str]]]) -> tuple[YearRange, ...]:
    """``"2023..2024"`` -> ``((2023, 2024),)``; ``"2021,2023"`` -> two single-year ranges."""
    if spec is None:
        return ()
    items = [spec] if isinstance(spec, (int, str)) else list(spec)
    ranges: list[YearRange] = []
    for item in items:
        for part in str(item).split(","):
            if not part.strip():
                continue
            match = _YEAR_RE.match(part)
            if not match or not (match.group(1) or match.group(3)) or (not match.group(2) and match.group(3)):
                raise QueryError(
                    f"--year: {part.strip()!r} is not a year or range; allowed: YYYY, YYYY..YYYY, YYYY.., ..YYYY "
                    "(comma-separated for several)"
                )
            lo = int(match.group(1)) if match.group(1) else None
            hi = int(match.group(3)) if match.group(3) else None
            if not match.group(2):
                hi = lo
            if lo is not None and hi is not None and lo > hi:
                raise QueryError(f"--year: range {part.strip()!r} is empty (start after end)")
            ranges.append((lo, hi))
    return tuple(ranges)


def _terms(option: str, values: Values, vocabulary: dict[str, str]) -> frozenset[str]:
    chosen = _as_list(values)
    for value in chosen:
        if value not in vocabulary:
            close = difflib.get_close_matches(value, list(vocabulary), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise QueryError(f"{option}: unknown term {value!r}{hint}; allowed: {', '.join(vocabulary)}")
    return frozenset(chosen)


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
    venues: tuple[VenueSpec, ...] = ()
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
        if self.years and not any(
            (lo is None or paper.year >= lo) and (hi is None or paper.year <= hi) for lo, hi in self.years
        ):
            return False
        if self.venues and not any(spec.matches(paper) for spec in self.venues):
            return False
        if self.training_free is not None and paper.training_free != self.training_free:
            return False
        if self.has_code is not None and paper.has_code != self.has_code:
            return False
        if self.implemented is not None and paper.implemented != self.implemented:
            return False
        return all(_text_matches(term, paper) for term in self.text)


def _text_matches(term: str, paper: Paper) -> bool:
    fields = [paper.id, paper.short_name or "", paper.arxiv or "", paper.title]
    if _GLOB_CHARS.search(term):
        return any(fnmatch.fnmatchcase(value.casefold(), term) for value in fields if value)
    fields.append(paper.venue.name)
    return any(term in value.casefold() for value in fields)


def build_query(
    *,
    modality: Values = None,
    technique: Values = None,
    family: Values = None,
    status: Values = None,
    year: Union[None, int, str, Iterable[Union[int, str]]] = None,
    venue: Values = None,
    training_free: Optional[bool] = None,
    has_code: Optional[bool] = None,
    implemented: Optional[bool] = None,
    text: Values = None,
) -> Query:
    """Validate filter values (unknown vocabulary terms raise :class:`QueryError`)."""
    text_terms: list[str] = []
    for value in [text] if isinstance(text, str) else list(text or []):
        text_terms.extend(word.casefold() for word in str(value).split())
    return Query(
        modality=_terms("--modality", modality, vocab.MODALITY),
        technique=_terms("--technique", technique, vocab.TECHNIQUE),
        family=_terms("--family", family, vocab.FAMILY),
        status=_terms("--status", status, vocab.ZOO_STATUS),
        years=parse_years(year),
        venues=tuple(VenueSpec.parse(v) for v in _as_list(venue)),
        training_free=training_free,
        has_code=has_code,
        implemented=implemented,
        text=tuple(text_terms),
    )
