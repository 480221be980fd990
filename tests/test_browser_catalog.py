"""Real-browser test of the catalog page: headless Chromium (Debian's ``chromium``) driven by
playwright loads the built site from a local HTTP server on 127.0.0.1, filters by
modality=video, searches, follows the shareable URL, sorts, and compares the visible rows
with the catalog. Catalog text must render as text (no injected script runs).

Skips only when /usr/bin/chromium is missing (install: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from site_fixtures import MALICIOUS_ID, MALICIOUS_TITLE, build_site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
                       reason="Chromium is not installed (apt-get install -y chromium); the browser test needs it"),
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The built site served on 127.0.0.1 (ephemeral port); yields (base URL, papers)."""
    tmp = tmp_path_factory.mktemp("browser-site")
    result = build_site(tmp)
    papers = yaml.safe_load((tmp / "catalog.yaml").read_text(encoding="utf-8"))["papers"]
    for p in papers:  # schema_version 2 names it section_year; the site's data keeps 'year' as its alias
        p.setdefault("year", p.get("section_year"))
    handler = functools.partial(_QuietHandler, directory=str(result.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", papers
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    # playwright gives every launch a fresh temporary profile (it rejects --user-data-dir here)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                              args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, served):
    base, _ = served
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("request", lambda req: None if req.url.startswith(base) or req.url.startswith("data:")
          else problems.append(f"external request: {req.url}"))
    pg.problems = problems
    yield pg
    context.close()


def _haystack(p: dict) -> str:
    """What the catalog script searches: the same fields, lower-cased."""
    from zoo.site.markdown import venue_text

    parts = [p["title"], p.get("short_name"), p["id"], p.get("arxiv"), venue_text(p), p.get("year"),
             *p["modality"], *p["technique"], *p["family"]]
    return " \u0001 ".join(str(x) for x in parts if x is not None).lower()


def _visible_ids(pg) -> list[str]:
    return pg.eval_on_selector_all("#tz-catalog tbody tr", "rows => rows.map(r => r.dataset.id)")


def _open_catalog(pg, base: str, query: str = "") -> None:
    pg.goto(f"{base}/catalog/{query}")
    pg.wait_for_selector("#tz-catalog tbody tr")


def test_filter_video_then_search_matches_the_catalog(page, served):
    base, papers = served
    _open_catalog(page, base)
    assert sorted(_visible_ids(page)) == sorted(p["id"] for p in papers)

    page.select_option("select[name=modality]", "video")
    video = [p for p in papers if "video" in p["modality"]]
    assert video, "the test catalog has video papers"
    assert sorted(_visible_ids(page)) == sorted(p["id"] for p in video)
    assert parse_qs(urlsplit(page.url).query)["modality"] == ["video"]

    # Search a word from a video paper's name; the expected rows are computed from the catalog.
    named = sorted((p for p in video if p.get("short_name") and p["id"] != MALICIOUS_ID), key=lambda p: p["id"])
    term = (named[0]["short_name"] if named else video[0]["title"].split()[0]).lower()
    page.fill("#tz-catalog input[type=search]", term)
    expected = sorted(p["id"] for p in video if term in _haystack(p))
    page.wait_for_function(
        "n => document.querySelectorAll('#tz-catalog tbody tr').length === n", arg=len(expected)
    )
    assert sorted(_visible_ids(page)) == expected
    assert parse_qs(urlsplit(page.url).query)["search"] == [term]
    count = page.text_content(".tz-count")
    assert f"Showing {len(expected)} of {len(papers)} papers" == count

    # The address bar holds the state: opening it fresh shows the same rows and controls.
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    page.wait_for_selector("#tz-catalog tbody tr")
    assert sorted(_visible_ids(page)) == expected
    assert page.input_value("select[name=modality]") == "video"
    assert page.input_value("#tz-catalog input[type=search]") == term
    # the theme's own search overlay must not open on the catalog's parameters
    assert not page.is_checked("#__search")
    assert page.problems == []


def test_sorting_by_year_ascending_and_back(page, served):
    base, papers = served
    _open_catalog(page, base)
    year_of = {p["id"]: p["year"] for p in papers}
    years = [year_of[i] for i in _visible_ids(page)]
    assert years == sorted(years, reverse=True)  # default: newest first
    page.click("th.tz-col-year button")
    years = [year_of[i] for i in _visible_ids(page)]
    assert years == sorted(years)
    assert page.get_attribute("th.tz-col-year", "aria-sort") == "ascending"
    assert "sort=year" in page.url and "dir=asc" in page.url
    assert page.problems == []


def test_hostile_catalog_text_is_shown_as_text(page, served):
    base, _ = served
    _open_catalog(page, base, f"?search={MALICIOUS_ID}")
    assert _visible_ids(page) == [MALICIOUS_ID]
    title = page.text_content(f'#tz-catalog tr[data-id="{MALICIOUS_ID}"] .tz-title')
    assert title == MALICIOUS_TITLE
    assert page.evaluate("window.__pwned") is None
    assert page.eval_on_selector_all("#tz-catalog tbody img[src='x']", "els => els.length") == 0
    assert page.problems == []
