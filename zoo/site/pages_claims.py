"""The claims page: every repro claim of every paper with kind, reported, measured, tolerance,
hardware and status, filterable in the browser (``site/assets/claims.js``; without JavaScript
the full table is shown).

The table is written as HTML (every value escaped with :func:`zoo.site.escape.html_text`) so
each row can carry its filter values as ``data-`` attributes.
"""

from __future__ import annotations

from collections import Counter

from zoo import vocab
from zoo.site import status
from zoo.site.badges import Badge
from zoo.site.data import SiteData
from zoo.site.escape import html_text, safe_url
from zoo.site.markdown import BADGE_DIR, display_name, url_rel

PAGE = "claims.md"
FILTERS = (("paper", "Paper"), ("group", "Kind"), ("status", "Status"), ("needs", "Needs"))


def _img(b: Badge, data: SiteData) -> str:
    path = f"{BADGE_DIR}/{b.filename}"
    data.badges[path] = b
    return (f'<img class="tz-badge" src="{html_text(url_rel(PAGE, path))}" alt="{html_text(b.kind)}: '
            f'{html_text(b.value)}" title="{html_text(b.kind)}: {html_text(b.value)}">')


def _needs_word(needs: str) -> str:
    """``cpu`` | ``cuda`` | ``weights`` | ``dataset``: the heaviest thing a claim needs."""
    words = [n.split(":", 1)[0] for n in needs.split(", ") if n]
    for w in ("dataset", "weights", "cuda"):
        if w in words:
            return w
    return "cpu" if words else ""


def claims_page(data: SiteData) -> str:
    rows = []
    counts: Counter = Counter()
    for paper_id, entry in sorted(data.repro.items()):
        paper = data.paper(paper_id)
        name = display_name(paper) if paper else paper_id
        method = (paper or {}).get("zoo", {}).get("method") if paper else None
        href = url_rel(PAGE, f"methods/{method}/") if method in data.methods else ""
        for c in entry.claims:
            counts[c.status] += 1
            source = html_text(c.source)
            if safe_url(c.source_url):
                source = f'<a href="{html_text(safe_url(c.source_url))}">{source}</a>'
            name_html = f'<a href="{html_text(href)}#reproduction">{html_text(name)}</a>' if href else html_text(name)
            detail = f'<br><span class="tz-setting">{html_text(c.detail)}</span>' if c.detail else ""
            rows.append(
                f'<tr data-paper="{html_text(name)}" data-group="{html_text(c.group)}" '
                f'data-status="{html_text(c.status)}" data-needs="{html_text(_needs_word(c.needs))}">'
                f"<td>{name_html}</td>"
                f'<td><code>{html_text(c.claim_id)}</code><br>{html_text(c.description)}'
                f'<br><span class="tz-setting">{html_text(c.setting)}</span>'
                f'<br><span class="tz-setting">Source: {source}</span></td>'
                f"<td>{html_text(c.group)}<br><span class=\"tz-setting\">{html_text(c.kind)}</span></td>"
                f"<td>{html_text(c.reported)}</td>"
                f"<td>{html_text(c.tolerance) or '–'}</td>"
                f"<td>{html_text(c.measured) or '–'}"
                + (f'<br><span class="tz-setting">{html_text(c.label)}</span>' if c.measured and c.label else "")
                + "</td>"
                f"<td>{html_text(c.hardware) or '–'}<br><span class=\"tz-setting\">{html_text(c.date)}</span></td>"
                f"<td>{_img(Badge('repro', c.status), data)}{detail}</td>"
                "</tr>"
            )
    n = sum(counts.values())
    summary = ", ".join(f"{v} {k}" for k, v in counts.most_common())
    per_paper = []
    for paper_id, entry in sorted(data.repro.items()):
        paper = data.paper(paper_id)
        badges = (" ".join(_img(b, data) for b in status.kind_badges(entry.kinds))
                  or "no claim sourced yet (the repro script's notes say why)")
        per_paper.append(f"<tr><td>{html_text(display_name(paper) if paper else paper_id)}</td><td>{badges}</td></tr>")
    table = (
        '<div class="tz-claims-filter" id="tz-claims" data-filters="'
        + html_text(",".join(k for k, _ in FILTERS)) + '">\n'
        '<div class="tz-table-wrap"><table class="tz-table tz-claims-table">\n<thead><tr>'
        "<th>Paper</th><th>Claim, setting and source</th><th>Kind</th><th>Reported (paper)</th>"
        "<th>Passes if</th><th>Measured (tokzoo)</th><th>Hardware, date</th><th>Status</th>"
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table></div>\n</div>\n"
    )
    kinds = "; ".join(f"{k}: {', '.join(v)}" for k, v in vocab.CLAIM_KIND_GROUP.items())
    return (
        "---\nhide:\n  - navigation\n  - toc\n---\n\n"
        "# Every reproduction claim\n\n"
        f"{n} claims of {len(data.repro)} papers ({summary}). Each is a number a paper reports, with its "
        "source; **Measured** is tokzoo's result with the hardware it ran on, or \"–\" when it has not run "
        "(most accuracy claims need the papers' weights, datasets and a GPU). "
        f"Kinds group the claim kinds ({html_text(kinds)}).\n\n"
        "## Status per paper\n\n"
        '<div class="tz-table-wrap"><table class="tz-table"><thead><tr><th>Paper</th>'
        "<th>Reproduced / claims, per kind</th></tr></thead><tbody>\n" + "\n".join(per_paper)
        + "\n</tbody></table></div>\n\n"
        "## Claims\n\nFilter by paper, kind, status or what a measurement needs; the table is complete "
        "without JavaScript.\n\n" + table
    )
