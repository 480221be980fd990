"""Parse cache of validated catalogs, so ``tokzoo list`` answers fast on big catalogs.

Parsing YAML is the slow part (libyaml needs ~0.4 ms per entry: 4 s for 10,000 entries).
A file that passed validation is cached under ``TOKZOO_CACHE_DIR`` (default
``$XDG_CACHE_HOME/tokzoo`` or ``~/.cache/tokzoo``; ``off`` disables it) as two lines:

1. a header: the catalog file's SHA-256, a fingerprint of the validation code (schema,
   checks, vocabularies, pydantic and Python versions), the cache format, and the SHA-256 of
   line 2;
2. the validated catalog as JSON.

A cache is used only when the catalog's bytes, the validation code and the cache format are
exactly those that produced it and line 2 is intact (its digest matches); even then line 2 is
validated again against the schema on load (pydantic's JSON validator: ~25x faster than
parsing the YAML), so a cache can never hand out what the validator rejects. Anything else
misses the cache and re-validates the YAML in full.

What a cache cannot detect is a deliberate rewrite that also recomputes the digests: the
cache folder is trusted like the installed package's own files (as Python trusts
``__pycache__``). Set ``TOKZOO_CACHE_DIR=off`` to never use one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any, Optional

from zoo.catalog.schema import CatalogFile

CACHE_FORMAT = 4
#: computed fields left out of the cached JSON (they are derived on load)
_EXCLUDE: Any = {"papers": {"__all__": {"year"}}}


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


def read(path: Path, digest: str) -> Optional[CatalogFile]:
    """The cached catalog for this file content, or None (miss, stale, corrupt or invalid cache)."""
    target = cache_file(path)
    if target is None:
        return None
    try:
        raw = target.read_bytes()
        head, sep, body = raw.partition(b"\n")
        header = json.loads(head)
        if not sep or not isinstance(header, dict):
            return None
        if (header.get("format") != CACHE_FORMAT or header.get("sha256") != digest
                or header.get("code") != code_fingerprint()
                or header.get("payload_sha256") != hashlib.sha256(body).hexdigest()):
            return None
        return CatalogFile.model_validate_json(body)
    except (OSError, ValueError, TypeError, AttributeError):  # pydantic's ValidationError is a ValueError
        return None


def write(path: Path, digest: str, parsed: CatalogFile) -> None:
    """Cache a validated catalog (silently skipped when the folder is not writable)."""
    from zoo.catalog.loader import atomic_write_text

    target = cache_file(path)
    if target is None:
        return
    body = parsed.model_dump_json(exclude=_EXCLUDE)
    header = {"format": CACHE_FORMAT, "sha256": digest, "code": code_fingerprint(),
              "payload_sha256": hashlib.sha256(body.encode("utf-8")).hexdigest()}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, json.dumps(header) + "\n" + body)
    except OSError:
        pass  # the cache is an optimisation only (read-only home, full disk)
