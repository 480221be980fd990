"""Reproductions: each implemented paper's reported numbers, checked by a repro script.

Python API (light: no torch until a measurement needs it)::

    import zoo.repro as repro
    repro.list_papers()                    # ["ats", "evit", "fastv", ...]
    spec = repro.load_spec("fastv")        # PaperSpec: claims with value, unit, setting, source
    records = repro.run("fastv", kinds=["analytic"])   # measure + write records
    repro.load_results("fastv")            # list[Record] from repro/results/fastv/*.json
    repro.paper_status("fastv")            # "reproduced" | "partial" | "deviates" | "failed" | "not run"

Scripts live in ``repro/<paper_id>.py`` (``SPEC = PaperSpec(...)``); results in
``repro/results/<paper_id>/<claim_id>.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from zoo.repro.engine import RunOptions, run_claim, run_paper
from zoo.repro.loader import configs_dir, list_papers, load_config, load_spec, repro_dir, results_dir
from zoo.repro.records import RECORD_STATUS, SOURCES, Record, read_records, save_record
from zoo.repro.spec import DIRECTIONS, Claim, Measurement, PaperSpec, Source, Unavailable, compare, printed
from zoo.repro.status import KindStatus, derive_status, kind_group, kind_statuses, status_line, summary

__all__ = [
    "Claim", "Measurement", "PaperSpec", "Source", "Unavailable", "Record", "RunOptions",
    "DIRECTIONS", "RECORD_STATUS", "SOURCES",
    "compare", "printed", "derive_status", "summary", "KindStatus", "kind_group", "kind_statuses", "status_line",
    "list_papers", "load_spec", "load_config", "load_results", "paper_status", "run", "run_paper", "run_claim",
    "repro_dir", "results_dir", "configs_dir", "save_record",
]


def load_results(paper_id: str, results: Optional[Path] = None) -> list[Record]:
    """Records of ``paper_id`` (one per claim measured or skipped), sorted by claim id."""
    return read_records(Path(results) if results else results_dir(), paper_id)


def paper_status(paper_id: str, results: Optional[Path] = None) -> str:
    """The paper's ``REPRO_STATUS`` derived from its committed records."""
    return derive_status(load_spec(paper_id), load_results(paper_id, results))


def run(paper_id: str, *, kinds: Iterable[str] = (), claims: Iterable[str] = (), write: bool = True,
        **options) -> list[Record]:
    """Run the claims of ``paper_id`` (see :class:`RunOptions` for ``options``)."""
    opts = RunOptions(kinds=tuple(kinds), claims=tuple(claims), write=write, **options)
    return run_paper(load_spec(paper_id), opts)
