"""One page per implemented method: paper (authors, venue, code, project, license), how to
apply it, parameters (type, default, description) and the paper's notation, where it runs
(its row of the support matrix: every adapter, and why not where it does not), token schedules / FLOPs, benchmarks, and the repro table
with status per kind.
"""

from __future__ import annotations

from typing import Any

from zoo import vocab
from zoo.site import bench_view, fidelity_view, repro_view, status, theory
from zoo.site.data import MethodDoc, SiteData
from zoo.site.docstring import docstring_md, fence, inline_md  # noqa: F401  (re-exported for callers)
from zoo.site.escape import md_link, md_text, safe_url
from zoo.site.markdown import (
    arxiv_date,
    author_text,
    badge,
    code_license,
    code_links,
    code_span,
    display_name,
    labels,
    other_links,
    project_link,
    section_year,
    source_link,
    table,
    venue_text,
    wide,
)


def page_title(paper: dict[str, Any] | None, method_id: str) -> str:
    """``Name: Title``, or just the title when it already starts with the name (no "SparseVLM: SparseVLM: ...")."""
    if not paper:
        return method_id
    title, short = paper["title"], paper.get("short_name")
    if not short or title.casefold().startswith(short.casefold()):
        return title
    return f"{short}: {title}"


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


def field_description(method: MethodDoc, name: str) -> str:
    """What a parameter means: the paper-notation entries written ``name: ...`` (the zoo's
    convention for ``paper_notation``), joined; "" when the method documents none."""
    texts = []
    for symbol, meaning in method.paper_notation.items():
        for prefix in (f"{name}:", f"``{name}``:", f"`{name}`:"):
            if meaning.startswith(prefix):
                text = meaning[len(prefix):].strip()
                if symbol not in (name, f"``{name}``"):
                    text = f"{text} — in the paper: {symbol}"
                texts.append(text)
                break
    return "; ".join(texts)


def param_table(method: MethodDoc) -> str:
    """Parameter | Type | Default | Description (the default shows what an omitted value becomes)."""
    rows = []
    for name, declared in method.params.items():
        info = method.fields.get(name) or {}
        declared = info.get("default", declared)
        effective = info.get("effective", (method.effective or {}).get(name))
        default = code_span(declared)
        if effective is not None and effective != declared:
            default += f" (resolves to {code_span(effective)})"
        description = field_description(method, name)
        rows.append([code_span(name), code_span(info["type"]) if info.get("type") else "–", default,
                     inline_md(description) if description else "–"])
    return wide(table(["Parameter", "Type", "Default", "Description"], rows), "tz-params")


def notation_table(method: MethodDoc) -> str:
    rows = [[inline_md(symbol), inline_md(meaning)] for symbol, meaning in method.paper_notation.items()]
    return table(["Paper", "In tokzoo"], rows)


def kind_badges_md(page: str, entry: Any, data: SiteData, link: str | None = None) -> str:
    return " ".join(badge(page, b.kind, b.value, link, tone=b.tone, registry=data.badges)
                    for b in status.kind_badges(entry.kinds))


def repro_section(page: str, paper_id: str | None, data: SiteData) -> str:
    entry = data.repro.get(paper_id) if paper_id else None
    if entry is None:
        return "No reproduction script for this method yet: status **not run**.\n"
    word = status.shown_word(entry.status, entry.kinds) or "not run"
    out = [f"Status: {badge(page, 'repro', word, registry=data.badges)} "
           f"({md_text(status.meaning(word))})\n"]
    if entry.kinds:
        out.append("Per kind (claims reproduced / declared): " + kind_badges_md(page, entry, data) + "\n")
        out.append("Speed claims are measured as ratios on the exact architecture with random weights, usually "
                   "on a CPU (the badge says how); accuracy claims need the real weights and datasets.\n")
    if not entry.claims:
        out.append("No claim has been measured yet.\n")
        return "\n".join(out)
    rows = []
    for c in entry.claims:
        status_cell = badge(page, "repro", c.status, registry=data.badges)
        if c.detail:
            status_cell += f"<br>{md_text(c.detail)}"
        setting = f'<br><span class="tz-setting">{md_text(c.setting)}</span>' if c.setting else ""
        source = f'<br><span class="tz-setting">Source: {_source_cell(c)}</span>'
        rows.append([
            f"{code_span(c.claim_id)}<br>{md_text(c.description)}{setting}{source}",
            md_text(c.kind),
            md_text(c.reported),
            md_text(c.tolerance) or "–",
            md_text(c.measured) if c.measured else "–",
            md_text(c.hardware) or "–",
            md_text(c.date) or "–",
            status_cell,
        ])
    out.append(wide(table(
        ["Claim, setting and source", "Kind", "Reported (paper)", "Passes if", "Measured (tokzoo)", "Hardware",
         "Date", "Status"], rows
    ), "tz-claims"))
    return "\n".join(out)


def _source_cell(claim: Any) -> str:
    url = getattr(claim, "source_url", "")
    return md_link(claim.source, url) if safe_url(url) else md_text(claim.source)


