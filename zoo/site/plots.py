"""Statistics plots rendered at build time with matplotlib (Agg backend, SVG output).

Each function returns the SVG text (deterministic: no date metadata, fixed hash salt) or
``None`` when there is nothing to plot; the stats page then says so instead of drawing an
empty chart.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from zoo import vocab

# Colour-blind-safe palette (Okabe-Ito), one colour per modality in vocabulary order.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none",  # text stays text (smaller, selectable, site font)
        "svg.hashsalt": "tokzoo",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
    })
    return plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "tokzoo"})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def papers_per_year(papers: list[dict[str, Any]]) -> str | None:
    """Stacked bars: papers per year, split by modality (a paper counts once per modality)."""
    years = sorted({p["year"] for p in papers if p.get("year") is not None})
    if not years:
        return None
    plt = _pyplot()
    counts = {m: Counter() for m in vocab.MODALITY}
    for p in papers:
        for m in p.get("modality") or []:
            counts.setdefault(m, Counter())[p.get("year")] += 1
    fig, ax = plt.subplots(figsize=(8, 3.8))
    bottom = [0] * len(years)
    for i, (modality, c) in enumerate(counts.items()):
        heights = [c.get(y, 0) for y in years]
        if not any(heights):
            continue
        ax.bar([str(y) for y in years], heights, bottom=bottom, label=modality, color=PALETTE[i % len(PALETTE)])
        bottom = [b + h for b, h in zip(bottom, heights)]
    totals = Counter(p.get("year") for p in papers)
    for x, y in enumerate(years):
        ax.annotate(str(totals[y]), (x, bottom[x]), ha="center", va="bottom", fontsize=9,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_ylabel("papers (per modality label)")
    ax.set_title("Token reduction papers per year, by modality")
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="modality")
    ax.margins(y=0.08)
    ax.grid(axis="x", visible=False)
    return _svg(fig)


def technique_mix(papers: list[dict[str, Any]]) -> str | None:
    """Horizontal bars: how many papers use each technique label."""
    counts = Counter(t for p in papers for t in (p.get("technique") or []))
    if not counts:
        return None
    plt = _pyplot()
    items = sorted(counts.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(items) + 1))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#0072B2")
    for y, (_, v) in enumerate(items):
        ax.annotate(str(v), (v, y), va="center", fontsize=9, xytext=(3, 0), textcoords="offset points")
    ax.set_xlabel("papers (a paper can have several techniques)")
    ax.set_title("Technique mix")
    ax.grid(axis="y", visible=False)
    return _svg(fig)


def accuracy_vs_flops(points: list[dict[str, Any]]) -> str | None:
    """Scatter of measured accuracy against FLOPs; ``points``: {method, flops, accuracy, label}.

    Only measured points are passed in (the caller never fills gaps); fewer than one point
    means no plot.
    """
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    methods = sorted({pt["method"] for pt in points})
    for i, m in enumerate(methods):
        pts = [pt for pt in points if pt["method"] == m]
        ax.scatter([pt["flops"] for pt in pts], [pt["accuracy"] for pt in pts], label=m,
                   color=PALETTE[i % len(PALETTE)])
    ax.set_xlabel(points[0].get("flops_unit") or "FLOPs")
    ax.set_ylabel(points[0].get("accuracy_unit") or "accuracy")
    ax.set_title("Measured accuracy vs FLOPs")
    ax.legend(frameon=False, fontsize=9)
    return _svg(fig)
