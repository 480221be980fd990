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

import json
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
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {type, default, effective}


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
    group: str = ""  # status kind: analytic | speed | conformance | accuracy
    tolerance: str = ""  # the pass rule, e.g. "± 0.5%" or "≥ reported − 2%"
    method: str = ""  # method id the claim measures
    params: dict[str, Any] = field(default_factory=dict)  # method parameters in the zoo's notation
    needs: str = ""  # what a measurement needs (cpu, cuda, weights:..., dataset:...)
    label: str = ""  # how the record was measured (e.g. "cpu, random weights")
    reported_value: float | None = None
    model: str = ""  # the setting's model, as the repro script writes it
    benchmark: str = ""  # the setting's benchmark / task, when it names one


@dataclass
class PaperRepro:
    """Reproduction status of one paper, derived by ``zoo.repro``."""

    status: str  # a key of zoo.vocab.REPRO_STATUS
    claims: list[ClaimRow] = field(default_factory=list)
    kinds: dict[str, dict[str, Any]] = field(default_factory=dict)  # status kind -> KindStatus.to_dict()
    line: str = ""  # zoo.repro.status_line: every kind's counts in one line


@dataclass
class SiteData:
    papers: list[dict[str, Any]]
    methods: dict[str, MethodDoc] = field(default_factory=dict)
    repro: dict[str, PaperRepro] = field(default_factory=dict)
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    bibtex: dict[str, str] = field(default_factory=dict)  # paper id -> BibTeX entry
    notes: list[str] = field(default_factory=list)
    reference_setups: dict[str, Any] = field(default_factory=dict)  # adapter -> setup (site/data/methods.json)
    schedules: dict[str, Any] = field(default_factory=dict)  # method -> adapter -> recorded schedules
    support_matrix: Any = None
    badges: dict[str, Any] = field(default_factory=dict)  # docs path -> zoo.site.badges.Badge (non-standard ones)
    site_url: str = ""
    repo_url: str = ""

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


def _package_root() -> Path:
    """The checkout the imported ``zoo`` package lives in."""
    import zoo

    return Path(zoo.__file__).resolve().parents[1]


def method_doc(record: dict[str, Any]) -> MethodDoc:
    """A :class:`MethodDoc` from a metadata record (``zoo.site.metadata.method_record``)."""
    return MethodDoc(
        id=record["id"],
        arxiv=record.get("arxiv") or "",
        families=tuple(record.get("families") or ()),
        placement=record.get("placement") or "",
        params=dict(record.get("params") or {}),
        paper_notation=dict(record.get("paper_notation") or {}),
        summary=record.get("summary") or "",
        doc=record.get("doc") or "",
        module=record.get("module") or "",
        class_name=record.get("class_name") or "",
        module_doc=record.get("module_doc") or "",
        effective=record.get("effective"),
        fields=dict(record.get("fields") or {}),
    )


def load_methods(notes: list[str], *, strict: bool = True, root: Path | None = None) -> dict[str, MethodDoc]:
    """Every registered method with its docstrings and parameters.

    Read live from the registry when the checkout at ``root`` is the one the imported ``zoo``
    package comes from and the model libraries import; otherwise from the committed data file
    ``site/data/methods.json`` (``tokzoo site metadata`` writes it). With neither, ``strict``
    raises (a published site must not silently lack its method pages); else it is noted.
    """
    from zoo.site import metadata

    root = Path(root) if root is not None else _package_root()
    problem = ""
    if root.resolve() == _package_root():
        try:
            records = metadata.method_records()
            return {mid: method_doc(rec) for mid, rec in records.items()}
        except Exception as exc:  # ImportError of torch & co, or a broken method module
            problem = f"the method registry could not be loaded ({type(exc).__name__}: {exc})"
    else:
        problem = f"{root} is not the checkout of the imported zoo package ({_package_root()})"
    doc = metadata.load(root)
    if doc is not None:
        notes.append(f"{problem}; method metadata read from {metadata.DATA_FILE.as_posix()}")
        return {mid: method_doc(rec) for mid, rec in sorted((doc.get("methods") or {}).items())}
    message = (f"{problem}, and {metadata.DATA_FILE.as_posix()} is missing; install the model extras "
               "(pip install 'tokzoo[vit,vlm]') and run `tokzoo site metadata`, or build with --no-strict")
    if strict:
        raise RuntimeError(message)
    notes.append(message)
    return {}


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
