"""Read the upstream awesome-token-reduction markdown list and plan a merge into the catalog.

``parse_upstream(text)`` turns each ``- ...`` line under a ``## YYYY`` heading into an
:class:`UpstreamEntry` (title with mojibake repaired, venue tag normalised, arXiv id, links)
and reports lines it cannot read as :class:`Problem` instead of raising. Only ``- `` lines
under a ``## <year>`` heading are papers: the title, the introduction (the 2025 list opens
with a bulleted list of model kinds) and the Contributing/License sections are skipped.
A paper listed twice (same arXiv id or title) is kept once and reported as a duplicate.
Known mistakes of the list are corrected per paper (:data:`ENTRY_FIXES`, each with its
reason) and reported as repairs.

``plan_import(catalog_data, parsed)`` matches entries to catalog papers by arXiv id (by
normalised title when there is none) and returns an :class:`ImportPlan`: new papers (with
placeholder labels for curation), empty fields to fill, and differences it leaves alone.
It never overwrites a value the catalog already has. Papers the zoo added itself
(``added: tokzoo``) are never reported as gone from the list. ``zoo.catalog.edit.apply_import``
writes a plan into ``catalog.yaml`` keeping comments and formatting.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from zoo import vocab
from zoo.catalog.ids import PINNED_IDS, allocate_id, base_id
from zoo.catalog.validate import normalized_title
from zoo.catalog.venues import VENUES, canonical_venue

#: Per-paper corrections of the upstream list, keyed by arXiv id, each with its reason.
VENUE_YEAR_FIXES: dict[str, tuple[int, str]] = {
    "2407.10468": (2024, "LiteFocus appeared at Interspeech 2024 (the paper's arXiv comment); upstream tag has no year"),
    # Upstream tags whose year predates the paper's first arXiv version by more than the venue's
    # review cycle; the paper appeared at the next edition of the venue.
    "2312.10656": (2024, "VidToMe (arXiv Dec 2023) is a CVPR 2024 paper; upstream says CVPR 2023"),
    "2306.07050": (2024, "SViT (arXiv Jun 2023) is a WACV 2024 paper; upstream says WACV 2023"),
    "2308.01944": (2024, "DoViT (arXiv Aug 2023) is a WACV 2024 paper; upstream says WACV 2023"),
    "2311.08806": (2024, "SparseSpikformer (arXiv Nov 2023) is an ICASSP 2024 paper; upstream says ICASSP 2023"),
}

#: Other per-paper corrections, keyed by arXiv id: ``section_year``, ``venue`` fields to set
#: (``{"note": "Findings"}``), ``drop_code`` (a code link the list attaches to the wrong paper),
#: each with its reason. Applied while parsing and reported as repairs.
ENTRY_FIXES: dict[str, dict[str, Any]] = {
    "2406.18139": {"section_year": 2024, "venue": {"note": "Findings"},
                   "reason": "LOOK-M (arXiv Jun 2024) is a Findings of EMNLP 2024 paper; upstream files it under 2023 "
                             "and tags it [EMNLP 2024]"},
    "2310.19060": {"venue": {"note": "Findings"},
                   "reason": "TESTA is a Findings of EMNLP 2023 paper; upstream tags it [EMNLP 2023]"},
    "2502.00433": {"section_year": 2024,
                   "reason": "CAT Pruning is listed twice upstream: under 2024 with its 2024 OpenReview PDF and under "
                             "2025 with its arXiv version (Feb 2025); its first version is the 2024 one"},
    "2501.18657": {"drop_code": "https://github.com/ada-cheng/CAT-Pruning",
                   "reason": "the list puts CAT Pruning's repository on the Symbolic Compression line (the next line); "
                             "it belongs to CAT Pruning (2502.00433), which lists it itself"},
}

_SECTION_RE = re.compile(r"^##\s+(.*?)\s*$")
_ANCHOR_RE = re.compile(r"<a\s+href=\"([^\"]*)\"\s*>\s*(?:<img\s+src=\"([^\"]*)\"[^>]*>)?\s*</a>", re.I)
_TAG_RE = re.compile(r"^\[([^\]]+)\]\s*")
_TAG_PARTS_RE = re.compile(r"^(?P<name>.+?)(?:\s+(?P<year>\d{4}))?(?:\s+(?P<note>[A-Za-z]+))?$")
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*(?!\*)")
_ARXIV_BADGE_RE = re.compile(r"img\.shields\.io/badge/arXiv-([^-\"]+)-", re.I)
_ARXIV_URL_RE = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(v\d+)?(?:\.pdf)?/?$")
_VENUE_BADGE_RE = re.compile(r"img\.shields\.io/badge/([^-\"/]+)-(\d{4})-[a-z]+", re.I)


@dataclass(frozen=True)
class Problem:
    """A line of the upstream list that could not be imported (or was imported with doubts)."""

    line: int
    message: str
    text: str = ""
    kind: str = "unreadable"  # unreadable | duplicate

    def __str__(self) -> str:
        snippet = (self.text[:100] + "…") if len(self.text) > 100 else self.text
        return f"line {self.line}: {self.message}" + (f"\n    {snippet}" if snippet else "")


@dataclass(frozen=True)
class UpstreamEntry:
    """One paper line of the upstream list, normalised."""

    line: int
    section_year: int
    title: str
    bold: tuple[str, ...]
    venue: dict[str, Any]
    arxiv: Optional[str]
    links: dict[str, Any]
    repairs: tuple[str, ...] = ()
    heading_year: Optional[int] = None  # the section the list files it under (before ENTRY_FIXES)

    @property
    def key(self) -> str:
        """``arXiv id`` or ``lineNNN``: how curated label files refer to an entry."""
        return self.arxiv or f"line{self.line}"

    def short_name_guess(self) -> Optional[str]:
        """The bold name when it opens the title as ``**Name**: ...`` and looks like a name."""
        if not self.bold:
            return None
        name = self.bold[0]
        rest = self.title[len(name):] if self.title.startswith(name) else None
        if rest is None or not re.match(r"^\s*[:\-]", rest):
            return None
        words = name.split()
        if len(words) == 1:
            return name
        acronymish = any(sum(c.isupper() for c in w) >= 2 or any(c.isdigit() for c in w) for w in words)
        return name if len(words) <= 3 and acronymish else None


@dataclass
class ParsedList:
    entries: list[UpstreamEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def by_line(self) -> dict[int, UpstreamEntry]:
        return {e.line: e for e in self.entries}


def _fix_text(text: str) -> str:
    import ftfy

    return ftfy.fix_text(text)


def _clean_url(url: str, repairs: list[str]) -> str:
    fixed = html.unescape(url.strip()).lstrip("=").strip()
    if fixed.startswith("http://"):
        fixed = "https://" + fixed[len("http://"):]
    if fixed != url:
        repairs.append(f"link {url!r} -> {fixed!r}")
    return fixed


def _parse_tag(tag: str) -> Optional[tuple[str, Optional[int], Optional[str]]]:
    match = _TAG_PARTS_RE.match(tag.strip())
    if not match:
        return None
    name, year, note = match.group("name"), match.group("year"), match.group("note")
    if note and note not in vocab.VENUE_NOTE:
        # "Neural Networks 2022" has no note; a trailing word without a year belongs to the name
        if year is None:
            name, note = f"{name} {note}", None
        else:
            return None
    return name.strip(), (int(year) if year else None), note


#: Public name: ``parse_venue_tag("CVPR 2024 Oral") -> ("CVPR", 2024, "Oral")`` (None if unreadable).
parse_venue_tag = _parse_tag


def parse_line(raw: str, line: int, section_year: int) -> tuple[Optional[UpstreamEntry], list[Problem]]:
    """Parse one ``- ...`` line. Returns the entry (None if unusable) and problems found."""
    heading_year = section_year
    problems: list[Problem] = []
    repairs: list[str] = []
    text = _fix_text(raw)
    if text != raw:
        repairs.append("text repaired by ftfy (mojibake such as UTF-8 read as cp1252, curly quotes)")
    body = text[2:].strip()

    venue: Optional[dict[str, Any]] = None
    tag_match = _TAG_RE.match(body)
    if tag_match:
        body = body[tag_match.end():]
        parsed = _parse_tag(tag_match.group(1))
        if parsed is None:
            problems.append(Problem(line, f"cannot read the venue tag [{tag_match.group(1)}]", raw))
        else:
            name, year, note = parsed
            canonical = canonical_venue(name)
            if canonical is None:
                problems.append(Problem(line, f"unknown venue {name!r} (add it to zoo/catalog/venues.py); imported as a conference", raw))
                canonical, kind = name, "conference"
            else:
                kind = VENUES[canonical].kind
                if canonical != name:
                    repairs.append(f"venue {name!r} -> {canonical!r}")
            venue = {"name": canonical, "year": year, "kind": kind}
            if note:
                venue["note"] = note

    first_anchor = body.find("<a ")
    title_part = body if first_anchor < 0 else body[:first_anchor]
    bold = tuple(re.sub(r"\s+", " ", b).strip() for b in _BOLD_RE.findall(title_part))
    title = re.sub(r"\s+", " ", _BOLD_RE.sub(r"\1", title_part)).strip()
    if not title:
        return None, problems + [Problem(line, "no title before the links", raw)]

    arxiv: Optional[str] = None
    links: dict[str, Any] = {}
    other: list[str] = []
    badge_venue: Optional[tuple[str, int, str]] = None
    for href, img in _ANCHOR_RE.findall(body):
        url = _clean_url(href, repairs)
        img = img or ""
        if "badge/arxiv-" in img.lower() or "arxiv.org/" in url:
            match = _ARXIV_URL_RE.search(url)
            badge = _ARXIV_BADGE_RE.search(img)
            if not match:
                problems.append(Problem(line, f"arXiv link {url!r} has no readable arXiv id", raw))
                continue
            found = match.group(1)
            if match.group(2):
                repairs.append(f"arXiv id {found}{match.group(2)} -> {found} (versionless)")
            if badge and badge.group(1).split("v")[0] != found:
                problems.append(Problem(line, f"arXiv badge says {badge.group(1)} but the link says {found}; using the link", raw))
            if arxiv is not None and arxiv != found:
                problems.append(Problem(line, f"two arXiv ids ({arxiv}, {found}); using the first", raw))
                continue
            arxiv = found
            links["paper"] = f"https://arxiv.org/abs/{found}"
        elif "github/stars" in img or ("github.com/" in url and not img):
            links.setdefault("code", url)
        elif "badge/project" in img.lower():
            links.setdefault("project", url)
        elif _VENUE_BADGE_RE.search(img) and "huggingface" not in img.lower():
            match = _VENUE_BADGE_RE.search(img)
            assert match is not None
            badge_venue = (match.group(1), int(match.group(2)), url)
        else:
            other.append(url)
    if other:
        links["other"] = other

    if arxiv is None:
        if badge_venue is None:
            return None, problems + [Problem(line, "no arXiv link and no venue badge with a paper link", raw)]
        links["paper"] = badge_venue[2]
    if badge_venue is not None and venue is None:
        name = canonical_venue(badge_venue[0]) or badge_venue[0]
        kind = VENUES[name].kind if name in VENUES else "conference"
        if name not in VENUES:
            problems.append(Problem(line, f"unknown venue badge {badge_venue[0]!r}; imported as a conference", raw))
        venue = {"name": name, "year": badge_venue[1], "kind": kind}
    if venue is None:
        venue = {"name": "arXiv", "year": None, "kind": "preprint"}
    fix = VENUE_YEAR_FIXES.get(arxiv or "")
    if fix and venue["kind"] != "preprint" and venue["year"] != fix[0]:
        venue["year"] = fix[0]
        repairs.append(f"venue year set to {fix[0]}: {fix[1]}")
    entry_fix = ENTRY_FIXES.get(arxiv or "", {})
    if entry_fix.get("section_year") and entry_fix["section_year"] != section_year:
        repairs.append(f"section year {section_year} -> {entry_fix['section_year']}: {entry_fix['reason']}")
        section_year = entry_fix["section_year"]
    for key, value in (entry_fix.get("venue") or {}).items():
        if venue["kind"] != "preprint" and venue.get(key) != value:
            venue[key] = value
            repairs.append(f"venue {key} set to {value}: {entry_fix['reason']}")
    if entry_fix.get("drop_code") and links.get("code") == entry_fix["drop_code"]:
        del links["code"]
        repairs.append(f"code link {entry_fix['drop_code']} dropped: {entry_fix['reason']}")
    if venue["year"] is None and venue["kind"] != "preprint":
        problems.append(Problem(line, f"venue {venue['name']!r} has no year; add it to VENUE_YEAR_FIXES", raw))
        return None, problems
    links = {k: links[k] for k in ("paper", "code", "project", "other") if k in links}
    entry = UpstreamEntry(line, section_year, title, bold, venue, arxiv, links, tuple(repairs), heading_year=heading_year)
    return entry, problems


def parse_upstream(text: str) -> ParsedList:
    """Parse the whole list; paper lines are ``- `` lines under ``## <year>`` headings."""
    result = ParsedList()
    section_year: Optional[int] = None
    seen_arxiv: dict[str, int] = {}
    seen_title: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        heading = _SECTION_RE.match(raw)
        if heading:
            section_year = int(heading.group(1)) if re.fullmatch(r"\d{4}", heading.group(1)) else None
            continue
        if section_year is None or not raw.startswith("- "):
            if section_year is not None and raw.strip() and not raw.startswith("#"):
                result.problems.append(Problem(number, "not a list item; skipped", raw))
            continue
        try:
            entry, problems = parse_line(raw, number, section_year)
        except Exception as exc:  # a malformed line must never stop the import
            entry, problems = None, [Problem(number, f"could not parse ({type(exc).__name__}: {exc})", raw)]
        result.problems.extend(problems)
        if entry is None:
            continue
        if entry.arxiv and entry.arxiv in seen_arxiv:
            result.problems.append(Problem(number, f"duplicate of line {seen_arxiv[entry.arxiv]} (arXiv {entry.arxiv}); skipped",
                                           raw, kind="duplicate"))
            continue
        title_key = normalized_title(entry.title)
        if title_key in seen_title:
            result.problems.append(Problem(number, f"duplicate of line {seen_title[title_key]} (same title); skipped",
                                           raw, kind="duplicate"))
            continue
        if entry.arxiv:
            seen_arxiv[entry.arxiv] = number
        seen_title[title_key] = number
        result.entries.append(entry)
    return result


