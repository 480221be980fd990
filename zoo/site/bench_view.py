"""Benchmark records (``benchmarks/results/*.json``, written by ``tokzoo bench``) as site tables.

A ``tokzoo-bench`` record holds: ``family``, ``method`` (id), ``params``, ``setting`` (model,
dtype, batch size, threads, device, weights), ``baseline``/``reduced`` timing summaries
(``median_s``, ``throughput``), ``speedup``, ``speedup_pairs_median``, ``tokens``
(``input``, ``after_block``), ``flops`` (``convention``, ``baseline_gmacs``,
``method_gmacs``, ``theoretical_speedup``), ``hardware``, ``versions``, ``date``, ``command``.
Records of another shape are shown as their scalar fields. Every number shown is read from
a record; nothing is derived except ratios of two recorded numbers.
"""

from __future__ import annotations

from typing import Any

from zoo.site.escape import md_text
from zoo.site.markdown import code_span, table, wide

BENCH_KIND = "tokzoo-bench"


def record_method(record: dict[str, Any]) -> str | None:
    """The method id a record measures (``method`` / ``method_id``; a timing dict under
    ``method`` is not an id)."""
    for key in ("method_id", "method"):
        value = record.get(key)
        if isinstance(value, str):
            return value
    return None


def records_for(method_id: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if record_method(r) == method_id]


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "–"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}g}" if isinstance(value, float) else f"{value:,}"
    return str(value)


def _params(params: Any) -> str:
    if not isinstance(params, dict):
        return md_text(params)
    shown = {k: v for k, v in params.items() if v is not None}
    return md_text(", ".join(f"{k}={v}" for k, v in shown.items()) or "defaults")


def _setting(setting: Any) -> str:
    if not isinstance(setting, dict):
        return md_text(setting)
    keys = ("model", "weights", "dtype", "batch_size", "threads", "device", "steps")
    shown = dict(setting)
    if str(shown.get("weights", "")).lower().startswith("random"):
        shown["weights"] = "random"  # the record's explanation is long; "random" is what it says
    return md_text(", ".join(f"{k}: {shown[k]}" for k in keys if k in shown))


def _hardware(hw: Any) -> str:
    if not isinstance(hw, dict):
        return md_text(hw)
    name = hw.get("accelerator") or hw.get("gpu") or hw.get("cpu") or ""
    threads = hw.get("threads")
    return md_text(f"{name}" + (f", {threads} threads" if threads and not hw.get("accelerator") else ""))


def tokens_in_out(tokens: Any) -> str:
    """``197 → 11`` (ViT: input, after the last block) or ``641 → 353`` (LLaVA: LLM input, tokens
    entering the last decoder layer; ``vision 576 → 64`` is added when the vision side reduced)."""
    if not isinstance(tokens, dict):
        return "–"
    after = tokens.get("after_block")
    if isinstance(after, list) and after:
        return f"{tokens.get('input', '–')} → {after[-1]}"
    entering = tokens.get("llm_entering_layer")
    if isinstance(entering, list) and entering:
        base = tokens.get("baseline_llm_input", tokens.get("llm_input", entering[0]))
        text = f"LLM {base} → {entering[-1]}"
        vision = tokens.get("vision")
        if isinstance(vision, list) and vision:
            text += f" (vision tower output {vision[-1]})"
        return text
    return "–"


def measured_label(record: dict[str, Any]) -> str:
    """How a record was measured, e.g. ``cpu, random weights, bfloat16, 1 thread``."""
    setting = record.get("setting") if isinstance(record.get("setting"), dict) else {}
    hw = record.get("hardware") if isinstance(record.get("hardware"), dict) else {}
    words = [str(setting.get("device") or hw.get("device") or "")]
    weights = str(setting.get("weights") or "")
    if weights.lower().startswith("random"):
        words.append("random weights")
    elif weights:
        words.append(weights)
    if setting.get("dtype"):
        words.append(str(setting["dtype"]))
    threads = setting.get("threads") or hw.get("threads")
    if threads:
        words.append(f"{threads} thread{'s' if threads != 1 else ''}")
    return ", ".join(w for w in words if w)


