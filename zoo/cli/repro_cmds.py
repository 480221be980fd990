"""``tokzoo repro``: check implemented papers' reported numbers (see ``repro/<id>.py``).

Heavy libraries are imported by the measurements themselves, only when a claim runs.
Records go to a per-user folder (``zoo.repro.user_results_dir``) unless ``--record``
(maintainers: the committed ``repro/results``) or ``--results-dir`` says otherwise, so a
run never changes tracked files. ``--list`` and ``tokzoo show`` read the committed records.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from zoo.vocab import CLAIM_KIND, CLAIM_KIND_GROUP

_STATUS_STYLE = {"reproduced": "green", "deviates": "red", "failed": "red", "skipped": "yellow",
                 "inconclusive": "magenta", "partial": "cyan", "not run": "dim", "analytic only": "cyan", "reproduced, no accuracy claim": "cyan"}
_SPEED_KINDS = set(CLAIM_KIND_GROUP["speed"])


def _pairs(values: Optional[List[str]], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"{option} expects NAME=PATH, got {item!r}", param_hint=option)
        out[name] = path
    return out


def _official(values: Optional[List[str]]) -> dict[str, str]:
    """``--official PATH`` (key ``""``) or ``--official owner/repo=PATH`` (repeatable)."""
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, path = item.partition("=")
        if sep and "/" in name and path:
            out[name] = path
        elif not sep and item:
            if "" in out:
                raise typer.BadParameter("give one bare --official PATH, or owner/repo=PATH for each repository",
                                         param_hint="--official")
            out[""] = item
        else:
            raise typer.BadParameter(f"--official expects PATH or owner/repo=PATH, got {item!r}", param_hint="--official")
    return out


def _fmt(value: Optional[float], tolerance: Optional[float] = None) -> str:
    """A number as the paper printed it (``tolerance`` None: up to 12 significant digits), or with
    one decimal more than the tolerance resolves (a measured value next to its claim)."""
    import math

    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.4g}" if tolerance is not None else f"{value:.12g}"
    if tolerance is None:
        return f"{value:.12g}"
    if tolerance <= 0:
        return f"{value:.12g}"
    decimals = min(12, max(0, math.ceil(-math.log10(tolerance)) + 1))
    return f"{value:.{decimals}f}"


def _unit(unit: str) -> str:
    return "" if not unit else (unit if unit in ("%", "x") else f" {unit}")


def _decimals(value: float) -> int:
    text = f"{float(value):.12g}"
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def accepts(direction: str, reported: float, tolerance: float, unit: str = "") -> str:
    """What a measurement must be to reproduce a claim: ``44.5..45.5``, ``>= 1.35``, ``<= 1e-10``."""
    import math

    u = _unit(unit)
    if tolerance == 0 and direction == "equal":
        return f"= {_fmt(reported)}{u}"
    decimals = max(_decimals(reported), math.ceil(-math.log10(tolerance)) if tolerance > 0 else 0)

    def bound(x: float) -> str:
        if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6):
            return f"{x:.3g}"
        return f"{x:.{min(decimals, 12)}f}" if decimals > 0 else f"{x:.0f}"

    if direction == "higher":
        return f">= {bound(reported - tolerance)}{u}"
    if direction == "lower":
        return f"<= {bound(reported + tolerance)}{u}"
    return f"{bound(reported - tolerance)}..{bound(reported + tolerance)}{u}"


def _load() -> tuple[float, int]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return load, os.cpu_count() or 1


def busy_warning() -> str:
    """A warning when other work already uses every core ("" when the machine is quiet)."""
    load, cores = _load()
    if load <= cores:
        return ""
    return (f"machine busy: load average {load:.1f} on {cores} cores; speed claims measured now may come out "
            "'inconclusive' (CPU time and load are recorded)")


def repro(
    paper_id: Optional[str] = typer.Argument(None, help="Paper id (catalog id), e.g. fastv. Omit with --all or --list."),
    all_papers: bool = typer.Option(False, "--all", help="Run every paper that has a repro script; ends with totals."),
    list_only: bool = typer.Option(False, "--list", help="List repro scripts with their status per kind (committed records); run nothing."),
    kind: Optional[List[str]] = typer.Option(None, "--kind", "-k", help=f"Only claims of this kind (repeatable): {', '.join(CLAIM_KIND)}. Also runs on-demand claims of that kind."),
    claim: Optional[List[str]] = typer.Option(None, "--claim", "-c", help="Only this claim id (repeatable)."),
    data_dir: Optional[List[str]] = typer.Option(None, "--data-dir", help="NAME=PATH of a local dataset, e.g. imagenet-val=/data/imagenet/val (or env TOKZOO_DATA_<NAME>)."),
    weights: Optional[List[str]] = typer.Option(None, "--weights", help="ID=PATH of local weights for a hub id (or env TOKZOO_WEIGHTS_<ID>)."),
    official: Optional[List[str]] = typer.Option(None, "--official", help="Local checkout of the authors' code at the claim's pinned commit, for conformance claims: PATH, or owner/repo=PATH (repeatable; or env TOKZOO_OFFICIAL_<OWNER>_<REPO>)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Evaluate at most this many examples (quick check; the record says so)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads for speed claims."),
    as_json: bool = typer.Option(False, "--json", help="Stream JSON Lines to stdout: {\"record\": ...} per claim as it finishes, {\"paper\": ...} per paper (status per kind), {\"totals\": ...} last; progress on stderr."),
    strict: bool = typer.Option(False, "--strict", help="Exit with code 1 if any claim deviates or failed."),
    write: bool = typer.Option(True, "--write/--no-write", help="Write records (default: the per-user results folder)."),
    record: bool = typer.Option(False, "--record", help="Maintainers: write into the committed repro/results/ (what tokzoo show and the site read)."),
    results_dir: Optional[Path] = typer.Option(None, "--results-dir", help="Where to write records (default: TOKZOO_RESULTS_DIR or a per-user data folder); with --list, where to read them."),
    source: str = typer.Option("tokzoo", "--source", help="Who produced these records: tokzoo | community."),
) -> None:
    """Reproduce a paper's claims: analytic numbers everywhere, speed/conformance/GPU/weights/data claims where available."""
    from rich.console import Console

    import zoo.repro as zr
    from zoo.repro.records import SOURCES

    console = Console(stderr=as_json)
    err = Console(stderr=True)
    for k in kind or []:
        if k not in CLAIM_KIND:
            hint = f" (a status kind; its claim kinds: {', '.join(CLAIM_KIND_GROUP[k])})" if k in CLAIM_KIND_GROUP else ""
            raise typer.BadParameter(f"unknown claim kind {k!r}{hint}; allowed: {', '.join(CLAIM_KIND)}", param_hint="--kind")
    if device not in {"auto", "cpu", "cuda"}:
        raise typer.BadParameter(f"device {device!r}; allowed: auto, cpu, cuda", param_hint="--device")
    if source not in SOURCES or source == "paper":
        raise typer.BadParameter(f"source {source!r}; allowed: tokzoo, community", param_hint="--source")
    if record and results_dir is not None:
        raise typer.BadParameter("--record writes the committed repro/results/; do not combine it with --results-dir",
                                 param_hint="--record")
    if record and not write:
        raise typer.BadParameter("--record and --no-write contradict each other", param_hint="--record")

    if list_only:
        _list(console, err, zr, results_dir, as_json)
        return
    if all_papers == bool(paper_id):
        raise typer.BadParameter("give one paper id, or --all (or --list)", param_hint="PAPER_ID")
    ids = zr.list_papers() if all_papers else [paper_id]
    try:
        specs = [zr.load_spec(i) for i in ids]
    except KeyError as exc:
        err.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from None

    out_dir = zr.results_dir() if record else (results_dir or zr.user_results_dir())
    options = zr.RunOptions(kinds=tuple(kind or ()), claims=tuple(claim or ()), data=_pairs(data_dir, "--data-dir"),
                            weights=_pairs(weights, "--weights"), official=_official(official), device=device,
                            limit=limit, threads=threads, write=write, results_dir=out_dir, source=source)
    speed_selected = any(c.kind in _SPEED_KINDS and zr.engine.selected(c, options)[0] for s in specs for c in s.claims)
    warning = busy_warning() if speed_selected else ""
    if warning:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    runner = _Runner(console, err, zr, options, as_json, total_claims=sum(_n_selected(zr, s, options) for s in specs))
    all_records = []
    for spec in specs:
        recs = runner.run(spec)
        all_records += recs
        if as_json:
            _emit({"paper": _paper_summary(zr, spec, recs)})
        else:
            _table(console, spec, recs, zr)
    totals = _totals(zr, specs, all_records)
    if as_json:
        _emit({"totals": totals})
    elif len(specs) > 1:
        console.print(_totals_text(totals))
    if write and all_records:
        err.print(f"records written to {out_dir}" + ("" if record else " (committed records: tokzoo repro --record)"))
    if strict and any(r.status in {"deviates", "failed"} for r in all_records):
        raise typer.Exit(1)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def _n_selected(zr, spec, options) -> int:
    return sum(1 for c in spec.claims if zr.engine.selected(c, options)[1] != "not selected")


