"""One page per implemented method: paper, how to apply it, parameters and the paper's
notation, supported families, token schedule / FLOPs, benchmarks, and the repro table.
"""

from __future__ import annotations

import re
from typing import Any

from zoo import vocab
from zoo.site import bench_view, repro_view
from zoo.site.data import MethodDoc, SiteData
from zoo.site.escape import md_link, md_text, safe_url
from zoo.site.markdown import badge, code_span, display_name, labels, table, venue_text, wide


def fence(text: str, lang: str = "") -> str:
    """A fenced code block that ``text`` cannot close (fence longer than any backtick run)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}\n"


def docstring_md(doc: str) -> str:
    """Render a docstring as escaped Markdown: paragraphs, ``- `` lists, ````code```` spans."""
    if not doc.strip():
        return ""
    out = []
    for block in re.split(r"\n\s*\n", doc.strip()):
        lines = [ln.rstrip() for ln in block.splitlines()]
        if all(ln.lstrip().startswith(("- ", "* ")) or (i and ln.startswith("  ")) for i, ln in enumerate(lines)):
            items: list[str] = []
            for ln in lines:
                if ln.lstrip().startswith(("- ", "* ")):
                    items.append(ln.lstrip()[2:])
                else:
                    items[-1] += " " + ln.strip()
            out.append("\n".join(f"- {inline_md(item)}" for item in items))
        elif lines and lines[0].startswith("    "):
            out.append(fence("\n".join(ln[4:] for ln in lines)))
        else:
            out.append(inline_md(" ".join(ln.strip() for ln in lines)))
    return "\n\n".join(out) + "\n"


def inline_md(text: str) -> str:
    """Escape text but keep reST/Markdown inline code (````x```` or ```x```) as code."""
    text = re.sub(r":(?:class|func|meth|attr|mod|data|obj|exc):(?=`)", "", text)  # Sphinx roles
    parts = re.split(r"``(.+?)``|`([^`]+)`", text)
    out = []
    for i, part in enumerate(parts):
        if part is None:
            continue
        if i % 3:
            out.append(code_span(part))
        elif part.strip():
            # md_text collapses whitespace; keep one space where the text touched a code span
            out.append((" " if part[0].isspace() else "") + md_text(part) + (" " if part[-1].isspace() else ""))
        elif part:
            out.append(" ")
    return "".join(out)


def apply_snippet(method: MethodDoc) -> str:
    """``zoo.apply`` with the method's effective defaults (None-valued options left out)."""
    args = [f'"{method.id}"']
    values = method.effective if method.effective is not None else method.params
    for name, value in values.items():
        if value == "(required)":
            args.append(f"{name}=...")
        elif value != "None":
            args.append(f"{name}={value}")
    call = ", ".join(["model", *args])
    families = ", ".join(method.families) or "(none registered)"
    return fence(
        "import zoo\n\n"
        f"model = ...  # a model of a supported family: {families}\n"
        f"with zoo.apply({call}) as handle:\n"
        "    output = model(inputs)\n"
        "    print(handle.run.tokens)  # tokens after every block, per stage\n"
        "# leaving the block removes every hook: the model is unchanged again",
        "python",
    )


def param_table(method: MethodDoc) -> str:
    effective = method.effective or {}
    rows = []
    for name, default in method.params.items():
        used = effective.get(name)
        rows.append([code_span(name), code_span(default),
                     code_span(used) if used is not None and used != default else "same"])
    return table(["Parameter", "Declared default", "Value when omitted"], rows)


def notation_table(method: MethodDoc) -> str:
    rows = [[inline_md(symbol), inline_md(meaning)] for symbol, meaning in method.paper_notation.items()]
    return table(["Paper", "In tokzoo"], rows)


def repro_section(page: str, paper_id: str | None, data: SiteData) -> str:
    entry = data.repro.get(paper_id) if paper_id else None
    if entry is None:
        return "No reproduction script for this method yet: status **not run**.\n"
    out = [f"Status: {badge(page, 'repro', entry.status)} ({md_text(vocab.REPRO_STATUS.get(entry.status, ''))})\n"]
    if not entry.claims:
        out.append("No claim has been measured yet.\n")
        return "\n".join(out)
    rows = []
    for c in entry.claims:
        status_cell = badge(page, "repro", c.status)
        if c.detail:
            status_cell += f"<br>{md_text(c.detail)}"
        setting = f'<br><span class="tz-setting">{md_text(c.setting)}</span>' if c.setting else ""
        source = f'<br><span class="tz-setting">Source: {_source_cell(c)}</span>'
        rows.append([
            f"{code_span(c.claim_id)}<br>{md_text(c.description)}{setting}{source}",
            md_text(c.kind),
            md_text(c.reported),
            md_text(c.measured) if c.measured else "–",
            md_text(c.hardware) or "–",
            md_text(c.date) or "–",
            status_cell,
        ])
    out.append(wide(table(
        ["Claim, setting and source", "Kind", "Reported", "Measured", "Hardware", "Date", "Status"], rows
    ), "tz-claims"))
    return "\n".join(out)


def _source_cell(claim: Any) -> str:
    url = getattr(claim, "source_url", "")
    return md_link(claim.source, url) if safe_url(url) else md_text(claim.source)


