"""Parse cache of validated catalogs, so ``tokzoo list`` answers fast on big catalogs.

Parsing YAML is the slow part (libyaml needs ~0.4 ms per entry: 4 s for 10,000 entries).
A file that passed validation is cached as compact JSON rows under ``TOKZOO_CACHE_DIR``
(default ``$XDG_CACHE_HOME/tokzoo`` or ``~/.cache/tokzoo``; ``off`` disables it), keyed by
the file's content hash *and* a fingerprint of the validation code (schema, checks,
vocabularies, pydantic and Python versions). A hit builds the models without running the
checks again, which is sound because the same bytes passed the same checks; any change to
the file or that code misses the cache and re-validates in full.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any, Optional

from zoo.catalog.schema import CatalogFile, Links, Paper, Venue, ZooInfo

CACHE_FORMAT = 3
_PAPER_FIELDS = frozenset(Paper.model_fields)
_VENUE_FIELDS = frozenset(Venue.model_fields)
_LINKS_FIELDS = frozenset(Links.model_fields)
_ZOO_FIELDS = frozenset(ZooInfo.model_fields)
_set = object.__setattr__


def cache_dir() -> Optional[Path]:
    """The cache folder, or None when caching is off."""
    configured = os.environ.get("TOKZOO_CACHE_DIR")
    if configured is not None:
        return None if configured.lower() in {"", "0", "off", "none", "false"} else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tokzoo"


def cache_file(path: Path) -> Optional[Path]:
    """One cache file per catalog path."""
    directory = cache_dir()
    if directory is None:
        return None
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return directory / f"catalog-{name}.json"


def code_fingerprint() -> str:
    """Hash of everything that decides whether a catalog is valid."""
    import pydantic

    from zoo import vocab
    from zoo.catalog import schema, validate

    digest = hashlib.sha256(f"{CACHE_FORMAT}|{pydantic.VERSION}|{platform.python_version()}".encode())
    for module in (schema, validate, vocab):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _row(p: Paper) -> list[Any]:
    v, links, zoo = p.venue, p.links, p.zoo
    return [p.id, p.title, p.short_name, p.year, v.name, v.year, v.kind, v.note, p.arxiv, links.paper, links.code,
            links.project, list(links.other), list(p.modality), list(p.technique), list(p.family), p.training_free,
            zoo.status, zoo.method, list(p.authors)]


def _make(cls: type, values: dict[str, Any], fields_set: frozenset[str]) -> Any:
    """A pydantic model instance from already-validated values (what ``model_construct`` does,
    without its per-field overhead; every field is given). Checked against validated models
    by the tests."""
    obj = cls.__new__(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(fields_set))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def _paper(r: list[Any]) -> Paper:
    venue = _make(Venue, {"name": r[4], "year": r[5], "kind": r[6], "note": r[7]}, _VENUE_FIELDS)
    links = _make(Links, {"paper": r[9], "code": r[10], "project": r[11], "other": r[12]}, _LINKS_FIELDS)
    zoo = _make(ZooInfo, {"status": r[17], "method": r[18]}, _ZOO_FIELDS)
    values = {"id": r[0], "title": r[1], "short_name": r[2], "year": r[3], "venue": venue, "arxiv": r[8],
              "links": links, "modality": r[13], "technique": r[14], "family": r[15], "training_free": r[16],
              "zoo": zoo, "authors": r[19]}
    return _make(Paper, values, _PAPER_FIELDS)


def read(path: Path, digest: str) -> Optional[CatalogFile]:
    """The cached models for this file content, or None (miss, stale or unreadable cache)."""
    target = cache_file(path)
    if target is None:
        return None
    try:
        payload = json.loads(target.read_text(encoding="utf-8"))
        if payload.get("sha256") != digest or payload.get("code") != code_fingerprint():
            return None
        papers = [_paper(row) for row in payload["rows"]]
        return _make(
            CatalogFile,
            {"schema_version": payload["schema_version"], "papers": papers, "retired_ids": payload["retired_ids"]},
            frozenset(CatalogFile.model_fields),
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def write(path: Path, digest: str, parsed: CatalogFile) -> None:
    """Cache a validated catalog (silently skipped when the folder is not writable)."""
    from zoo.catalog.loader import atomic_write_text

    target = cache_file(path)
    if target is None:
        return
    payload = {
        "sha256": digest,
        "code": code_fingerprint(),
        "schema_version": parsed.schema_version,
        "retired_ids": list(parsed.retired_ids),
        "rows": [_row(p) for p in parsed.papers],
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
    except OSError:
        pass  # the cache is an optimisation only (read-only home, full disk)
