"""Reproductions: each implemented paper's reported numbers, checked by a repro script.

Python API (light: no torch until a measurement needs it)::

    import zoo.repro as repro
    repro.list_papers()                    # ["ats", "evit", "fastv", ...]
    spec = repro.load_spec("fastv")        # PaperSpec: claims with value, unit, setting, source
    records = repro.run("fastv", kinds=["analytic"])   # measure + write records (per-user folder)
    repro.load_results("fastv")            # committed list[Record] from repro/results/fastv/*.json
    repro.paper_status("fastv")            # "analytic only" | "reproduced" | "partial" | "deviates" | ...
    repro.status_line(spec, records)       # "analytic 9/9 · speed 2/2 (cpu, random weights) · ..."

Scripts live in ``repro/<paper_id>.py`` (``SPEC = PaperSpec(...)``). Committed records (what
``tokzoo show`` and the site read) live in ``repro/results/<paper_id>/<claim_id>.json``; a
plain run writes to :func:`user_results_dir` instead (``--record`` writes the committed ones).
Conformance claims against the authors' code: :mod:`zoo.repro.conformance`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Optional

from zoo.repro.engine import RunOptions, run_claim, run_paper
from zoo.repro.loader import (configs_dir, list_papers, load_config, load_spec, repro_dir, results_dir,
                              user_results_dir)
from zoo.repro.records import RECORD_STATUS, SOURCES, CorruptRecord, Record, read_records, save_record
from zoo.repro.spec import DIRECTIONS, Claim, Measurement, PaperSpec, Source, Unavailable, compare, printed
from zoo.repro.status import KindStatus, derive_status, kind_group, kind_statuses, status_line, summary

__all__ = [
    "Claim", "Measurement", "PaperSpec", "Source", "Unavailable", "Record", "RunOptions",
    "DIRECTIONS", "RECORD_STATUS", "SOURCES",
    "compare", "printed", "derive_status", "summary", "KindStatus", "kind_group", "kind_statuses", "status_line",
    "list_papers", "load_spec", "load_config", "load_results", "paper_status", "run", "run_paper", "run_claim",
    "repro_dir", "results_dir", "user_results_dir", "configs_dir", "save_record", "read_records", "CorruptRecord",
    "paper_status_line",
]


def load_results(paper_id: str, results: Optional[Path] = None, *,
                 on_problem: Optional[Callable[[str], None]] = None) -> list[Record]:
    """Committed records of ``paper_id`` (or those under ``results``), sorted by claim id.

    A corrupt file is skipped and reported to ``on_problem`` (default: a warning naming it)."""
    return read_records(Path(results) if results else results_dir(), paper_id, on_problem=on_problem)


def paper_status(paper_id: str, results: Optional[Path] = None, *,
                 on_problem: Optional[Callable[[str], None]] = None) -> str:
    """The paper's ``REPRO_STATUS`` derived from its committed records."""
    return derive_status(load_spec(paper_id), load_results(paper_id, results, on_problem=on_problem))


def paper_status_line(paper_id: str, results: Optional[Path] = None, *,
                      on_problem: Optional[Callable[[str], None]] = None) -> str:
    """``"analytic only: analytic 9/9 · speed 0/2, not run"``: the paper word and the per-kind counts."""
    spec = load_spec(paper_id)
    records = load_results(paper_id, results, on_problem=on_problem)
    return f"{derive_status(spec, records)}: {status_line(spec, records)}"


def run(paper_id: str, *, kinds: Iterable[str] = (), claims: Iterable[str] = (), write: bool = True,
        **options) -> list[Record]:
    """Run the claims of ``paper_id`` (see :class:`RunOptions` for ``options``)."""
    opts = RunOptions(kinds=tuple(kinds), claims=tuple(claims), write=write, **options)
    return run_paper(load_spec(paper_id), opts)
