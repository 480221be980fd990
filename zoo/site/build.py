"""Assemble the site: gather data, write every page into ``<out>/docs``, write
``<out>/mkdocs.yml`` (the base config + nav), and run ``mkdocs build --strict``.

Layout of a build folder (default ``site/build``, git-ignored)::

    <out>/mkdocs.yml   generated config (base: site/mkdocs.yml)
    <out>/docs/        generated Markdown, badges, plots, copied assets
    <out>/html/        the built site (what GitHub Pages serves)
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import yaml

from zoo.site import (pages_catalog, pages_claims, pages_compare, pages_method, pages_reference, pages_stats,
                      pages_support)
from zoo.site.data import SiteData, load_benchmarks, load_methods, paper_dicts
from zoo.site.escape import html_text
from zoo.site.markdown import display_name
from zoo.site.repro_view import load_repro

BUILD_MARKER = ".tokzoo-site-build"


def repo_root() -> Path:
    """The source checkout this package lives in (``site/mkdocs.yml`` must exist there)."""
    return Path(__file__).resolve().parents[2]


def is_checkout(folder: Path) -> bool:
    return (folder / "site" / "mkdocs.yml").is_file() and (folder / "catalog.yaml").is_file()


def find_root(start: Path | None = None) -> Path:
    """The tokzoo checkout containing ``start`` (default: the working directory).

    A checkout has ``site/mkdocs.yml`` and ``catalog.yaml``; the folders above ``start`` are
    searched too, so ``tokzoo site build`` works anywhere inside the checkout it should build.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_checkout(folder):
            return folder
    raise FileNotFoundError(
        f"{here} is not inside a tokzoo checkout (no site/mkdocs.yml and catalog.yaml here or above); "
        "run `tokzoo site build` inside the checkout to build, or pass --root PATH"
    )


def _http_url(name: str, url: str | None) -> str:
    """``url`` checked as an http(s) address (``""`` when not given)."""
    if not url:
        return ""
    from urllib.parse import urlsplit

    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in "\"'<> "):
        raise ValueError(f"--{name.replace('_', '-')} {url!r} is not an http(s) URL (e.g. https://owner.github.io/tokzoo/)")
    return url


def git_repo_url(root: Path) -> str:
    """The https address of the checkout's ``origin`` remote on GitHub/GitLab ("" if none)."""
    import re

    try:
        out = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    url = out.stdout.strip()
    m = re.match(r"^(?:git@|ssh://git@)([\w.-]+)[:/]([\w.-]+/[\w.-]+?)(?:\.git)?/?$", url)
    if m:
        url = f"https://{m.group(1)}/{m.group(2)}"
    m = re.match(r"^https://(?:[^@/]+@)?((?:github|gitlab)\.com/[\w.-]+/[\w.-]+?)(?:\.git)?/?$", url)
    return f"https://{m.group(1)}" if m else ""


@dataclass
class BuildResult:
    out: Path
    html: Path
    pages: list[str]
    data: SiteData
    notes: list[str] = field(default_factory=list)


def gather(root: Path, catalog_path: Path | None = None, *, strict: bool = True) -> SiteData:
    """Collect catalog, methods, repro results and benchmarks from the checkout at ``root``."""
    from zoo.catalog import load_catalog
    from zoo.site import metadata

    notes: list[str] = []
    if catalog_path is None and (root / "catalog.yaml").is_file():
        catalog_path = root / "catalog.yaml"
    catalog = load_catalog(catalog_path) if catalog_path is not None else load_catalog()
    data = SiteData(papers=paper_dicts(catalog), notes=notes)
    data.bibtex = {p.id: p.bibtex() for p in catalog.papers if hasattr(p, "bibtex")}
    data.methods = load_methods(notes, strict=strict, root=root)
    meta = metadata.load(root) or {}
    if not meta:
        notes.append(f"{metadata.DATA_FILE.as_posix()} is missing: no recorded token schedules "
                     "(run `tokzoo site metadata`)")
    data.reference_setups = dict(meta.get("reference_setups") or {})
    data.schedules = {m: s for m, s in (meta.get("schedules") or {}).items() if m in data.methods}
    data.support_matrix = meta.get("support_matrix")
    data.repro = load_repro(root, data, notes)
    data.benchmarks = load_benchmarks(root / "benchmarks" / "results", notes)
    return data


