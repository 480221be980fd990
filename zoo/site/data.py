"""Everything the site shows, gathered once into plain data (no markup here).

Sources, each optional except the catalog:

- the catalog (``zoo.catalog.load_catalog``): every paper;
- the method registry (``zoo.methods()`` and the classes' docstrings);
- reproduction results (``zoo.repro``: per-paper status and claim rows);
- benchmark records (``benchmarks/results/*.json``).

A missing optional source is recorded in ``SiteData.notes`` and the pages say "not run" /
"no results yet"; nothing is ever filled in.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class MethodDoc:
    """A registered method as the site shows it."""

    id: str
    arxiv: str
    families: tuple[str, ...]
    placement: str
    params: dict[str, str]  # field name -> repr of the default, or "(required)"
    paper_notation: dict[str, str]
    summary: str
    doc: str  # the class docstring, dedented
    module: str
    class_name: str
    module_doc: str = ""  # the method module's docstring (the longer description)
    effective: dict[str, str] | None = None  # field -> repr after the method's own validation of its defaults


@dataclass
class ClaimRow:
    """One reproduction claim and its latest measurement (if any)."""

    claim_id: str
    kind: str
    description: str
    reported: str  # the paper's value with unit, as text
    measured: str  # "" when not measured
    status: str  # e.g. reproduced, deviates, failed, skipped, not run
    source: str  # where the paper reports it (table / figure / README)
    source_url: str = ""
    hardware: str = ""
    date: str = ""
    detail: str = ""  # e.g. "skipped: needs cuda"
    setting: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # the record's evidence (schedules, FLOPs totals)
    measured_value: float | None = None  # the measured number (None when not measured)
    unit: str = ""


@dataclass
class PaperRepro:
    """Reproduction status of one paper, derived by ``zoo.repro``."""

    status: str  # a key of zoo.vocab.REPRO_STATUS
    claims: list[ClaimRow] = field(default_factory=list)


@dataclass
class SiteData:
    papers: list[dict[str, Any]]
    methods: dict[str, MethodDoc] = field(default_factory=dict)
    repro: dict[str, PaperRepro] = field(default_factory=dict)
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    bibtex: dict[str, str] = field(default_factory=dict)  # paper id -> BibTeX entry
    notes: list[str] = field(default_factory=list)

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        for p in self.papers:
            if p["id"] == paper_id:
                return p
        return None

    def paper_for_method(self, method_id: str) -> dict[str, Any] | None:
        """The catalog paper whose ``zoo.method`` is ``method_id`` (None for controls)."""
        for p in self.papers:
            if (p.get("zoo") or {}).get("method") == method_id:
                return p
        return None

    def repro_status(self, paper_id: str) -> str | None:
        """The paper's repro status; "not run" for an implemented paper without a repro
        script; None for papers that are neither implemented nor have a script."""
        entry = self.repro.get(paper_id)
        if entry:
            return entry.status
        paper = self.paper(paper_id)
        method = ((paper or {}).get("zoo") or {}).get("method")
        if method and method in self.methods:
            return "not run"
        return None


def paper_dicts(catalog: Any) -> list[dict[str, Any]]:
    """Plain JSON-ready dicts of the catalog's papers (pydantic ``model_dump(mode="json")``)."""
    out = []
    for paper in catalog.papers:
        data = paper.model_dump(mode="json") if hasattr(paper, "model_dump") else dict(paper)
        out.append(data)
    return out


def load_methods(notes: list[str], *, strict: bool = True) -> dict[str, MethodDoc]:
    """Every registered method with its docstring.

    A method module that cannot be imported (e.g. torch missing) raises in ``strict`` mode,
    so a published site never silently lacks method pages; otherwise it is noted.
    """
    from zoo.interface import method_class, methods

    out: dict[str, MethodDoc] = {}
    try:
        infos = methods()
    except Exception as exc:
        message = (f"the method registry could not be loaded ({type(exc).__name__}: {exc}); "
                   "install the model extras (pip install 'tokzoo[vit,vlm]') or build with --no-strict")
        if strict:
            raise RuntimeError(message) from exc
        notes.append(message)
        return {}
    for info in infos:
        cls = method_class(info.id)
        out[info.id] = MethodDoc(
            id=info.id,
            arxiv=info.arxiv,
            families=tuple(info.families),
            placement=info.placement,
            params=dict(info.params),
            paper_notation=dict(info.paper_notation),
            summary=info.summary,
            doc=inspect.cleandoc(cls.__doc__ or ""),
            module=cls.__module__,
            class_name=cls.__name__,
            module_doc=inspect.cleandoc(getattr(sys.modules.get(cls.__module__), "__doc__", None) or ""),
            effective=_effective_defaults(cls),
        )
    return out


def _effective_defaults(cls: type) -> dict[str, str] | None:
    """Parameters of ``cls()`` after its own validation (e.g. ToMe fills ``r`` from
    ``default_r``); None when the method has required parameters or rejects its defaults."""
    try:
        instance = cls()
    except Exception:
        return None
    return {f.name: repr(getattr(instance, f.name)) for f in dataclasses.fields(instance)}


def load_benchmarks(results_dir: Path, notes: list[str]) -> list[dict[str, Any]]:
    """Benchmark records from ``results_dir/*.json`` (each file: one record or a list)."""
    records: list[dict[str, Any]] = []
    if not results_dir.is_dir():
        notes.append(f"no benchmark results folder ({results_dir})")
        return records
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        items = data if isinstance(data, list) else [data]
        for item in items:
            if isinstance(item, dict):
                records.append({**item, "_file": path.name})
    return records
