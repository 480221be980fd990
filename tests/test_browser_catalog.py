"""Real-browser tests of the catalog page: headless Chromium (Debian's ``chromium``) driven by
playwright loads the built site (the checkout's catalog plus hostile entries, see
``site_fixtures.hostile_root``) from a local HTTP server under a sub-path.

Covered: multi-value filters (OR within a filter, AND across) with counts that follow the
other filters; search by arXiv id, author, prefix and the CLI's wildcards; the shareable URL;
sorting; the sticky header; BibTeX/CSV export of the filtered list; the phone layout (390 px,
no sideways overflow, filters collapsed); hostile catalog text shown as text.

Skips only when /usr/bin/chromium is missing (install: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import csv
import fnmatch
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from site_fixtures import (
    CHROMIUM_ARGS,
    FASTV_AUTHORS,
    MALICIOUS_ID,
    MALICIOUS_TITLE,
    chromium_path,
    hostile_catalog_papers,
    served_hostile_site,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_path() is None,
                       reason="Chromium is not installed (apt-get install -y chromium); the browser test needs it"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base, _ = served_hostile_site(tmp_path_factory)
    return base, hostile_catalog_papers()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # playwright gives every launch a fresh temporary profile (it rejects --user-data-dir here)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser, base, **context):
    ctx = browser.new_context(**{"viewport": {"width": 1400, "height": 900}, **context})
    pg = ctx.new_page()
    pg.set_default_timeout(15000)
    problems: list[str] = []
    origin = base.split("/tokzoo")[0]
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("request", lambda req: None if req.url.startswith(origin) or req.url.startswith(("data:", "blob:"))
          else problems.append(f"external request: {req.url}"))
    pg.problems = problems
    return ctx, pg


@pytest.fixture()
def page(browser, served):
    ctx, pg = _page(browser, served[0], accept_downloads=True)
    yield pg
    ctx.close()


# ---------------------------------------------------------------- the documented search rules, in Python
def _words(text: str) -> list[str]:
    out = []
    for w in re.split(r"[\s,;:()\[\]{}\"'!?/|+]+", str(text)):
        if not w:
            continue
        out.append(w.lower())
        for part in re.split(r"[.\-_]+", w):
            if part:
                out.append(part.lower())
                out += [c.lower() for c in re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", part).split(" ") if c]
    return out


def _venue(p: dict) -> str:
    from zoo.site.markdown import venue_text

    return venue_text(p)


def _term_matches(term: str, p: dict) -> bool:
    fields = [p["title"], p.get("short_name"), p["id"], p.get("arxiv"), _venue(p), *(p.get("authors") or []),
              *p["modality"], *p["technique"], *p["family"]]
    words = [w for f in fields if f for w in _words(f)]
    if re.search(r"[*?\[]", term):
        whole = [str(x).lower() for x in (p["id"], p.get("short_name"), p.get("arxiv"), p["title"],
                                          *(p.get("authors") or [])) if x]
        return any(fnmatch.fnmatchcase(w, term) for w in whole + words)
    return any(w.startswith(term) for w in words)


def _search(papers: list[dict], query: str) -> list[str]:
    terms = query.lower().split()
    return sorted(p["id"] for p in papers if all(_term_matches(t, p) for t in terms))


def _visible_ids(pg) -> list[str]:
    return pg.eval_on_selector_all("#tz-catalog tbody tr", "rows => rows.map(r => r.dataset.id)")


def _open_catalog(pg, base: str, query: str = "") -> None:
    pg.goto(f"{base}/catalog/{query}")
    pg.wait_for_selector("#tz-catalog tbody tr")


def _search_for(pg, text: str, expected: list[str]) -> None:
    pg.fill("#tz-catalog input[type=search]", text)
    pg.wait_for_function("n => document.querySelectorAll('#tz-catalog tbody tr').length === n", arg=len(expected))
    assert sorted(_visible_ids(pg)) == expected, text


def _tick(pg, facet: str, value: str) -> None:
    details = pg.locator(f'.tz-facet[data-facet="{facet}"]')
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    details.locator(f'input[value="{value}"]').check()


def _count_of(pg, facet: str, value: str) -> int:
    return int(pg.text_content(f'.tz-facet[data-facet="{facet}"] input[value="{value}"] ~ .tz-option-count'))


def test_multi_value_filters_and_counts_follow_the_other_filters(page, served):
    base, papers = served
    _open_catalog(page, base)
    assert sorted(_visible_ids(page)) == sorted(p["id"] for p in papers)

    _tick(page, "modality", "video")
    _tick(page, "modality", "audio")  # alternatives within one filter
    vid_aud = [p for p in papers if {"video", "audio"} & set(p["modality"])]
    page.wait_for_function("n => document.querySelectorAll('#tz-catalog tbody tr').length === n", arg=len(vid_aud))
    assert sorted(_visible_ids(page)) == sorted(p["id"] for p in vid_aud)
    assert parse_qs(urlsplit(page.url).query)["modality"] == ["video,audio"]

    # counts: each technique value counts the papers the current filters leave with it;
    # each modality value counts what choosing it would add (the modality filter itself ignored)
    merging = sum(1 for p in vid_aud if "merging" in p["technique"])
    assert _count_of(page, "technique", "merging") == merging
    _tick(page, "technique", "merging")  # different filters must all hold
    both = [p for p in vid_aud if "merging" in p["technique"]]
    page.wait_for_function("n => document.querySelectorAll('#tz-catalog tbody tr').length === n", arg=len(both))
    assert sorted(_visible_ids(page)) == sorted(p["id"] for p in both)
    assert _count_of(page, "modality", "image") == sum(1 for p in papers if "image" in p["modality"]
                                                        and "merging" in p["technique"])
    assert _count_of(page, "free", "yes") == sum(1 for p in both if p["training_free"])
    assert page.text_content(".tz-count") == f"Showing {len(both)} of {len(papers)} papers"

    # the address bar holds the state: opening it fresh shows the same rows and ticks
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    page.wait_for_selector("#tz-catalog tbody tr")
    assert sorted(_visible_ids(page)) == sorted(p["id"] for p in both)
    assert page.is_checked('.tz-facet[data-facet="modality"] input[value="audio"]')
    assert not page.is_checked("#__search")  # the theme's search overlay does not open on our parameters
    assert page.problems == []


def test_search_by_arxiv_id_author_prefix_and_wildcards(page, served):
    base, papers = served
    _open_catalog(page, base)
    fastv = next(p for p in papers if p["id"] == "fastv")
    _search_for(page, fastv["arxiv"], ["fastv"])
    _search_for(page, fastv["arxiv"][:7], _search(papers, fastv["arxiv"][:7]))  # an id prefix
    surname = FASTV_AUTHORS[1].split()[-1]
    _search_for(page, surname.lower()[:4], _search(papers, surname.lower()[:4]))  # an author, by prefix
    assert "fastv" in _visible_ids(page)
    for query in ("fast", "fast*", "fas?v", "*zip", "tok* merg", "[fg]astv"):
        expected = _search(papers, query)
        assert expected, query
        _search_for(page, query, expected)
    assert "fastv" in _search(papers, "fas?v") and "visionzip" in _search(papers, "*zip")
    _search_for(page, "nothing-matches-this-zzz", [])
    assert page.is_visible(".tz-empty")
    assert parse_qs(urlsplit(page.url).query)["search"] == ["nothing-matches-this-zzz"]
    assert page.problems == []


def test_sorting_by_year_ascending_and_back(page, served):
    base, papers = served
    _open_catalog(page, base)
    year_of = {p["id"]: p.get("section_year", p.get("year")) for p in papers}
    years = [year_of[i] for i in _visible_ids(page)]
    assert years == sorted(years, reverse=True)  # default: newest first
    page.click("th.tz-col-year button")
    years = [year_of[i] for i in _visible_ids(page)]
    assert years == sorted(years)
    assert page.get_attribute("th.tz-col-year", "aria-sort") == "ascending"
    assert "sort=year" in page.url and "dir=asc" in page.url
    assert "section year" in (page.get_attribute("th.tz-col-year", "title") or "")
    assert page.problems == []


def test_the_header_row_sticks_below_the_site_header(page, served):
    base, _ = served
    _open_catalog(page, base)
    page.mouse.wheel(0, 3000)
    page.wait_for_function("() => window.scrollY > 2000")
    header_bottom = page.evaluate("document.querySelector('.md-header').getBoundingClientRect().bottom")
    th_top = page.evaluate("document.querySelector('#tz-catalog thead th').getBoundingClientRect().top")
    assert abs(th_top - header_bottom) <= 2, (th_top, header_bottom)


def test_export_of_the_filtered_list_as_bibtex_and_csv(page, served):
    base, papers = served
    _open_catalog(page, base, "?modality=video")
    video = sorted(p["id"] for p in papers if "video" in p["modality"])
    with page.expect_download() as info:
        page.click("button[data-export=csv]")
    text = open(info.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["id"] for r in rows) == video
    assert next(r for r in rows if r["id"] == MALICIOUS_ID)["title"] == MALICIOUS_TITLE
    with page.expect_download() as info:
        page.click("button[data-export=bibtex]")
    bib = open(info.value.path(), encoding="utf-8").read()
    keys = sorted(re.findall(r"^@\w+\{([^,]+),", bib, re.M))
    assert keys == video
    assert page.problems == []


def test_phone_layout_has_no_sideways_overflow_and_collapsed_filters(browser, served):
    base, papers = served
    ctx, pg = _page(browser, base, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        _open_catalog(pg, base)
        width = "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        assert pg.evaluate(width) <= 390
        assert pg.get_attribute(".tz-filters", "open") is None  # collapsed on a phone
        assert not pg.is_visible("#tz-catalog thead th")  # cards instead of columns
        pg.click(".tz-filters > summary")
        pg.locator('.tz-facet[data-facet="technique"] summary').click()
        assert pg.evaluate(width) <= 390
        pg.locator('.tz-facet[data-facet="technique"] input[value="merging"]').check()
        expected = sorted(p["id"] for p in papers if "merging" in p["technique"])
        pg.wait_for_function("n => document.querySelectorAll('#tz-catalog tbody tr').length === n", arg=len(expected))
        assert pg.evaluate(width) <= 390
        pg.locator('.tz-facet[data-facet="technique"] input[value="merging"]').uncheck()
        card = pg.locator(f'#tz-catalog tr[data-id="{MALICIOUS_ID}"]')
        pg.fill("#tz-catalog input[type=search]", MALICIOUS_ID)
        card.wait_for()
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert pg.problems == []
    finally:
        ctx.close()


def test_hostile_catalog_text_is_shown_as_text(page, served):
    base, _ = served
    _open_catalog(page, base, f"?search={MALICIOUS_ID}")
    assert _visible_ids(page) == [MALICIOUS_ID]
    title = page.text_content(f'#tz-catalog tr[data-id="{MALICIOUS_ID}"] .tz-title')
    assert title == MALICIOUS_TITLE
    assert page.evaluate("window.__pwned") is None
    assert page.eval_on_selector_all("#tz-catalog tbody img[src='x']", "els => els.length") == 0
    assert page.problems == []
