"""Comparison pages, one per model family that has implemented methods (``compare/<family>.md``).

Everything is read from data, so a new method or family appears without a change here:

- which methods belong to a family: the catalog's ``family`` labels of each method's paper;
  controls (methods without a paper, e.g. random pruning) join a family when they run on an
  adapter one of its methods runs on;
- the papers' reported numbers: the claims of the repro scripts (``repro/<id>.py``: value,
  unit, setting, source), next to tokzoo's measurement of the same claim when a record exists;
- theoretical speedup vs budget and tokens per layer: the schedules recorded in
  ``site/data/methods.json``, costed with ``zoo.flops`` at build time (``zoo.site.theory``);
- measured speedup: the benchmark records ``benchmarks/results/*.json``.

Columns say which numbers the papers report and which tokzoo measured.
"""

from __future__ import annotations

import re
from typing import Any

from zoo import vocab
from zoo.site import bench_view, fidelity_view, plots, status, theory
from zoo.site.data import ClaimRow, SiteData
from zoo.site.escape import md_link, md_text, safe_url
from zoo.site.markdown import badge, code_span, display_name, rel, table, venue_text, wide

COMPARE_DIR = "compare"
KIND_SECTIONS = (
    ("accuracy", "Accuracy and fidelity"),
    ("speed", "Speed"),
    ("analytic", "FLOPs and token counts"),
    ("conformance", "Agreement with the authors' code"),
)


def family_label(term: str) -> str:
    """``vlm`` -> "Vision-language models with an LLM decoder on images" (the vocabulary's wording)."""
    text = vocab.FAMILY.get(term, term)
    return re.split(r" \(|\.$", text)[0]


def family_methods(data: SiteData) -> dict[str, list[str]]:
    """Catalog family term -> method ids. A method belongs to its paper's *first* family label
    (the model family the paper is about; further labels are where it was also evaluated and
    are listed on the page); controls join a family when they run on one of its adapters."""
    out: dict[str, list[str]] = {}
    controls = []
    for method_id in sorted(data.methods):
        paper = data.paper_for_method(method_id)
        if paper is None:
            controls.append(method_id)
            continue
        families = list(paper.get("family") or [])
        if families:
            out.setdefault(families[0], []).append(method_id)
    for fam, ids in out.items():
        adapters = family_adapters(data, ids)
        ids.extend(c for c in controls if adapters & set(data.methods[c].families))
    ordered = [f for f in vocab.FAMILY if f in out] + sorted(f for f in out if f not in vocab.FAMILY)
    return {f: out[f] for f in ordered}


def _examples(family: str) -> str:
    """`` (e.g. LLaVA, Qwen-VL, InternVL)`` from the vocabulary's description, when it gives examples."""
    m = re.search(r"\(([^)]*)\)", vocab.FAMILY.get(family, ""))
    return f" (e.g. {md_text(m.group(1).rstrip('.'))})" if m else ""


def family_adapters(data: SiteData, ids: list[str]) -> set[str]:
    """The adapters the family's *paper* methods run on (controls follow them, never add to them)."""
    return {a for m in ids if data.paper_for_method(m) for a in data.methods[m].families}


def page_path(family: str) -> str:
    return f"{COMPARE_DIR}/{family}.md"


def _name(data: SiteData, method_id: str) -> str:
    paper = data.paper_for_method(method_id)
    return display_name(paper) if paper else f"{method_id} (control)"


def _method_link(page: str, data: SiteData, method_id: str) -> str:
    return f"[{md_text(_name(data, method_id))}]({rel(page, f'methods/{method_id}.md')})"


def _params_text(params: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)
    return ", ".join(f"{k}={fmt(v)}" for k, v in params.items() if v is not None) or "defaults"


def _model_group(model: str) -> str:
    """The model a claim is about, without the parenthesised detail (``LLaVA-1.5-7B (HF port)``)."""
    return model.split(" (")[0].strip() or "(model not named)"


