"""Round-trip editing of ``catalog.yaml``: insert an entry, keep everything else byte for byte.

The file is loaded with ruamel.yaml's round-trip mode (comments, quoting, flow/block style
and key order kept; the catalog's own settings from :mod:`zoo.catalog.edit`), the new entry
is styled by :func:`zoo.catalog.edit.paper_node` like every other entry and inserted where
the upstream list would put it (section year, newest first), and the result is accepted only
if (1) the text diff adds lines and changes nothing else and (2) the *whole* new catalog
passes the project's validator (:func:`zoo.catalog.validate_text`). Only then is it written,
atomically. A half-written or invalid catalog can therefore never result from an edit.
"""

from __future__ import annotations

import difflib
import io
import re
from pathlib import Path
from typing import Any, Optional

from zoo.catalog import atomic_write_text, validate_text
from zoo.catalog.edit import paper_node, roundtrip_yaml
from zoo.catalog.validate import normalized_title


class CatalogEditError(Exception):
    """An edit that cannot be made; the message says why and what to do."""


class DuplicatePaper(CatalogEditError):
    """The paper is already in the catalog (same arXiv id or same normalized title)."""

    def __init__(self, existing_id: str, line: Optional[int], reason: str, path: str) -> None:
        self.existing_id = existing_id
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line else path
        super().__init__(f"already in the catalog: entry {existing_id!r} ({where}) has the {reason}. "
                         f"See it with `tokzoo show {existing_id}`; edit that entry instead of adding a new one.")


class InvalidEdit(CatalogEditError):
    """The catalog would not validate after the edit; ``issues`` come from the validator."""

    def __init__(self, issues: list[Any]) -> None:
        self.issues = issues
        lines = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"the edited catalog would not validate, nothing was written:\n{lines}")


class CatalogDocument:
    """A validated catalog file, ready for round-trip editing.

    Lookups (ids, duplicates, positions) use the plain parsed data (fast, C YAML loader);
    the ruamel round-trip tree, which keeps comments and layout but is slow to build for
    hundreds of entries, is only loaded when an edit is made (:attr:`data`).
    """

    def __init__(self, path: Path, text: str, plain: Any) -> None:
        self.path = path
        self.text = text
        self.plain = plain
        self.yaml = roundtrip_yaml()
        self._data: Any = None

    @classmethod
    def load(cls, path: Path | str) -> "CatalogDocument":
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogEditError(f"cannot read the catalog {path}: {exc}") from None
        _, issues = validate_text(text, str(path))
        if issues:
            raise CatalogEditError(
                f"{path} does not validate before the edit; fix these first (`tokzoo validate`):\n"
                + "\n".join(f"  {issue}" for issue in issues))
        plain = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return cls(path, text, plain)

    @property
    def data(self) -> Any:
        """The ruamel round-trip tree (loaded on first use)."""
        if self._data is None:
            self._data = self.yaml.load(self.text)
        return self._data

    @property
    def papers(self) -> list[dict[str, Any]]:
        """The entries as plain data (not for editing)."""
        return self.plain["papers"]

    def ids(self) -> set[str]:
        taken = {str(p["id"]) for p in self.papers}
        taken.update(str(r) for r in (self.plain.get("retired_ids") or []))
        return taken

    def line_of(self, index: int) -> Optional[int]:
        from zoo.catalog.validate import LineIndex

        return LineIndex.from_text(self.text).line(("papers", index))

    def find_duplicate(self, arxiv: Optional[str], title: str) -> Optional[DuplicatePaper]:
        """The existing entry with this arXiv id or normalized title, as an error to raise."""
        wanted_title = normalized_title(title)
        for index, paper in enumerate(self.papers):
            if arxiv and paper.get("arxiv") and str(paper["arxiv"]) == arxiv:
                return DuplicatePaper(str(paper["id"]), self.line_of(index), f"same arXiv id {arxiv}", str(self.path))
            if wanted_title and normalized_title(str(paper.get("title", ""))) == wanted_title:
                return DuplicatePaper(str(paper["id"]), self.line_of(index), "same title (ignoring case and punctuation)",
                                      str(self.path))
        return None

    def insertion_index(self, year: int, arxiv: Optional[str]) -> int:
        """Where the upstream list would put a paper: its section year, newest first.

        Within the year's block the entry goes before the first paper with a smaller arXiv
        id (arXiv ids grow with time); without an arXiv id, at the top of the block.
        """
        papers = self.papers
        block = [i for i, p in enumerate(papers) if p.get("section_year") == year]
        if block:
            if arxiv:
                for i in block:
                    other = papers[i].get("arxiv")
                    if other and _arxiv_key(str(other)) < _arxiv_key(arxiv):
                        return i
                return block[-1] + 1
            return block[0]
        for i, p in enumerate(papers):
            if isinstance(p.get("section_year"), int) and p["section_year"] < year:
                return i
        return len(papers)

    def render(self) -> str:
        stream = io.StringIO()
        self.yaml.dump(self.data, stream)
        return stream.getvalue()

    def insert(self, entry: dict[str, Any], index: int) -> str:
        """Insert ``entry`` at ``index`` in the catalog's style; return the new text."""
        self.data["papers"].insert(index, paper_node(entry))
        return self.render()

    def round_trip_entry(self, paper_id: str) -> Any:
        """The editable (ruamel) node of entry ``paper_id``."""
        entry = next((p for p in self.data["papers"] if p.get("id") == paper_id), None)
        if entry is None:
            raise CatalogEditError(f"no catalog entry {paper_id!r} in {self.path}")
        return entry


def _arxiv_key(arxiv: str) -> tuple:
    match = re.match(r"^(\d{2})(\d{2})\.(\d+)$", arxiv)
    if match:
        return (1, int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return (0, arxiv)


def only_insertions(old: str, new: str) -> bool:
    """True when ``new`` is ``old`` with lines added and nothing else changed."""
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    return all(tag in {"equal", "insert"} for tag, *_ in matcher.get_opcodes())


def unified_diff(old: str, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}", n=3))


def checked_text(path: Path, old: str, new: str, *, allow_changes: bool = False) -> str:
    """Return ``new`` if it validates (and, unless ``allow_changes``, only adds lines)."""
    if not allow_changes and not only_insertions(old, new):
        raise CatalogEditError(
            "the edit would reformat other parts of the catalog (ruamel round trip is not exact "
            f"for this file), nothing was written. Diff:\n{unified_diff(old, new, str(path))}")
    _, issues = validate_text(new, str(path))
    if issues:
        raise InvalidEdit(issues)
    return new


def write_checked(path: Path, expected_old: str, new: str) -> None:
    """Atomically replace ``path`` with ``new``, refusing if the file changed since it was read.

    The check and the replace happen under the catalog's lock (:mod:`zoo.catalog.lock`); callers
    that read the catalog hold the lock from the read on, so that no other edit comes between."""
    from zoo.catalog.lock import CatalogLocked, catalog_lock

    try:
        with catalog_lock(path):
            current = path.read_text(encoding="utf-8")
            if current != expected_old:
                raise CatalogEditError(f"{path} changed on disk while editing; run the command again")
            atomic_write_text(path, new)
    except CatalogLocked as exc:
        raise CatalogEditError(str(exc)) from None
