"""The home page numbers and the statistics page (tables + matplotlib plots)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from zoo import vocab
from zoo.site import plots
from zoo.site.data import SiteData
from zoo.site.escape import md_text
from zoo.site.markdown import section_year, table

PLOT_DIR = "assets/plots"


def headline(data: SiteData) -> dict[str, int]:
    """The numbers on the home page, all counted from the data."""
    implemented_papers = {
        p["id"] for p in data.papers
        if (p.get("zoo") or {}).get("status") == "implemented" and (p.get("zoo") or {}).get("method") in data.methods
    }
    claims = [c for entry in data.repro.values() for c in entry.claims]
    return {
        "papers": len(data.papers),
        "with_code": sum(1 for p in data.papers if (p.get("links") or {}).get("code")),
        "methods": len(implemented_papers),
        "claims": len(claims),
        "claims_reproduced": sum(1 for c in claims if c.status == "reproduced"),
        "accuracy_reproduced": sum(1 for c in claims if c.status == "reproduced" and c.group == "accuracy"),
        "claims_measured": sum(1 for c in claims if c.measured),
        "papers_reproduced": sum(1 for e in data.repro.values() if e.status == "reproduced"),
    }


def numbers_html(data: SiteData) -> str:
    h = headline(data)
    cards = [
        (h["papers"], "papers in the catalog", "catalog/"),
        (h["with_code"], "with official code", "catalog/?code=yes"),
        (h["methods"], "methods implemented", "methods/"),
        (h["claims_reproduced"], f"of {h['claims']} paper claims reproduced "
         f"({h['accuracy_reproduced']} of them accuracy)", "claims/"),
    ]
    inner = "".join(
        f'<a class="tz-number" href="{href}"><strong>{n}</strong><span>{label}</span></a>' for n, label, href in cards
    )
    return f'<div class="tz-numbers">{inner}</div>'


_FLOPS_KEYS = ("method_gmacs", "gmacs", "method_tflops", "tflops", "method_gflops", "gflops", "flops_method", "flops")


def _flops_of(details: Any) -> tuple[float, str] | None:
    if not isinstance(details, dict):
        return None
    for key in _FLOPS_KEYS:
        value = details.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value), key
    flops = details.get("flops")
    return _flops_of(flops) if isinstance(flops, dict) else None


def accuracy_points(data: SiteData) -> list[dict[str, Any]]:
    """Measured accuracy claims whose record also holds the method's FLOPs; never filled in."""
    points = []
    for paper_id, entry in sorted(data.repro.items()):
        for claim in entry.claims:
            if claim.kind != "accuracy" or claim.measured_value is None or claim.status not in ("reproduced", "deviates"):
                continue
            flops = _flops_of(claim.details)
            if flops is None:
                continue
            points.append({"method": paper_id, "accuracy": claim.measured_value, "flops": flops[0],
                           "accuracy_unit": f"accuracy ({claim.unit})", "flops_unit": flops[1]})
    return points


def stats_page(data: SiteData) -> tuple[str, dict[str, str]]:
    """The stats page Markdown and the plot files it references (docs path -> SVG); a section
    without data is left out."""
    files: dict[str, str] = {}
    papers = data.papers
    page = "stats.md"
    out = ["# Statistics\n", f"Counted from the {len(papers)} papers of the catalog.\n"]

    made, paths = plots.themed("papers-per-year", lambda t: plots.papers_per_year(papers, t, year_of=section_year))
    if paths:
        files.update(made)
        out.append("## Papers per year\n\nEach paper counts once, in the upstream list's section year (the year "
                   "of its first version); a paper with several modalities is its own colour.\n\n"
                   + plots.image_md(page, paths, "Papers per year by modality"))

    made, paths = plots.themed("technique-mix", lambda t: plots.technique_mix(papers, t))
    if paths:
        files.update(made)
        out.append("## Techniques\n\n" + plots.image_md(page, paths, "Technique mix"))

    def count_table(title: str, counts: Counter, meanings: dict[str, str] | None = None) -> str:
        rows = [[md_text(k), str(v), md_text((meanings or {}).get(k, ""))] for k, v in counts.most_common()]
        headers = [title, "Papers"] + (["Meaning"] if meanings else [])
        return table(headers, [r if meanings else r[:2] for r in rows], ["l", "r", "l"][: len(headers)])

    sections = [
        ("By modality", count_table("Modality", Counter(m for p in papers for m in p.get("modality") or []), vocab.MODALITY)),
        ("By technique", count_table("Technique", Counter(t for p in papers for t in p.get("technique") or []), vocab.TECHNIQUE)),
        ("By model family", count_table("Family", Counter(f for p in papers for f in p.get("family") or []), vocab.FAMILY)),
        ("By venue", count_table("Venue", Counter((p.get("venue") or {}).get("name") or "?" for p in papers))),
    ]
    for title, body in sections:
        if body:
            out.append(f"## {title}\n")
            out.append(body)

    if papers:
        with_code = sum(1 for p in papers if (p.get("links") or {}).get("code"))
        free = sum(1 for p in papers if p.get("training_free"))
        def share(n: int) -> str:
            return f"{100 * n / len(papers):.0f}%"

        out.append("## Code and training\n")
        out.append(table(["", "Papers", "Share"], [
            ["With official code", str(with_code), share(with_code)],
            ["Training-free", str(free), share(free)],
        ], ["l", "r", "r"]))

    points = accuracy_points(data)
    made, paths = plots.themed("accuracy-vs-flops", lambda t: plots.accuracy_vs_flops(
        points, t, title="Accuracy measured by tokzoo vs FLOPs"))
    if paths:
        files.update(made)
        out.append("## Measured accuracy vs FLOPs\n\n" + plots.image_md(page, paths, "Measured accuracy vs FLOPs"))
    return "\n".join(out), files
