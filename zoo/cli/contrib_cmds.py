"""tokzoo commands for contributors: ``add``, ``new-method``, ``sync``.

The logic lives in :mod:`zoo.contrib`; the optional ``arxiv`` package is imported only
when ``add`` fetches metadata. Every command prints what it would change before changing
anything, and writes atomically after validating the whole new catalog.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

CATALOG_HELP = "Catalog file to edit (default: the repo's catalog.yaml; env TOKZOO_CATALOG)."
#: the upstream awesome list's raw markdown (shown in `tokzoo sync --help`)
UPSTREAM_URL = "https://raw.githubusercontent.com/sangminwoo/awesome-token-reduction/HEAD/README.md"


def _fail(message: str, code: int = 1) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def _catalog_path(catalog: Optional[Path]) -> Path:
    from zoo.catalog import default_catalog_path
    from zoo.catalog.loader import packaged_catalog_path

    if catalog is not None:
        return catalog
    try:
        path = default_catalog_path()
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    if path.resolve() == packaged_catalog_path().resolve():
        raise _fail(f"{path} is the copy inside the installed package; contributions edit a clone's catalog.yaml: "
                    "run this in a tokzoo checkout (pip install -e .) or pass --catalog PATH")
    return path


def _arxiv_fetcher(timeout: float, api: Optional[str]):
    """arXiv's fetch function, or None when the optional ``arxiv`` package is not installed."""
    try:
        import arxiv  # noqa: F401  (the optional dependency)
    except ImportError:
        return None

    def fetch(arxiv_id: str):
        from zoo.contrib.arxiv_client import ArxivClient

        return ArxivClient(query_url_format=api, timeout=timeout).fetch_one(arxiv_id)

    return fetch


def _hf_fetcher(timeout: float, api: Optional[str]):
    def fetch(arxiv_id: str):
        from zoo.contrib.hf_papers import HFPapersClient

        return HFPapersClient(api_url_format=api, timeout=timeout).fetch_one(arxiv_id)

    return fetch


# ---------------------------------------------------------------------------------------- add


