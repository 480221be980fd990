"""``tokzoo repro``: check implemented papers' reported numbers (see ``repro/<id>.py``).

Heavy libraries are imported by the measurements themselves, only when a claim runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from zoo.vocab import CLAIM_KIND

_STATUS_STYLE = {"reproduced": "green", "deviates": "red", "failed": "red", "skipped": "yellow",
                 "partial": "cyan", "not run": "dim"}


def _pairs(values: Optional[List[str]], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"{option} expects NAME=PATH, got {item!r}", param_hint=option)
        out[name] = path
    return out


def _fmt(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def repro(
    paper_id: Optional[str] = typer.Argument(None, help="Paper id (catalog id), e.g. fastv. Omit with --all or --list."),
    all_papers: bool = typer.Option(False, "--all", help="Run every paper that has a repro script."),
    list_only: bool = typer.Option(False, "--list", help="List repro scripts with their claims and status; run nothing."),
    kind: Optional[List[str]] = typer.Option(None, "--kind", "-k", help=f"Only claims of this kind (repeatable): {', '.join(CLAIM_KIND)}. Also runs on-demand claims of that kind."),
    claim: Optional[List[str]] = typer.Option(None, "--claim", "-c", help="Only this claim id (repeatable)."),
    data_dir: Optional[List[str]] = typer.Option(None, "--data-dir", help="NAME=PATH of a local dataset, e.g. imagenet-val=/data/imagenet/val (or env TOKZOO_DATA_<NAME>)."),
    weights: Optional[List[str]] = typer.Option(None, "--weights", help="ID=PATH of local weights for a hub id (or env TOKZOO_WEIGHTS_<ID>)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Evaluate at most this many examples (quick check; the record says so)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads for speed claims."),
    as_json: bool = typer.Option(False, "--json", help="Print the records as JSON instead of a table."),
    strict: bool = typer.Option(False, "--strict", help="Exit with code 1 if any claim deviates or failed."),
    write: bool = typer.Option(True, "--write/--no-write", help="Write records under repro/results/."),
    results_dir: Optional[Path] = typer.Option(None, "--results-dir", help="Where to write records (default repro/results or TOKZOO_RESULTS_DIR)."),
    source: str = typer.Option("tokzoo", "--source", help="Who produced these records: tokzoo | community."),
) -> None:
    """Reproduce a paper's claims: analytic numbers everywhere, GPU/weights/data claims where available."""
    from rich.console import Console

    import zoo.repro as zr
    from zoo.repro.records import SOURCES

    console = Console(stderr=as_json)
    for k in kind or []:
        if k not in CLAIM_KIND:
            raise typer.BadParameter(f"unknown claim kind {k!r}; allowed: {', '.join(CLAIM_KIND)}", param_hint="--kind")
    if device not in {"auto", "cpu", "cuda"}:
        raise typer.BadParameter(f"device {device!r}; allowed: auto, cpu, cuda", param_hint="--device")
    if source not in SOURCES or source == "paper":
        raise typer.BadParameter(f"source {source!r}; allowed: tokzoo, community", param_hint="--source")

    if list_only:
        _list(console, zr, results_dir, as_json)
        return
    if all_papers == bool(paper_id):
        raise typer.BadParameter("give one paper id, or --all (or --list)", param_hint="PAPER_ID")
    ids = zr.list_papers() if all_papers else [paper_id]
    try:
        specs = [zr.load_spec(i) for i in ids]
    except KeyError as exc:
        console.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from None

    options = zr.RunOptions(kinds=tuple(kind or ()), claims=tuple(claim or ()), data=_pairs(data_dir, "--data-dir"),
                            weights=_pairs(weights, "--weights"), device=device, limit=limit, threads=threads,
                            write=write, results_dir=results_dir, source=source)
    all_records = []
    for spec in specs:
        all_records += _run_with_progress(console, zr, spec, options)
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in all_records], indent=2, default=str) + "\n")
    else:
        _table(console, specs, all_records, zr)
    if strict and any(r.status in {"deviates", "failed"} for r in all_records):
        raise typer.Exit(1)


def _run_with_progress(console, zr, spec, options):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    n = sum(1 for c in spec.claims if zr.engine.selected(c, options)[1] != "not selected")
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[current]}"), console=console, transient=True) as bar:
        task = bar.add_task(spec.paper_id, total=n, current="")

        def on_claim(claim, record):
            if record is None:
                bar.update(task, current=claim.id)
            else:
                bar.advance(task)

        def progress(message: str) -> None:
            bar.update(task, current=message)

        return zr.run_paper(spec, options, on_claim=on_claim, progress=progress)


def _table(console, specs, records, zr) -> None:
    from rich.table import Table

    by_paper: dict[str, list] = {}
    for r in records:
        by_paper.setdefault(r.paper_id, []).append(r)
    for spec in specs:
        recs = by_paper.get(spec.paper_id, [])
        if not recs:
            why = "no claims (see the script's notes)" if not spec.claims else "no claim selected"
            console.print(f"[bold]{spec.paper_id}[/bold]: {why}\n")
            continue
        table = Table(title=f"{spec.paper_id}: {spec.title}", title_justify="left", show_lines=False)
        table.add_column("claim", no_wrap=True)
        for col in ("kind", "reported", "measured", "status", "note"):
            table.add_column(col, overflow="fold")
        for r in recs:
            style = _STATUS_STYLE.get(r.status, "")
            note = r.reason if r.status != "reproduced" else (r.label or "")
            table.add_row(r.claim_id, r.kind, f"{_fmt(r.reported)} {r.unit}", f"{_fmt(r.measured)} {r.unit}" if r.measured is not None else "-",
                          f"[{style}]{r.status}[/{style}]" if style else r.status, note)
        console.print(table)
        counts: dict[str, int] = {}
        for r in recs:
            counts[r.status] = counts.get(r.status, 0) + 1
        console.print("  " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + "\n")


def _list(console, zr, results_dir, as_json) -> None:
    from rich.table import Table

    rows = []
    for pid in zr.list_papers():
        spec = zr.load_spec(pid)
        recs = zr.load_results(pid, results_dir)
        rows.append({"paper": pid, "claims": len(spec.claims), "kinds": spec.kinds(),
                     "status": zr.derive_status(spec, recs), "counts": zr.summary(spec, recs)})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="repro scripts")
    for col in ("paper", "claims", "kinds", "status", "reproduced/deviates/failed/skipped"):
        table.add_column(col)
    for row in rows:
        c = row["counts"]
        style = _STATUS_STYLE.get(row["status"], "")
        table.add_row(row["paper"], str(row["claims"]), ", ".join(row["kinds"]), f"[{style}]{row['status']}[/{style}]",
                      f"{c['reproduced']}/{c['deviates']}/{c['failed']}/{c['skipped']}")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("repro")(repro)
