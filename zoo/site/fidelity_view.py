"""Real-weight fidelity records (``benchmarks/results/*.json`` of kind ``tokzoo-fidelity``, written
by ``benchmarks/minilm_fidelity.py``) as site tables: what each method does to a real model's
outputs at several budgets, next to the cost it saves. Every string is escaped."""

from __future__ import annotations

from typing import Any

from zoo.site.escape import md_text
from zoo.site.markdown import code_span, table

KIND = "tokzoo-fidelity"
HEADERS = ["Method (label)", "keep", "cosine mean", "cosine min", "Spearman vs unreduced", "same top-1",
           "recall@1", "MACs / unreduced", "tokens left"]


def fidelity_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fidelity records among all benchmark records."""
    return [r for r in records if isinstance(r, dict) and r.get("kind") == KIND and isinstance(r.get("rows"), list)]


def _num(value: Any, digits: int = 3) -> str:
    return md_text(f"{value:.{digits}f}") if isinstance(value, (int, float)) else "–"


def _budget(row: dict[str, Any]) -> str:
    """The keep ratio, or (adaptive methods such as ALPINE) the budget parameter the row ran with."""
    if isinstance(row.get("budget_keep_ratio"), (int, float)):
        return _num(row["budget_keep_ratio"], 2)
    budget = row.get("budget")
    if isinstance(budget, dict) and budget:
        return md_text(", ".join(f"{k} {v}" for k, v in budget.items()))
    return "–"


def fidelity_markdown(records: list[dict[str, Any]], method_ids: list[str]) -> str:
    """One table per fidelity record with the rows of ``method_ids`` ("" when there are none)."""
    out = []
    for rec in fidelity_records(records):
        rows = [r for r in rec["rows"] if isinstance(r, dict) and r.get("method") in method_ids]
        if not rows:
            continue
        hw = rec.get("hardware") or {}
        out.append(f"**{md_text(str(rec.get('model', '')))}**, {md_text(str(rec.get('dataset', '')))}; "
                   f"record {code_span(str(rec.get('_file', '')))}, commit "
                   f"{code_span(str(rec.get('commit', ''))[:7])}, {md_text(str(rec.get('date', ''))[:10])}, "
                   f"{md_text(str(hw.get('cpu', '')))}. Quality on real weights (not speed); cosine of each "
                   "sentence embedding to the unreduced one, rankings of the retrieval set compared with the "
                   "unreduced model's.\n")
        out.append(table(HEADERS, [
            [md_text(str(r.get("label", r.get("method")))), _budget(r),
             _num(r.get("cosine_mean")), _num(r.get("cosine_min")), _num(r.get("spearman_vs_unreduced")),
             _num(r.get("top1_same_as_unreduced"), 2), _num(r.get("recall_at_1"), 2), _num(r.get("macs_ratio")),
             _num(r.get("tokens_left"))] for r in rows], align=["l"] + ["r"] * 8))
    return "\n".join(out)
