"""``tokzoo add``: from an arXiv id (or a manual description) to a validated catalog entry.

Steps: refuse a paper the catalog already has (by arXiv id, before any network access),
fetch the metadata from arXiv (:mod:`zoo.contrib.arxiv_client`) and from Hugging Face Papers
(:mod:`zoo.contrib.hf_papers`: authors, abstract, and the code repository and project page
arXiv does not have; either source alone is enough), refuse duplicates by title, propose
labels with the keyword proposer (:mod:`zoo.contrib.labels`; the contributor reviews them),
propose venue and code link, build the entry (authors, arXiv v1 date, sources, ``added:
tokzoo``), insert it in the catalog's order and style (:mod:`zoo.contrib.catalog_edit`),
validate the whole new catalog, and show the diff. Writing is a separate, atomic step; run
the whole read-modify-write under :func:`zoo.catalog.lock.catalog_lock` (the CLI does).

The venue text (``"CVPR 2025 Oral"``) is read with the upstream importer's own tag reader
(:mod:`zoo.catalog.upstream`), ids come from :mod:`zoo.catalog.ids`, styling from
:mod:`zoo.catalog.edit`: the same rules as the imported papers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from zoo import vocab
from zoo.contrib.arxiv_client import ArxivNotFound, ArxivRecord, ArxivUnavailable
from zoo.contrib.arxiv_ids import InvalidArxivId, abs_url, normalize_arxiv_id
from zoo.contrib.catalog_edit import CatalogDocument, checked_text, unified_diff, write_checked
from zoo.contrib.hf_papers import HFPaper, HFPaperNotFound, HFPapersUnavailable
from zoo.contrib.labels import LabelProposal, propose_labels

LABEL_FIELDS = {"modality": vocab.MODALITY, "technique": vocab.TECHNIQUE, "family": vocab.FAMILY}
REVIEW_NOTE = ("The labels were proposed from keywords in the title and abstract (rules in "
               "zoo/contrib/labels.py). They are a starting point, often incomplete: review them, "
               "and the venue, code link and training_free, before opening the pull request.")


class AddError(Exception):
    """``tokzoo add`` cannot go on; the message says what to do (nothing was written)."""


class SourceUnavailable(AddError):
    """A metadata source could not be reached or gave no usable answer (another source may do)."""


@dataclass
class AddRequest:
    """What the contributor gave. ``arxiv`` triggers a fetch; without it the manual fields
    (``title``, ``url``, ``venue``) are required. Label lists override the proposals."""

    arxiv: Optional[str] = None
    title: Optional[str] = None
    url: Optional[str] = None
    venue: Optional[str] = None
    year: Optional[int] = None
    code: Optional[str] = None
    project: Optional[str] = None
    short_name: Optional[str] = None
    paper_id: Optional[str] = None
    modality: list[str] = field(default_factory=list)
    technique: list[str] = field(default_factory=list)
    family: list[str] = field(default_factory=list)
    training_free: Optional[bool] = None


@dataclass
class AddPlan:
    """The entry to add, where, the resulting text and diff, and why each value was chosen."""

    catalog: Path
    entry: dict[str, Any]
    index: int
    old_text: str
    new_text: str
    diff: str
    record: Optional[ArxivRecord]
    proposal: LabelProposal
    notes: list[str] = field(default_factory=list)
    neighbours: tuple[Optional[str], Optional[str]] = (None, None)
    hf: Optional[HFPaper] = None
    label_notes: list[str] = field(default_factory=list)  # one line per label field, as written in the entry

    def write(self) -> None:
        """Atomically write the validated new catalog (refuses if the file changed meanwhile)."""
        write_checked(self.catalog, self.old_text, self.new_text)


# -- venue -------------------------------------------------------------------------------

def parse_venue(text: str) -> dict[str, Any]:
    """``"CVPR 2025 Oral"`` -> ``{name: CVPR, year: 2025, kind: conference, note: Oral}``.

    Uses the upstream importer's tag reader, so a venue is spelled exactly as in the
    imported entries. ``arXiv`` / ``OpenReview`` give a preprint (year null).
    """
    from zoo.catalog.upstream import parse_venue_tag
    from zoo.catalog.venues import VENUES, canonical_venue

    parsed = parse_venue_tag(text.strip())
    if parsed is None:
        raise AddError(f"cannot read the venue {text!r}; write it like the upstream list: "
                       f"'CVPR 2025', 'NeurIPS 2024 Spotlight', 'TPAMI 2024' or 'arXiv'; notes: {', '.join(vocab.VENUE_NOTE)}")
    name, year, note = parsed
    canonical = canonical_venue(name)
    if canonical is None:
        known = ", ".join(sorted(VENUES))
        raise AddError(f"unknown venue {name!r}. Known venues: {known}. A new venue needs its kind "
                       "(conference, workshop, journal): add it to zoo/catalog/venues.py in the same PR.")
    kind = VENUES[canonical].kind
    if kind == "preprint":
        return {"name": canonical, "year": None, "kind": "preprint"}
    if year is None:
        raise AddError(f"venue {text!r} needs a year, e.g. '{canonical} 2025'")
    venue: dict[str, Any] = {"name": canonical, "year": year, "kind": kind}
    if note:
        venue["note"] = note
    return venue


def venue_from_comment(record: ArxivRecord) -> Optional[tuple[dict[str, Any], str]]:
    """A venue named with a year in the arXiv comment or journal reference, and that text."""
    from zoo.catalog.venues import VENUE_ALIASES, VENUES

    names = [n for n, info in VENUES.items() if info.kind != "preprint"] + list(VENUE_ALIASES)
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    for text in (record.comment, record.journal_ref):
        if not text:
            continue
        match = re.search(rf"(?<![A-Za-z])({alternation})\s*'?(\d{{4}}|\d{{2}})(?!\d)", text)
        if not match:
            continue
        year = match.group(2)
        year = year if len(year) == 4 else f"20{year}"
        note = re.search(r"\b(" + "|".join(vocab.VENUE_NOTE) + r")\b", text[match.end():match.end() + 40])
        tag = f"{match.group(1)} {year}" + (f" {note.group(1)}" if note else "")
        try:
            return parse_venue(tag), text
        except AddError:
            continue
    return None


_GITHUB = re.compile(r"https?://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def code_from_record(record: ArxivRecord) -> Optional[str]:
    """A GitHub repository URL mentioned in the abstract or comment, as https."""
    for text in (record.abstract, record.comment or ""):
        match = _GITHUB.search(text)
        if match:
            url = match.group(0).rstrip(".")
            return "https://" + url.split("://", 1)[1]
    return None


def short_name_from_title(title: str, year: int) -> Optional[str]:
    """The name before ``:`` in the title when it looks like a method name (importer rule)."""
    from zoo.catalog.upstream import UpstreamEntry

    head = title.split(":", 1)[0].strip() if ":" in title else ""
    if not head:
        return None
    entry = UpstreamEntry(line=0, section_year=year, title=title, bold=(head,), venue={}, arxiv=None, links={})
    return entry.short_name_guess()


# -- labels ------------------------------------------------------------------------------

def _given_terms(name: str, values: list[str]) -> list[str]:
    given = []
    for item in values:
        parts = [v.strip() for v in str(item).split(",")]
        if not any(parts):
            raise AddError(f"--{name}: empty value; allowed: {', '.join(LABEL_FIELDS[name])}")
        given += [v for v in parts if v]
    bad = [v for v in given if v not in LABEL_FIELDS[name]]
    if bad:
        raise AddError(f"--{name}: unknown term(s) {', '.join(bad)}; allowed: {', '.join(LABEL_FIELDS[name])}")
    return list(dict.fromkeys(given))


def _labels(request: AddRequest, proposal: LabelProposal) -> tuple[dict[str, list[str]], list[str]]:
    """The labels written into the entry and one line per field saying where each came from
    (exactly what the diff shows: given options win over the keyword proposals)."""
    chosen: dict[str, list[str]] = {}
    lines: list[str] = []
    for name in LABEL_FIELDS:
        given = _given_terms(name, getattr(request, name))
        if given:
            chosen[name] = given
            lines.append(f"{name}: {', '.join(given)} (given with --{name})")
        else:
            chosen[name] = list(getattr(proposal, name))
            why = "; ".join(f"{r.where} mentions {r.keyword!r}" for r in proposal.reasons if r.field == name)
            if chosen[name]:
                lines.append(f"{name}: {', '.join(chosen[name])} (proposed: {why})")
    missing = [name for name, labels in chosen.items() if not labels]
    if missing:
        options = "; ".join(f"--{m} ({', '.join(LABEL_FIELDS[m])})" for m in missing)
        raise AddError(f"no keyword in the title/abstract suggests a {' or '.join(missing)} label, and "
                       f"tokzoo does not guess: pass {options}. Nothing was written.")
    return chosen, lines


def _training_free_line(request: AddRequest, proposal: LabelProposal, value: bool) -> str:
    if request.training_free is not None:
        flag = "--training-free" if request.training_free else "--not-training-free"
        return f"training_free: {'true' if value else 'false'} (given with {flag})"
    reason = next((r for r in proposal.reasons if r.field == "training_free"), None)
    if reason is not None:
        return f"training_free: true (proposed: {reason.where} mentions {reason.keyword!r})"
    return "training_free: false (no 'training-free' / 'plug-and-play' wording found; pass --training-free if it is)"


# -- planning ----------------------------------------------------------------------------

def manual_form(arxiv_id: Optional[str] = None, title: Optional[str] = None) -> str:
    """The command line to add a paper without arXiv access (printed when a fetch fails)."""
    url = abs_url(arxiv_id) if arxiv_id else "https://<paper page>"
    shown_title = title or "<title>"
    return (f'tokzoo add --title "{shown_title}" --url {url} --venue "<e.g. CVPR 2025 or arXiv>" '
            "--year <year of the first version> --modality <...> --technique <...> --family <...> "
            "[--training-free] [--code https://github.com/...]")


def fetch_record(arxiv_text: str, fetch: Callable[[str], ArxivRecord]) -> ArxivRecord:
    """Fetch with clear errors (bad id, unknown id, id refused, arXiv unreachable) offering the manual form."""
    try:
        arxiv_id = normalize_arxiv_id(arxiv_text)
    except InvalidArxivId as exc:
        raise AddError(str(exc)) from None
    try:
        return fetch(arxiv_id)
    except ArxivNotFound as exc:
        raise AddError(f"{exc}. Check the id; nothing was written.") from None
    except InvalidArxivId as exc:  # arXiv answered HTTP 400 for it
        raise AddError(f"arXiv refused the id {arxiv_id}: {exc}. Nothing was written.") from None
    except ArxivUnavailable as exc:
        raise SourceUnavailable(
            f"could not fetch the arXiv metadata of {arxiv_id}: {exc}\nNothing was written. "
            f"Try again later, or add the paper by hand:\n  {manual_form(arxiv_id)}") from None


def _record_from_hf(paper: HFPaper) -> ArxivRecord:
    """An :class:`ArxivRecord` built from Hugging Face's metadata (arXiv could not be reached)."""
    if paper.published is None:
        raise AddError(f"Hugging Face has {paper.arxiv_id} but no publication date; add it by hand:\n  "
                       f"{manual_form(paper.arxiv_id, paper.title)}")
    return ArxivRecord(arxiv_id=paper.arxiv_id, version=None, title=paper.title, abstract=paper.abstract,
                       authors=paper.authors, published=paper.published, updated=paper.published)


