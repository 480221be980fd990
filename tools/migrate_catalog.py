#!/usr/bin/env python3
"""Bring a catalog file to the current schema_version (2), keeping comments and layout.

schema_version 2 renamed each entry's ``year`` (the upstream list's section year) to
``section_year``; the venue's year stays ``venue.year``. This rewrites ``schema_version: 1``
and every entry-level ``year:`` key (also stray old-style entries in a version 2 file, e.g.
entries added on another branch), then validates the result before writing it atomically.

    python tools/migrate_catalog.py                    # the repository's catalog.yaml
    python tools/migrate_catalog.py path/to/catalog.yaml --check   # exit 1 if it needs migrating
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoo.catalog import atomic_write_text, validate_text  # noqa: E402
from zoo.catalog.edit import migrate_v1_text  # noqa: E402
from zoo.catalog.lock import catalog_lock  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", nargs="?", type=Path, default=ROOT / "catalog.yaml")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if the file needs migrating")
    args = parser.parse_args(argv)
    with catalog_lock(args.catalog):
        old = args.catalog.read_text(encoding="utf-8")
        new = migrate_v1_text(old)
        changed = sum(1 for a, b in zip(old.splitlines(), new.splitlines()) if a != b)
        if not changed:
            print(f"{args.catalog}: already current (schema_version 2)")
            return 0
        if args.check:
            print(f"{args.catalog}: {changed} line(s) to migrate (run without --check)")
            return 1
        _, issues = validate_text(new, str(args.catalog))
        if issues:
            print("\n".join(str(i) for i in issues), file=sys.stderr)
            print("error: the migrated catalog does not validate; nothing written", file=sys.stderr)
            return 1
        atomic_write_text(args.catalog, new)
    print(f"{args.catalog}: migrated {changed} line(s) to schema_version 2 (validated)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
