"""Plots rendered at build time with matplotlib (Agg backend, SVG output), in two themes.

Every plot function takes ``theme`` (``"light"`` or ``"dark"``) and returns the SVG text
(deterministic: no date metadata, fixed hash salt), or ``None`` when there is nothing to plot;
the pages then say so instead of drawing an empty chart. The pages embed both themes with
MkDocs-material's ``#only-light`` / ``#only-dark`` image suffixes, so a plot follows the
reader's colour scheme. Backgrounds are transparent.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any, Sequence

from zoo import vocab

THEMES = ("light", "dark")
# Colour-blind-safe palette (Okabe-Ito without black, plus three), for modalities and methods.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#B8A000", "#8C6D31",
           "#7F7F7F", "#9467BD"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
_INK = {"light": "#212121", "dark": "#e0e0e0"}
_GRID = {"light": "#9e9e9e", "dark": "#757575"}


def _pyplot(theme: str = "light"):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if theme not in THEMES:
        raise ValueError(f"theme={theme!r}; allowed: {', '.join(THEMES)}")
    ink = _INK[theme]
    plt.rcParams.update({
        # glyphs as paths: the browser's fonts differ from matplotlib's, and text set in another
        # font would overflow the tightly cropped figure
        "svg.fonttype": "path",
        "svg.hashsalt": "tokzoo",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.35,
        "grid.color": _GRID[theme],
        "text.color": ink,
        "axes.labelcolor": ink,
        "axes.edgecolor": ink,
        "axes.titlecolor": ink,
        "xtick.color": ink,
        "ytick.color": ink,
        "legend.labelcolor": ink,
        "figure.facecolor": "none",
        "axes.facecolor": "none",
        "savefig.facecolor": "none",
        "savefig.transparent": True,
    })
    return plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "tokzoo"})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def text(value: Any) -> str:
    """Data shown as plot text, literally: matplotlib would read ``$...$`` as mathematics."""
    return str(value).replace("$", r"\$")


def style(index: int) -> dict[str, Any]:
    """Colour and marker of series ``index`` (stable per method across a page's plots)."""
    return {"color": PALETTE[index % len(PALETTE)], "marker": MARKERS[(index // len(PALETTE)) % len(MARKERS)]}


def _legend(ax, n: int) -> None:
    if n:
        ax.legend(frameon=False, fontsize=8.5, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def year_groups(papers: list[dict[str, Any]], year_of=None) -> dict[str, Counter]:
    """Group -> year -> papers, each paper in exactly one group: its modality, or "several
    modalities" (so the stacked bars of a year add up to its number of papers)."""
    year_of = year_of or (lambda p: p.get("year"))
    groups: dict[str, Counter] = {m: Counter() for m in vocab.MODALITY}
    groups["several modalities"] = Counter()
    for p in papers:
        if year_of(p) is None:
            continue
        mods = list(p.get("modality") or [])
        key = mods[0] if len(mods) == 1 else "several modalities"
        groups.setdefault(key, Counter())[year_of(p)] += 1
    return groups


def papers_per_year(papers: list[dict[str, Any]], theme: str = "light", *, year_of=None) -> str | None:
    """Stacked bars: papers per year (each paper counted once), coloured by its modality;
    papers with several modalities form their own "several modalities" part."""
    year_of = year_of or (lambda p: p.get("year"))
    years = sorted({year_of(p) for p in papers if year_of(p) is not None})
    if not years:
        return None
    plt = _pyplot(theme)
    groups = year_groups(papers, year_of)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    bottom = [0] * len(years)
    for i, (group, c) in enumerate(groups.items()):
        heights = [c.get(y, 0) for y in years]
        if not any(heights):
            continue
        ax.bar([str(y) for y in years], heights, bottom=bottom, label=group, color=PALETTE[i % len(PALETTE)])
        bottom = [b + h for b, h in zip(bottom, heights)]
    totals = Counter(year_of(p) for p in papers)
    for x, y in enumerate(years):
        ax.annotate(str(totals[y]), (x, bottom[x]), ha="center", va="bottom", fontsize=9,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_ylabel("papers")
    ax.set_title("Token reduction papers per year (each paper once)")
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="modality")
    ax.margins(y=0.08)
    ax.grid(axis="x", visible=False)
    return _svg(fig)


def technique_mix(papers: list[dict[str, Any]], theme: str = "light") -> str | None:
    """Horizontal bars: papers per technique label (a paper can have several)."""
    counts = Counter(t for p in papers for t in p.get("technique") or [])
    if not counts:
        return None
    plt = _pyplot(theme)
    items = sorted(counts.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(items) + 1.0))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#0072B2")
    for y, (_, v) in enumerate(items):
        ax.annotate(str(v), (v, y), va="center", fontsize=9, xytext=(3, 0), textcoords="offset points")
    ax.set_xlabel("papers (a paper can have several techniques)")
    ax.set_title("Technique mix")
    ax.grid(axis="y", visible=False)
    return _svg(fig)


def speedup_vs_budget(series: dict[str, Sequence[tuple[float, float]]], *, x_label: str, title: str,
                      order: Sequence[str], theme: str = "light", invert_x: bool = True) -> str | None:
    """Lines: theoretical speedup (y) of each method at each budget (x); ``order`` fixes colours."""
    series = {k: sorted(v) for k, v in series.items() if v}
    if not series:
        return None
    plt = _pyplot(theme)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name in [m for m in order if m in series]:
        pts = series[name]
        ax.plot([x for x, _ in pts], [y for _, y in pts], label=text(name), linewidth=1.6, markersize=5,
                **style(list(order).index(name)))
    ax.axhline(1.0, color=_GRID[theme], linewidth=0.8)
    if invert_x:
        ax.invert_xaxis()  # smaller budgets (more reduction) to the right
    ax.set_xlabel(text(x_label))
    ax.set_ylabel("theoretical speedup (baseline cost / method cost)")
    ax.set_title(text(title), fontsize=10)
    _legend(ax, len(series))
    return _svg(fig)


def tokens_per_layer(series: dict[str, Sequence[int]], *, unit: str, title: str, order: Sequence[str],
                     theme: str = "light", x_label: str | None = None) -> str | None:
    """Steps: tokens entering the stack (x = 0) and after every block/layer of each method
    (``x_label`` replaces the axis label where count ``k`` means something else)."""
    series = {k: list(v) for k, v in series.items() if v}
    if not series:
        return None
    plt = _pyplot(theme)
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for name in [m for m in order if m in series]:
        counts = series[name]
        st = style(list(order).index(name))
        # count k holds from x = k to k + 1 (the last one too)
        ax.step(range(len(counts) + 1), [*counts, counts[-1]], where="post", label=text(name), color=st["color"],
                linewidth=1.5)
    ax.set_xlabel(text(x_label or f"{unit} (0 = input; k = after {unit} k)"))
    ax.set_ylabel("tokens")
    ax.set_ylim(bottom=0)
    ax.set_title(text(title), fontsize=10)
    _legend(ax, len(series))
    return _svg(fig)


def measured_vs_theoretical(points: list[dict[str, Any]], *, order: Sequence[str], theme: str = "light") -> str | None:
    """Scatter: measured speedup (y) against theoretical speedup (x) of benchmark records; y = x dashed."""
    points = [p for p in points if p.get("theoretical") and p.get("measured")]
    if not points:
        return None
    plt = _pyplot(theme)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    seen = set()
    for pt in points:
        idx = list(order).index(pt["method"]) if pt["method"] in order else len(order)
        label = text(pt["method"]) if pt["method"] not in seen else None
        seen.add(pt["method"])
        ax.scatter([pt["theoretical"]], [pt["measured"]], label=label, s=30, **style(idx))
    hi = max(max(p["theoretical"], p["measured"]) for p in points) * 1.08
    ax.plot([1, hi], [1, hi], linestyle="--", color=_GRID[theme], linewidth=1, label="measured = theoretical")
    ax.set_xlabel("theoretical speedup (recorded FLOPs ratio)")
    ax.set_ylabel("measured speedup (wall time)")
    ax.set_title("Measured vs theoretical speedup (tokzoo benchmark records)", fontsize=10)
    _legend(ax, 1)
    return _svg(fig)


def accuracy_vs_flops(points: list[dict[str, Any]], theme: str = "light", *,
                      title: str = "Accuracy vs FLOPs") -> str | None:
    """Scatter of accuracy against FLOPs; ``points``: {method, flops, accuracy, flops_unit, accuracy_unit}.

    Only numbers from sources are passed in (the caller never fills gaps); no point, no plot.
    """
    if not points:
        return None
    plt = _pyplot(theme)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    methods = sorted({pt["method"] for pt in points})
    for i, m in enumerate(methods):
        pts = [pt for pt in points if pt["method"] == m]
        ax.scatter([pt["flops"] for pt in pts], [pt["accuracy"] for pt in pts], label=text(m), s=30, **style(i))
    ax.set_xlabel(text(points[0].get("flops_unit") or "FLOPs"))
    ax.set_ylabel(text(points[0].get("accuracy_unit") or "accuracy"))
    ax.set_title(text(title), fontsize=10)
    _legend(ax, len(methods))
    return _svg(fig)


def dark_variant(light_svg: str) -> str:
    """The dark-scheme SVG of a light one: ink and grid colours swapped (the series colours are
    the same in both schemes, so one render serves both)."""
    out = light_svg.replace(_INK["light"], "@@INK@@").replace(_GRID["light"], "@@GRID@@")
    return out.replace("@@INK@@", _INK["dark"]).replace("@@GRID@@", _GRID["dark"])


def themed(name: str, make, folder: str = "assets/plots") -> tuple[dict[str, str], list[str]]:
    """``make("light")`` as both themes: ``({path: svg}, [path_light, path_dark])`` (empty when None)."""
    svg = make("light")
    if svg is None:
        return {}, []
    light, dark = f"{folder}/{name}-light.svg", f"{folder}/{name}-dark.svg"
    return {light: svg, dark: dark_variant(svg)}, [light, dark]


def image_md(page: str, paths: list[str], alt: str) -> str:
    """Markdown of a themed plot: the light image shown in the light scheme, the dark one in the dark."""
    from zoo.site.escape import md_text
    from zoo.site.markdown import rel

    light, dark = paths
    return (f"![{md_text(alt)}]({rel(page, light)}#only-light){{ .tz-plot }}\n"
            f"![{md_text(alt)}]({rel(page, dark)}#only-dark){{ .tz-plot }}\n")