def _link_list(urls: list[str]) -> str:
    return ", ".join(md_link(u, u) for u in urls if safe_url(u))


def paper_facts(paper: dict[str, Any]) -> list[list[str]]:
    """Label/value pairs about the paper, each only when the catalog has the field."""
    facts = []
    arxiv = paper.get("arxiv")
    links = paper.get("links") or {}
    paper_link = md_link(f"arXiv:{arxiv}" if arxiv else "paper", links.get("paper"))
    date = arxiv_date(paper)
    facts.append(["Paper", paper_link + (f" (v1 {md_text(date)})" if date else "")])
    if author_text(paper):
        facts.append(["Authors", md_text(author_text(paper))])
    venue = md_text(venue_text(paper))
    if safe_url(source_link(paper, "venue")):
        venue += f" ({md_link('source', source_link(paper, 'venue'))})"
    facts.append(["Venue", venue])
    if section_year(paper) is not None:
        facts.append(["Year in the catalog", f"{section_year(paper)} (the upstream list's section year)"])
    codes = [u for u in code_links(paper) if safe_url(u)]
    if codes:
        text = _link_list(codes)
        if code_license(paper):
            lic = md_text(code_license(paper))
            if safe_url(source_link(paper, "code_license")):
                lic = md_link(code_license(paper), source_link(paper, "code_license"))
            text += f" · license: {lic}"
        facts.append(["Official code", text])
    if safe_url(project_link(paper)):
        facts.append(["Project page", md_link(project_link(paper), project_link(paper))])
    if [u for u in other_links(paper) if safe_url(u)]:
        facts.append(["Other links", _link_list(other_links(paper))])
    facts.append(["Modality", labels(paper.get("modality") or [])])
    facts.append(["Technique", labels(paper.get("technique") or [])])
    facts.append(["Model families (paper)", labels(paper.get("family") or [])])
    facts.append(["Training-free", "yes" if paper.get("training_free") else "no"])
    return facts


def support_section(method_id: str, data: SiteData) -> str:
    """The "Runs on" section: this method's row of the support matrix (:mod:`zoo.site.pages_support`)."""
    from zoo.site.pages_support import runs_on_section

    return runs_on_section(method_id, data, f"methods/{method_id}.md")


def method_page(method: MethodDoc, data: SiteData, compare_pages: dict[str, str] | None = None) -> str:
    page = f"methods/{method.id}.md"
    paper = data.paper_for_method(method.id) or {}
    # the claims table needs the width of the right-hand table of contents
    parts = ["---\nhide:\n  - toc\n---\n", f"# {md_text(page_title(paper or None, method.id))}\n"]

    badges = [badge(page, "zoo", "implemented")]
    entry = data.repro.get(paper.get("id")) if paper else None
    if entry is not None and entry.kinds:
        badges.append(kind_badges_md(page, entry, data, f"{page}#reproduction"))
    else:
        badges.append(badge(page, "repro", "not run", f"{page}#reproduction"))
    if [u for u in code_links(paper) if safe_url(u)]:
        badges.append(badge(page, "code", "available", code_links(paper)[0]))
    parts.append(" ".join(badges) + "\n")

    facts = paper_facts(paper) if paper else [["Paper", "none: this is a control, not a published method"]]
    facts.append(["tokzoo id", code_span(method.id)])
    facts.append(["Implementation", code_span(f"{method.module}.{method.class_name}")])
    facts.append(["Acts at", f"{code_span(method.placement)}: {md_text(vocab.PLACEMENT.get(method.placement, ''))}"])
    facts.append(["Supported adapters", ", ".join(code_span(f) for f in method.families) or "–"])
    if compare_pages:
        facts.append(["Compare", ", ".join(f"[{md_text(label)}](../{path})" for label, path in compare_pages.items())])
    parts.append("\n".join(f"- **{label}:** {value}" for label, value in facts) + "\n")

    parts.append("## What it does\n")
    parts.append(docstring_md(method.doc) or md_text(method.summary) + "\n")
    if method.module_doc:
        body = method.module_doc.split("\n\n", 1)
        # the module docstring's first paragraph is usually the paper's title line, already shown above
        parts.append(docstring_md(body[1] if len(body) > 1 else body[0]))

    parts.append("## Apply it\n")
    parts.append(apply_snippet(method))

    parts.append("## Parameters\n")
    parts.append(param_table(method) or "This method has no parameters.\n")
    if method.paper_notation:
        parts.append("\nHow the paper's notation maps onto these parameters:\n")
        parts.append(notation_table(method))

    support = support_section(method.id, data)
    if support:
        parts.append(support)

    parts.append("## Token schedule and FLOPs\n")
    parts.append(schedule_section(method.id, paper.get("id"), data))

    parts.append("## Benchmarks\n")
    parts.append(bench_view.benchmark_markdown(method.id, data.benchmarks))
    fidelity = fidelity_view.fidelity_markdown(data.benchmarks, [method.id])
    if fidelity:
        parts.append("### Quality on real weights\n")
        parts.append(fidelity)

    parts.append("## Reproduction {#reproduction}\n")
    parts.append(repro_section(page, paper.get("id") if paper else None, data))

    bib = data.bibtex.get(paper.get("id", "")) if paper else None
    if bib:
        parts.append("## Cite\n")
        parts.append(fence(bib, "bibtex"))
    return "\n".join(parts)