def overview(page: str, data: SiteData, ids: list[str]) -> str:
    rows = []
    for mid in ids:
        m = data.methods[mid]
        paper = data.paper_for_method(mid)
        also = [f for f in (paper.get("family") or [])[1:]] if paper else []
        entry = data.repro.get(paper["id"]) if paper else None
        if entry and entry.kinds:
            kinds = " ".join(badge(page, b.kind, b.value, tone=b.tone, registry=data.badges)
                             for b in status.kind_badges(entry.kinds))
        elif entry:
            kinds = "no claim sourced yet (see its repro script's notes)"
        else:
            kinds = "no repro script" if paper else "–"
        rows.append([
            _method_link(page, data, mid) + (f'<br><span class="tz-setting">paper also on: '
                                             f'{", ".join(md_text(f) for f in also)}</span>' if also else ""),
            md_text(venue_text(paper)) if paper else "control",
            code_span(m.placement),
            ", ".join(code_span(a) for a in m.families),
            ("yes" if paper.get("training_free") else "no") if paper else "–",
            kinds,
        ])
    return wide(table(["Method", "Venue", "Acts at", "tokzoo adapters", "Training-free",
                       "Reproduction per kind (reproduced / claims)"], rows))


def _claim_cell_source(c: ClaimRow) -> str:
    return md_link(c.source, c.source_url) if safe_url(c.source_url) else md_text(c.source)


def claims_tables(page: str, data: SiteData, ids: list[str]) -> str:
    """The papers' reported numbers by status kind, grouped by model, with tokzoo's measurement."""
    rows_by_kind: dict[str, list[tuple[str, str, ClaimRow]]] = {}
    for mid in ids:
        paper = data.paper_for_method(mid)
        entry = data.repro.get(paper["id"]) if paper else None
        for c in entry.claims if entry else []:
            rows_by_kind.setdefault(c.group, []).append((_model_group(c.model), mid, c))
    out = []
    for kind, title in KIND_SECTIONS + tuple((k, k) for k in sorted(rows_by_kind) if k not in dict(KIND_SECTIONS)):
        items = rows_by_kind.get(kind)
        if not items:
            continue
        rows = []
        for model, mid, c in sorted(items, key=lambda t: (t[0].casefold(), t[1], t[2].claim_id)):
            what = md_text(c.description) + (f'<br><span class="tz-setting">{md_text(c.benchmark)}</span>'
                                              if c.benchmark else "")
            measured = md_text(c.measured) if c.measured else "–"
            if c.measured and c.label:
                measured += f'<br><span class="tz-setting">{md_text(c.label)}</span>'
            rows.append([
                md_text(model),
                _method_link(page, data, mid),
                code_span(_params_text(c.params)) if c.params else "–",
                what,
                f"**{md_text(c.reported)}**",
                _claim_cell_source(c),
                measured,
                badge(page, "repro", c.status, registry=data.badges),
            ])
        out.append(f"### {md_text(title)}\n")
        out.append(wide(table(["Model", "Method", "Parameters (tokzoo)", "Quantity", "Reported (paper)",
                               "Source", "Measured (tokzoo)", "Status"], rows), "tz-compare"))
    return "\n".join(out)


def _setups_for(data: SiteData, ids: list[str]) -> list[str]:
    """The reference setups the family's methods run on; first those whose input modality most of the
    family's papers name (a BERT paper's page starts with the text encoder, a ViT paper's with DeiT-S)."""
    used = family_adapters(data, ids)
    papers = [data.paper_for_method(m) for m in ids]
    modalities = [m for p in papers if p for m in p.get("modality") or []]

    def order(adapter: str) -> tuple[int, str]:
        return -modalities.count((data.reference_setups[adapter] or {}).get("modality")), adapter

    return sorted((a for a in data.reference_setups or {} if a in used), key=order)


