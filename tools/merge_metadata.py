#!/usr/bin/env python3
"""Merge curated metadata files (authors, code links, licenses, venues, arXiv dates) into catalog.yaml.

    python tools/merge_metadata.py tools/metadata/meta-a.yaml tools/metadata/meta-b.yaml --dry-run
    python tools/merge_metadata.py tools/metadata/meta-*.yaml --conflicts /tmp/conflicts.yaml

Empty catalog fields are filled, equal ones get their source, different ones are reported as
conflicts and kept (a published venue replaces a preprint one). Every change is checked
against the schema; the whole catalog is validated before one atomic write (comments and
layout kept). The file format and the rules: zoo/catalog/metadata.py.

Exit status: 0 when merged (conflicts are reported, not fatal), 1 on errors (nothing is
written when a file cannot be read or the result would not validate), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoo.catalog.edit import load_roundtrip  # noqa: E402
from zoo.catalog.metadata import apply_metadata, plan_metadata, read_metadata_files  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="metadata files (YAML with a 'papers' list)")
    parser.add_argument("--catalog", type=Path, default=ROOT / "catalog.yaml")
    parser.add_argument("--dry-run", "-n", action="store_true", help="report only, write nothing")
    parser.add_argument("--conflicts", type=Path, help="also write the conflicts as YAML to this file")
    parser.add_argument("--prefer", default="", help="comma-separated fields (venue, authors, code, project, "
                        "code_license, arxiv_published) whose metadata values, when they have a source, replace "
                        "differing catalog values instead of being reported as conflicts")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every value merged and the files' notes")
    args = parser.parse_args(argv)
    records, errors = read_metadata_files(args.files)
    if errors:
        print("\n".join(f"error: {e}" for e in errors), file=sys.stderr)
        return 1
    prefer = [f.strip() for f in args.prefer.split(",") if f.strip()]
    try:
        plan = plan_metadata(load_roundtrip(args.catalog), records, prefer=prefer)
    except ValueError as exc:
        print(f"error: --prefer: {exc}", file=sys.stderr)
        return 2
    if plan.updates:
        from zoo.contrib.catalog_edit import CatalogEditError

        try:
            apply_metadata(args.catalog, plan, dry_run=args.dry_run)
        except (CatalogEditError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    sys.stdout.write(plan.summary(verbose=args.verbose))
    if args.conflicts:
        args.conflicts.write_text(plan.conflicts_yaml(), encoding="utf-8")
        print(f"conflicts written to {args.conflicts}")
    return 1 if plan.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