class _Runner:
    """Runs papers one after another with progress on stderr: a live bar on a terminal, else one
    line per claim that is not instant; a busy-machine warning before each speed claim."""

    def __init__(self, console, err, zr, options, as_json: bool, total_claims: int) -> None:
        self.console, self.err, self.zr, self.options, self.as_json = console, err, zr, options, as_json
        self.total = total_claims
        self.done = 0

    def run(self, spec) -> list:
        if self.err.is_terminal:
            return self._run_live(spec)
        return self._run_plain(spec)

    def _finished(self, claim, record) -> None:
        self.done += 1
        if self.as_json:
            _emit({"record": record.to_dict()})

    def _before(self, claim, say) -> None:
        if claim.kind in _SPEED_KINDS:
            warning = busy_warning()
            if warning:
                say(f"[yellow]warning:[/yellow] {claim.id}: {warning}")

    #: seconds between two progress lines of one claim in plain (non-terminal) output
    PROGRESS_EVERY = 2.0

    def _run_plain(self, spec) -> list:
        started: dict[str, float] = {}
        current = {"claim": "", "last": 0.0}

        def progress(message: str) -> None:  # the first message of a claim, then at most one line every 2 s
            now = time.perf_counter()
            if current["last"] and now - current["last"] < self.PROGRESS_EVERY:
                return
            current["last"] = now
            self.err.print(f"  {spec.paper_id}/{current['claim']}: {message}", highlight=False, markup=False)

        def on_claim(claim, record):
            if record is None:
                current["claim"], current["last"] = claim.id, 0.0
                started[claim.id] = time.perf_counter()
                self._before(claim, self.err.print)
                if claim.kind != "analytic":
                    self.err.print(f"[{self.done + 1}/{self.total}] {spec.paper_id}/{claim.id} ...", highlight=False)
                return
            took = time.perf_counter() - started.get(claim.id, time.perf_counter())
            self._finished(claim, record)
            if claim.kind != "analytic" or took >= 1.0:
                self.err.print(f"[{self.done}/{self.total}] {spec.paper_id}/{claim.id}: {record.status} "
                               f"({took:.1f} s)", highlight=False)

        return self.zr.run_paper(spec, self.options, on_claim=on_claim, progress=progress,
                                 on_problem=lambda m: self.err.print(f"[red]error:[/red] {m}", highlight=False))

    def _run_live(self, spec) -> list:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(bar_width=20),
                      MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[current]}"),
                      console=self.err, transient=True) as bar:
            task = bar.add_task(spec.paper_id, total=_n_selected(self.zr, spec, self.options), current="")

            def on_claim(claim, record):
                if record is None:
                    self._before(claim, bar.console.print)
                    bar.update(task, current=claim.id)
                else:
                    self._finished(claim, record)
                    bar.advance(task)

            def progress(message: str) -> None:
                bar.update(task, current=message)

            return self.zr.run_paper(spec, self.options, on_claim=on_claim, progress=progress,
                                     on_problem=lambda m: bar.console.print(f"[red]error:[/red] {m}", highlight=False))