def budget_section(page: str, data: SiteData, family: str, ids: list[str], files: dict[str, str]) -> str:
    """Theoretical speedup vs budget (plot + table) and tokens per layer at the defaults, per setup."""
    points = [p for p in theory.budget_points(data) if p.method in ids]
    out = []
    for adapter in _setups_for(data, ids):
        setup = data.reference_setups[adapter]
        mine = [p for p in points if p.adapter == adapter]
        if not mine:
            continue
        order = [m for m in ids if any(p.method == m for p in mine)]
        names = {m: _name(data, m) for m in order}
        series = {names[m]: [(p.x, p.cost.speedup) for p in mine if p.method == m] for m in order}
        kind = setup["kind"]
        title = f"Theoretical speedup vs budget: {setup['label']}"
        made, paths = plots.themed(f"speedup-{family}-{adapter}", lambda t: plots.speedup_vs_budget(
            series, x_label=setup["x_label"], title=title, order=[names[m] for m in order], theme=t))
        files.update(made)
        out.append(f"### On the {md_text(setup['label'])}\n")
        out.append(f"Cost: {md_text(theory.COST_NOTE.get(kind, ''))}. Each point is the schedule tokzoo's "
                   "implementation produced at that budget (random weights, one seeded input), so methods "
                   "that spend the same budget at different depths differ in cost.\n")
        if paths:
            out.append(plots.image_md(page, paths, title))
        xs = sorted({p.x for p in mine}, reverse=True)
        rows = []
        for m in order:
            cells = []
            for x in xs:
                hit = [p for p in mine if p.method == m and p.x == x]
                cells.append(md_text(f"{hit[0].cost.speedup:.2f}×") if hit else "–")
            rows.append([_method_link(page, data, m), *cells])
        heads = [md_text(f"{x:g} tokens" if kind == "decoder" else f"keep {x:g}") for x in xs]
        out.append("Theoretical speedup at each budget:\n")
        out.append(wide(table(["Method", *heads], rows, ["l", *["r"] * len(xs)])))
        default_series = {}
        for m in order:
            found = theory.default_schedule(data, m, adapter)
            if found:
                stage, _ = found
                default_series[names[m]] = [stage["input"], *stage["after"]]
        unit = theory.UNIT.get(kind, "block")
        ttitle = f"Tokens per {unit} at each method's default parameters: {setup['label']}"
        made, paths = plots.themed(f"tokens-{family}-{adapter}", lambda t: plots.tokens_per_layer(
            default_series, unit=unit, title=ttitle, order=[names[m] for m in order], theme=t,
            x_label=theory.TOKENS_AXIS.get(kind)))
        if paths:
            files.update(made)
            out.append(f"Token counts at each method's default parameters "
                       f"({md_text(theory.TOKENS_NOTE.get(kind, 'input, then after every block'))}):\n")
            out.append(plots.image_md(page, paths, ttitle))
    return "\n".join(out)


_FLOPS_UNITS = ("GMACs", "GFLOPs", "TFLOPs", "FLOPs", "MACs")


def reported_accuracy_flops(data: SiteData, ids: list[str]) -> list[dict[str, Any]]:
    """Pairs of a paper's accuracy claim and its FLOPs claim for the same method, model and
    parameters: both numbers as the paper reports them."""
    points = []
    for mid in ids:
        paper = data.paper_for_method(mid)
        entry = data.repro.get(paper["id"]) if paper else None
        if entry is None:
            continue
        flops = [c for c in entry.claims if c.group == "analytic" and c.unit in _FLOPS_UNITS]
        for acc in (c for c in entry.claims if c.kind == "accuracy" and c.unit == "%"):
            for f in flops:
                if f.params == acc.params and _model_group(f.model) == _model_group(acc.model):
                    points.append({"method": _name(data, mid), "accuracy": acc.reported_value,
                                   "flops": f.reported_value, "flops_unit": f"{f.unit} (reported)",
                                   "accuracy_unit": "accuracy, % (reported)"})
    return points


def measured_section(page: str, data: SiteData, family: str, ids: list[str], files: dict[str, str]) -> str:
    adapters = family_adapters(data, ids)
    records = [r for r in data.benchmarks if r.get("kind") == bench_view.BENCH_KIND
               and bench_view.record_method(r) in ids and (r.get("family") in adapters or not r.get("family"))]
    if not records:
        return ("No benchmark record for these methods yet (`tokzoo bench` writes them to "
                "`benchmarks/results/`).\n")
    order = ids
    records.sort(key=lambda r: (order.index(bench_view.record_method(r)), r.get("_file", "")))
    labels = sorted({bench_view.measured_label(r) for r in records if bench_view.measured_label(r)})
    out = ["Measured by tokzoo (" + "; ".join(md_text(x) for x in labels) + "). Baseline and method are timed "
           "alternately in one process; CPU speed on random weights shows how the implementation scales with "
           "the token count, not what the papers' GPUs show.\n"]
    points = []
    for r in records:
        flops = r.get("flops") or {}
        measured = r.get("speedup_pairs_median", r.get("speedup"))
        if isinstance(flops.get("theoretical_speedup"), (int, float)) and isinstance(measured, (int, float)):
            points.append({"method": _name(data, bench_view.record_method(r)),
                           "theoretical": float(flops["theoretical_speedup"]), "measured": float(measured)})
    names = [_name(data, m) for m in ids]
    made, paths = plots.themed(f"measured-{family}", lambda t: plots.measured_vs_theoretical(points, order=names, theme=t))
    if paths:
        files.update(made)
        out.append(plots.image_md(page, paths, "Measured vs theoretical speedup"))
    out.append(wide(bench_view.bench_table(records, with_method=True), "tz-bench"))
    return "\n".join(out)


