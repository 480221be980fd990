#!/usr/bin/env python3
"""Scheduled catalog maintenance: refresh arXiv metadata and check links; report, never edit.

    python tools/refresh_metadata.py                      # arXiv metadata report
    python tools/refresh_metadata.py --check-links        # + HEAD-check every link
    python tools/refresh_metadata.py --no-arxiv --check-links --fail-on-broken

The report (Markdown) goes to stdout, to --report FILE, and to the GitHub job summary
when $GITHUB_STEP_SUMMARY is set. Exit status is 0 whatever the hosts do, unless asked:
--fail-on-broken (a link answers 404/410), --fail-on-flaky (timeouts, 5xx, 429, connection
errors: usually transient, so off by default), 2 on usage errors or an unreadable catalog.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def links_markdown(results) -> str:
    broken = [r for r in results if r.outcome == "broken"]
    flaky = [r for r in results if r.outcome == "flaky"]
    lines = [f"### Links ({len(results)} checked: {len(results) - len(broken) - len(flaky)} ok, "
             f"{len(broken)} broken, {len(flaky)} flaky)", ""]
    for title, group in (("Broken (the page is gone)", broken), ("Flaky (try again later)", flaky)):
        if group:
            lines += [f"{title}:", ""]
            lines += [f"- {r.url} ({r.detail}; used by {', '.join(f'`{p}`' for p in r.papers)})" for r in group]
            lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=ROOT / "catalog.yaml")
    parser.add_argument("--arxiv", action=argparse.BooleanOptionalAction, default=True,
                        help="compare titles and venue comments with arXiv (default: on)")
    parser.add_argument("--check-links", action="store_true", help="HEAD-check every paper/code/project link")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument("--workers", type=int, default=8, help="parallel link checks (default 8)")
    parser.add_argument("--report", type=Path, help="also write the Markdown report here")
    parser.add_argument("--fail-on-broken", action="store_true", help="exit 1 when a link answers 404/410")
    parser.add_argument("--fail-on-flaky", action="store_true", help="exit 1 on timeouts/5xx/connection errors too")
    parser.add_argument("--arxiv-api", default=os.environ.get("TOKZOO_ARXIV_API"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from zoo.catalog import CatalogError, load_catalog

    try:
        papers = load_catalog(args.catalog).papers
    except (CatalogError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parts = ["## tokzoo catalog maintenance\n\n"]
    status = 0
    if args.arxiv:
        from zoo.contrib.arxiv_client import ArxivClient
        from zoo.contrib.refresh import refresh_report

        client = ArxivClient(query_url_format=args.arxiv_api, timeout=args.timeout, batch_size=50)
        parts.append(refresh_report(papers, client.fetch).markdown() + "\n")
    if args.check_links:
        from zoo.contrib.links import catalog_links, check_links

        results = check_links(catalog_links(papers), timeout=args.timeout, workers=args.workers)
        parts.append(links_markdown(results))
        if args.fail_on_broken and any(r.outcome == "broken" for r in results):
            status = 1
        if args.fail_on_flaky and any(r.outcome == "flaky" for r in results):
            status = 1
    report = "".join(parts)
    sys.stdout.write(report)
    for target in filter(None, [args.report, os.environ.get("GITHUB_STEP_SUMMARY")]):
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(report)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
