"""Real-browser tests of the whole site (headless Chromium through playwright), on the hostile
checkout of ``site_fixtures.hostile_root`` built for ``site_url = http://127.0.0.1:<port>/tokzoo/``
and served there, as GitHub Pages serves a project site.

- No dialog fires on any page, nor in the theme's search, although every field that reaches
  HTML (titles, names, venues, authors, links, repro scripts and records, benchmark records)
  carries a script; the ``<title>`` of the method page shows the hostile short name as text.
- Comparison pages: reported and measured columns, plots that load, in both colour schemes.
- Method pages contain no raw Markdown markers; docstring lists render as lists.
- The claims page filters; the 404 page works under the sub-path; the search index is fetched
  once while navigating (instant navigation); the header links the repository without asking
  GitHub's API.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from site_fixtures import CHROMIUM_ARGS, TOME_SHORT_NAME, chromium_path, served_hostile_site

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_path() is None,
                       reason="Chromium is not installed (apt-get install -y chromium); the browser test needs it"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return served_hostile_site(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _context(browser, base, **kw):
    ctx = browser.new_context(**{"viewport": {"width": 1300, "height": 900}, **kw})
    pg = ctx.new_page()
    pg.set_default_timeout(60000)  # generous: a loaded CI machine is slow, this is no speed test
    log = {"dialogs": [], "errors": [], "external": [], "failed": [], "requests": []}
    origin = base.split("/tokzoo")[0]
    pg.on("dialog", lambda d: (log["dialogs"].append(f"{pg.url}: {d.message}"), d.dismiss()))
    pg.on("pageerror", lambda exc: log["errors"].append(f"{pg.url}: {exc}"))
    pg.on("request", lambda r: log["requests"].append(r.url))
    pg.on("request", lambda r: None if r.url.startswith((origin, "data:", "blob:")) else log["external"].append(r.url))
    pg.on("response", lambda r: log["failed"].append(f"{r.status} {r.url}")
          if r.status >= 400 and r.request.resource_type != "document" else None)
    return ctx, pg, log


def _pages(result) -> list[str]:
    """Every built page as a URL path below the site root (``methods/tome/``)."""
    out = []
    for path in sorted(result.html.rglob("index.html")):
        rel = path.parent.relative_to(result.html).as_posix()
        out.append("" if rel == "." else rel + "/")
    return out


_MARKERS = re.compile(r"\*\*\S[^*]*?\*\*|(?<![\w*])\*[^\s*][^*]*?[^\s*]\*(?![\w*])|`")
_TEXT_OUTSIDE_CODE = """() => {
    const a = document.querySelector('article').cloneNode(true);
    a.querySelectorAll('code, pre, .highlight, script').forEach(e => e.remove());
    return a.textContent; }"""


def test_no_dialog_on_any_page_nor_in_the_search_and_no_raw_markdown_on_method_pages(browser, site):
    base, result = site
    ctx, pg, log = _context(browser, base)
    try:
        pages = _pages(result)
        assert {"", "catalog/", "claims/", "methods/tome/", "compare/"} <= set(pages)
        methods = [p for p in pages if p.startswith("methods/") and p != "methods/"]
        assert len(methods) == len(result.data.methods)
        for path in pages:
            pg.goto(f"{base}/{path}", wait_until="domcontentloaded")
            if path in methods:  # docstrings rendered: no literal **, *, backticks outside code
                text = pg.evaluate(_TEXT_OUTSIDE_CODE)
                assert not _MARKERS.search(text), (path, _MARKERS.search(text).group(0))
                assert {"Type", "Default", "Description"} <= set(
                    pg.eval_on_selector_all("article th", "els => els.map(e => e.textContent.trim())"))
        pg.goto(f"{base}/no-such-page/", wait_until="load")  # the 404 page
        # the theme's search renders titles and text of every page
        pg.goto(f"{base}/")
        pg.click("input.md-search__input")
        for word in ("script", "title", "onerror", "tome"):
            pg.fill("input.md-search__input", word)
            pg.wait_for_function("() => /matching/.test(document.querySelector('.md-search-result__meta').textContent)")
        pg.wait_for_timeout(300)
        assert pg.evaluate("window.__pwned") is None
        assert log["dialogs"] == [] and log["errors"] == [] and log["external"] == []
    finally:
        ctx.close()


def test_hostile_short_name_is_text_in_title_heading_and_navigation(browser, site):
    base, _ = site
    ctx, pg, log = _context(browser, base)
    try:
        pg.goto(f"{base}/methods/tome/")
        assert pg.title() == f"{TOME_SHORT_NAME} - tokzoo"
        assert pg.text_content("article h1").startswith(TOME_SHORT_NAME + ": Token Merging")
        nav = pg.eval_on_selector_all(".md-nav__link", "els => els.map(e => e.textContent.trim())")
        assert TOME_SHORT_NAME in nav
        assert pg.eval_on_selector_all("script:not([src])", "els => els.filter(e => /alert/.test(e.text)).length") == 0
        assert log["dialogs"] == []
    finally:
        ctx.close()


def test_support_matrix_page_and_runs_on_show_hostile_cells_as_text(browser, site):
    from site_fixtures import hostile

    base, _ = site
    ctx, pg, log = _context(browser, base)
    try:
        pg.goto(f"{base}/support/")
        text = pg.text_content("article")
        for tag in ("support-reason", "support-method", "support-runtime", "support-reason2", "support-serves2"):
            assert hostile(tag) in text, tag
        heads = pg.eval_on_selector_all("article table th", "els => els.map(e => e.textContent.trim())")
        assert {"timm-vit", "llava", "qwen2.5-vl", "diffusers-unet"} <= set(heads)
        pg.goto(f"{base}/methods/tome/")
        runs_on = pg.text_content("article")
        assert "Runs on" in runs_on and hostile("support-reason") in runs_on and hostile("support-class") in runs_on
        assert log["dialogs"] == [] and log["errors"] == []
    finally:
        ctx.close()


def test_docstring_lists_stay_lists_titles_do_not_repeat_names_badges_keep_their_size(browser, site):
    base, _ = site
    ctx, pg, log = _context(browser, base)
    try:
        pg.goto(f"{base}/methods/sparsevlm/")
        assert pg.eval_on_selector_all("article ol > li strong", "els => els.map(e => e.textContent)")[:3] == [
            "Raters", "Sparsify", "Recycle"]
        # the title does not repeat the short name ("SparseVLM: SparseVLM: ...")
        assert not pg.text_content("article h1").startswith("SparseVLM: SparseVLM")
        sizes = pg.eval_on_selector_all("article img.tz-badge", "els => els.map(e => [e.width, e.naturalWidth])")
        assert sizes and all(w == n for w, n in sizes)
        assert log["dialogs"] == [] and log["failed"] == []
    finally:
        ctx.close()


def _plots_loaded(pg) -> list[tuple[str, bool, int]]:
    return pg.eval_on_selector_all(
        "article img.tz-plot",
        "els => els.map(e => [e.getAttribute('src'), e.offsetParent !== null, e.naturalWidth])")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_comparison_pages_show_reported_and_measured_numbers_and_plots(browser, site, scheme):
    base, result = site
    ctx, pg, log = _context(browser, base, color_scheme=scheme)
    try:
        pages = [p for p in _pages(result) if p.startswith("compare/") and p != "compare/"]
        assert {"compare/vit/", "compare/vlm/", "compare/video-llm/", "compare/diffusion/"} <= set(pages)
        for path in pages:
            pg.goto(f"{base}/{path}")
            heads = pg.eval_on_selector_all("article th", "els => els.map(e => e.textContent.trim())")
            if not pg.query_selector("article .tz-no-claims"):  # a family whose papers have no sourced claim says so
                assert "Reported (paper)" in heads and "Source" in heads, path
            plots = _plots_loaded(pg)
            shown = [p for p in plots if p[1]]
            # every plot exists in both schemes; the one of the current scheme is shown and loaded
            assert plots and len(shown) * 2 == len(plots), path
            assert all(src.endswith(f"-{scheme}.svg#only-{scheme}") and width > 0 for src, _, width in shown), shown
        pg.goto(f"{base}/compare/vit/")
        text = pg.text_content("article")
        assert "Theoretical speedup vs budget" in text and "Measured by tokzoo" in text and "random weights" in text
        assert "ToFu" in text and "random (control)" in text
        # a measured column carries tokzoo's number next to the paper's (ViT speed records exist)
        rows = pg.eval_on_selector_all("article table tr", "els => els.map(e => e.textContent)")
        assert any("ToMe" in r or "tome" in r.lower() for r in rows)
        assert log["dialogs"] == [] and log["failed"] == [] and log["external"] == []
    finally:
        ctx.close()


def test_claims_page_filters_by_kind_and_status(browser, site):
    base, result = site
    ctx, pg, log = _context(browser, base)
    try:
        pg.goto(f"{base}/claims/")
        total = pg.eval_on_selector_all("#tz-claims tbody tr", "els => els.length")
        n_claims = sum(len(e.claims) for e in result.data.repro.values())
        assert total == n_claims and pg.text_content("#tz-claims .tz-count") == f"Showing all {total} claims"
        pg.select_option("#tz-claims select[name=group]", "accuracy")
        visible = pg.eval_on_selector_all("#tz-claims tbody tr:not([hidden])", "els => els.map(e => e.dataset.group)")
        expected = sum(1 for e in result.data.repro.values() for c in e.claims if c.group == "accuracy")
        assert visible == ["accuracy"] * expected and expected > 0
        assert "group=accuracy" in pg.url
        heads = pg.eval_on_selector_all("#tz-claims th", "els => els.map(e => e.textContent)")
        assert heads[3:6] == ["Reported (paper)", "Passes if", "Measured (tokzoo)"]
        assert log["dialogs"] == [] and log["failed"] == []
    finally:
        ctx.close()


def test_sub_path_404_page_sitemap_instant_navigation_and_repository_link(browser, site):
    base, result = site
    ctx, pg, log = _context(browser, base)
    try:
        pg.goto(f"{base}/this/page/does/not/exist/")
        assert "404" in pg.text_content("article")
        assert log["failed"] == []  # its stylesheets and scripts load from the sub-path
        sitemap = (result.html / "sitemap.xml").read_text(encoding="utf-8")
        locs = re.findall(r"<loc>(.*?)</loc>", sitemap)
        assert locs and all(loc.startswith(base + "/") for loc in locs)

        log["requests"].clear()
        pg.goto(f"{base}/")
        pg.wait_for_load_state("networkidle")
        pg.evaluate("window.__tz_same_document = 1")
        for tab in ("Methods", "Compare", "Catalog"):
            pg.click(f".md-tabs__link:text-is('{tab}')")
            pg.wait_for_load_state("networkidle")
        assert pg.evaluate("window.__tz_same_document") == 1  # instant navigation: no full reload
        pg.wait_for_selector("#tz-catalog tbody tr")  # the catalog script runs after an instant page swap
        index = [u for u in log["requests"] if u.endswith("search/search_index.json")]
        assert len(index) == 1, index

        link = pg.get_attribute(".md-header .md-source", "href")
        assert link == "https://github.com/example/tokzoo"
        assert not [u for u in log["requests"] if "api.github.com" in u]
        assert log["dialogs"] == []
    finally:
        ctx.close()


def test_pages_fit_a_phone_without_sideways_scrolling(browser, site):
    base, _ = site
    ctx, pg, log = _context(browser, base, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        for path in ("", "compare/vlm/", "methods/sparsevlm/", "claims/", "stats/"):
            pg.goto(f"{base}/{path}")
            width = pg.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
            assert width <= 390, (path, width)
        assert log["dialogs"] == []
    finally:
        ctx.close()


def test_the_built_tree_has_no_element_or_attribute_from_catalog_text(site):
    """Parsed as HTML, no page has an event-handler attribute or a script that the hostile
    strings brought in (they occur only as text, in attribute values and in escaped JSON)."""
    from html.parser import HTMLParser

    class Scan(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.bad, self.in_script = [], False

        def handle_starttag(self, tag, attrs):
            # a JSON data element is never executed; its text is escaped JSON (zoo.site.escape)
            self.in_script = tag == "script" and dict(attrs).get("type") != "application/json"
            self.bad += [f"<{tag} {k}=...>" for k, _ in attrs if k.startswith("on")]
            if tag == "img" and dict(attrs).get("src") == "x":
                self.bad.append("<img src=x>")

        def handle_data(self, data):
            if self.in_script and "alert(" in data:
                self.bad.append(f"script: {data[:80]}")

        def handle_endtag(self, tag):
            self.in_script = False

    _, result = site
    for page in Path(result.html).rglob("*.html"):
        scan = Scan()
        scan.feed(page.read_text(encoding="utf-8"))
        assert scan.bad == [], (page, scan.bad[:3])