def add_cmd(
    paper: Optional[str] = typer.Argument(
        None, help="arXiv id or URL (2403.06764, arXiv:2403.06764, https://arxiv.org/abs/2403.06764v2). "
        "Omit it for a paper without arXiv and give --title, --url and --venue.", show_default=False),
    title: Optional[str] = typer.Option(None, "--title", help="Title (manual form; overrides arXiv's)."),
    url: Optional[str] = typer.Option(None, "--url", help="https link to the paper (manual form)."),
    venue: Optional[str] = typer.Option(None, "--venue", help="As upstream writes it: 'CVPR 2025', 'NeurIPS 2024 Spotlight', 'arXiv'."),
    year: Optional[int] = typer.Option(None, "--year", help="Section year (year of the first version). Default: arXiv's first version."),
    code: Optional[str] = typer.Option(None, "--code", help="Official code repository (https)."),
    project: Optional[str] = typer.Option(None, "--project", help="Project page (https)."),
    short_name: Optional[str] = typer.Option(None, "--short-name", help="The name the field uses (default: the name before ':' in the title)."),
    paper_id: Optional[str] = typer.Option(None, "--id", help="Catalog id (default: derived from the short name or title)."),
    modality: Optional[List[str]] = typer.Option(None, "--modality", "-m", help="Override the proposed modality (repeat or comma-separate)."),
    technique: Optional[List[str]] = typer.Option(None, "--technique", "-t", help="Override the proposed technique(s)."),
    family: Optional[List[str]] = typer.Option(None, "--family", "-f", help="Override the proposed model family(ies)."),
    training_free: Optional[bool] = typer.Option(None, "--training-free/--not-training-free", help="Override the proposal.", show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print the diff only; write nothing."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP, envvar="TOKZOO_CATALOG"),
    hf: bool = typer.Option(True, "--hf/--no-hf", help="Also ask Hugging Face Papers (authors, abstract, code "
                            "repository, project page); either source alone is enough."),
    timeout: float = typer.Option(20.0, "--timeout", min=1.0, help="Seconds to wait for arXiv / Hugging Face per request."),
    arxiv_api: Optional[str] = typer.Option(None, "--arxiv-api", envvar="TOKZOO_ARXIV_API", hidden=True,
                                            help="arXiv query URL format (tests point it at a local server)."),
    hf_api: Optional[str] = typer.Option(None, "--hf-api", envvar="TOKZOO_HF_API", hidden=True,
                                         help="Hugging Face Papers API URL format with {id} (tests point it at a local server)."),
) -> None:
    """Add one paper to the catalog from its arXiv id (or by hand), validated, with a diff.

    Metadata comes from arXiv and Hugging Face Papers (authors, abstract, code repository). Labels
    are PROPOSED from keywords in the title and abstract: review them (and the venue, code link and
    training_free) before opening the pull request. Refuses a paper the catalog already has
    (checked before any network access).
    """
    from zoo.catalog.lock import CatalogLocked
    from zoo.contrib.add import REVIEW_NOTE, AddError, AddRequest, add_paper
    from zoo.contrib.catalog_edit import CatalogEditError

    request = AddRequest(arxiv=paper, title=title, url=url, venue=venue, year=year, code=code, project=project,
                         short_name=short_name, paper_id=paper_id, modality=modality or [], technique=technique or [],
                         family=family or [], training_free=training_free)
    path = _catalog_path(catalog)
    fetch = _arxiv_fetcher(timeout, arxiv_api) if paper else None
    hf_fetch = _hf_fetcher(timeout, hf_api) if (paper and hf) else None
    out = typer.echo

    def show(plan) -> None:
        out(plan.diff.rstrip("\n"))
        before, after = plan.neighbours
        out(f"\nentry {plan.entry['id']!r} goes into the {plan.entry['section_year']} section"
            + (f", after {before!r}" if before else "") + (f", before {after!r}" if after else "") + ".")
        if plan.notes:
            out("\nWhere values came from:")
            for note in plan.notes:
                out(f"  - {note}")
        out("\nLabels in the entry (given options win; proposals follow the keyword rules in zoo/contrib/labels.py):")
        for line in plan.label_notes:
            out(f"  - {line}")
        out(f"\n{REVIEW_NOTE}")

    try:
        if paper and fetch is None:
            if hf_fetch is None:
                raise AddError("the 'arxiv' package is needed to fetch arXiv metadata: pip install 'tokzoo[add]', "
                               "or drop --no-hf to use Hugging Face Papers, or add the paper by hand with "
                               "--title/--url/--venue")
            out("note: the 'arxiv' package is not installed (pip install 'tokzoo[add]'); using Hugging Face "
                "Papers only", err=True)
        # read, plan and write as one locked step: a concurrent add waits and loses nothing
        plan = add_paper(request, path, fetch, hf_fetch, dry_run=dry_run, on_plan=show)
    except (AddError, CatalogEditError, CatalogLocked) as exc:
        raise _fail(str(exc)) from None
    if dry_run:
        out("\n--dry-run: nothing written. The whole catalog with this entry validates.")
        return
    out(f"\nwrote {plan.catalog} (validated). Next: review the entry, run `tokzoo validate`, "
        f"commit and open a pull request (one paper per PR).")


# ---------------------------------------------------------------------------------------- sync


def sync_cmd(
    source: Optional[str] = typer.Argument(
        None, help="The upstream list: a file or an http(s) URL of its raw markdown "
        "(default: the shipped copy, tools/upstream/awesome-token-reduction.md next to the catalog; "
        f"the list itself is {UPSTREAM_URL}).", show_default=False),
    write: bool = typer.Option(False, "--write", help="Apply: add new papers (curated or proposed labels) and fill empty fields."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Curated labels of new papers (YAML: arXiv id or lineNNN -> "
                                          "id, short_name, modality, technique, family, training_free). Default: "
                                          "tools/upstream/labels.yaml next to the catalog, when it exists."),
    show_diff: bool = typer.Option(False, "--diff", help="Also print the catalog diff that --write would make."),
    fetch_abstracts: bool = typer.Option(False, "--fetch-abstracts", help="Fetch arXiv abstracts of new papers without curated labels for better keyword proposals."),
    check: bool = typer.Option(False, "--check", help="Exit 1 when the catalog is behind the list (for scheduled jobs)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP, envvar="TOKZOO_CATALOG"),
    timeout: float = typer.Option(20.0, "--timeout", min=1.0, help="Seconds to wait for a URL or arXiv."),
    arxiv_api: Optional[str] = typer.Option(None, "--arxiv-api", envvar="TOKZOO_ARXIV_API", hidden=True),
) -> None:
    """Re-import the upstream awesome list: report new, changed and removed papers.

    Says first what it reads: the list (the shipped copy unless a file or URL is given), the
    curated labels file and the catalog. Report only unless --write. Curated values are never
    overwritten: only empty fields are filled, differences are listed and kept, papers gone
    upstream stay in the catalog, papers the zoo added (added: tokzoo) are expected to be absent.
    """
    from zoo.catalog.edit import read_label_files
    from zoo.catalog.lock import CatalogLocked, catalog_lock
    from zoo.contrib.catalog_edit import CatalogEditError
    from zoo.contrib.sync import DEFAULT_LABELS, DEFAULT_UPSTREAM, SyncError, plan_sync, read_upstream

    path = _catalog_path(catalog)
    default_source = path.resolve().parent / DEFAULT_UPSTREAM
    upstream = source or str(default_source)
    labels_path = labels if labels is not None else path.resolve().parent / DEFAULT_LABELS
    curated: dict = {}
    if labels is not None or labels_path.is_file():
        curated, errors = read_label_files([labels_path])
        if errors:
            raise _fail("the labels file cannot be used:\n  " + "\n  ".join(errors))
    abstracts = None
    if fetch_abstracts:
        def abstracts(ids: list[str]) -> dict[str, str]:
            from zoo.contrib.arxiv_client import ArxivClient

            report = ArxivClient(query_url_format=arxiv_api, timeout=timeout).fetch(ids)
            if not report.ok:
                typer.echo(f"note: arXiv abstracts: {report.summary()}", err=True)
            return {i: r.abstract for i, r in report.found.items()}
    what = "the shipped copy" if source is None else ("a URL" if upstream.startswith(("http://", "https://")) else "a file")
    try:
        text = read_upstream(upstream, timeout=timeout)
        with catalog_lock(path):
            report = plan_sync(path, text, prepare_write=write or show_diff, abstracts=abstracts, labels=curated)
            typer.echo(f"Upstream list: {upstream} ({what}; {report.upstream_count} papers; "
                       f"{_list_title(text)})")
            typer.echo(f"Curated labels: {labels_path} ({len(curated)} papers)" if curated else
                       f"Curated labels: none ({labels_path} not found; new papers get keyword proposals)")
            typer.echo(f"Catalog: {path}\n")
            typer.echo(report.text().rstrip("\n"))
            if report.label_reasons:
                typer.echo("\nLabels of new papers without curated labels were proposed from title keywords"
                           + (" and arXiv abstracts" if fetch_abstracts else "") + "; review them:")
                for pid, reasons in report.label_reasons.items():
                    typer.echo(f"  {pid}: " + "; ".join(reasons))
            if show_diff and report.new_text is not None:
                typer.echo("\n" + report.diff().rstrip("\n"))
            if write:
                if report.new_text is None:
                    typer.echo("\nnothing to write: the catalog is up to date with the list")
                else:
                    report.write()
                    typer.echo(f"\nwrote {path} (validated)")
            elif report.plan.changes:
                typer.echo("\nreport only; run again with --write to apply")
    except (SyncError, CatalogEditError, CatalogLocked) as exc:
        raise _fail(str(exc)) from None
    if check and report.behind and not write:
        raise typer.Exit(1)


def _list_title(text: str) -> str:
    """The list's heading, e.g. 'Awesome Token Redundancy Reduction' (badges and emoji left out)."""
    import re

    for line in text.splitlines():
        if line.startswith("# "):
            title = re.sub(r"\[!\[.*$", "", line[2:])
            title = "".join(ch for ch in title if ch.isascii()).strip()
            return f"titled {title!r}" if title else "untitled"
    return "untitled"


# ---------------------------------------------------------------------------------------- new-method


def _default_root() -> Path:
    cwd = Path.cwd()
    if (cwd / "zoo" / "papers").is_dir() and (cwd / "catalog.yaml").is_file():
        return cwd
    return Path(__file__).resolve().parents[2]


def new_method_cmd(
    paper: str = typer.Argument(..., help="Catalog id, arXiv id or name of the paper (add it first with `tokzoo add`)."),
    family: Optional[str] = typer.Option(None, "--family", help="Family adapter: timm-vit, llava, ... (default: from the catalog family)."),
    placement: Optional[str] = typer.Option(None, "--placement", help="Where it acts: vision-encoder, projector, llm-prefill, llm-decode, backbone."),
    class_name: Optional[str] = typer.Option(None, "--class-name", help="Python class name (default: from the short name)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Source checkout to write into (default: the current one)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: <root>/catalog.yaml)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show what would be created and changed; write nothing."),
) -> None:
    """Scaffold a method for a catalog paper: module, repro script, tests, registry and catalog status.

    The scaffold fails its tests on purpose until the method is implemented.
    """
    from zoo.catalog.lock import CatalogLocked, catalog_lock
    from zoo.contrib.scaffold import ScaffoldError, plan_new_method

    target = (root or _default_root()).resolve()
    try:
        with catalog_lock(catalog or target / "catalog.yaml"):
            plan = plan_new_method(target, paper, family=family, placement=placement, class_name=class_name,
                                   catalog=catalog)
            typer.echo(plan.summary())
            typer.echo("\n" + plan.diff().rstrip("\n"))
            if dry_run:
                typer.echo("\n--dry-run: nothing written.")
                return
            plan.write()
    except (ScaffoldError, CatalogLocked) as exc:
        raise _fail(str(exc)) from None
    m, mid = plan.module, plan.method_id
    typer.echo(f"""
Scaffolded {mid!r} (catalog status: planned). Its tests fail until it works. Next:
  1. implement {plan.class_name}.install in zoo/papers/{m}.py; write its docstrings and paper_notation
     (they become the method's page on the site);
  2. pytest tests/test_method_{m}.py   (then add {mid} to its family's shared case list);
  3. write the paper's claims with their sources in repro/{mid}.py, then: tokzoo repro {mid};
  4. set the catalog entry to zoo: {{status: implemented, method: {mid}}} and open a pull request.""")


# ---------------------------------------------------------------------------------------- pr-check


def _git(root: Path, *args: str) -> str:
    import subprocess

    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise _fail(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def pr_check_cmd(
    base: Optional[str] = typer.Option(None, "--base", help="Git ref of the target branch (e.g. origin/main): "
                                       "enables the one-paper-per-PR, permanent-id and result checks."),
    max_new_papers: int = typer.Option(1, "--max-new-papers", min=0, help="New papers allowed (0: no limit, for bulk imports)."),
    allow_tokzoo_results: bool = typer.Option(False, "--allow-tokzoo-results", help="Accept result records with source 'tokzoo' (maintainer re-runs)."),
    github: Optional[bool] = typer.Option(None, "--github/--no-github", help="Also print GitHub Actions annotations (default: when GITHUB_ACTIONS is set)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP, envvar="TOKZOO_CATALOG"),
) -> None:
    """Check a pull request like CI does: catalog validity, one paper per PR, permanent ids, community results."""
    import os

    from zoo.contrib.pr_check import check_catalog, check_results, github_annotation

    path = _catalog_path(catalog).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc}") from None
    root = path.parent
    base_text = None
    changed: list[Path] = []
    if base:
        top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
        rel = path.relative_to(top).as_posix()
        listing = _git(top, "ls-tree", "--name-only", base, "--", rel)
        base_text = _git(top, "show", f"{base}:{rel}") if listing.strip() else ""
        names = _git(top, "diff", "--name-only", "--diff-filter=AM", f"{base}...HEAD", "--", "repro/results")
        changed = [top / n for n in names.splitlines() if n.strip()]
        root = top
    findings = check_catalog(text, os.path.relpath(path, Path.cwd()), base_text, max_new_papers=max_new_papers)
    findings += check_results(changed, root, require_community=not allow_tokzoo_results)
    annotate = github if github is not None else bool(os.environ.get("GITHUB_ACTIONS"))
    for finding in findings:
        typer.echo(str(finding))
        if annotate:
            typer.echo(github_annotation(finding))
    if findings:
        raise _fail(f"{len(findings)} problem{'s' if len(findings) != 1 else ''}; each line above says what to fix")
    typer.echo("pr-check: OK" + ("" if base else " (catalog only; pass --base to compare with the target branch)"))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("add")(add_cmd)
    app.command("sync")(sync_cmd)
    app.command("new-method")(new_method_cmd)
    app.command("pr-check")(pr_check_cmd)
