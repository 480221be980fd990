"""Reproduction data for the site, read through ``zoo.repro``: per paper the derived status
and one row per declared claim (the latest record when there is one, else "not run").

Nothing is computed here: values, statuses and provenance come from the committed records
under ``repro/results/`` and the claims declared in ``repro/<id>.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.site.data import ClaimRow, PaperRepro, SiteData


def _number(value: Any, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.4g}" if abs(value) < 1e6 else f"{value:.4e}"
    else:
        text = str(value)
    sep = "" if unit in ("%", "x", "×") else " "
    return f"{text}{sep}{unit}".strip()


def _setting(setting: Any) -> str:
    if isinstance(setting, dict):
        return "; ".join(f"{k}: {v}" for k, v in setting.items())
    return str(setting or "")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _benchmark(setting: Any) -> str:
    """The benchmark (or task) and metric a claim's setting names, e.g. ``ImageNet-1k val, top-1``."""
    if not isinstance(setting, dict):
        return ""
    bench = next((setting[k] for k in ("benchmark", "task", "benchmarks", "images") if setting.get(k)), "")
    parts = [_text(bench)] if bench else []
    return ", ".join(parts)


def _hardware(hw: Any) -> str:
    """``NVIDIA H100 80GB HBM3 ×2`` or ``AMD EPYC (2 CPUs)`` from a record's hardware dict."""
    if not isinstance(hw, dict):
        return str(hw or "")
    if hw.get("gpu"):
        count = hw.get("gpu_count")
        return f"{hw['gpu']}" + (f" ×{count}" if isinstance(count, int) and count > 1 else "")
    if hw.get("cpu"):
        count = hw.get("cpu_count")
        return f"{hw['cpu']}" + (f" ({count} CPUs)" if count else "")
    return ", ".join(f"{k}: {v}" for k, v in hw.items())


def claim_rows(spec: Any, records: list[Any]) -> list[ClaimRow]:
    """One row per claim the spec declares, in the spec's order."""
    by_claim = {r.claim_id: r for r in records}
    rows = []
    for claim in spec.claims:
        rec = by_claim.get(claim.id)
        row = ClaimRow(
            group=_group(claim.kind),
            tolerance=tolerance_text(claim),
            method=getattr(claim, "method", "") or getattr(spec, "method", "") or "",
            params=dict(getattr(claim, "params", None) or {}),
            needs=", ".join(getattr(claim, "needs", ()) or ()),
            model=_text(claim.setting.get("model")) if isinstance(claim.setting, dict) else "",
            benchmark=_benchmark(claim.setting),
            claim_id=claim.id,
            kind=claim.kind,
            description=claim.description,
            reported=_number(claim.reported, claim.unit),
            reported_value=float(claim.reported),
            measured="",
            status="not run",
            source=str(claim.source),
            source_url=getattr(claim.source, "url", "") or "",
            setting=_setting(claim.setting),
            unit=claim.unit,
        )
        if rec is None:
            row.detail = "needs " + ", ".join(claim.needs) if claim.needs else ""
        else:
            row.status = rec.status
            row.label = rec.label or ""
            if rec.status != "skipped" and rec.measured is not None:
                row.measured = _number(rec.measured, rec.unit or claim.unit)
                row.measured_value = float(rec.measured)
            row.details = dict(rec.details or {}) if rec.status != "skipped" else {}
            row.hardware = _hardware(rec.hardware) if rec.status != "skipped" else ""
            row.date = (rec.date or "")[:10] if rec.status != "skipped" else ""
            parts = [p for p in (rec.label, rec.reason) if p]
            if rec.source and rec.source != "tokzoo":
                parts.append(f"source: {rec.source}")
            row.detail = "; ".join(parts)
        rows.append(row)
    return rows


def _group(kind: str) -> str:
    """The status kind (analytic | speed | conformance | accuracy) of a claim kind."""
    from zoo.repro.status import kind_group

    try:
        return kind_group(kind)
    except KeyError:
        return kind


def tolerance_text(claim: Any) -> str:
    """``± 0.5 %``, ``≥ reported − 2 %`` or ``≤ reported + 0.1 x`` (the pass rule of the claim)."""
    tol, unit = claim.tolerance, claim.unit
    sep = "" if unit in ("%", "x", "×") else " "
    amount = f"{tol:g}{sep}{unit}"
    if claim.direction == "higher":
        return f"≥ reported − {amount}" if tol else "≥ reported"
    if claim.direction == "lower":
        return f"≤ reported + {amount}" if tol else "≤ reported"
    return f"± {amount}" if tol else "exact"


def load_repro(root: Path, data: SiteData, notes: list[str]) -> dict[str, PaperRepro]:
    """Status (per kind, with counts) and claim rows of every paper that has a repro script."""
    try:
        import zoo.repro as repro
    except ImportError as exc:
        notes.append(f"zoo.repro unavailable ({exc}); every paper shows 'not run'")
        return {}
    folder = root / "repro"
    out: dict[str, PaperRepro] = {}
    for paper_id in repro.list_papers(folder):
        spec = repro.load_spec(paper_id, folder)
        records = repro.read_records(folder / "results", paper_id)
        kinds = {k: v.to_dict() for k, v in repro.kind_statuses(spec, records).items()}
        out[paper_id] = PaperRepro(status=repro.derive_status(spec, records), claims=claim_rows(spec, records),
                                   kinds=kinds, line=repro.status_line(spec, records))
    known = {p["id"] for p in data.papers}
    unknown = sorted(set(out) - known)
    if unknown:
        notes.append(f"repro scripts without a catalog entry: {', '.join(unknown)}")
    return out


def run_lengths(values: list[int]) -> str:
    """``576 ×2 → 288 ×38`` for a per-layer token list (runs of equal counts)."""
    runs: list[list[int]] = []
    for v in values:
        if runs and runs[-1][0] == v:
            runs[-1][1] += 1
        else:
            runs.append([v, 1])
    return " → ".join(f"{v} ×{n}" if n > 1 else f"{v}" for v, n in runs)


def _per_layer_key(name: str) -> bool:
    """Token counts per layer/block (``image_tokens_per_layer``, ``tokens_after_block``,
    ``record.tokens.llm``), not e.g. a ``[lo, hi]`` range of token counts."""
    name = name.lower()
    leaf = name.rsplit(".", 1)[-1]
    return "token" in leaf and ("layer" in leaf or "block" in leaf) or ".tokens." in f".{name}"


def token_schedules(details: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Every per-layer token list in a record's details, compressed with :func:`run_lengths`."""
    out: list[tuple[str, str]] = []
    if not isinstance(details, dict):
        return out
    for key, value in details.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += token_schedules(value, f"{name}.")
        elif (isinstance(value, list) and len(value) >= 2 and _per_layer_key(name)
              and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            out.append((name, run_lengths(value)))
    return out


def flops_summary(details: Any) -> str:
    """``FLOPs 6.186e+12 → 3.384e+12 (convention: fastv)`` when the details record both totals."""
    if not isinstance(details, dict):
        return ""
    pairs = [("flops_baseline", "flops_method", "FLOPs"), ("baseline_gmacs", "method_gmacs", "GMACs")]
    for base_key, method_key, unit in pairs:
        base, meth = details.get(base_key), details.get(method_key)
        if isinstance(base, (int, float)) and isinstance(meth, (int, float)):
            conv = details.get("convention")
            return f"{unit} {base:.4g} → {meth:.4g}" + (f" (convention: {conv})" if conv else "")
    return ""
