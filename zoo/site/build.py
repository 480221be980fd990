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

from zoo.site import pages_catalog, pages_method, pages_reference, pages_stats
from zoo.site.data import SiteData, load_benchmarks, load_methods, paper_dicts
from zoo.site.escape import html_text
from zoo.site.markdown import display_name
from zoo.site.repro_view import load_repro

BUILD_MARKER = ".tokzoo-site-build"


def repo_root() -> Path:
    """The source checkout this package lives in (``site/mkdocs.yml`` must exist there)."""
    return Path(__file__).resolve().parents[2]


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

    notes: list[str] = []
    catalog = load_catalog(catalog_path) if catalog_path is not None else load_catalog()
    data = SiteData(papers=paper_dicts(catalog), notes=notes)
    data.bibtex = {p.id: p.bibtex() for p in catalog.papers if hasattr(p, "bibtex")}
    data.methods = load_methods(notes, strict=strict)
    data.repro = load_repro(root, data, notes)
    data.benchmarks = load_benchmarks(root / "benchmarks" / "results", notes)
    return data


def render_pages(data: SiteData, root: Path) -> tuple[dict[str, str], list[Any]]:
    """Every docs file (path -> text) and the nav."""
    files: dict[str, str] = {}
    files.update(pages_catalog.badge_files())
    for entry in data.repro.values():
        for claim in entry.claims:
            path, svg = pages_catalog.extra_badge("repro", claim.status)
            files[path] = svg

    files["index.md"] = _home(data, root)
    files[pages_catalog.CATALOG_PAGE] = pages_catalog.catalog_page(data)
    modality = pages_catalog.modality_pages(data)
    years = pages_catalog.year_pages(data)
    files.update(modality)
    files.update(years)

    files["methods/index.md"] = pages_method.methods_index(data)
    method_nav: list[Any] = ["methods/index.md"]
    for method in sorted(data.methods.values(), key=lambda m: m.id):
        paper = data.paper_for_method(method.id)
        files[f"methods/{method.id}.md"] = pages_method.method_page(method, data)
        method_nav.append({html_text(display_name(paper) if paper else method.id): f"methods/{method.id}.md"})

    stats, plot_files = pages_stats.stats_page(data)
    files["stats.md"] = stats
    files.update(plot_files)

    files["contributing.md"] = _contributing(root)
    files["reference/cli.md"] = pages_reference.cli_page()
    files["reference/api.md"] = pages_reference.api_page()
    files["reference/vocab.md"] = pages_reference.vocab_page()

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


def write_config(root: Path, out: Path, nav: list[Any]) -> Path:
    base = yaml.safe_load((root / "site" / "mkdocs.yml").read_text(encoding="utf-8"))
    base["docs_dir"] = "docs"
    base["site_dir"] = "html"
    base["nav"] = nav
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
          strict: bool = True, run: bool = True) -> BuildResult:
    """Generate the site into ``out`` (default ``<root>/site/build``) and build the HTML."""
    root = root or repo_root()
    if not (root / "site" / "mkdocs.yml").is_file():
        raise FileNotFoundError(
            f"{root / 'site' / 'mkdocs.yml'} not found: `tokzoo site build` needs a tokzoo source checkout"
        )
    out = (out or root / "site" / "build").resolve()
    data = gather(root, catalog_path, strict=strict)
    files, nav = render_pages(data, root)
    _safe_reset(out)
    write_tree(out / "docs", files, root / "site" / "assets")
    config = write_config(root, out, nav)
    if run:
        run_mkdocs(config, strict=strict)
    pages = sorted(p for p in files if p.endswith(".md"))
    return BuildResult(out=out, html=out / "html", pages=pages, data=data, notes=list(data.notes))