def fetch_metadata(arxiv_text: str, fetch: Optional[Callable[[str], ArxivRecord]],
                   hf_fetch: Optional[Callable[[str], HFPaper]]) -> tuple[ArxivRecord, Optional[HFPaper], list[str]]:
    """arXiv's record and Hugging Face's paper (either may be missing, not both), with notes."""
    try:
        arxiv_id = normalize_arxiv_id(arxiv_text)
    except InvalidArxivId as exc:
        raise AddError(str(exc)) from None
    notes: list[str] = []
    hf: Optional[HFPaper] = None
    hf_problem = ""
    if hf_fetch is not None:
        try:
            hf = hf_fetch(arxiv_id)
        except HFPaperNotFound:
            hf_problem = "Hugging Face Papers has no page for it"
        except HFPapersUnavailable as exc:
            hf_problem = f"Hugging Face Papers: {exc}"
        if hf_problem:
            notes.append(f"metadata: {hf_problem} (arXiv only)")
    if fetch is None:
        if hf is None:
            raise AddError(f"no metadata source for {arxiv_id}: {hf_problem or 'none configured'}")
        notes.append("metadata: from Hugging Face Papers only (no arXiv client)")
        return _record_from_hf(hf), hf, notes
    try:
        record = fetch_record(arxiv_id, fetch)
    except SourceUnavailable as exc:
        if hf is None:
            raise
        notes.append(f"metadata: arXiv could not be reached ({str(exc).splitlines()[0]}); "
                     f"used Hugging Face Papers ({hf.page_url})")
        return _record_from_hf(hf), hf, notes
    return record, hf, notes