def bench_table(records: list[dict[str, Any]], *, with_method: bool = False) -> str:
    """One row per ``tokzoo-bench`` record: setting, tokens, GMACs, theoretical and measured speedup."""
    rows = []
    for r in records:
        tokens = r.get("tokens") or {}
        flops = r.get("flops") or {}
        base = r.get("baseline") or {}
        meth = r.get("reduced") if isinstance(r.get("reduced"), dict) else {}
        rows.append(([code_span(record_method(r) or "?")] if with_method else []) + [
            _params(r.get("params")),
            _setting(r.get("setting")),
            md_text(tokens_in_out(tokens)),
            md_text(f"{_num(flops.get('baseline_gmacs'))} → {_num(flops.get('method_gmacs'))}"),
            md_text(f"{_num(flops.get('theoretical_speedup'))}×" if flops.get("theoretical_speedup") else "–"),
            md_text(f"{_num(r.get('speedup_pairs_median', r.get('speedup')))}×" if r.get("speedup") else "–"),
            md_text(f"{_num(base.get('throughput'))} → {_num(meth.get('throughput'))}" if base else "–"),
            _hardware(r.get("hardware")),
            md_text(str(r.get("date", ""))[:10]) or "–",
        ])
    return table((["Method"] if with_method else []) + [
        "Params", "Setting", "Tokens in → out", "GMACs base → method", "Theoretical speedup",
        "Measured speedup", "Items/s base → method", "Hardware", "Date"], rows)


def generic_table(record: dict[str, Any]) -> str:
    rows = [[md_text(k), md_text(v)] for k, v in record.items()
            if not k.startswith("_") and not isinstance(v, (dict, list))]
    return table(["Field", "Value"], rows)


def benchmark_markdown(method_id: str, records: list[dict[str, Any]]) -> str:
    mine = records_for(method_id, records)
    if not mine:
        return ("No benchmark results for this method yet (`tokzoo bench` writes them; committed "
                "JSON under `benchmarks/results/` appears here).\n")
    bench = [r for r in mine if r.get("kind") == BENCH_KIND]
    other = [r for r in mine if r.get("kind") != BENCH_KIND]
    out = []
    if bench:
        labels = sorted({measured_label(r) for r in bench if measured_label(r)})
        out.append("Measured by tokzoo (" + "; ".join(md_text(x) for x in labels) + "): baseline and method timed "
                   "alternately in the same run (median of paired ratios); GMACs per item under the convention "
                   "the record names. Speed on random weights and a CPU says how the implementation scales, "
                   "not what a GPU would show.\n")
        out.append(wide(bench_table(bench)))
        conventions = sorted({str((r.get("flops") or {}).get("convention")) for r in bench if r.get("flops")})
        if conventions:
            out.append("FLOPs convention: " + "; ".join(md_text(c) for c in conventions) + ".\n")
        files = ", ".join(code_span(r["_file"]) for r in bench if r.get("_file"))
        if files:
            out.append(f"Records: {files} in `benchmarks/results/`.\n")
    for r in other:
        out.append(f"{code_span(r.get('_file', 'record'))}\n")
        out.append(generic_table(r))
    return "\n".join(out)


def schedule_lines(method_id: str, records: list[dict[str, Any]]) -> list[str]:
    """``model (params): 197 → 181 → ... → 101`` per distinct schedule among the method's runs.

    Runs that differ only in threads or dtype record the same schedule; it is listed once.
    """
    lines: list[str] = []
    for r in records_for(method_id, records):
        tokens = r.get("tokens") or {}
        after = tokens.get("after_block")
        if isinstance(after, list) and after:
            counts = " → ".join(str(n) for n in [tokens.get("input"), *after] if n is not None)
        elif isinstance(tokens.get("llm_entering_layer"), list) and tokens["llm_entering_layer"]:
            from zoo.site.repro_view import run_lengths

            counts = "LLM tokens entering each layer: " + run_lengths(list(tokens["llm_entering_layer"]))
        else:
            continue
        model = (r.get("setting") or {}).get("model", "model")
        line = f"{md_text(model)} ({_params(r.get('params'))}): {md_text(counts)}"
        if line not in lines:
            lines.append(line)
    return lines