def new_paper(entry: UpstreamEntry, paper_id: str) -> dict[str, Any]:
    """A catalog entry for a new paper, with placeholder labels (empty lists, training_free
    null) that the validator rejects until someone curates them."""
    venue = {k: entry.venue[k] for k in ("name", "year", "kind", "note") if k in entry.venue}
    return {
        "id": paper_id,
        "title": entry.title,
        "short_name": entry.short_name_guess(),
        "section_year": entry.section_year,
        "venue": venue,
        "arxiv": entry.arxiv,
        "links": dict(entry.links),
        "modality": [],
        "technique": [],
        "family": [],
        "training_free": None,
        "zoo": {"status": "none"},
    }


#: catalog field -> the ``sources`` key that documents a curated value of it
_SOURCED_FIELDS = {"venue": "venue", "links.code": "code", "links.project": "project"}


def _disagreement(current: Any, path: str) -> str:
    """``curated`` when the catalog's differing value has a recorded source, else ``differs``."""
    key = _SOURCED_FIELDS.get(path)
    sources = current.get("sources") or {}
    return "curated" if key and isinstance(sources, dict) and sources.get(key) else "differs"


@dataclass(frozen=True)
class Change:
    """One line of the import diff.

    ``action``: ``add`` (new paper), ``fill`` (an empty field gets the upstream value),
    ``differs`` (catalog and upstream disagree; the catalog value is kept), ``curated`` (they
    disagree where the catalog's value carries a source in ``sources``, e.g. a venue published
    since the list was written: expected, kept, counted but not listed), ``missing``
    (a catalog paper is no longer upstream; kept), ``tokzoo`` (a paper the zoo added, not in
    the list: expected, kept), ``now-upstream`` (a paper the zoo added that the list now has).
    """

    action: str
    paper_id: str
    field: str = ""
    old: Any = None
    new: Any = None
    line: Optional[int] = None

    def __str__(self) -> str:
        at = f" (upstream line {self.line})" if self.line else ""
        if self.action == "add":
            return f"+ {self.paper_id}{at}: {self.new.get('title', '')}"
        if self.action == "fill":
            return f"~ {self.paper_id}.{self.field}: {self.old!r} -> {self.new!r}{at}"
        if self.action == "differs":
            return f"! {self.paper_id}.{self.field}: kept {self.old!r}; upstream has {self.new!r}{at}"
        if self.action == "curated":
            return f"= {self.paper_id}.{self.field}: kept the sourced {self.old!r}; upstream has {self.new!r}{at}"
        if self.action == "tokzoo":
            return f"= {self.paper_id}: added by tokzoo, not in the upstream list (expected)"
        if self.action == "now-upstream":
            return f"= {self.paper_id}: added by tokzoo, now also in the upstream list{at} (its `added: tokzoo` can go)"
        return f"? {self.paper_id}: not in the upstream list (kept)"