def compare_page(data: SiteData, family: str, ids: list[str], files: dict[str, str]) -> str:
    page = page_path(family)
    label = family_label(family)
    papers = [m for m in ids if data.paper_for_method(m)]
    controls = [m for m in ids if m not in papers]
    parts = [
        "---\nhide:\n  - navigation\n  - toc\n---\n",
        f"# Compare: {md_text(label)}\n",
        f"The {len(papers)} implemented methods whose catalog entries name `{md_text(family)}` as their first "
        f"model family{_examples(family)}"
        + (f", with the control{'s' if len(controls) > 1 else ''} "
           + ", ".join(code_span(c) for c in controls) + " at the same budgets" if controls else "") + ".\n",
        '!!! info "Reported and measured"\n'
        "    **Reported (paper)** columns are the papers' own numbers, each with its source (table, figure or "
        "README at a commit) as the repro scripts cite them. **Measured (tokzoo)** columns are tokzoo's runs, "
        "with how they were measured; \"–\" means tokzoo has not measured it. Theoretical numbers are "
        "computed by tokzoo from the recorded token schedules.\n",
        "## Methods\n",
        overview(page, data, ids),
    ]
    budget = budget_section(page, data, family, ids, files)
    if budget:
        parts += ["## Theoretical speedup vs budget\n", budget]
    claims = claims_tables(page, data, ids)
    parts.append("## Reported by the papers, measured by tokzoo\n")
    if claims:
        parts += ["Grouped by status kind and model. The parameters are in tokzoo's notation (each method page "
                  "maps the paper's notation onto them).\n", claims]
    else:
        parts.append('<p class="tz-no-claims">No paper of this family has a sourced number in its repro script '
                     "yet (each script says why: " + ", ".join(code_span(f"repro/{m}.py") for m in papers)
                     + "); nothing is shown rather than an unsourced number.</p>\n")
    points = reported_accuracy_flops(data, ids)
    made, paths = plots.themed(f"accuracy-flops-{family}", lambda t: plots.accuracy_vs_flops(
        points, t, title="Reported accuracy vs reported FLOPs"))
    parts.append("## Reported accuracy vs FLOPs\n")
    if paths:
        files.update(made)
        parts.append("Both numbers as the papers report them, for claims of the same method, model and "
                     "parameters:\n\n" + plots.image_md(page, paths, "Reported accuracy vs FLOPs"))
    else:
        parts.append("No paper of this family reports both an accuracy and a FLOPs number for the same setting "
                     "in its repro script yet; nothing is plotted rather than mixing sources.\n")
    parts += ["## Measured by tokzoo: speed\n", measured_section(page, data, family, ids, files)]
    fidelity = fidelity_view.fidelity_markdown(data.benchmarks, ids)
    if fidelity:
        parts += ["## Measured by tokzoo: quality on real weights\n", fidelity]
    return "\n".join(parts)


def compare_pages(data: SiteData) -> tuple[dict[str, str], dict[str, str], dict[str, list[str]]]:
    """``(files, {label: docs path}, {family: method ids})``; files include the plots."""
    files: dict[str, str] = {}
    nav: dict[str, str] = {}
    groups = family_methods(data)
    for family, ids in groups.items():
        files[page_path(family)] = compare_page(data, family, ids, files)
        nav[family_label(family)] = page_path(family)
    rows: list[list[str]] = []
    if groups:
        rows = [[f"[{md_text(family_label(f))}]({f}.md)", code_span(f), str(len([m for m in ids if data.paper_for_method(m)])),
                 ", ".join(md_text(_name(data, m)) for m in ids)] for f, ids in groups.items()]
    files[f"{COMPARE_DIR}/index.md"] = (
        "# Compare methods\n\nOne page per model family with implemented methods (a method belongs to the "
        "first model family its catalog entry names): the papers' reported numbers with their sources, "
        "tokzoo's measurements where they exist, and plots of the theoretical speedup at each budget.\n\n"
        + (table(["Family", "Catalog term", "Methods", "Methods and controls"], rows, ["l", "l", "r", "l"])
           or "No method is implemented yet.\n")
    )
    return files, nav, groups
