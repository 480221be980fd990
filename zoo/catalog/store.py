"""The loaded catalog: papers in catalog order, lookup by id / arXiv id / name, filters."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Optional

from zoo.catalog.query import build_query
from zoo.catalog.schema import SCHEMA_VERSION, Paper
from zoo.catalog.validate import normalized_title

_ARXIV_IN_TEXT = re.compile(r"^(?:arxiv:|https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/)?(\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?$", re.I)


class PaperNotFound(LookupError):
    """No paper matches; ``suggestions`` holds the closest ids."""

    def __init__(self, key: str, suggestions: list[str]) -> None:
        self.key = key
        self.suggestions = suggestions
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no paper {key!r} in the catalog (looked up by id, arXiv id, short name and title){hint}")

    def __str__(self) -> str:
        return str(self.args[0])


class AmbiguousPaper(LookupError):
    """A name matches several papers; ``candidates`` holds their ids."""

    def __init__(self, key: str, candidates: list[Paper]) -> None:
        self.key = key
        self.candidates = [p.id for p in candidates]
        listed = ", ".join(f"{p.id} ({p.title[:60]})" for p in candidates)
        super().__init__(f"{key!r} matches {len(candidates)} papers; use an id: {listed}")

    def __str__(self) -> str:
        return str(self.args[0])


def _name_key(text: str) -> str:
    return normalized_title(text)


class Catalog:
    """All papers of a catalog file, in file order.

    ``papers`` is a list of :class:`~zoo.catalog.schema.Paper`; ``path`` the file it came
    from (None when built in memory).
    """

    def __init__(self, papers: list[Paper], path: Optional[Path] = None, retired_ids: tuple[str, ...] = ()) -> None:
        self.papers = list(papers)
        self.path = path
        self.retired_ids = tuple(retired_ids)
        self.schema_version = SCHEMA_VERSION
        self._by_id = {p.id: p for p in self.papers}
        self._by_arxiv = {p.arxiv: p for p in self.papers if p.arxiv}
        self._names: Optional[tuple[dict[str, list[Paper]], dict[str, Paper]]] = None

    def _name_index(self) -> tuple[dict[str, list[Paper]], dict[str, Paper]]:
        """(normalised id/short name -> papers, normalised title -> paper), built on first use."""
        if self._names is None:
            by_name: dict[str, list[Paper]] = {}
            for paper in self.papers:
                keys = {_name_key(paper.id)}
                if paper.short_name:
                    keys.add(_name_key(paper.short_name))
                for key in keys:
                    by_name.setdefault(key, []).append(paper)
            self._names = (by_name, {normalized_title(p.title): p for p in self.papers})
        return self._names

    def __len__(self) -> int:
        return len(self.papers)

    def __iter__(self) -> Iterator[Paper]:
        return iter(self.papers)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.find(key) is not None

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.papers]

    def by_id(self, paper_id: str) -> Paper:
        """Exact id lookup (KeyError-like :class:`PaperNotFound` with suggestions)."""
        try:
            return self._by_id[paper_id]
        except KeyError:
            raise PaperNotFound(paper_id, self.suggest(paper_id)) from None

    def find(self, key: str) -> Optional[Paper]:
        """Like :meth:`get` but returns None when nothing matches (still raises when ambiguous)."""
        key = key.strip()
        if key in self._by_id:
            return self._by_id[key]
        arxiv = _ARXIV_IN_TEXT.match(key)
        if arxiv and arxiv.group(1) in self._by_arxiv:
            return self._by_arxiv[arxiv.group(1)]
        if key.casefold() in self._by_id:  # 'ToMe' -> tome, although another paper is also called ToMe
            return self._by_id[key.casefold()]
        by_name, by_title = self._name_index()
        named = by_name.get(_name_key(key), [])
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise AmbiguousPaper(key, named)
        return by_title.get(normalized_title(key))

    def get(self, key: str) -> Paper:
        """One paper by id, arXiv id (``2403.06764``, ``arXiv:2403.06764v2``, abs URL), id in any
        case (``ToMe`` -> ``tome``), unambiguous short name (case and punctuation ignored:
        ``llava prumerge``) or exact title.

        Raises :class:`PaperNotFound` (with the closest ids) or :class:`AmbiguousPaper`.
        """
        paper = self.find(key)
        if paper is None:
            raise PaperNotFound(key, self.suggest(key))
        return paper

    def suggest(self, key: str, n: int = 5) -> list[str]:
        """The ids closest to ``key`` (by id and by short name)."""
        folded = key.strip().casefold()
        names = {p.id: p.id for p in self.papers}
        for paper in self.papers:
            if paper.short_name:
                names.setdefault(paper.short_name.casefold(), paper.id)
        close = difflib.get_close_matches(folded, list(names), n=n * 2, cutoff=0.6)
        out: list[str] = []
        for name in close:
            if names[name] not in out:
                out.append(names[name])
        return out[:n]

    def by_author(self, name: str) -> list[Paper]:
        """Papers with an author whose name contains ``name`` (case and accents ignored)."""
        return self.filter(author=name) if name.strip() else []

    def filter(self, **criteria: Any) -> list[Paper]:
        """Papers matching all criteria, in catalog order.

        Keywords (see :mod:`zoo.catalog.query`): ``modality``, ``technique``, ``family``,
        ``status`` (a term or a list of terms), ``year`` (the section year: ``2024``,
        ``"2023..2024"``), ``venue_year``, ``arxiv_year`` (same forms), ``venue`` (``"CVPR"``,
        ``"CVPR 2024"``, ``"NeurIPS*"``), ``author`` (a name or part of one), ``training_free``,
        ``has_code``, ``implemented`` (bool or None), ``text`` (words or wildcards).
        Unknown terms and empty values raise :class:`~zoo.catalog.query.QueryError`.
        """
        query = build_query(**criteria)
        return [p for p in self.papers if query.matches(p)]

    def stats(self, papers: Optional[list[Paper]] = None) -> dict[str, dict[str, int]]:
        """Counts by year, modality, technique, family, venue, venue kind, zoo status (all of
        ``papers``, default the whole catalog). A paper with two modalities counts in both."""
        chosen = self.papers if papers is None else papers
        counters: dict[str, Counter[str]] = {
            name: Counter() for name in ("year", "modality", "technique", "family", "venue", "venue_kind", "zoo_status")
        }
        for paper in chosen:
            counters["year"][str(paper.section_year)] += 1
            counters["modality"].update(paper.modality)
            counters["technique"].update(paper.technique)
            counters["family"].update(paper.family)
            counters["venue"][paper.venue.name] += 1
            counters["venue_kind"][paper.venue.kind] += 1
            counters["zoo_status"][paper.zoo.status] += 1
        out: dict[str, dict[str, int]] = {"total": {"papers": len(chosen)}}
        for name, counter in counters.items():
            if name == "year":
                out[name] = dict(sorted(counter.items(), reverse=True))
            else:
                out[name] = dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0].casefold())))
        out["total"]["with_arxiv"] = sum(1 for p in chosen if p.arxiv)
        out["total"]["with_code"] = sum(1 for p in chosen if p.has_code)
        out["total"]["training_free"] = sum(1 for p in chosen if p.training_free)
        return out
