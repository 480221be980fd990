"""The home page numbers and the statistics page (tables + matplotlib plots)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from zoo import vocab
from zoo.site import plots
from zoo.site.data import SiteData
from zoo.site.escape import md_text
from zoo.site.markdown import table

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
        "claims_measured": sum(1 for c in claims if c.measured),
        "papers_reproduced": sum(1 for e in data.repro.values() if e.status == "reproduced"),
    }


def numbers_html(data: SiteData) -> str:
    h = headline(data)
    cards = [
        (h["papers"], "papers in the catalog", "catalog/"),
        (h["with_code"], "with official code", "catalog/?code=yes"),
        (h["methods"], "methods implemented", "methods/"),
        (h["claims_reproduced"], f"of {h['claims']} paper claims reproduced", "methods/"),
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
    """The stats page Markdown and the plot files it references (docs path -> SVG)."""
    files: dict[str, str] = {}
    papers = data.papers
    out = ["# Statistics\n", f"Counted from the {len(papers)} papers of the catalog.\n"]

    per_year = plots.papers_per_year(papers)
    if per_year:
        files[f"{PLOT_DIR}/papers-per-year.svg"] = per_year
        out.append("## Papers per year\n\n![Papers per year by modality](assets/plots/papers-per-year.svg)\n")

    mix = plots.technique_mix(papers)
    if mix:
        files[f"{PLOT_DIR}/technique-mix.svg"] = mix
        out.append("## Techniques\n\n![Technique mix](assets/plots/technique-mix.svg)\n")

    def count_table(title: str, counts: Counter, meanings: dict[str, str] | None = None) -> str:
        rows = [[md_text(k), str(v), md_text((meanings or {}).get(k, ""))] for k, v in counts.most_common()]
        headers = [title, "Papers"] + (["Meaning"] if meanings else [])
        return table(headers, [r if meanings else r[:2] for r in rows], ["l", "r", "l"][: len(headers)])

    out.append("## By modality\n")
    out.append(count_table("Modality", Counter(m for p in papers for m in p.get("modality") or []), vocab.MODALITY))
    out.append("## By technique\n")
    out.append(count_table("Technique", Counter(t for p in papers for t in p.get("technique") or []), vocab.TECHNIQUE))
    out.append("## By model family\n")
    out.append(count_table("Family", Counter(f for p in papers for f in p.get("family") or []), vocab.FAMILY))
    out.append("## By venue\n")
    out.append(count_table("Venue", Counter((p.get("venue") or {}).get("name") or "?" for p in papers)))

    with_code = sum(1 for p in papers if (p.get("links") or {}).get("code"))
    free = sum(1 for p in papers if p.get("training_free"))
    share = (lambda n: f"{100 * n / len(papers):.0f}%") if papers else (lambda n: "–")
    out.append("## Code and training\n")
    out.append(table(["", "Papers", "Share"], [
        ["With official code", str(with_code), share(with_code)],
        ["Training-free", str(free), share(free)],
    ], ["l", "r", "r"]))

    out.append("## Measured accuracy vs FLOPs\n")
    points = accuracy_points(data)
    scatter = plots.accuracy_vs_flops(points)
    if scatter:
        files[f"{PLOT_DIR}/accuracy-vs-flops.svg"] = scatter
        out.append("![Measured accuracy vs FLOPs](assets/plots/accuracy-vs-flops.svg)\n")
    else:
        out.append(
            "No accuracy has been measured together with FLOPs yet: accuracy claims need "
            "pretrained weights and datasets (`tokzoo repro` on a machine that has them). "
            "Nothing is plotted until a measured result exists.\n"
        )
    return "\n".join(out), files
