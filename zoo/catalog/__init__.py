"""The paper catalog: schema, loading with line-numbered errors, queries, BibTeX.

Typical use::

    from zoo.catalog import load_catalog
    cat = load_catalog()                      # the repo's catalog.yaml (or TOKZOO_CATALOG)
    fastv = cat.get("fastv")                  # id, arXiv id or unambiguous name
    video = cat.filter(modality="video", year="2024..2025", has_code=True)   # year: the section year
    mine = cat.filter(author="Song Han")      # also venue_year=..., arxiv_year=...
    print(fastv.bibtex())                     # with authors when the catalog has them

No torch here: the CLI imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from zoo.catalog.issues import CatalogError, Issue
from zoo.catalog.loader import (
    atomic_write_text,
    default_catalog_path,
    load_catalog_file,
    validate_file,
    validate_text,
)
from zoo.catalog.query import Query, QueryError, build_query
from zoo.catalog.schema import (
    SCHEMA_VERSION,
    CatalogFile,
    Links,
    Paper,
    Sources,
    Venue,
    ZooInfo,
    catalog_json_schema,
)
from zoo.catalog.store import AmbiguousPaper, Catalog, PaperNotFound

__all__ = [
    "SCHEMA_VERSION",
    "AmbiguousPaper",
    "Catalog",
    "CatalogError",
    "CatalogFile",
    "Issue",
    "Links",
    "Paper",
    "PaperNotFound",
    "Query",
    "QueryError",
    "Sources",
    "Venue",
    "ZooInfo",
    "atomic_write_text",
    "build_query",
    "catalog_json_schema",
    "default_catalog_path",
    "load_catalog",
    "validate_file",
    "validate_text",
]


def load_catalog(path: Optional[Union[str, Path]] = None) -> Catalog:
    """Load and validate a catalog (default: :func:`default_catalog_path`).

    Raises :class:`CatalogError` whose ``issues`` name file, line, entry, field and the
    allowed values for every problem.
    """
    target, parsed = load_catalog_file(path)
    return Catalog(parsed.papers, path=target, retired_ids=tuple(parsed.retired_ids))
