"""Entry point shared by the repro scripts: ``python repro/<id>.py [options]`` == ``tokzoo repro <id> [options]``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from zoo.repro.spec import PaperSpec


def main(spec: PaperSpec, argv: list[str] | None = None) -> None:
    """Run ``spec`` through the ``tokzoo repro`` command (same options, same output)."""
    if spec.path:
        os.environ.setdefault("TOKZOO_REPRO_DIR", str(Path(spec.path).resolve().parent))
    else:
        caller = Path(sys.argv[0]).resolve()
        if caller.suffix == ".py":
            os.environ.setdefault("TOKZOO_REPRO_DIR", str(caller.parent))
    import typer

    from zoo.cli.repro_cmds import repro

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(repro)  # a one-command app: its arguments are repro's own
    args = sys.argv[1:] if argv is None else argv
    app([spec.paper_id, *args], prog_name=f"python {Path(spec.path or sys.argv[0]).name}")
