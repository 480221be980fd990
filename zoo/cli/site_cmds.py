"""tokzoo commands: ``tokzoo site build`` and ``tokzoo site serve`` (the MkDocs-material site).

The site modules (matplotlib, mkdocs, the method registry) are imported inside the
command bodies only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

site_app = typer.Typer(help="Build or preview the tokzoo website (generated from the catalog and results).",
                       no_args_is_help=True)


@site_app.command("build")
def build_cmd(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Build folder (default: site/build in the checkout)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: the repo's catalog.yaml or $TOKZOO_CATALOG)."),
    strict: bool = typer.Option(True, "--strict/--no-strict", help="Fail on any MkDocs warning (broken link, missing page)."),
    root: Optional[Path] = typer.Option(None, "--root", help="The tokzoo checkout to build (default: the one around the working directory)."),
    site_url: Optional[str] = typer.Option(None, "--site-url", envvar="TOKZOO_SITE_URL",
                                           help="Address the site is served from, e.g. https://owner.github.io/tokzoo/ (404 page, sitemap)."),
    repo_url: Optional[str] = typer.Option(None, "--repo-url", envvar="TOKZOO_REPO_URL",
                                           help="Repository linked from the header (default: the checkout's GitHub origin; '' for none)."),
) -> None:
    """Generate every page and run ``mkdocs build --strict``; the HTML lands in <out>/html."""
    from zoo.catalog import CatalogError
    from zoo.site.build import build

    try:
        result = build(out, catalog_path=catalog, strict=strict, root=root, site_url=site_url, repo_url=repo_url)
    except CatalogError as exc:
        typer.echo(f"error: the catalog is invalid; nothing was built\n{exc}", err=True)
        raise typer.Exit(1) from None
    except ImportError as exc:
        typer.echo(f"error: {exc}; the site needs the site extra: pip install 'tokzoo[site]'", err=True)
        raise typer.Exit(1) from None
    except (FileNotFoundError, FileExistsError, RuntimeError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"built {len(result.pages)} pages ({len(result.data.papers)} papers, "
               f"{len(result.data.methods)} methods) into {result.html}")


@site_app.command("serve")
def serve_cmd(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Build folder (default: site/build in the checkout)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: the repo's catalog.yaml)."),
    addr: str = typer.Option("127.0.0.1:8000", "--addr", help="Address to serve on."),
    root: Optional[Path] = typer.Option(None, "--root", help="The tokzoo checkout to build (default: the one around the working directory)."),
) -> None:
    """Generate the pages and preview the site with ``mkdocs serve`` (reloads on edits of the generated docs)."""
    from zoo.catalog import CatalogError
    from zoo.site.build import build

    try:
        result = build(out, catalog_path=catalog, run=False, root=root)
    except (CatalogError, FileNotFoundError, FileExistsError, RuntimeError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"serving {result.out} on http://{addr}/ (Ctrl-C stops)")
    cmd = [sys.executable, "-m", "mkdocs", "serve", "-f", str(result.out / "mkdocs.yml"), "-a", addr]
    sys.stdout.flush()
    sys.stderr.flush()
    # replace this process with mkdocs so Ctrl-C and kill reach the server directly
    os.execv(sys.executable, cmd)


@site_app.command("metadata")
def metadata_cmd(
    check: bool = typer.Option(False, "--check", help="Only compare: exit 1 when the committed file is not current."),
    root: Optional[Path] = typer.Option(None, "--root", help="The tokzoo checkout (default: the one around the working directory)."),
) -> None:
    """Write site/data/methods.json: method docs, parameters and recorded token schedules.

    Maintainer command (needs the model extras: it runs every method on small random-weight
    models of the reference architectures, about 30 s on a CPU). A build without torch reads
    this file; a test checks that the committed file is current.
    """
    from zoo.site import metadata
    from zoo.site.build import find_root

    try:
        folder = Path(root).resolve() if root else find_root()
        from zoo.site.data import _package_root

        if folder != _package_root():
            raise ValueError(f"{folder} is not the checkout of the imported zoo package ({_package_root()}); "
                             "run the command with that checkout's zoo on the path (PYTHONPATH or an editable install)")
        if check:
            stale = metadata.stale_parts(metadata.load(folder), metadata.generate())
            if stale:
                typer.echo(f"{metadata.data_path(folder)} is not current ({', '.join(stale)}); "
                           "run `tokzoo site metadata`", err=True)
                raise typer.Exit(1)
            typer.echo(f"{metadata.data_path(folder)} is current")
            return
        path = metadata.write(folder)
    except ImportError as exc:
        typer.echo(f"error: {exc}; the metadata needs the model extras: pip install 'tokzoo[vit,vlm]'", err=True)
        raise typer.Exit(1) from None
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``site`` command group to ``app``."""
    app.add_typer(site_app, name="site")
