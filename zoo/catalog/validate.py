"""Check catalog data against the schema and across entries; report line-numbered issues.

``check_data`` validates already-parsed YAML data. Issues carry a path (``papers[3].venue``);
``locate`` turns that path into a line with a :class:`LineIndex` built from the YAML nodes, so
lines are only computed when something is wrong.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
import reprlib
import unicodedata
from typing import Any, Optional, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from zoo import vocab
from zoo.catalog.issues import Issue
from zoo.catalog.schema import (
    ARXIV_VERSIONED_RE,
    CONTROL_RE,
    PATTERN_HELP,
    SUPPORTED_SCHEMA_VERSIONS,
    CatalogFile,
    Links,
    Paper,
    Sources,
    Venue,
    ZooInfo,
)

Loc = tuple[Any, ...]

_VOCAB_BY_FIELD: dict[tuple[str, ...], dict[str, str]] = {
    ("modality",): vocab.MODALITY,
    ("technique",): vocab.TECHNIQUE,
    ("family",): vocab.FAMILY,
    ("zoo", "status"): vocab.ZOO_STATUS,
    ("venue", "kind"): vocab.VENUE_KIND,
    ("venue", "note"): vocab.VENUE_NOTE,
}

_MODEL_AT: dict[tuple[str, ...], type[BaseModel]] = {
    (): Paper,
    ("venue",): Venue,
    ("links",): Links,
    ("zoo",): ZooInfo,
    ("sources",): Sources,
}

_REPR = reprlib.Repr()
_REPR.maxstring = 80
_REPR.maxother = 80
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 4


def short_repr(value: Any) -> str:
    """``repr`` bounded in length and depth: error messages stay short whatever the input holds."""
    return _REPR.repr(value)


def describe_control(text: str) -> Optional[str]:
    """``'U+001B (ESC)'`` for the first control character in ``text``, or None."""
    match = CONTROL_RE.search(text)
    if not match:
        return None
    ch = match.group(0)
    name = unicodedata.name(ch, "") or {"\x1b": "ESC", "\x07": "BEL", "\x00": "NUL", "\x08": "BACKSPACE",
                                        "\r": "CARRIAGE RETURN", "\n": "LINE FEED", "\t": "TAB"}.get(ch, "control")
    return f"U+{ord(ch):04X} ({name})"


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalized_title(title: str) -> str:
    """Lowercase letters and digits only: the key used to match papers without an arXiv id."""
    text = title.lower() if title.isascii() else unicodedata.normalize("NFKD", title).casefold()
    return _NOT_ALNUM.sub("", text)


class LineIndex:
    """Maps a data path (``('papers', 3, 'venue', 'kind')``) to a 1-based line in the YAML text."""

    def __init__(self, root: Optional[yaml.Node]) -> None:
        self.root = root

    @classmethod
    def from_text(cls, text: str) -> "LineIndex":
        try:
            return cls(yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
        except yaml.YAMLError:
            return cls(None)

    def line(self, loc: Loc) -> Optional[int]:
        """Line of the deepest node on ``loc`` that exists (a key's line for mapping values)."""
        node = self.root
        if node is None:
            return None
        best = node.start_mark.line + 1
        for step in loc:
            child = None
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == step:
                        best = key_node.start_mark.line + 1
                        child = value_node
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
                child = node.value[step]
                best = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return best

    def duplicate_keys(self) -> list[tuple[Loc, str, int]]:
        """Mapping keys that appear twice: (path of the mapping, key, line of the repeat).

        Iterative, and every node is visited once (aliases were refused before), so neither deep
        nesting nor shared nodes can make it slow."""
        found: list[tuple[Loc, str, int]] = []
        if self.root is None:
            return found
        stack: list[tuple[yaml.Node, Loc]] = [(self.root, ())]
        seen: set[int] = set()
        while stack:
            node, loc = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                keys: set[str] = set()
                for key_node, value_node in node.value:
                    key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                    if key is not None:
                        if key in keys:
                            found.append((loc, key, key_node.start_mark.line + 1))
                        keys.add(key)
                        stack.append((value_node, loc + (key,)))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((item, loc + (i,)) for i, item in enumerate(node.value))
        found.sort(key=lambda item: item[2])
        return found


def find_alias(root: Optional[yaml.Node]) -> Optional[int]:
    """Line of a node that the document reaches twice (a YAML anchor reused by an alias), or None.

    Aliases let a few hundred bytes expand into billions of values (an "alias bomb"); the
    catalog never needs them, so they are refused before the data is built."""
    if root is None:
        return None
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return node.start_mark.line + 1
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.append(key_node)
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return None


def _field_path(loc: Loc) -> str:
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _suggest(value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or len(value) > 60:
        return ""
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Reporter:
    """Collects issues for one file, knowing which entry each data path belongs to."""

    def __init__(self, file: str, data: Any, lines: Optional[LineIndex], old_year: frozenset[int] = frozenset()) -> None:
        self.file = file
        self.data = data
        self.lines = lines
        self.old_year = old_year  # entries that name section_year by its schema_version 1 name 'year'
        self.issues: list[Issue] = []
        self._pending: list[tuple[Loc, str, tuple[str, ...]]] = []

    def add(self, loc: Loc, message: str, allowed: Sequence[str] = ()) -> None:
        self._pending.append((loc, message, tuple(allowed)))

    def _entry_id(self, index: int) -> Optional[str]:
        papers = self.data.get("papers") if isinstance(self.data, dict) else None
        if isinstance(papers, list) and 0 <= index < len(papers) and isinstance(papers[index], dict):
            ident = papers[index].get("id")
            return ident if isinstance(ident, str) else None
        return None

    def finish(self, lines: Optional[LineIndex]) -> list[Issue]:
        for loc, message, allowed in self._pending:
            if len(loc) >= 3 and loc[0] == "papers" and loc[1] in self.old_year and loc[2] == "section_year":
                loc = loc[:2] + ("year",) + loc[3:]  # the entry names the field 'year', as schema_version 1 did
            entry = entry_id = None
            field_loc = loc
            if len(loc) >= 2 and loc[0] == "papers" and isinstance(loc[1], int):
                entry, entry_id, field_loc = loc[1], self._entry_id(loc[1]), loc[2:]
            line = lines.line(loc) if lines is not None else None
            self.issues.append(
                Issue(
                    file=self.file,
                    line=line,
                    message=message,
                    entry=entry,
                    entry_id=entry_id,
                    field=_field_path(field_loc) or None,
                    allowed=allowed,
                )
            )
        self._pending.clear()
        return self.issues


def _pydantic_issue(error: dict[str, Any], rep: _Reporter) -> None:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    inner: tuple[str, ...] = tuple(s for s in loc[2:] if isinstance(s, str)) if loc[:1] == ("papers",) else ()
    vocabulary = _VOCAB_BY_FIELD.get(inner)
    shown = short_repr(value)
    if kind == "literal_error" and vocabulary is not None:
        rep.add(loc, f"unknown term {shown}{_suggest(value, list(vocabulary))}", list(vocabulary))
    elif kind == "too_short" and vocabulary is not None:
        rep.add(loc, "needs at least one term (empty list)", list(vocabulary))
    elif kind == "extra_forbidden":
        model = _MODEL_AT.get(inner[:-1]) if loc[:1] == ("papers",) else CatalogFile
        fields = list(model.model_fields) if model else []
        name = loc[-1]
        if inner == ("year",):
            rep.add(loc, "both 'year' and 'section_year' are given; 'year' is the old (schema_version 1) name of "
                         "section_year: keep only section_year (the venue's year stays venue.year)", fields)
        else:
            rep.add(loc, f"unknown field {short_repr(name)}{_suggest(name, fields)}", fields)
    elif kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        control = describe_control(value) if isinstance(value, str) else None
        if control:
            rep.add(loc, f"{shown} contains the control character {control}; control characters (terminal escape "
                         "sequences, bidirectional overrides, line breaks) are not allowed in the catalog")
        elif isinstance(value, str) and ARXIV_VERSIONED_RE.match(value):
            bare = re.sub(r"v\d+$", "", value)
            rep.add(loc, f"{shown} has a version suffix; store the versionless arXiv id {bare!r}")
        else:
            rep.add(loc, f"{shown} {PATTERN_HELP.get(pattern, 'does not match ' + short_repr(pattern))}")
    elif kind == "bool_type":
        rep.add(loc, f"must be true or false (got {'null' if value is None else shown})", ["true", "false"])
    elif kind == "missing":
        rep.add(loc, "required field is missing")
    elif kind == "literal_error" and loc == ("schema_version",):
        rep.add(loc, f"unsupported schema_version {shown}", [str(v) for v in SUPPORTED_SCHEMA_VERSIONS])
    else:
        message = str(error["msg"])[:300]
        if kind.endswith("_type") or kind in {"string_type", "int_type", "bool_type", "list_type"}:
            message = f"{message} (got {shown})"
        rep.add(loc, message)


#: an arXiv id's yymm is the month the paper was announced/registered; a v1 submitted in the
#: last days of a month (after the daily cutoff, or over holidays) gets the next month's id
ARXIV_ID_LAG_DAYS = 10


def _fits_arxiv_month(day: "_dt.date", year: int, month: int) -> bool:
    """Whether a v1 submission date ``day`` is possible for an id of ``year``-``month``."""
    first = _dt.date(year, month, 1)
    nxt = _dt.date(year + (month == 12), month % 12 + 1, 1)
    return first - _dt.timedelta(days=ARXIV_ID_LAG_DAYS) <= day < nxt


def _arxiv_month(arxiv: str) -> Optional[tuple[int, int]]:
    match = re.match(r"^(\d{2})(\d{2})\.\d{4,5}$", arxiv)
    return (2000 + int(match.group(1)), int(match.group(2))) if match else None


def _cross_checks(papers: list[Any], retired: list[Any], rep: _Reporter) -> None:
    """Duplicate ids, arXiv ids, titles and methods; reuse of retired ids; garbled titles."""
    seen: dict[tuple[str, str], int] = {}
    retired_set = {r for r in retired if isinstance(r, str)}
    for index, entry in enumerate(papers):
        if not isinstance(entry, dict):
            continue
        keys = [
            ("id", entry.get("id"), "id"),
            ("arxiv", entry.get("arxiv"), "arXiv id"),
            ("title", normalized_title(entry["title"]) if isinstance(entry.get("title"), str) else None, "title"),
        ]
        zoo = entry.get("zoo")
        if isinstance(zoo, dict) and isinstance(zoo.get("method"), str):
            keys.append(("zoo.method", zoo["method"], "zoo method"))
        for field_name, value, what in keys:
            if not isinstance(value, str) or not value:
                continue
            first = seen.setdefault((field_name, value), index)
            if first != index:
                loc = ("papers", index) + tuple(field_name.split("."))
                first_id = papers[first].get("id") if isinstance(papers[first], dict) else None
                rep.add(loc, f"duplicate {what}: already used by entry {first + 1} (id {first_id!r})")
        ident = entry.get("id")
        if isinstance(ident, str) and ident in retired_set:
            rep.add(("papers", index, "id"), f"id {ident!r} is retired (listed in retired_ids) and must not be reused")
        published, arxiv = entry.get("arxiv_published"), entry.get("arxiv")
        if isinstance(published, str) and isinstance(arxiv, str) and _arxiv_month(arxiv):
            try:
                day = _dt.date.fromisoformat(published)
            except ValueError:
                day = None  # the schema reports it
            year, month = _arxiv_month(arxiv)  # type: ignore[misc]
            if day is not None and not _fits_arxiv_month(day, year, month):
                rep.add(("papers", index, "arxiv_published"),
                        f"{published!r} does not fit arXiv id {arxiv}: a v1 submitted then gets an id of "
                        f"{year}-{month:02d} only if it falls in that month or in the last "
                        f"{ARXIV_ID_LAG_DAYS} days before it; arxiv_published is the date of the arXiv v1")
        if isinstance(published, str) and not isinstance(arxiv, str):
            rep.add(("papers", index, "arxiv_published"), "arxiv_published is set but the paper has no arxiv id")
        title = entry.get("title")
        if isinstance(title, str) and not title.isascii():
            from ftfy.badness import is_bad

            if is_bad(title):
                import ftfy

                rep.add(("papers", index, "title"), f"title looks garbled (mojibake); did you mean {ftfy.fix_text(title)!r}?")


def _migrate_v1(data: dict[str, Any]) -> tuple[dict[str, Any], frozenset[int]]:
    """Entries that give ``year`` (the schema_version 1 name) and no ``section_year`` read as
    version 2: their ``year`` becomes ``section_year``. Returns the data and those entries' indices.

    schema_version 1 files name it so throughout; in a version 2 file the old name is still
    accepted (entries written by older tools or other branches), and ``tokzoo pr-check`` and
    ``tools/migrate_catalog.py`` point it out / rename it."""
    papers = data.get("papers")
    if not isinstance(papers, list):
        return data, frozenset()
    migrated, old = [], set()
    for index, entry in enumerate(papers):
        if isinstance(entry, dict) and "year" in entry and "section_year" not in entry:
            entry = {("section_year" if k == "year" else k): v for k, v in entry.items()}
            old.add(index)
        migrated.append(entry)
    return {**data, "papers": migrated}, frozenset(old)


def check_data(data: Any, file: str, lines: Optional[LineIndex] = None) -> tuple[Optional[CatalogFile], list[Issue]]:
    """Validate parsed catalog data. Returns the parsed file (None if invalid) and the issues.

    ``lines`` (or the text via :meth:`LineIndex.from_text`) gives line numbers; without it,
    issues have ``line=None``. schema_version 1 data (``year`` instead of ``section_year``) is
    read as version 2; its issues name the field ``year``, as the file does.
    """
    rep = _Reporter(file, data, lines)
    if not isinstance(data, dict):
        rep.add((), "the catalog must be a mapping with keys schema_version and papers", ["schema_version", "papers", "retired_ids"])
        return None, rep.finish(lines)
    data, rep.old_year = _migrate_v1(data)
    rep.data = data
    parsed: Optional[CatalogFile] = None
    try:
        parsed = CatalogFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            _pydantic_issue(error, rep)
    papers = data.get("papers")
    retired = data.get("retired_ids")
    if isinstance(papers, list):
        _cross_checks(papers, retired if isinstance(retired, list) else [], rep)
    if lines is not None:
        for loc, key, line in lines.duplicate_keys():
            rep.add(loc + (key,), f"key {short_repr(key)} appears twice in the same mapping (line {line}); YAML keeps only the last")
    issues = rep.finish(lines)
    return (parsed if not issues else None), issues


def completeness_issues(parsed: CatalogFile, file: str, lines: Optional[LineIndex] = None) -> list[Issue]:
    """What ``tokzoo validate --complete`` adds: every paper has authors, an arXiv paper its v1
    date, and a published venue its source."""
    rep = _Reporter(file, {"papers": [p.model_dump() for p in parsed.papers]}, lines)
    for index, paper in enumerate(parsed.papers):
        if not paper.authors:
            rep.add(("papers", index, "authors"), "no authors yet (full names, in the paper's order)")
        if paper.arxiv and not paper.arxiv_published:
            rep.add(("papers", index, "arxiv_published"), f"no arXiv v1 date (see https://arxiv.org/abs/{paper.arxiv})")
        if paper.venue.kind != "preprint" and not paper.sources.venue:
            rep.add(("papers", index, "venue"), f"venue {paper.venue.label()} has no source (sources.venue: a page "
                                                "that shows the paper at that venue)")
    return rep.finish(lines)