def _styled(status: str) -> str:
    style = _STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/{style}]" if style else status


def _table(console, spec, recs, zr) -> None:
    """One paper: its per-kind status line, then its claims grouped by status kind, then the notes
    (why a claim was skipped, deviates or failed), wrapped at words. Columns when they fit the
    console's width, else two lines per claim, so claim ids are never cut (80 columns)."""
    from rich.markup import escape
    from rich.table import Table

    from zoo.repro.status import kind_group

    if not recs:
        why = "no claims (see the script's notes)" if not spec.claims else "no claim selected"
        console.print(f"[bold]{spec.paper_id}[/bold]: {why}\n")
        return
    console.print(f"[bold]{escape(spec.paper_id)}[/bold]: {escape(spec.title)}")
    ran = {r.claim_id for r in recs}
    console.print(f"  {escape(zr.status_line(_only(spec, ran), recs))}")
    notes: list[tuple[str, str]] = []
    groups: dict[str, list] = {}
    for r in recs:
        groups.setdefault(kind_group(r.kind), []).append(r)
    rows: list[tuple[str, list[tuple[str, str, str, str, str]]]] = []
    for group in CLAIM_KIND_GROUP:
        cells = []
        for r in groups.get(group, []):
            mark = ""
            note = r.reason if r.status != "reproduced" else ""
            if note:
                notes.append((r.claim_id, note))
                mark = f" [{len(notes)}]"
            measured = f"{_fmt(r.measured, r.tolerance)}{_unit(r.unit)}" if r.measured is not None else "-"
            cells.append((r.claim_id, f"{_fmt(r.reported)}{_unit(r.unit)}",
                          accepts(r.direction, r.reported, r.tolerance, r.unit), measured, r.status + mark))
        if cells:
            rows.append((group, cells))
    headers = ("claim", "reported", "accepts", "measured", "status")
    widths = [max([len(h)] + [len(c[i]) + (1 if i == 0 else 0) for _, cs in rows for c in cs])
              for i, h in enumerate(headers)]
    if sum(widths) + 2 * (len(widths) - 1) <= console.width:  # two spaces between columns
        table = Table(show_edge=False, box=None, pad_edge=False, padding=(0, 1))
        for h in headers:
            table.add_column(h, no_wrap=True)
        for group, cells in rows:
            table.add_row(f"[bold]{group}[/bold]", "", "", "", "")
            for cid, rep, acc, meas, status in cells:
                word, _, mark = status.partition(" ")
                table.add_row(f" {escape(cid)}", escape(rep), escape(acc), escape(meas),
                              _styled(word) + (f" {escape(mark)}" if mark else ""))
        console.print(table)
    else:
        for group, cells in rows:
            console.print(f"[bold]{group}[/bold]")
            for cid, rep, acc, meas, status in cells:
                word, _, mark = status.partition(" ")
                console.print(f"  {escape(cid)}  {_styled(word)}" + (f" {escape(mark)}" if mark else ""), highlight=False)
                console.print(f"      reported {escape(rep)} (accepts {escape(acc)}), measured {escape(meas)}",
                              highlight=False)
    for i, (cid, note) in enumerate(notes, 1):
        console.print(f"  \\[{i}] {escape(cid)}: {escape(note)}", highlight=False)
    console.print()


