"""The ``tokzoo`` command line (typer).

Each command group lives in its own module with a ``register(app)`` function. Heavy
imports (torch, transformers, timm) happen inside command bodies only: ``import zoo.cli``
must stay fast (a test checks it). ``-h`` and ``--help`` work everywhere; ``--version``
prints the version.
"""

from __future__ import annotations

import typer

from zoo.cli import catalog_cmds, contrib_cmds, methods_cmds, repro_cmds, site_cmds

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="tokzoo",
    help="tokzoo: the reference zoo for token reduction in transformers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


def _print_version(value: bool) -> None:
    if value:
        from zoo import __version__

        typer.echo(f"tokzoo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version, is_eager=True,
                                 help="Print the tokzoo version and exit."),
) -> None:
    """tokzoo: the reference zoo for token reduction in transformers.

    Catalog: list, show, stats, cite, validate. Contributing: add, sync, new-method, pr-check.
    Methods: methods, bench. Reproductions: repro. Site: site.
    """


for _module in (catalog_cmds, methods_cmds, repro_cmds, site_cmds, contrib_cmds):
    _module.register(app)


def main() -> None:
    app()