def check_not_in_catalog(doc: CatalogDocument, arxiv_text: Optional[str]) -> None:
    """Raise :class:`DuplicatePaper` when the catalog has this arXiv id: no network needed to say so."""
    if not arxiv_text:
        return
    try:
        arxiv_id = normalize_arxiv_id(arxiv_text)
    except InvalidArxivId as exc:
        raise AddError(str(exc)) from None
    duplicate = doc.find_duplicate(arxiv_id, "")
    if duplicate is not None:
        raise duplicate


def plan_add(request: AddRequest, catalog: Path | str, fetch: Optional[Callable[[str], ArxivRecord]] = None,
             hf_fetch: Optional[Callable[[str], HFPaper]] = None) -> AddPlan:
    """Build and validate the new catalog text for ``request`` (nothing is written).

    ``fetch`` reads arXiv, ``hf_fetch`` Hugging Face Papers; with an arXiv id at least one is needed."""
    from zoo.catalog.edit import CatalogVersionError, require_current
    from zoo.catalog.ids import allocate_id, base_id
    from zoo.catalog.schema import ID_PATTERN

    doc = CatalogDocument.load(catalog)
    try:
        require_current(doc.plain, doc.path)
    except CatalogVersionError as exc:
        raise AddError(str(exc)) from None
    notes: list[str] = []
    record: Optional[ArxivRecord] = None
    hf: Optional[HFPaper] = None
    arxiv_id: Optional[str] = None
    if request.arxiv:
        check_not_in_catalog(doc, request.arxiv)  # before any network access
        if fetch is None and hf_fetch is None:
            raise AddError("no arXiv client given")
        record, hf, source_notes = fetch_metadata(request.arxiv, fetch, hf_fetch)
        notes += source_notes
        arxiv_id = record.arxiv_id
        title = request.title or record.title
        abstract = record.abstract or (hf.abstract if hf else "")
        paper_url = request.url or record.url
    else:
        missing = [f"--{n}" for n, v in (("title", request.title), ("url", request.url), ("venue", request.venue)) if not v]
        if missing:
            raise AddError(f"give an arXiv id or URL (tokzoo add 2403.06764), or for a paper without arXiv: "
                           f"{', '.join(missing)} (missing). Example:\n  {manual_form()}")
        title = request.title or ""
        abstract = ""
        paper_url = request.url or ""
        try:
            arxiv_id = normalize_arxiv_id(paper_url)
            notes.append(f"arxiv: {arxiv_id} (from --url; not fetched)")
        except InvalidArxivId:
            arxiv_id = None
    title = re.sub(r"\s+", " ", title).strip()
    if not paper_url.startswith("https://"):
        raise AddError(f"--url {paper_url!r} must be an https link to the paper")

    duplicate = doc.find_duplicate(arxiv_id, title)
    if duplicate is not None:
        raise duplicate

    # venue and year
    if request.venue:
        venue = parse_venue(request.venue)
    else:
        found = venue_from_comment(record) if record else None
        if found:
            venue = found[0]
            notes.append(f"venue: {_venue_text(venue)} (proposed from the arXiv comment {found[1]!r}; review it)")
        else:
            venue = {"name": "arXiv", "year": None, "kind": "preprint"}
            notes.append("venue: arXiv preprint (no venue found in the arXiv comment; pass --venue if it was published)")
    if request.year is not None:
        year = request.year
    elif record is not None:
        year = record.published.year
        notes.append(f"section_year: {year} (first arXiv version {record.published.isoformat()}, the upstream list's section year)")
    elif venue.get("year"):
        year = int(venue["year"])
        notes.append(f"section_year: {year} (the venue's year; pass --year for the year of the first version)")
    else:
        raise AddError("--year is required for a preprint added by hand (the year of its first version)")

    proposal = propose_labels(title, abstract)
    labels, label_notes = _labels(request, proposal)
    training_free = request.training_free if request.training_free is not None else proposal.training_free
    label_notes.append(_training_free_line(request, proposal, bool(training_free)))

    short_name = request.short_name if request.short_name is not None else short_name_from_title(title, year)
    if request.paper_id:
        if not re.match(ID_PATTERN, request.paper_id):
            raise AddError(f"--id {request.paper_id!r}: ids are lowercase letters, digits and '-' (e.g. 'divprune')")
        if request.paper_id in doc.ids():
            raise AddError(f"--id {request.paper_id!r} is already used (or retired); choose another")
        paper_id = request.paper_id
    else:
        paper_id = allocate_id(base_id(short_name, title), doc.ids(), year)

    links: dict[str, Any] = {"paper": paper_url}
    sources: dict[str, Any] = {}
    code = request.code
    if not code and hf is not None and hf.github:
        code = hf.github
        sources["code"] = hf.page_url
        notes.append(f"code: {code} (linked on Hugging Face Papers, {hf.page_url}; review it)")
    if not code and record is not None:
        code = code_from_record(record)
        if code:
            sources["code"] = record.url
            notes.append(f"code: {code} (found in the arXiv abstract/comment; review it)")
    if code:
        links["code"] = code
    project = request.project or (hf.project if hf is not None else None)
    if project:
        links["project"] = project
        if not request.project and hf is not None:
            sources["project"] = hf.page_url
            notes.append(f"project: {project} (linked on Hugging Face Papers; review it)")

    authors: list[str] = []
    if record is not None and record.authors:
        authors = list(record.authors)
        from_hf = hf is not None and record.version is None and tuple(authors) == hf.authors
        sources["authors"] = hf.page_url if from_hf else record.url
    entry: dict[str, Any] = {
        "id": paper_id,
        "title": title,
        "short_name": short_name,
        "authors": authors,
        "section_year": year,
        "arxiv_published": record.published.isoformat() if record is not None else None,
        "venue": venue,
        "arxiv": arxiv_id,
        "links": links,
        **labels,
        "training_free": bool(training_free),
        "zoo": {"status": "none"},
        "added": "tokzoo",
        "sources": sources,
    }
    if record is not None:
        sources["arxiv_published"] = record.url

    index = doc.insertion_index(year, arxiv_id)
    before = str(doc.papers[index - 1]["id"]) if index > 0 else None
    after = str(doc.papers[index]["id"]) if index < len(doc.papers) else None
    new_text = checked_text(doc.path, doc.text, doc.insert(entry, index))
    diff = unified_diff(doc.text, new_text, doc.path.name)
    return AddPlan(doc.path, entry, index, doc.text, new_text, diff, record, proposal, notes, (before, after),
                   hf=hf, label_notes=label_notes)


def add_paper(request: AddRequest, catalog: Path | str, fetch: Optional[Callable[[str], ArxivRecord]] = None,
              hf_fetch: Optional[Callable[[str], HFPaper]] = None, *, dry_run: bool = False,
              on_plan: Optional[Callable[[AddPlan], None]] = None, lock_timeout: Optional[float] = None) -> AddPlan:
    """Plan and (unless ``dry_run``) write one addition as a single locked read-modify-write.

    Two ``tokzoo add`` at the same time take turns on the catalog's lock; the second reads the
    catalog after the first wrote it, so both entries end up in the file. ``on_plan`` sees the
    plan before it is written (the CLI prints the diff there)."""
    from zoo.catalog.lock import DEFAULT_TIMEOUT, catalog_lock

    with catalog_lock(catalog, lock_timeout if lock_timeout is not None else DEFAULT_TIMEOUT):
        plan = plan_add(request, catalog, fetch, hf_fetch)
        if on_plan is not None:
            on_plan(plan)
        if not dry_run:
            plan.write()
    return plan


def _venue_text(venue: dict[str, Any]) -> str:
    return " ".join(str(v) for v in (venue.get("name"), venue.get("year"), venue.get("note")) if v)
