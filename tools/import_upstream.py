#!/usr/bin/env python3
"""Import the upstream awesome-token-reduction list into catalog.yaml.

Merges by arXiv id (by title for papers without one), adds new papers with placeholder
labels (empty lists: `tokzoo validate` flags them until someone curates them), fills fields
the catalog lacks, and never overwrites a value the catalog already has. Prints the diff.

    python tools/import_upstream.py                 # apply, using the shipped copy of the list
    python tools/import_upstream.py --dry-run       # only print what would change
    python tools/import_upstream.py --upstream path/to/README.md --catalog catalog.yaml

Exit status: 0 when the import ran (problem lines are reported, not fatal), 1 with
--check when the catalog is not up to date with the list, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoo.catalog.edit import apply_import, load_roundtrip  # noqa: E402
from zoo.catalog.upstream import parse_upstream, plan_import  # noqa: E402

DEFAULT_UPSTREAM = ROOT / "tools" / "upstream" / "awesome-token-reduction.md"
DEFAULT_CATALOG = ROOT / "catalog.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=Path, default=DEFAULT_UPSTREAM, help="the upstream markdown list")
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help="catalog.yaml to update (created if missing)")
    parser.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    parser.add_argument("--check", action="store_true", help="like --dry-run, exit 1 if anything would change")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list the repairs made to upstream lines")
    args = parser.parse_args(argv)
    try:
        text = args.upstream.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot read the upstream list: {exc}", file=sys.stderr)
        return 2
    parsed = parse_upstream(text)
    catalog_data = load_roundtrip(args.catalog) if args.catalog.exists() else {}
    plan = plan_import(catalog_data or {}, parsed)
    sys.stdout.write(plan.diff_text(verbose=args.verbose))
    if args.check:
        return 1 if plan.changes else 0
    if args.dry_run or plan.is_empty():
        return 0
    from zoo.catalog.lock import catalog_lock

    with catalog_lock(args.catalog):
        written = apply_import(args.catalog, plan)
    print(f"wrote {written} change{'s' if written != 1 else ''} to {args.catalog}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