def method_page(method: MethodDoc, data: SiteData) -> str:
    page = f"methods/{method.id}.md"
    paper = data.paper_for_method(method.id) or {}
    links = paper.get("links") or {}
    title = display_name(paper) if paper else method.id
    head = f"# {md_text(title)}"
    if paper and paper.get("short_name"):
        head += f": {md_text(paper['title'])}"
    # the claims table needs the width of the right-hand table of contents
    parts = ["---\nhide:\n  - toc\n---\n", head + "\n"]

    badges = [badge(page, "zoo", "implemented")]
    repro = data.repro_status(paper.get("id")) if paper else None
    badges.append(badge(page, "repro", repro or "not run", f"{page}#reproduction"))
    if safe_url(links.get("code")):
        badges.append(badge(page, "code", "available", links["code"]))
    parts.append(" ".join(badges) + "\n")

    facts = []
    if paper:
        arxiv = paper.get("arxiv")
        paper_link = md_link(f"arXiv:{arxiv}" if arxiv else "paper", links.get("paper"))
        facts.append(["Paper", f"{paper_link} · {md_text(venue_text(paper))}"])
        if safe_url(links.get("code")):
            facts.append(["Official code", md_link(links["code"], links["code"])])
        if safe_url(links.get("project")):
            facts.append(["Project page", md_link(links["project"], links["project"])])
        facts.append(["Modality", labels(paper.get("modality") or [])])
        facts.append(["Technique", labels(paper.get("technique") or [])])
        facts.append(["Model families (paper)", labels(paper.get("family") or [])])
        facts.append(["Training-free", "yes" if paper.get("training_free") else "no"])
    else:
        facts.append(["Paper", "none: this is a control, not a published method"])
    facts.append(["tokzoo id", code_span(method.id)])
    facts.append(["Implementation", code_span(f"{method.module}.{method.class_name}")])
    facts.append(["Acts at", f"{code_span(method.placement)}: {md_text(vocab.PLACEMENT.get(method.placement, ''))}"])
    facts.append(["Supported adapters", ", ".join(code_span(f) for f in method.families) or "–"])
    parts.append("\n".join(f"- **{label}:** {value}" for label, value in facts) + "\n")

    parts.append("## What it does\n")
    parts.append(docstring_md(method.doc) or md_text(method.summary) + "\n")
    if method.module_doc:
        body = method.module_doc.split("\n\n", 1)
        # the module docstring's first line is usually the paper's title line, already shown above
        parts.append(docstring_md(body[1] if len(body) > 1 else body[0]))

    parts.append("## Apply it\n")
    parts.append(apply_snippet(method))

    parts.append("## Parameters\n")
    parts.append(param_table(method) or "This method has no parameters.\n")
    if method.paper_notation:
        parts.append("\nHow the paper's notation maps onto these parameters:\n")
        parts.append(notation_table(method))

    parts.append("## Token schedule and FLOPs\n")
    parts.append(schedule_section(method.id, paper.get("id"), data))

    parts.append("## Benchmarks\n")
    parts.append(bench_view.benchmark_markdown(method.id, data.benchmarks))

    parts.append("## Reproduction {#reproduction}\n")
    parts.append(repro_section(page, paper.get("id") if paper else None, data))

    bib = data.bibtex.get(paper.get("id", "")) if paper else None
    if bib:
        parts.append("## Cite\n")
        parts.append(fence(bib, "bibtex"))
    return "\n".join(parts)


def schedule_section(method_id: str, paper_id: str | None, data: SiteData) -> str:
    """Token schedules and FLOPs: the repro script's analytic claims and recorded benchmark runs."""
    rows = []
    entry = data.repro.get(paper_id) if paper_id else None
    for c in entry.claims if entry else []:
        if c.kind == "analytic":
            rows.append([md_text(c.description), md_text(c.setting), md_text(c.reported),
                         md_text(c.measured) if c.measured else "not run"])
    recorded = []
    for c in entry.claims if entry else []:
        schedules = repro_view.token_schedules(c.details)
        flops = repro_view.flops_summary(c.details)
        if schedules or flops:
            parts = [f"{code_span(name)}: {md_text(text)}" for name, text in schedules]
            if flops:
                parts.append(md_text(flops))
            recorded.append(f"{code_span(c.claim_id)}: " + "; ".join(parts))
    lines = bench_view.schedule_lines(method_id, data.benchmarks)
    if not rows and not lines and not recorded:
        return ("No token schedule recorded yet: it comes from the reproduction's analytic claims "
                "and from `tokzoo bench` runs.\n")
    out = []
    if rows:
        out.append("Analytic claims of the paper (token counts, FLOPs) and tokzoo's computation under the "
                   "paper's own counting convention:\n")
        out.append(wide(table(["Quantity", "Setting", "Paper", "tokzoo"], rows)))
    if recorded:
        out.append("Per-layer token counts (a run of equal counts is written `count ×layers`) and FLOPs "
                   "totals recorded with the reproduction:\n")
        out.append("\n".join(f"- {line}" for line in recorded) + "\n")
    if lines:
        out.append("Tokens entering the model and after every block, as recorded by benchmark runs:\n")
        out.append("\n".join(f"- {line}" for line in lines) + "\n")
    return "\n".join(out)


def methods_index(data: SiteData) -> str:
    rows = []
    for method in sorted(data.methods.values(), key=lambda m: m.id):
        paper = data.paper_for_method(method.id)
        page = "methods/index.md"
        name = f"[{md_text(display_name(paper) if paper else method.id)}]({method.id}.md)"
        repro = data.repro_status(paper["id"]) if paper else None
        rows.append([
            name,
            md_text(str(paper.get("year"))) if paper else "–",
            md_text(venue_text(paper)) if paper else "control",
            ", ".join(code_span(f) for f in method.families),
            code_span(method.placement),
            badge(page, "repro", repro) if repro else "–",
        ])
    return (
        "# Implemented methods\n\n"
        f"{len(data.methods)} methods are registered in tokzoo; each applies through the same "
        "interface, `zoo.apply(model, method_id, **params)`, and is removed again when the "
        "`with` block ends.\n\n"
        + (table(["Method", "Year", "Venue", "Adapters", "Acts at", "Repro"], rows) or "No method is registered yet.\n")
    )