def render_pages(data: SiteData, root: Path) -> tuple[dict[str, str], list[Any]]:
    """Every docs file (path -> text) and the nav."""
    files: dict[str, str] = {}
    files.update(pages_catalog.badge_files())

    files["index.md"] = _home(data, root)
    files[pages_catalog.CATALOG_PAGE] = pages_catalog.catalog_page(data)
    modality = pages_catalog.modality_pages(data)
    years = pages_catalog.year_pages(data)
    files.update(modality)
    files.update(years)

    compare_files, compare_nav, groups = pages_compare.compare_pages(data)
    files.update(compare_files)
    method_compare: dict[str, dict[str, str]] = {}
    for family, ids in groups.items():
        for mid in ids:
            method_compare.setdefault(mid, {})[pages_compare.family_label(family)] = pages_compare.page_path(family)

    files["methods/index.md"] = pages_method.methods_index(data, compare_nav)
    files[pages_support.PAGE] = pages_support.support_page(data)
    method_nav: list[Any] = ["methods/index.md", {"Support matrix": pages_support.PAGE}]
    for method in sorted(data.methods.values(), key=lambda m: m.id):
        paper = data.paper_for_method(method.id)
        files[f"methods/{method.id}.md"] = pages_method.method_page(method, data, method_compare.get(method.id))
        # nav titles are printed as HTML by the theme: escape once (site/overrides/main.html
        # re-escapes the plain text for <title>)
        method_nav.append({html_text(display_name(paper) if paper else method.id): f"methods/{method.id}.md"})

    files[pages_claims.PAGE] = pages_claims.claims_page(data)

    stats, plot_files = pages_stats.stats_page(data)
    files["stats.md"] = stats
    files.update(plot_files)

    files["contributing.md"] = _contributing(root)
    files["reference/cli.md"] = pages_reference.cli_page()
    files["reference/api.md"] = pages_reference.api_page()
    files["reference/vocab.md"] = pages_reference.vocab_page()

    # badges outside the standard set (per-kind counts, claim statuses) collected while rendering
    for path, b in sorted(data.badges.items()):
        files.setdefault(path, b.svg())

    modality_nav: list[Any] = ["modality/index.md"] + [
        {html_text(p.split("/")[1][:-3].capitalize()): p} for p in modality if p != "modality/index.md"
    ]
    year_nav: list[Any] = ["year/index.md"] + sorted(
        ({p.split("/")[1][:-3]: p} for p in years if p != "year/index.md"),
        key=lambda d: next(iter(d)), reverse=True,
    )
    nav = [
        {"Home": "index.md"},
        {"Catalog": pages_catalog.CATALOG_PAGE},
        {"Browse": [{"By modality": modality_nav}, {"By year": year_nav}]},
        {"Methods": method_nav},
    ]
    nav.append({"Compare": [f"{pages_compare.COMPARE_DIR}/index.md"]
                + [{html_text(label): path} for label, path in compare_nav.items()]})
    nav += [
        {"Claims": pages_claims.PAGE},
        {"Statistics": "stats.md"},
        {"Contributing": "contributing.md"},
        {"Reference": [
            {"Command line": "reference/cli.md"},
            {"Python API": "reference/api.md"},
            {"Vocabularies": "reference/vocab.md"},
        ]},
    ]
    return files, nav


def _home(data: SiteData, root: Path) -> str:
    template = Template((root / "site" / "pages" / "index.md").read_text(encoding="utf-8"))
    h = pages_stats.headline(data)
    return template.substitute(
        numbers=pages_stats.numbers_html(data),
        papers=h["papers"],
        built_on=_dt.date.today().isoformat(),
        commit=_git_commit(root),
    )


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _contributing(root: Path) -> str:
    """CONTRIBUTING.md when the checkout has one (repo-relative links shown as paths), else the site's page."""
    from zoo.site.contributing import contributing_page

    return contributing_page(root)