def _only(spec, claim_ids):
    """``spec`` restricted to the claims of this run (a run's status line counts what it ran)."""
    import copy

    sub = copy.copy(spec)
    sub.claims = [c for c in spec.claims if c.id in claim_ids]
    return sub


def _paper_summary(zr, spec, recs) -> dict[str, Any]:
    ran = _only(spec, {r.claim_id for r in recs})
    return {"paper_id": spec.paper_id, "status": zr.derive_status(ran, recs), "line": zr.status_line(ran, recs),
            "kinds": {k: v.to_dict() for k, v in zr.kind_statuses(ran, recs).items()}}


def _totals(zr, specs, records) -> dict[str, Any]:
    """Counts over every claim run: per claim state and per status kind."""
    from zoo.repro.status import CLAIM_STATES, kind_group

    states = {s: 0 for s in CLAIM_STATES}
    kinds: dict[str, dict[str, int]] = {}
    for r in records:
        states[r.status] += 1
        k = kinds.setdefault(kind_group(r.kind), {"total": 0, **{s: 0 for s in CLAIM_STATES}})
        k["total"] += 1
        k[r.status] += 1
    papers = sorted({r.paper_id for r in records})
    return {"papers": len(papers), "claims": len(records), "states": states,
            "kinds": {g: kinds[g] for g in CLAIM_KIND_GROUP if g in kinds}}


def _totals_text(totals: dict[str, Any]) -> str:
    states = ", ".join(f"{n} {s}" for s, n in totals["states"].items() if n)
    kinds = " · ".join(f"{g} {k['reproduced']}/{k['total']}" for g, k in totals["kinds"].items())
    return (f"[bold]total[/bold]: {totals['papers']} papers, {totals['claims']} claims: {states or 'none'}\n"
            f"  {kinds}")


def _list(console, err, zr, results_dir, as_json) -> None:
    from rich.markup import escape
    from rich.table import Table

    rows = []
    for pid in zr.list_papers():
        problems: list[str] = []
        try:
            spec = zr.load_spec(pid)
        except Exception as exc:  # noqa: BLE001 - one broken script must not hide the others
            err.print(f"[red]error:[/red] repro/{pid}.py cannot be loaded: {type(exc).__name__}: {exc}", highlight=False)
            rows.append({"paper": pid, "claims": None, "status": "failed", "line": "script cannot be loaded",
                         "kinds": {}, "problems": [str(exc)]})
            continue
        recs = zr.load_results(pid, results_dir, on_problem=problems.append)
        for p in problems:
            err.print(f"[yellow]warning:[/yellow] {p}", highlight=False)
        rows.append({"paper": pid, "claims": len(spec.claims), "status": zr.derive_status(spec, recs),
                     "line": zr.status_line(spec, recs),
                     "kinds": {k: v.to_dict() for k, v in zr.kind_statuses(spec, recs).items()},
                     "counts": zr.summary(spec, recs), "problems": problems})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="repro scripts (committed records)", box=None, pad_edge=False, padding=(0, 1))
    table.add_column("paper", no_wrap=True)
    table.add_column("claims", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("per kind (reproduced/total)")
    for row in rows:
        table.add_row(row["paper"], str(row["claims"] if row["claims"] is not None else "-"), _styled(row["status"]),
                      escape(row["line"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("repro")(repro)
