#!/usr/bin/env python3
"""Merge curated labels into catalog.yaml (ruamel round-trip: comments and layout kept).

A labels file is YAML mapping a key to fields::

    "2403.06764":            # arXiv id, or lineNNN = line number in the upstream list
      id: fastv
      short_name: FastV
      modality: [image]
      technique: [pruning]
      family: [vlm]
      training_free: true

Other fields (e.g. confidence) are ignored with a warning. Ids of implemented papers are
pinned (zoo.catalog.ids.PINNED_IDS) whatever the file says; with --zoo-status the zoo status
of the implemented papers is set as well. Nothing is written if any label is invalid.

    python tools/merge_labels.py /tmp/curation/labels-{1,2,3}.yaml --require-complete --zoo-status
    python tools/merge_labels.py labels.yaml --dry-run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoo.catalog.edit import merge_labels, read_label_files  # noqa: E402
from zoo.catalog.ids import PINNED_IDS  # noqa: E402

DEFAULT_UPSTREAM = ROOT / "tools" / "upstream" / "awesome-token-reduction.md"
DEFAULT_CATALOG = ROOT / "catalog.yaml"

#: Zoo status of the papers the VIT and VLM engineers implement (catalog id == method id).
#: tomesd is planned: its method is not written yet.
PLANNED = {"tomesd"}
ZOO_STATUS = {
    pid: ({"status": "planned"} if pid in PLANNED else {"status": "implemented", "method": pid})
    for pid in PINNED_IDS.values()
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="+", type=Path, help="curated label files (YAML)")
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    parser.add_argument("--upstream", type=Path, default=DEFAULT_UPSTREAM, help="the list the lineNNN keys refer to")
    parser.add_argument("--require-complete", action="store_true", help="every catalog paper needs labels with every field")
    parser.add_argument("--zoo-status", action="store_true", help="also set zoo status of the implemented/planned papers")
    parser.add_argument("--resolve-clashes", action="store_true", help="tell apart papers that want the same id (older keeps it; others get the venue appended)")
    parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    args = parser.parse_args(argv)
    labels, errors = read_label_files(args.labels)
    if errors:
        print("\n".join(f"error: {e}" for e in errors), file=sys.stderr)
        return 1
    from zoo.catalog.lock import catalog_lock

    with catalog_lock(args.catalog):
        report = _merge(args, labels)
    sys.stdout.write(report.summary())
    return 1 if report.errors else 0


def _merge(args, labels):
    return merge_labels(
        args.catalog,
        labels,
        args.upstream.read_text(encoding="utf-8"),
        zoo_status=ZOO_STATUS if args.zoo_status else None,
        require_complete=args.require_complete,
        resolve_clashes=args.resolve_clashes,
        dry_run=args.dry_run,
    )


if __name__ == "__main__":
    raise SystemExit(main())