def _safe_reset(folder: Path) -> None:
    """Empty ``folder`` only if it is a previous build (marker file) or empty; refuse otherwise."""
    if folder.exists():
        if not folder.is_dir():
            raise FileExistsError(f"--out {folder} exists and is not a folder")
        if any(folder.iterdir()) and not (folder / BUILD_MARKER).exists():
            raise FileExistsError(
                f"--out {folder} is not empty and is not a previous tokzoo site build "
                f"(no {BUILD_MARKER} file); choose an empty or new folder"
            )
        for child in folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / BUILD_MARKER).write_text("generated by `tokzoo site build`; safe to delete\n", encoding="utf-8")


def write_tree(docs: Path, files: dict[str, str], assets: Path) -> None:
    """Write generated files and copy the vendored assets into a fresh staging folder, then swap it in."""
    docs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".docs.", dir=docs.parent))
    try:
        shutil.copytree(assets, staging / "assets", dirs_exist_ok=True)
        for rel_path, text in files.items():
            target = staging / rel_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        if docs.exists():
            shutil.rmtree(docs)
        os.replace(staging, docs)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_config(root: Path, out: Path, nav: list[Any], *, site_url: str = "", repo_url: str = "") -> Path:
    """``<out>/mkdocs.yml``: the base config, the nav, the addresses, the theme overrides."""
    base = yaml.safe_load((root / "site" / "mkdocs.yml").read_text(encoding="utf-8"))
    base["docs_dir"] = "docs"
    base["site_dir"] = "html"
    base["nav"] = nav
    if site_url:
        base["site_url"] = site_url
    if repo_url:
        base["repo_url"] = repo_url
        base.setdefault("repo_name", repo_url.rstrip("/").split("/", 3)[-1])
        base["edit_uri"] = ""  # the pages are generated: there is no source page to edit
    overrides = root / "site" / "overrides"
    if overrides.is_dir():
        base.setdefault("theme", {})["custom_dir"] = str(overrides.resolve())
    path = out / "mkdocs.yml"
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text("# generated by `tokzoo site build` from site/mkdocs.yml; do not edit\n"
                   + yaml.safe_dump(base, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def run_mkdocs(config: Path, *, strict: bool = True) -> None:
    cmd = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config)]
    if strict:
        cmd.append("--strict")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"mkdocs build failed (exit {proc.returncode}):\n{proc.stderr.strip() or proc.stdout.strip()}")


def build(out: Path | None = None, *, catalog_path: Path | None = None, root: Path | None = None,
          strict: bool = True, run: bool = True, site_url: str | None = None,
          repo_url: str | None = None) -> BuildResult:
    """Generate the site of the checkout ``root`` (default: the one around the working
    directory) into ``out`` (default ``<root>/site/build``) and build the HTML.

    ``site_url``: the address the site is served from (e.g. ``https://owner.github.io/tokzoo/``;
    the 404 page and the sitemap need it under a sub-path). ``repo_url``: the repository the
    header links (default: the checkout's ``origin`` remote when it is on GitHub/GitLab;
    ``""`` for none).
    """
    root = Path(root).resolve() if root is not None else find_root()
    if not (root / "site" / "mkdocs.yml").is_file():
        raise FileNotFoundError(
            f"{root / 'site' / 'mkdocs.yml'} not found: `tokzoo site build` needs a tokzoo source checkout"
        )
    site_url = _http_url("site_url", site_url)
    if site_url and not site_url.endswith("/"):
        site_url += "/"
    repo_url = _http_url("repo_url", git_repo_url(root) if repo_url is None else repo_url)
    out = (out or root / "site" / "build").resolve()
    data = gather(root, catalog_path, strict=strict)
    data.site_url, data.repo_url = site_url, repo_url
    files, nav = render_pages(data, root)
    _safe_reset(out)
    write_tree(out / "docs", files, root / "site" / "assets")
    config = write_config(root, out, nav, site_url=site_url, repo_url=repo_url)
    if run:
        run_mkdocs(config, strict=strict)
    pages = sorted(p for p in files if p.endswith(".md"))
    return BuildResult(out=out, html=out / "html", pages=pages, data=data, notes=list(data.notes))
