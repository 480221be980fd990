"""The whole site builds with ``mkdocs build --strict`` from the catalog (plus a hostile
entry), shows every catalog entry, has no broken internal link, loads nothing from the
network, and renders hostile catalog text as text.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from xml.etree import ElementTree

import pytest
import yaml

from site_fixtures import MALICIOUS_ID, MALICIOUS_NAME, MALICIOUS_TITLE, build_site


class _Page(HTMLParser):
    """Collects link targets, element ids, script elements and text of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.ids: set[str] = set()
        self.scripts: list[dict[str, str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "script":
            self.scripts.append(a)
        for attr in ("href", "src"):
            if attr in a:
                self.links.append((tag, attr, a[attr]))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def catalog_ids(site):
    data = yaml.safe_load((site.out.parent / "catalog.yaml").read_text(encoding="utf-8"))
    return [p["id"] for p in data["papers"]]


@pytest.fixture(scope="module")
def pages(site):
    return {p: _parse(p) for p in sorted(site.html.rglob("*.html"))}


def _embedded_rows(site) -> list[dict]:
    text = (site.html / "catalog" / "index.html").read_text(encoding="utf-8")
    match = re.search(r'<div id="tz-catalog-data" hidden data-json="([^"]*)"></div>', text)
    assert match, "the catalog page has no embedded data element"
    return json.loads(html.unescape(match.group(1)))["rows"]


def test_every_catalog_entry_is_in_the_catalog_table_data(site, catalog_ids):
    rows = _embedded_rows(site)
    assert sorted(r["id"] for r in rows) == sorted(catalog_ids)
    assert len(rows) == len(set(r["id"] for r in rows))


def test_every_catalog_entry_is_on_its_static_year_page(site, catalog_ids):
    data = yaml.safe_load((site.out.parent / "catalog.yaml").read_text(encoding="utf-8"))
    missing = []
    for paper in data["papers"]:
        page = site.html / "year" / str(paper.get("section_year", paper.get("year"))) / "index.html"
        text = html.unescape(page.read_text(encoding="utf-8"))
        if paper["title"] not in text or paper["links"]["paper"] not in text:
            missing.append(paper["id"])
    assert missing == []


def test_every_modality_has_a_page_listing_its_papers(site):
    data = yaml.safe_load((site.out.parent / "catalog.yaml").read_text(encoding="utf-8"))
    for modality in {m for p in data["papers"] for m in p["modality"]}:
        text = html.unescape((site.html / "modality" / modality / "index.html").read_text(encoding="utf-8"))
        expected = [p for p in data["papers"] if modality in p["modality"]]
        assert f"({len(expected)} papers)" in text
        assert all(p["links"]["paper"] in text for p in expected)


def test_internal_links_and_anchors_resolve(site, pages):
    root = site.html
    broken = []
    for path, page in pages.items():
        base = "/" + path.relative_to(root).as_posix()
        for tag, attr, url in page.links:
            assert not url.strip().lower().startswith("javascript:"), f"{path}: {tag} {attr}={url!r}"
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "mailto", "data") or url.startswith("//"):
                continue
            target = urlsplit(urljoin(base, url))
            file = root / unquote(target.path).lstrip("/")
            if target.path.endswith("/") or file.is_dir():
                file = file / "index.html"
            if not file.is_file():
                broken.append(f"{base}: {tag}[{attr}]={url}")
                continue
            if target.fragment and file.suffix == ".html":
                target_page = pages.get(file) or _parse(file)
                if unquote(target.fragment) not in target_page.ids:
                    broken.append(f"{base}: {url} (no id {target.fragment!r})")
    assert broken == []


def test_nothing_is_loaded_from_the_network(pages):
    external = []
    for path, page in pages.items():
        for tag, a in page.tags:
            src = a.get("src", "")
            if tag in ("script", "img", "iframe") and re.match(r"^(https?:)?//", src):
                external.append(f"{path.name}: <{tag} src={src}>")
            if tag == "link" and "stylesheet" in a.get("rel", "") and re.match(r"^(https?:)?//", a.get("href", "")):
                external.append(f"{path.name}: <link href={a['href']}>")
    assert external == []


def test_hostile_title_renders_as_text_everywhere(site, pages):
    assert "<" in MALICIOUS_TITLE and "</script>" in MALICIOUS_TITLE
    for path, page in pages.items():
        text = path.read_text(encoding="utf-8")
        assert "<script>window.__pwned" not in text, path
        assert "<img src=x" not in text, path
        assert "<b>Evil</b>" not in text, path
        assert not any("__pwned" in a.get("onerror", "") for _, a in page.tags), path

    rows = {r["id"]: r for r in _embedded_rows(site)}
    assert rows[MALICIOUS_ID]["title"] == MALICIOUS_TITLE  # JSON round-trips the exact text
    assert rows[MALICIOUS_ID]["short_name"] == MALICIOUS_NAME

    # In the static table the title is the text of its link, unchanged.
    class Anchors(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.in_a, self.texts = None, []

        def handle_starttag(self, tag, attrs):
            if tag == "a" and dict(attrs).get("href") == f"https://example.org/{MALICIOUS_ID}":
                self.in_a = ""

        def handle_data(self, data):
            if self.in_a is not None:
                self.in_a += data

        def handle_endtag(self, tag):
            if tag == "a" and self.in_a is not None:
                self.texts.append(self.in_a)
                self.in_a = None

    parser = Anchors()
    parser.feed((site.html / "modality" / "video" / "index.html").read_text(encoding="utf-8"))
    assert parser.texts == [MALICIOUS_TITLE]


def test_badges_are_wellformed_offline_svg(site):
    badges = sorted((site.html / "assets" / "badges").glob("*.svg"))
    names = {b.name for b in badges}
    assert {"code-available.svg", "zoo-implemented.svg", "repro-reproduced.svg", "repro-not-run.svg"} <= names
    for badge in badges:
        root = ElementTree.fromstring(badge.read_text(encoding="utf-8"))
        assert root.tag.endswith("svg")
        assert "http" not in badge.read_text(encoding="utf-8").replace("http://www.w3.org/2000/svg", "")


def test_method_pages_exist_for_every_registered_method(site):
    for method_id in site.data.methods:
        page = site.html / "methods" / method_id / "index.html"
        assert page.is_file(), method_id
        text = page.read_text(encoding="utf-8")
        plain = html.unescape(re.sub(r"<[^>]+>", "", text))  # code is split into highlight spans
        assert 'id="reproduction"' in text and f'zoo.apply(model, "{method_id}"' in plain


def test_diffusion_pages_show_the_unet_reference_schedules(site):
    """The SD 1.5 UNet reference setup reaches the diffusion methods' pages and the diffusion compare page."""
    if "tomesd" not in site.data.methods:
        pytest.skip("tomesd is not registered")
    text = html.unescape(re.sub(r"<[^>]+>", "", (site.html / "methods" / "tomesd" / "index.html").read_text(
        encoding="utf-8")))
    section = text.split("Token schedule and FLOPs", 1)[1]
    assert "On the SD 1.5 UNet, 512 px" in section and "keep_ratio=0.5" in section and "×" in section
    compare = (site.html / "compare" / "diffusion" / "index.html").read_text(encoding="utf-8")
    assert "On the SD 1.5 UNet" in html.unescape(compare)
    assert "speedup-diffusion-diffusers-unet-light.svg" in compare


def test_home_numbers_are_counted_from_the_data(site):
    text = html.unescape((site.html / "index.html").read_text(encoding="utf-8"))
    assert f"<strong>{len(site.data.papers)}</strong><span>papers in the catalog</span>" in text


def test_build_refuses_to_empty_a_folder_that_is_not_a_build(tmp_path):
    from zoo.site.build import _safe_reset

    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "thesis.tex").write_text("do not delete")
    with pytest.raises(FileExistsError, match="not a previous tokzoo site build"):
        _safe_reset(keep)
    assert (keep / "thesis.tex").read_text() == "do not delete"


def test_cli_import_stays_light():
    code = (
        "import sys, zoo.cli\n"
        "heavy = [m for m in ('zoo.site.build', 'matplotlib', 'mkdocs', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_commands_named_in_hand_written_pages_exist():
    """Every ``tokzoo <command>`` the hand-written pages mention is a real command."""
    import typer.main

    from zoo.cli import app

    root = typer.main.get_command(app)
    pages_dir = Path(__file__).resolve().parents[1] / "site" / "pages"
    missing = []
    for page in sorted(pages_dir.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        code = re.findall(r"```.*?```", text, re.S) + re.findall(r"`[^`\n]+`", re.sub(r"```.*?```", "", text, flags=re.S))
        for words in re.findall(r"\btokzoo((?: [a-z][a-z-]*)+)", "\n".join(code)):
            group, name = root, None
            for word in words.split():
                commands = getattr(group, "commands", None)
                if not commands:
                    break
                if word not in commands:
                    name = word
                    break
                group = commands[word]
            if name is not None:
                missing.append(f"{page.name}: tokzoo{words}")
    assert missing == []


def test_cli_reports_an_invalid_catalog_and_builds_nothing(tmp_path):
    from typer.testing import CliRunner

    from zoo.cli import app

    bad = tmp_path / "catalog.yaml"
    bad.write_text("schema_version: 1\npapers:\n  - id: x\n    title: T\n")
    result = CliRunner().invoke(app, ["site", "build", "--out", str(tmp_path / "out"), "--catalog", str(bad)])
    assert result.exit_code == 1
    assert "the catalog is invalid" in result.output and "catalog.yaml:3" in result.output
    assert not (tmp_path / "out").exists()