@dataclass
class ImportPlan:
    """What an import would do. ``changes`` (add/fill) modify the catalog; ``notes``
    (differs/missing) only inform. ``insert_after`` maps a new id to the id it follows
    (None: first)."""

    changes: list[Change] = field(default_factory=list)
    notes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    insert_after: dict[str, Optional[str]] = field(default_factory=dict)
    repairs: list[tuple[int, str]] = field(default_factory=list)

    @property
    def additions(self) -> list[Change]:
        return [c for c in self.changes if c.action == "add"]

    @property
    def fills(self) -> list[Change]:
        return [c for c in self.changes if c.action == "fill"]

    def is_empty(self) -> bool:
        return not self.changes

    def diff_text(self, verbose: bool = False) -> str:
        lines = [str(c) for c in self.changes] + [str(n) for n in self.notes if verbose or n.action != "curated"]
        if verbose:
            lines += [f"repaired line {line}: {text}" for line, text in self.repairs]
        lines += [f"{'duplicate' if p.kind == 'duplicate' else 'problem'}: {p}" for p in self.problems]
        adds, fills = len(self.additions), len(self.fills)
        unreadable = [p for p in self.problems if p.kind != "duplicate"]
        duplicates = len(self.problems) - len(unreadable)
        summary = (
            f"{adds} new paper{'s' if adds != 1 else ''}, {fills} field{'s' if fills != 1 else ''} filled, "
            f"{len([n for n in self.notes if n.action == 'differs'])} differences kept, "
            f"{len([n for n in self.notes if n.action == 'curated'])} sourced curated values kept, "
            f"{len([n for n in self.notes if n.action == 'missing'])} catalog papers not upstream, "
            f"{len([n for n in self.notes if n.action == 'tokzoo'])} added by tokzoo, "
            f"{duplicates} duplicate line{'s' if duplicates != 1 else ''}, "
            f"{len(unreadable)} problem line{'s' if len(unreadable) != 1 else ''}"
        )
        return "\n".join(lines + [summary]) + "\n"