def _tokens_cell(stage: dict[str, Any]) -> str:
    """``input → counts`` of a recorded stage; with the self-attention's key/value counts where they differ
    from the query counts (a UNet's ToDo)."""
    text = repro_view.run_lengths([stage.get("input", 0), *stage.get("after", [])])
    keys = stage.get("keys")
    if keys and list(keys) != list(stage.get("after", [])):
        text += "; keys/values: " + repro_view.run_lengths(list(keys))
    return md_text(text)


def recorded_schedules(method_id: str, data: SiteData) -> str:
    """The default schedule and budget points recorded on each reference setup, with their cost."""
    out = []
    for adapter, setup in sorted((data.reference_setups or {}).items()):
        found = theory.default_schedule(data, method_id, adapter)
        entry = ((data.schedules or {}).get(method_id) or {}).get(adapter)
        if entry is None:
            continue
        rows = []
        if found:
            stage, cost = found
            rows.append(["defaults", _tokens_cell(stage),
                         md_text(f"{cost.method:.4g} / {cost.baseline:.4g} {cost.unit}") if cost else "–",
                         md_text(f"{cost.speedup:.2f}×") if cost else "–"])
        for point in entry.get("budgets") or []:
            params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in (point.get("params") or {}).items())
            if "stages" not in point:
                rows.append([md_text(f"budget {point.get('x', 0):.3g}"), "not accepted: " + code_span(point.get("error", "")),
                             "–", "–"])
                continue
            stage = point["stages"].get(setup["stage"]) or {}
            cost = theory.cost(setup, point["stages"])
            rows.append([code_span(params), _tokens_cell(stage),
                         md_text(f"{cost.method:.4g} / {cost.baseline:.4g} {cost.unit}") if cost else "–",
                         md_text(f"{cost.speedup:.2f}×") if cost else "–"])
        if rows:
            out.append(f"On the {md_text(setup['label'])} ({code_span(adapter)} adapter), tokzoo's implementation "
                       f"on random weights gives these token counts "
                       f"({md_text(theory.TOKENS_NOTE.get(setup['kind'], 'input, then after every block'))}; "
                       f"`n ×k` = k times n); cost: "
                       f"{md_text(theory.COST_NOTE.get(setup['kind'], ''))}, computed at build time:\n")
            out.append(wide(table(["Parameters", "Tokens", "Cost (method / baseline)", "Theoretical speedup"],
                                  rows)))
    return "\n".join(out)


def schedule_section(method_id: str, paper_id: str | None, data: SiteData) -> str:
    """Token schedules and FLOPs: recorded schedules on the reference setups, the repro script's
    analytic claims and recorded benchmark runs."""
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
    reference = recorded_schedules(method_id, data)
    if not rows and not lines and not recorded and not reference:
        return ("No token schedule recorded yet: it comes from the reproduction's analytic claims "
                "and from `tokzoo bench` runs.\n")
    out = []
    if reference:
        out.append(reference)
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


def methods_index(data: SiteData, compare: dict[str, str] | None = None) -> str:
    rows = []
    page = "methods/index.md"
    for method in sorted(data.methods.values(), key=lambda m: m.id):
        paper = data.paper_for_method(method.id)
        name = f"[{md_text(display_name(paper) if paper else method.id)}]({method.id}.md)"
        entry = data.repro.get(paper["id"]) if paper else None
        if entry is not None and entry.kinds:
            repro = kind_badges_md(page, entry, data, f"methods/{method.id}.md#reproduction")
        else:
            repro = badge(page, "repro", "not run") if paper else "–"
        year = section_year(paper) if paper else None
        rows.append([
            name,
            md_text(str(year)) if year is not None else "–",
            md_text(venue_text(paper)) if paper else "control",
            ", ".join(code_span(f) for f in method.families),
            code_span(method.placement),
            repro,
        ])
    compare_line = ""
    if compare:
        compare_line = ("Side by side, with the papers' reported numbers and tokzoo's measurements: "
                        + ", ".join(f"[{md_text(label)}](../{path})" for label, path in compare.items()) + ".\n\n")
    return (
        "---\nhide:\n  - toc\n---\n\n"
        "# Implemented methods\n\n"
        f"{len(data.methods)} methods are registered in tokzoo; each applies through the same "
        "interface, `zoo.apply(model, method_id, **params)`, and is removed again when the "
        "`with` block ends.\n\n" + compare_line
        + (wide(table(["Method", "Year", "Venue", "Adapters", "Acts at", "Reproduction (per kind)"], rows))
           or "No method is registered yet.\n")
    )
