"""The ``tokzoo`` command line (typer).

Each command group lives in its own module with a ``register(app)`` function. Heavy
imports (torch, transformers, timm) happen inside command bodies only: ``import zoo.cli``
must stay fast (a test checks it).
"""

from __future__ import annotations

import typer

from zoo.cli import catalog_cmds, contrib_cmds, methods_cmds, repro_cmds, site_cmds

app = typer.Typer(
    name="tokzoo",
    help="tokzoo: the reference zoo for token reduction in transformers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (catalog_cmds, methods_cmds, repro_cmds, site_cmds, contrib_cmds):
    _module.register(app)


def main() -> None:
    app()
