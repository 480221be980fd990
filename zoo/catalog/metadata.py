"""Merge curated metadata files (authors, code links, licenses, venues, arXiv dates) into the catalog.

A metadata file is YAML with one list item per paper (keys other than ``id`` optional; null or
absent means "not known", never "remove")::

    papers:
      - id: fastv                      # catalog id; null for a paper matched by arxiv / title
        arxiv: '2403.06764'
        title: "..."                   # only to match entries without an arXiv id
        authors: [Liang Chen, Haozhe Zhao, ...]
        authors_source: https://arxiv.org/abs/2403.06764
        code: https://github.com/pkunlp-icler/FastV     # or a list: the first is the main repository
        code_source: <where the official code link was found>
        project: null
        project_source: null
        code_license: Apache-2.0       # SPDX id or a short phrase ("CC BY-NC 4.0 (non-commercial)")
        code_license_source: null
        venue: {name: ECCV, year: 2024, kind: conference, note: Oral}
        venue_source: <url>
        arxiv_published: '2024-03-11'  # arXiv v1 date
        notes: free text               # shown in the report, not stored

How values map onto an entry: ``authors`` -> ``authors``; ``code`` -> ``links.code`` (more
repositories -> ``links.other_code``); ``project`` -> ``links.project``; ``code_license``;
``venue`` -> ``venue``; ``arxiv_published``; ``arxiv`` fills an entry that has none; every
``<field>_source`` -> ``sources.<field>``.

Rules (:func:`plan_metadata`): an empty catalog field is filled; an equal one is left alone
(its source is added when missing); a different one is a **conflict**, reported with both
values and never overwritten, unless the maintainer names the field in ``prefer`` (``--prefer``)
and the metadata gives a source for its value: then it replaces the catalog's value, and the
replacement is listed. A preprint venue is not a curated value to defend: a published
venue replaces it (with its source). Two files that disagree on a field of the same paper are
a conflict too (neither value is used). Each change is checked against the schema on its own,
so one bad value is reported and skipped, not fatal; the whole new catalog is validated
again before one atomic write (:func:`apply_metadata`, ruamel round trip: comments and layout
kept), under the catalog lock.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from zoo import vocab
from zoo.catalog.validate import normalized_title

PathLike = Union[str, Path]

RECORD_KEYS = ("id", "arxiv", "title", "authors", "authors_source", "code", "code_source", "project",
               "project_source", "code_license", "code_license_source", "venue", "venue_source",
               "arxiv_published", "arxiv_published_source", "notes")
#: metadata field -> where it goes in an entry (dotted path)
FIELD_PATHS = {
    "authors": "authors",
    "code": "links.code",
    "other_code": "links.other_code",
    "project": "links.project",
    "code_license": "code_license",
    "venue": "venue",
    "arxiv_published": "arxiv_published",
    "arxiv": "arxiv",
}
SOURCE_FIELDS = {"authors": "authors", "code": "code", "project": "project", "code_license": "code_license",
                 "venue": "venue", "arxiv_published": "arxiv_published"}


@dataclass(frozen=True)
class Record:
    """One list item of a metadata file."""

    file: str
    index: int
    data: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file}: papers[{self.index}]" + (f" (id {self.data.get('id')!r})" if self.data.get("id") else "")


@dataclass(frozen=True)
class Conflict:
    paper_id: str
    field: str
    current: Any
    proposed: Any
    origin: str
    source: Optional[str] = None

    def __str__(self) -> str:
        src = f" (source {self.source})" if self.source else ""
        return (f"! {self.paper_id}.{self.field}: catalog has {self.current!r}; {self.origin} says "
                f"{self.proposed!r}{src}; kept the catalog's value")


@dataclass(frozen=True)
class Update:
    paper_id: str
    path: str
    old: Any
    new: Any
    origin: str

    def __str__(self) -> str:
        return f"~ {self.paper_id}.{self.path}: {self.old!r} -> {self.new!r} ({self.origin})"


@dataclass
class MetadataPlan:
    updates: list[Update] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # catalog values replaced (fields named in prefer)
    records: int = 0
    written: bool = False

    def summary(self, verbose: bool = False) -> str:
        lines = [f"error: {e}" for e in self.errors] + [f"warning: {w}" for w in self.warnings]
        lines += [f"unmatched: {u}" for u in self.unmatched]
        lines += [str(c) for c in self.conflicts]
        lines += [f"replaced (preferred): {r}" for r in self.replaced]
        if verbose:
            lines += [str(u) for u in self.updates] + [f"note: {n}" for n in self.notes]
        papers = len({u.paper_id for u in self.updates})
        by_field: dict[str, int] = {}
        for update in self.updates:
            by_field[update.path] = by_field.get(update.path, 0) + 1
        fields = ", ".join(f"{k} {v}" for k, v in sorted(by_field.items())) or "none"
        lines.append(f"{self.records} records: {len(self.updates)} values for {papers} papers ({fields}), "
                     f"{len(self.conflicts)} conflicts kept, {len(self.replaced)} values replaced, "
                     f"{len(self.unmatched)} unmatched, {len(self.errors)} errors"
                     + ("" if self.written else " (nothing written)"))
        return "\n".join(lines) + "\n"

    def conflicts_yaml(self) -> str:
        """The conflicts as YAML (one item per conflict) for review."""
        import yaml

        items = [{"id": c.paper_id, "field": c.field, "catalog": c.current, "proposed": c.proposed,
                  "origin": c.origin, "source": c.source} for c in self.conflicts]
        return yaml.safe_dump({"conflicts": items}, sort_keys=False, allow_unicode=True, width=200)


# ------------------------------------------------------------------------------------ reading


def read_metadata_files(paths: Iterable[PathLike]) -> tuple[list[Record], list[str]]:
    """Read metadata files (YAML anchors/aliases refused). Returns the records and the errors."""
    import yaml

    from zoo.catalog.validate import find_alias

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    records: list[Record] = []
    errors: list[str] = []
    for path in paths:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
            loader = loader_cls(text)
            try:
                root = loader.get_single_node()
                if find_alias(root) is not None:
                    errors.append(f"{name}: YAML anchors/aliases are not allowed in metadata files")
                    continue
                data = loader.construct_document(root) if root is not None else None
            finally:
                loader.dispose()
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            errors.append(f"{name}: cannot read: {str(exc)[:300]}")
            continue
        items = data.get("papers") if isinstance(data, dict) else None
        if not isinstance(items, list):
            errors.append(f"{name}: expected a mapping with a 'papers' list")
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors.append(f"{name}: papers[{index}] is not a mapping")
                continue
            records.append(Record(name, index, item))
    return records, errors


# ------------------------------------------------------------------------------------ planning


def _get(entry: Mapping[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _set(entry: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target = entry
    for part in parts[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[parts[-1]] = value


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _venue(value: Any, record: Record, plan: MetadataPlan) -> Optional[dict[str, Any]]:
    from zoo.catalog.venues import VENUES, canonical_venue

    if value is None:
        return None
    if not isinstance(value, Mapping) or not _text(value.get("name")):
        plan.errors.append(f"{record.where}: venue must be a mapping with a name (got {str(value)[:80]!r})")
        return None
    name = _text(value["name"])
    canonical = canonical_venue(name) or name
    kind = _text(value.get("kind")) or (VENUES[canonical].kind if canonical in VENUES else None)
    if kind not in vocab.VENUE_KIND:
        plan.errors.append(f"{record.where}: venue {name!r} needs a kind: {', '.join(vocab.VENUE_KIND)}")
        return None
    if canonical not in VENUES:
        plan.warnings.append(f"{record.where}: venue {name!r} is not in zoo/catalog/venues.py (BibTeX shows the short "
                             "name); add it with its full name")
    year = value.get("year")
    if isinstance(year, str) and year.isdigit():
        year = int(year)
    venue: dict[str, Any] = {"name": canonical, "year": year if kind != "preprint" else (year if isinstance(year, int) else None),
                             "kind": kind}
    note = _text(value.get("note"))
    if note:
        if note in vocab.VENUE_NOTE:
            venue["note"] = note
        else:
            plan.warnings.append(f"{record.where}: venue note {note!r} is not a catalog term "
                                 f"({', '.join(vocab.VENUE_NOTE)}); left out")
    return venue


def _compact(venue: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(venue or {}).items() if v is not None}


def _proposals(record: Record, plan: MetadataPlan) -> dict[str, tuple[Any, Optional[str]]]:
    """field -> (normalised value, source) for the fields the record gives."""
    data = record.data
    out: dict[str, tuple[Any, Optional[str]]] = {}
    unknown = [k for k in data if k not in RECORD_KEYS]
    if unknown:
        plan.warnings.append(f"{record.where}: unknown keys ignored: {', '.join(map(str, unknown))}")
    authors = data.get("authors")
    if authors is not None:
        if isinstance(authors, list) and authors and all(_text(a) for a in authors):
            out["authors"] = ([_text(a) for a in authors], _text(data.get("authors_source")))
        else:
            plan.errors.append(f"{record.where}: authors must be a non-empty list of names")
    code = data.get("code")
    if code is not None:
        repos = [_text(c) for c in (code if isinstance(code, list) else [code]) if _text(c)]
        if repos:
            out["code"] = (repos[0], _text(data.get("code_source")))
            if repos[1:]:
                out["other_code"] = (repos[1:], _text(data.get("code_source")))
    for name in ("project", "code_license", "arxiv_published", "arxiv"):
        value = _text(data.get(name))
        if value is not None:
            out[name] = (value, _text(data.get(f"{name}_source")))
    venue = _venue(data.get("venue"), record, plan)
    if venue is not None:
        out["venue"] = (venue, _text(data.get("venue_source")))
    if _text(data.get("notes")):
        plan.notes.append(f"{record.where}: {_text(data.get('notes'))}")
    return out


def _match(record: Record, papers: list[dict[str, Any]], plan: MetadataPlan) -> Optional[dict[str, Any]]:
    data = record.data
    by_id = {str(p.get("id")): p for p in papers}
    by_arxiv = {str(p.get("arxiv")): p for p in papers if p.get("arxiv")}
    by_title = {normalized_title(str(p.get("title", ""))): p for p in papers}
    arxiv = _text(data.get("arxiv"))
    if data.get("id") is not None:
        entry = by_id.get(str(data["id"]))
        if entry is None:
            plan.unmatched.append(f"{record.where}: no catalog entry with id {data['id']!r}")
            return None
        if arxiv and entry.get("arxiv") and str(entry["arxiv"]) != arxiv:
            plan.conflicts.append(Conflict(str(entry["id"]), "arxiv", entry["arxiv"], arxiv, record.file))
        return entry
    if arxiv and arxiv in by_arxiv:
        return by_arxiv[arxiv]
    title = _text(data.get("title"))
    if title and normalized_title(title) in by_title:
        return by_title[normalized_title(title)]
    plan.unmatched.append(f"{record.where}: no catalog entry with "
                          + (f"arXiv id {arxiv}" if arxiv else f"title {title!r}" if title else "an id, arXiv id or title"))
    return None


def _check_entry(entry: dict[str, Any]) -> Optional[str]:
    """None when ``entry`` passes the schema, else the first problem (bounded)."""
    from pydantic import ValidationError

    from zoo.catalog.schema import Paper
    from zoo.catalog.validate import _migrate_v1

    data, _ = _migrate_v1({"papers": [entry]})
    try:
        Paper.model_validate(data["papers"][0])
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {str(first['msg'])[:200]}"
    return None


def plan_metadata(catalog_data: Mapping[str, Any], records: list[Record],
                  prefer: Iterable[str] = ()) -> MetadataPlan:
    """What merging ``records`` into the catalog (plain data) would change; see the module docstring.

    ``prefer``: fields (``venue``, ``authors``, ``code``, ...) whose sourced metadata values replace
    differing catalog values instead of being reported as conflicts."""
    preferred = set(prefer)
    unknown = preferred - set(FIELD_PATHS)
    if unknown:
        raise ValueError(f"prefer: unknown field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(FIELD_PATHS)}")
    plan = MetadataPlan(records=len(records))
    papers = [p for p in (catalog_data.get("papers") or []) if isinstance(p, dict)]
    taken_arxiv = {str(p.get("arxiv")) for p in papers if p.get("arxiv")}
    # gather proposals per paper: (entry, field) -> [(value, source, origin)]
    wanted: dict[tuple[str, str], list[tuple[Any, Optional[str], str]]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for record in records:
        entry = _match(record, papers, plan)
        if entry is None:
            continue
        pid = str(entry["id"])
        entries[pid] = entry
        for name, (value, source) in _proposals(record, plan).items():
            wanted.setdefault((pid, name), []).append((value, source, record.file))
    working = {pid: copy.deepcopy(entry) for pid, entry in entries.items()}
    for (pid, name), offers in wanted.items():
        values = []
        for value, _, _ in offers:
            if value not in values:
                values.append(value)
        if len(values) > 1:
            origins = " and ".join(sorted({o for _, _, o in offers}))
            plan.conflicts.append(Conflict(pid, name, values[0], values[1:], f"the metadata files ({origins}) disagree:"))
            continue
        value, source, origin = offers[0][0], next((s for _, s, _ in offers if s), None), offers[0][2]
        entry = working[pid]
        path = FIELD_PATHS[name]
        current = _get(entry, path)
        changes: list[tuple[str, Any]] = []
        if name == "venue":
            preprint = (current or {}).get("kind") in (None, "preprint")
            if _compact(current) == _compact(value):
                pass
            elif preprint and value["kind"] != "preprint":
                changes.append((path, value))  # a published venue replaces a preprint
            elif "venue" in preferred and source:
                changes.append((path, value))
                plan.replaced.append(f"{pid}.venue: {_compact(current)} -> {_compact(value)} ({origin}, source {source})")
            else:
                plan.conflicts.append(Conflict(pid, "venue", _compact(current), _compact(value), origin, source))
                continue
        elif name == "other_code":
            extra = [u for u in value if u not in (current or []) and u != _get(entry, "links.code")]
            if extra:
                changes.append((path, list(current or []) + extra))
        elif name == "arxiv":
            if current in (None, ""):
                if value in taken_arxiv:
                    plan.conflicts.append(Conflict(pid, "arxiv", None, value, origin + " (already used by another entry)"))
                    continue
                changes.append((path, value))
            elif current != value:
                continue  # reported by _match
        elif current in (None, "", []):
            changes.append((path, value))
        elif current != value:
            if name == "code" and value in (_get(entry, "links.other_code") or []):
                continue
            if name in preferred and source:
                changes.append((path, value))
                plan.replaced.append(f"{pid}.{name}: {current!r} -> {value!r} ({origin}, source {source})")
            else:
                plan.conflicts.append(Conflict(pid, name, current, value, origin, source))
                continue
        source_field = SOURCE_FIELDS.get(name)
        if name == "venue" and value["kind"] == "preprint":
            source_field = None  # a preprint needs no venue source
        if source and source_field and _get(entry, f"sources.{source_field}") in (None, ""):
            changes.append((f"sources.{source_field}", source))
        if not changes:
            continue
        trial = copy.deepcopy(entry)
        for change_path, change_value in changes:
            _set(trial, change_path, change_value)
        problem = _check_entry(trial)
        if problem:
            plan.errors.append(f"{origin}: {pid}.{name} = {str(value)[:80]!r} is not valid ({problem}); skipped")
            continue
        for change_path, change_value in changes:
            plan.updates.append(Update(pid, change_path, _get(entry, change_path), change_value, origin))
            _set(entry, change_path, change_value)
            if change_path == "arxiv":
                taken_arxiv.add(change_value)
    return plan


# ------------------------------------------------------------------------------------ applying


def _node_for(path: str, value: Any) -> Any:
    from zoo.catalog.edit import _flow_map, _flow_seq

    if path in {"authors", "links.other_code"}:
        return _flow_seq(value)
    if path == "venue":
        return _flow_map({k: v for k, v in value.items() if v is not None or k == "year"})
    return value


def apply_metadata(catalog_path: PathLike, plan: MetadataPlan, *, dry_run: bool = False) -> str:
    """Write the plan's updates into the catalog (ruamel round trip, validated, atomic, locked).

    Returns the new text (also with ``dry_run``, which writes nothing). Raises
    :class:`zoo.contrib.catalog_edit.InvalidEdit` if the result would not validate."""
    from zoo.catalog.edit import _set_path, dump_roundtrip, load_roundtrip, require_current
    from zoo.catalog.lock import catalog_lock
    from zoo.contrib.catalog_edit import checked_text, write_checked

    path = Path(catalog_path)
    with catalog_lock(path):
        old_text = path.read_text(encoding="utf-8")
        data = load_roundtrip(path)
        require_current(data, path)
        index = {str(p.get("id")): p for p in data["papers"]}
        for update in plan.updates:
            _set_path(index[update.paper_id], update.path, _node_for(update.path, update.new))
        new_text = checked_text(path, old_text, dump_roundtrip(data), allow_changes=True)
        if not dry_run and new_text != old_text:
            write_checked(path, old_text, new_text)
            plan.written = True
    return new_text
