"""tokzoo commands over the paper catalog: list, show, stats, validate, cite.

Only light imports here (``zoo.catalog`` needs pydantic and PyYAML, never torch).
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from zoo import vocab

CATALOG_HELP = "Catalog file to read (default: the repo's catalog.yaml; env TOKZOO_CATALOG)."
YEAR_HELP = ("Section year of the upstream list (the year of the paper's first version): 2024, 2023..2024, "
             "2023.., ..2022. For the venue's year use --venue-year, for the arXiv v1 date --arxiv-year.")


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    yaml = "yaml"
    csv = "csv"
    bibtex = "bibtex"


class ShowFormat(str, Enum):
    text = "text"
    json = "json"
    yaml = "yaml"
    bibtex = "bibtex"


class StatsFormat(str, Enum):
    table = "table"
    json = "json"


def _fail(message: str, code: int = 1) -> "typer.Exit":
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def _load(catalog: Optional[Path]):
    from zoo.catalog import CatalogError, load_catalog

    try:
        return load_catalog(catalog)
    except CatalogError as exc:
        shown = "\n".join(f"  {issue}" for issue in exc.issues[:10])
        more = f"\n  ... and {len(exc.issues) - 10} more" if len(exc.issues) > 10 else ""
        raise _fail(
            f"the catalog {exc.path} is invalid ({len(exc.issues)} problems); `tokzoo validate` lists them all\n{shown}{more}"
        ) from None
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None


def _select(cat, **criteria):
    from zoo.catalog import QueryError

    try:
        return cat.filter(**criteria)
    except QueryError as exc:
        raise _fail(str(exc), 2) from None


def _clean(text: str) -> str:
    """Catalog text as printed: control characters (terminal escape sequences) stripped, line breaks kept."""
    from zoo.catalog.formats import printable

    return printable(text, keep_newlines=True)


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `tokzoo list | head`
        sys.stderr.close()


# ---------------------------------------------------------------------------------------- list


def list_cmd(
    query: Optional[List[str]] = typer.Argument(
        None, help="Free text (all words must occur in id, name, title, arXiv id, venue or authors) or a wildcard "
        "matched against id, short name, arXiv id or title, e.g. 'fast*'.", show_default=False
    ),
    modality: Optional[List[str]] = typer.Option(None, "--modality", "-m", help=f"{', '.join(vocab.MODALITY)} (repeat or comma-separate for OR)."),
    year: Optional[List[str]] = typer.Option(None, "--year", "-y", help=YEAR_HELP),
    venue_year: Optional[List[str]] = typer.Option(None, "--venue-year", help="Year of the venue the paper appeared at (same forms as --year; preprints never match)."),
    arxiv_year: Optional[List[str]] = typer.Option(None, "--arxiv-year", help="Year of the arXiv v1 (arxiv_published; same forms as --year)."),
    venue: Optional[List[str]] = typer.Option(None, "--venue", help="Venue name, optionally with year: CVPR, 'CVPR 2024', 'NeurIPS*'."),
    author: Optional[List[str]] = typer.Option(None, "--author", "-a", help="An author's name or part of it, case and accents ignored ('Song Han', 'han'; '* Han' as a wildcard). Repeat for OR."),
    technique: Optional[List[str]] = typer.Option(None, "--technique", "-t", help=", ".join(vocab.TECHNIQUE) + "."),
    family: Optional[List[str]] = typer.Option(None, "--family", "-f", help=", ".join(vocab.FAMILY) + "."),
    training_free: Optional[bool] = typer.Option(None, "--training-free/--needs-training", help="Only training-free papers / only papers that need training."),
    has_code: Optional[bool] = typer.Option(None, "--has-code/--no-code", help="Only papers with / without an official code link."),
    implemented: Optional[bool] = typer.Option(None, "--implemented/--not-implemented", help="Only papers implemented in tokzoo / not implemented."),
    status: Optional[List[str]] = typer.Option(None, "--status", help="Zoo status: " + ", ".join(vocab.ZOO_STATUS) + "."),
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", "-F", help="Output format."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Show at most N papers."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP, envvar="TOKZOO_CATALOG"),
) -> None:
    """List papers matching all filters (values of one filter are alternatives).

    Table columns: ID, Year (the section year), Venue, Name, Title, arXiv, Code, Zoo; a narrow
    terminal drops Name, arXiv, Code and Venue, in that order. JSON/CSV hold every field.
    """
    from zoo.catalog.formats import render

    cat = _load(catalog)
    papers = _select(
        cat, modality=modality, year=year, venue_year=venue_year, arxiv_year=arxiv_year, venue=venue, author=author,
        technique=technique, family=family, training_free=training_free, has_code=has_code, implemented=implemented,
        status=status, text=query,
    )
    total = len(papers)
    if limit is not None:
        papers = papers[:limit]
    if fmt is ListFormat.table:
        if not papers:
            sys.stderr.write(f"no paper matches (catalog has {len(cat)} papers)\n")
            return
        shown = f"{len(papers)} of {total} matching" if len(papers) < total else f"{total}"
        _write(render(papers, "table") + f"{shown} paper{'s' if total != 1 else ''} (catalog: {len(cat)})\n")
    else:
        _write(render(papers, fmt.value))


# ---------------------------------------------------------------------------------------- show


def _repro_line(paper_id: str) -> str:
    """Derived repro status of an implemented paper, per kind, from its script and committed records
    (a corrupt record is skipped with a warning naming it on stderr)."""
    from zoo import repro

    if paper_id not in repro.list_papers():
        return "no repro script yet"
    problems: list[str] = []
    try:
        line = repro.paper_status_line(paper_id, on_problem=problems.append)
    except Exception as exc:  # noqa: BLE001 - a broken repro script must not break `show`
        line = f"repro script cannot be loaded ({type(exc).__name__}: {exc})"
    for problem in problems:
        typer.echo(f"warning: {problem}", err=True)
    return f"{line} (run: tokzoo repro {paper_id})"


def _show_text(paper) -> str:
    venue = f"{paper.venue.label()} ({paper.venue.kind})"
    if paper.sources.venue:
        venue += f"; source {paper.sources.venue}"
    license_text = paper.code_license or "-"
    if paper.license_restricts_use:
        license_text += "  (restricts use: read the license before using the code)"
    rows = [
        ("id", paper.id),
        ("short name", paper.short_name or "-"),
        ("authors", ", ".join(paper.authors) if paper.authors else "-"),
        ("section year", f"{paper.section_year} (the upstream list's section)"),
        ("arXiv", (f"{paper.arxiv} (v1 {paper.arxiv_published})" if paper.arxiv_published else paper.arxiv) if paper.arxiv else "-"),
        ("venue", venue),
        ("paper", paper.links.paper),
        ("code", paper.links.code or "-"),
    ]
    rows += [("code", url) for url in paper.links.other_code]
    rows += [("code license", license_text), ("project", paper.links.project or "-")]
    rows += [("other", url) for url in paper.links.other]
    rows += [
        ("modality", ", ".join(paper.modality)),
        ("technique", ", ".join(paper.technique)),
        ("family", ", ".join(paper.family)),
        ("training-free", "yes" if paper.training_free else "no"),
    ]
    if paper.added != "upstream":
        rows.append(("added by", f"{paper.added} (not in the upstream list)"))
    zoo = paper.zoo.status + (f" (method {paper.zoo.method!r})" if paper.zoo.method else "")
    rows.append(("zoo", zoo))
    if paper.implemented:
        rows.append(("apply", f'with zoo.apply(model, "{paper.zoo.method}") as run: ...'))
        rows.append(("repro", _repro_line(paper.id)))
    for name in ("authors", "arxiv_published", "code", "project", "code_license"):
        url = getattr(paper.sources, name)
        if url:
            rows.append((f"source: {name}", url))
    rows.append(("cite", f"tokzoo cite {paper.id}"))
    width = max(len(k) for k, _ in rows)
    head = f"{paper.name}: {paper.title}" if paper.short_name else paper.title
    head = _clean(head).replace("\n", " ") + "\n\n"
    return head + "".join(f"  {k.ljust(width)}  {_clean(v).replace(chr(10), ' ')}\n" for k, v in rows)


def _not_found(cat, key: str, exc: Exception) -> str:
    """The lookup error, plus the papers of an author of that name, if any."""
    message = str(exc)
    from zoo.catalog import QueryError

    try:
        by_author = cat.by_author(key)
    except QueryError:
        by_author = []
    if by_author:
        listed = ", ".join(p.id for p in by_author[:10]) + (" ..." if len(by_author) > 10 else "")
        message += (f"\n{key!r} matches an author of {len(by_author)} paper{'s' if len(by_author) != 1 else ''}: "
                    f"{listed}; list them with: tokzoo list --author {key!r}")
    return _clean(message)


def show_cmd(
    key: str = typer.Argument(..., help="Paper id, arXiv id (2403.06764, arXiv:2403.06764v2, abs URL) or unambiguous "
                              "name; an author's name lists that author's papers."),
    fmt: ShowFormat = typer.Option(ShowFormat.text, "--format", "-F", help="Output format."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP, envvar="TOKZOO_CATALOG"),
) -> None:
    """Show one paper with all its fields and links."""
    from zoo.catalog import AmbiguousPaper, PaperNotFound
    from zoo.catalog.formats import render

    cat = _load(catalog)
    try:
        paper = cat.get(key)
    except PaperNotFound as exc:
        raise _fail(_not_found(cat, key, exc)) from None
    except AmbiguousPaper as exc:
        raise _fail(_clean(str(exc))) from None
    if fmt is ShowFormat.text:
        _write(_show_text(paper))
    elif fmt is ShowFormat.json:
        from zoo.catalog import SCHEMA_VERSION

        _write(json.dumps({"schema_version": SCHEMA_VERSION, "paper": paper.to_dict()}, ensure_ascii=False, indent=2) + "\n")
    else:
        _write(render([paper], fmt.value))


# ---------------------------------------------------------------------------------------- stats


def stats_cmd(
    modality: Optional[List[str]] = typer.Option(None, "--modality", "-m", help="Restrict to these modalities."),
    year: Optional[List[str]] = typer.Option(None, "--year", "-y", help="Restrict to a section year or range (2023..2024); see `tokzoo list --help`."),
    technique: Optional[List[str]] = typer.Option(None, "--technique", "-t", help="Restrict to these techniques."),
    family: Optional[List[str]] = typer.Option(None, "--family", "-f", help="Restrict to these model families."),
    fmt: StatsFormat = typer.Option(StatsFormat.table, "--format", "-F", help="Output format."),
    top: int = typer.Option(15, "--top", min=1, help="Venues listed in the table (the rest are summed as 'other')."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP, envvar="TOKZOO_CATALOG"),
) -> None:
    """Count papers by year, modality, technique, family, venue and zoo status."""
    from zoo.catalog import SCHEMA_VERSION

    cat = _load(catalog)
    papers = _select(cat, modality=modality, year=year, technique=technique, family=family)
    counts = cat.stats(papers)
    if fmt is StatsFormat.json:
        _write(json.dumps({"schema_version": SCHEMA_VERSION, **counts}, ensure_ascii=False, indent=2) + "\n")
        return
    total = counts["total"]
    out = [
        f"{total['papers']} papers ({total['with_arxiv']} with an arXiv id, {total['with_code']} with code, "
        f"{total['training_free']} training-free)\n"
    ]
    titles = {"year": "section year", "modality": "modality", "technique": "technique", "family": "family",
              "venue": "venue", "venue_kind": "venue kind", "zoo_status": "zoo status"}
    for key, title in titles.items():
        items = list(counts[key].items())
        if key == "venue" and len(items) > top:
            rest = sum(n for _, n in items[top:])
            items = items[:top] + [(f"({len(items) - top} others)", rest)]
        width = max([len(title)] + [len(k) for k, _ in items])
        out.append(f"\n{title.ljust(width)}  papers\n")
        out.extend(f"{k.ljust(width)}  {n:6d}\n" for k, n in items)
    out.append("\n(a paper with several modalities, techniques or families counts once in each)\n")
    _write("".join(out))


# ---------------------------------------------------------------------------------------- validate


def validate_cmd(
    file: Optional[Path] = typer.Argument(None, help="Catalog file to check (default: the repo's catalog.yaml).", show_default=False),
    schema: bool = typer.Option(False, "--schema", help="Print the catalog's JSON Schema and exit."),
    complete: bool = typer.Option(False, "--complete", help="Also require the curated metadata: authors for every "
                                  "paper, the arXiv v1 date of arXiv papers, a source for every published venue."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP, envvar="TOKZOO_CATALOG"),
) -> None:
    """Check a catalog: schema, closed vocabularies, unique ids/arXiv ids, https links, no control characters.

    Exit status 1 when there are problems; each is printed as FILE:LINE: entry, field, message
    and the allowed values.
    """
    from zoo.catalog import catalog_json_schema, default_catalog_path, validate_file

    if schema:
        _write(json.dumps(catalog_json_schema(), indent=2, ensure_ascii=False) + "\n")
        return
    target = file or catalog
    if target is None:
        try:
            target = default_catalog_path()
        except FileNotFoundError as exc:
            raise _fail(str(exc)) from None
    parsed, issues = validate_file(target)
    if parsed is not None and complete:
        from zoo.catalog.validate import LineIndex, completeness_issues

        issues = completeness_issues(parsed, str(target), LineIndex.from_text(Path(target).read_text(encoding="utf-8")))
    if issues:
        _write("".join(f"{_clean(str(issue))}\n" for issue in issues))
        raise _fail(f"{target}: {len(issues)} problem{'s' if len(issues) != 1 else ''}")
    assert parsed is not None
    _write(f"{target}: OK ({len(parsed.papers)} papers{', metadata complete' if complete else ''})\n")


# ---------------------------------------------------------------------------------------- cite


def cite_cmd(
    keys: List[str] = typer.Argument(..., help="Paper ids, arXiv ids or unambiguous names."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP, envvar="TOKZOO_CATALOG"),
) -> None:
    """Print BibTeX entries (the key is the catalog id)."""
    from zoo.catalog import AmbiguousPaper, PaperNotFound
    from zoo.catalog.bibtex import bibtex

    cat = _load(catalog)
    papers, errors = [], []
    for key in keys:
        try:
            papers.append(cat.get(key))
        except PaperNotFound as exc:
            errors.append(_not_found(cat, key, exc))
        except AmbiguousPaper as exc:
            errors.append(_clean(str(exc)))
    if errors:
        raise _fail("\n".join(errors))
    _write(bibtex(papers))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("list")(list_cmd)
    app.command("show")(show_cmd)
    app.command("stats")(stats_cmd)
    app.command("validate")(validate_cmd)
    app.command("cite")(cite_cmd)