def _get(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def plan_import(
    catalog_data: Mapping[str, Any],
    parsed: ParsedList,
    pinned_ids: Mapping[str, str] = PINNED_IDS,
) -> ImportPlan:
    """Compare the catalog (plain data of ``catalog.yaml``) with the parsed upstream list.

    Match by arXiv id, then by normalised title. New papers get ids from
    :func:`zoo.catalog.ids.base_id` (``pinned_ids`` maps arXiv ids to fixed ids) that clash
    with no current or retired id.
    """
    plan = ImportPlan(problems=list(parsed.problems))
    papers = [p for p in (catalog_data.get("papers") or []) if isinstance(p, Mapping)]
    by_arxiv = {p.get("arxiv"): p for p in papers if p.get("arxiv")}
    by_title = {normalized_title(str(p.get("title", ""))): p for p in papers}
    taken = {str(p.get("id")) for p in papers} | {str(r) for r in (catalog_data.get("retired_ids") or [])}
    reserved = {pid for ax, pid in pinned_ids.items() if ax not in by_arxiv}
    matched: set[int] = set()
    previous: Optional[str] = None
    for entry in parsed.entries:
        plan.repairs += [(entry.line, r) for r in entry.repairs]
        current = by_arxiv.get(entry.arxiv) if entry.arxiv else None
        if current is None:
            current = by_title.get(normalized_title(entry.title))
        if current is None:
            pinned = pinned_ids.get(entry.arxiv or "")
            if pinned and pinned not in taken:
                paper_id = pinned
            else:
                paper_id = allocate_id(base_id(entry.bold[0] if entry.bold else None, entry.title), taken | reserved, entry.venue.get("year") or entry.section_year)
            taken.add(paper_id)
            paper = new_paper(entry, paper_id)
            plan.changes.append(Change("add", paper_id, new=paper, line=entry.line))
            plan.insert_after[paper_id] = previous
            previous = paper_id
            continue
        matched.add(id(current))
        if current.get("section_year", current.get("year")) == (entry.heading_year or entry.section_year):
            # an anchor for the new papers that follow it upstream; a paper the catalog files in
            # another section (a duplicate line, a corrected year) is not where the list has it
            previous = str(current.get("id"))
        if current.get("added") == "tokzoo":
            plan.notes.append(Change("now-upstream", previous, line=entry.line))
        _compare(current, entry, plan)
    for paper in papers:
        if id(paper) not in matched:
            action = "tokzoo" if paper.get("added") == "tokzoo" else "missing"
            plan.notes.append(Change(action, str(paper.get("id"))))
    return plan


def _compare(current: Mapping[str, Any], entry: UpstreamEntry, plan: ImportPlan) -> None:
    pid = str(current.get("id"))
    upstream: dict[str, Any] = {
        "title": entry.title,
        "section_year": entry.section_year,
        "arxiv": entry.arxiv,
        "links.paper": entry.links.get("paper"),
        "links.code": entry.links.get("code"),
        "links.project": entry.links.get("project"),
    }
    for path, new in upstream.items():
        if new is None:
            continue
        old = _get(current, path)
        if old in (None, ""):
            plan.changes.append(Change("fill", pid, path, old, new, entry.line))
        elif old != new:
            plan.notes.append(Change(_disagreement(current, path), pid, path, old, new, entry.line))
    old_other = list(_get(current, "links.other") or [])
    missing_other = [u for u in entry.links.get("other", []) if u not in old_other]
    if missing_other:
        plan.changes.append(Change("fill", pid, "links.other", old_other, old_other + missing_other, entry.line))
    old_venue = dict(current.get("venue") or {})
    new_venue = {k: entry.venue[k] for k in ("name", "year", "kind", "note") if entry.venue.get(k) is not None}
    old_compact = {k: v for k, v in old_venue.items() if v is not None}
    if old_compact != new_venue:
        if old_venue.get("kind") in (None, "preprint") and new_venue.get("kind") != "preprint":
            plan.changes.append(Change("fill", pid, "venue", old_venue, new_venue, entry.line))
        else:
            plan.notes.append(Change(_disagreement(current, "venue"), pid, "venue", old_venue, new_venue, entry.line))
