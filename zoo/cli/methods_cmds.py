"""``tokzoo methods`` (what is registered) and ``tokzoo bench`` (measured speed of a method).

Heavy imports (torch, timm, the method modules) happen inside the command bodies only.
"""

from __future__ import annotations

import ast
import json
from typing import Any, Optional

import typer


def _parse_params(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are Python literals when they parse (``r=16``, ``layers=(3,6,9)``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r}: expected key=value (e.g. r=16, layers=(3,6,9), graph=mixed)")
        try:
            out[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key.strip()] = raw
    return out


def _json_value(value: Any) -> Any:
    """A parameter's default as typed JSON data (tuples become lists); other objects as their repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _json_value(v) for k, v in value.items()}
    return repr(value)


def _typed_params(method_id: str) -> tuple[dict[str, Any], list[str]]:
    """(parameter -> effective default as typed JSON, names of required parameters) of a method."""
    import dataclasses

    from zoo.interface import method_class

    cls = method_class(method_id)
    try:  # effective defaults: validate() may resolve e.g. r=None to the paper's default
        resolved = cls().params()
    except Exception:
        resolved = {}
    params: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        if f.name in resolved:
            params[f.name] = _json_value(resolved[f.name])
        elif f.default is not dataclasses.MISSING:
            params[f.name] = _json_value(f.default)
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            params[f.name] = _json_value(f.default_factory())  # type: ignore[misc]
        else:
            params[f.name] = None
            required.append(f.name)
    return params, required


#: adapter -> catalog families it serves, for methods without a catalog entry (controls)
ADAPTER_FAMILIES: dict[str, tuple[str, ...]] = {"timm-vit": ("vit",), "llava": ("vlm",), "llava-next": ("vlm",)}


def method_rows(infos: list[Any]) -> list[dict[str, Any]]:
    """One plain row per method: what both the table and ``--json`` show (extend here: a new
    key becomes a JSON field; add a column in :func:`render_methods_table` to show it)."""
    try:
        from zoo.catalog import load_catalog

        by_method = {p.zoo.method: p for p in load_catalog().papers if p.zoo.method}
    except Exception:  # the method list must not depend on the catalog loading
        by_method = {}
    rows = []
    for info in infos:
        params, required = _typed_params(info.id)
        paper = by_method.get(info.id)
        catalog_families = list(paper.family) if paper is not None else sorted(
            {f for a in info.families for f in ADAPTER_FAMILIES.get(a, ())})
        rows.append({
            "id": info.id, "arxiv": info.arxiv or None, "families": list(info.families),
            "catalog_families": catalog_families, "catalog_id": paper.id if paper is not None else None,
            "placement": info.placement, "params": params, "required_params": required,
            "paper_notation": dict(info.paper_notation), "summary": info.summary,
        })
    return rows


def filter_by_family(rows: list[dict[str, Any]], family: Optional[str]) -> list[dict[str, Any]]:
    """Rows of methods that run on adapter ``family`` or serve catalog family ``family``."""
    from zoo import vocab
    from zoo.families import ADAPTERS

    if family is None:
        return rows
    term = family.strip()
    allowed = f"adapters: {', '.join(ADAPTERS)}; catalog families: {', '.join(vocab.FAMILY)}"
    if not term:
        raise typer.BadParameter(f"empty value; allowed {allowed}", param_hint="--family")
    if term in ADAPTERS:
        return [r for r in rows if term in r["families"]]
    if term in vocab.FAMILY:
        return [r for r in rows if term in r["catalog_families"]]
    raise typer.BadParameter(f"{term[:40]!r} is neither an adapter nor a catalog family; {allowed}", param_hint="--family")


def _value_text(value: Any) -> str:
    """A default as Python writes it, without spaces (so that a cell never wraps inside it)."""
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_value_text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, str):
        return repr(value)
    return str(value) if value is None or isinstance(value, bool) else json.dumps(value)


def _param_text(name: str, value: Any) -> str:
    return f"{name}={_value_text(value)}"


def render_methods_table(rows: list[dict[str, Any]], width: int) -> str:
    """The ``tokzoo methods`` table in ``width`` columns (words are never broken: every column is
    at least as wide as its longest word; the summary wraps between words; one parameter a line).
    The arXiv column is shown from 100 columns on."""
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table

    params = {r["id"]: [_param_text(k, v) + (" (required)" if k in r["required_params"] else "")
                         for k, v in r["params"].items()] for r in rows}
    show_paper = width >= 100
    table = Table(title=f"tokzoo methods ({len(rows)})", box=box.SIMPLE_HEAD, show_lines=False, pad_edge=False,
                  collapse_padding=True)

    def longest_word(texts: list[str]) -> int:
        return max([len(w) for t in texts for w in t.split()] + [1])

    table.add_column("id", no_wrap=True, min_width=longest_word([r["id"] for r in rows]))
    if show_paper:
        table.add_column("arXiv", no_wrap=True)
    table.add_column("families", no_wrap=True, min_width=longest_word([f for r in rows for f in r["families"]]))
    table.add_column("parameters (defaults)", no_wrap=True,
                     min_width=min(max([len(p) for ps in params.values() for p in ps] + [10]), 32))
    table.add_column("summary", min_width=longest_word([r["summary"] for r in rows]), ratio=1)
    for r in rows:
        cells = [r["id"]] + ([r["arxiv"] or "(control)"] if show_paper else [])
        cells += ["\n".join(r["families"]), "\n".join(params[r["id"]]), r["summary"]]
        table.add_row(*cells)
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None, soft_wrap=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def methods_cmd(
    method: Optional[str] = typer.Argument(None, help="A method id: its row and the adapters it runs on "
                                           "(with the reason where it does not)."),
    family: Optional[str] = typer.Option(None, "--family", help="Only methods for this model family: an adapter "
                                         "(timm-vit, llava, ...) or a catalog family term (vit, vlm, video-llm, ...); "
                                         "with --support also a runtime (encoder, decoder, diffusion)."),
    support: bool = typer.Option(False, "--support", help="Show the method x model support matrix (yes/depends/no "
                                 "per adapter, grouped by runtime; reasons with a method id or --json)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (typed parameter defaults; support cells with "
                                 "their reasons) instead of a table."),
) -> None:
    """List the registered methods: id, paper, families, placement and parameters with defaults."""
    import shutil

    from zoo.interface import methods

    if method is not None:
        _require_method(method)
    try:
        infos = methods()
    except ImportError as exc:
        typer.echo(f"error: listing methods needs the method dependencies ({exc}); install tokzoo[vit]", err=True)
        raise typer.Exit(1)
    width = shutil.get_terminal_size((100, 24)).columns
    if support or method is not None:
        _support_cmd(method, family, support, as_json, infos, width)
        return
    rows = filter_by_family(method_rows(infos), family)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(render_methods_table(rows, width), nl=False)


def _require_method(method_id: str) -> None:
    """Exit 2 naming the registered ids when ``method_id`` is not one."""
    from zoo.papers import REGISTRY

    if method_id not in REGISTRY:
        typer.echo(f"error: unknown method {method_id[:40]!r}; registered: {', '.join(REGISTRY)}", err=True)
        raise typer.Exit(2)


def _support_cmd(method: Optional[str], family: Optional[str], support_only: bool, as_json: bool,
                 infos: list[Any], width: int) -> None:
    """The support views of ``tokzoo methods`` (see :mod:`zoo.cli.support_view`)."""
    from zoo.cli import support_view
    from zoo.families import ADAPTERS
    from zoo.support import adapters_by_runtime, support_matrix

    runtimes = adapters_by_runtime()
    term = family.strip() if family is not None else None
    if method is not None:
        if term is not None:
            raise typer.BadParameter("--family filters the method list; with a method id every adapter is shown",
                                     param_hint="--family")
        cells = support_matrix([method])
        if as_json:
            data: Any = [c.as_dict() for c in cells]
            if not support_only:
                data = {**method_rows([i for i in infos if i.id == method])[0], "support": data}
            typer.echo(json.dumps(data, indent=2))
            return
        if not support_only:
            rows = method_rows([i for i in infos if i.id == method])
            typer.echo(render_methods_table(rows, width), nl=False)
        typer.echo(support_view.render_method(method, cells, width), nl=False)
        return
    if term is not None and term in runtimes:
        cells = support_matrix(adapters=list(runtimes[term]))
    elif term is not None and term in ADAPTERS:
        cells = support_matrix(adapters=[term])
    else:
        try:
            ids = [r["id"] for r in filter_by_family(method_rows(infos), term)]
        except typer.BadParameter as exc:
            raise typer.BadParameter(f"{exc.message}; runtimes: {', '.join(runtimes)}", param_hint="--family")
        cells = support_matrix(ids)
    if as_json:
        typer.echo(json.dumps([c.as_dict() for c in cells], indent=2))
    elif term is not None and term in ADAPTERS:
        typer.echo(support_view.render_adapter(term, cells, width), nl=False)
    else:
        typer.echo(support_view.render_grid(cells, width), nl=False)


def bench_cmd(
    method: str = typer.Argument(..., help="Method id (see `tokzoo methods`)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model name (timm name for timm-vit, default "
                                        "vit_base_patch16_224; a zoo.bench.vlm.CONFIGS name for decoder models, "
                                        "e.g. llava-1.5-160m, llava-next-160m, qwen2-vl-7b-vision, qwen2.5-vl-7b-vision, "
                                        "llava-onevision-0.5b, llama-text-0.1b; an encoder "
                                        "of zoo.bench.encoder.CONFIGS: bert-base, minilm-l6, ast, whisper-base, "
                                        "vit-base-hf, clip-vit-b16, siglip-b16; "
                                        "sd15-unet for the diffusion methods)."),
    r: Optional[int] = typer.Option(None, "--r", help="ToMe-style tokens removed per block."),
    keep_ratio: Optional[float] = typer.Option(None, "--keep-ratio", help="Fraction of reducible tokens kept."),
    param: list[str] = typer.Option([], "--param", "-p", help="Other method parameters as key=value (repeatable)."),
    family: Optional[str] = typer.Option(None, "--family", help="Adapter to benchmark on (default: the method's first)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1,
                                             help="Items per call (default: the family's, 16 for timm-vit, 1 for llava)."),
    img_size: Optional[int] = typer.Option(None, "--img-size", help="Input resolution (default: the model's)."),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", min=1,
                                          help="Text encoders: tokens per input (default: bert-base 512)."),
    dtype: str = typer.Option("bf16", "--dtype", help="fp32, bf16 or fp16 (weights and inputs)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch intra-op threads (default: torch's)."),
    warmup: Optional[int] = typer.Option(None, "--warmup", min=0,
                                         help="Untimed calls per side first (default 3; with --steps 1)."),
    repeats: Optional[int] = typer.Option(None, "--repeats", min=1,
                                          help="Interleaved baseline/method pairs (default 10; with --steps: whole "
                                               "loops, default 1)."),
    steps: Optional[int] = typer.Option(None, "--steps",
                                        help="Diffusion: time a denoising loop of this many steps (DDIM, CFG; "
                                             "baseline and method in lockstep) instead of one step, for methods "
                                             "that save across steps (DaTo, CA-ToMe report at 50)."),
    baseline_every: Optional[int] = typer.Option(None, "--baseline-every",
                                                 help="With --steps: time the baseline at every k-th step only "
                                                      "(its steps all cost the same; default 1: every step)."),
    device: str = typer.Option("cpu", "--device"),
    as_json: bool = typer.Option(False, "--json", help="Print the full JSON record."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Also write the JSON record to this file."),
) -> None:
    """Throughput of a method against the unreduced model (same process, interleaved), plus FLOPs.

    Progress and warnings go to stderr (stdout holds only the result, or the JSON with --json)."""
    import time

    from zoo.bench import bench_function
    from zoo.bench.common import bench_command, is_busy, machine_load, write_json_atomic
    from zoo.bench.validate import BenchArgumentError, check_bench_args

    params = _parse_params(param)
    if r is not None:
        params["r"] = r
    if keep_ratio is not None:
        params["keep_ratio"] = keep_ratio
    try:  # every argument is checked before a model is built
        fam = check_bench_args(method, params, model=model, family=family, img_size=img_size, seq_len=seq_len,
                               batch_size=batch_size, dtype=dtype, device=device, output=output, steps=steps,
                               baseline_every=baseline_every)
    except BenchArgumentError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    started = time.perf_counter()

    def progress(message: str) -> None:
        typer.echo(f"[bench {time.perf_counter() - started:6.1f} s] {message}", err=True)

    load_start, cpus = machine_load()
    if is_busy(load_start, cpus):
        typer.echo(f"warning: machine busy: load average {load_start:.1f} on {cpus} CPUs; the timings will be noisy "
                   "and the record is marked so (hardware.busy_machine)", err=True)
    fn = bench_function(fam)
    if warmup is None:
        warmup = 1 if steps is not None else 3
    if repeats is None:
        repeats = 1 if steps is not None else 10
    given = {k: v for k, v in (("model", model), ("batch_size", batch_size), ("seq_len", seq_len), ("steps", steps),
                               ("baseline_every", baseline_every)) if v is not None}
    command = bench_command(method, params, model=model, family=family, batch_size=batch_size,
                            img_size=img_size, seq_len=seq_len, dtype=dtype, threads=threads, warmup=warmup,
                            repeats=repeats, device=device, steps=steps, baseline_every=baseline_every)
    record = fn(method, params, **given, img_size=img_size, dtype=dtype,
                threads=threads, warmup=warmup, repeats=repeats, device=device, command=command, progress=progress)
    hw = record.setdefault("hardware", {})
    hw["load_average_start"] = load_start
    busy = is_busy(load_start, cpus) or bool(hw.get("busy_machine"))
    hw["busy_machine"] = busy
    progress("done")
    if busy:
        end = (hw.get("load_average") or [None])[0]
        typer.echo(f"warning: machine busy during the run (load average {load_start} -> {end} on {cpus} CPUs): "
                   "the timings are noisy; the record says busy_machine: true", err=True)
    if output:
        write_json_atomic(output, record)
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    s, b, m = record["setting"], record["baseline"], record["reduced"]
    typer.echo(f"{method} {record['params']} on {s['model']} ({record.get('family', fam)}), batch {s['batch_size']}, "
               f"{s['dtype']}, "
               f"{s['threads']} threads, {s['device']}; "
               + (f"{s['repeats']} run(s) of {s['steps']} steps in lockstep" if s.get("steps")
                  else f"median of {s['repeats']} interleaved pairs")
               + ("; machine busy: noisy" if busy else ""))
    typer.echo(f"  baseline  {b['throughput']:9.2f} items/s")
    typer.echo(f"  {method:9s} {m['throughput']:9.2f} items/s")
    typer.echo(f"  measured speedup {record['speedup']:.2f}x (median of pair ratios {record['speedup_pairs_median']:.2f}x)")
    flops = record.get("flops")
    if flops:
        per = f"per image, {s['steps']} steps" if s.get("steps") else "per item"
        typer.echo(f"  theoretical speedup {flops['theoretical_speedup']:.2f}x "
                   f"({flops['baseline_gmacs']:.2f} -> {flops['method_gmacs']:.2f} GMACs {per})")
    cpu = record.get("cpu_time")
    if cpu:
        typer.echo(f"  process CPU time speedup {cpu['speedup']:.2f}x")
    if record.get("measured_over_theoretical") is not None:
        typer.echo(f"  measured / theoretical {record['measured_over_theoretical']:.2f}")
    per_step = record.get("seconds_per_step")  # diffusion: one denoising step per call
    if per_step:
        typer.echo("  seconds per denoising step: " + ", ".join(f"{k} {v:.3f}" for k, v in per_step.items()))
    per_image = record.get("seconds_per_image")  # diffusion: a denoising loop (--steps)
    if per_image:
        typer.echo(f"  seconds per image ({s.get('steps')} steps): "
                   + ", ".join(f"{k} {v:.2f}" for k, v in per_image.items()))
    if record.get("cache_depths"):
        typer.echo("  cache depths: " + ", ".join(f"{k} {v}" for k, v in record["cache_depths"].items()))
    official = record.get("official") or {}
    if "speedup" in official:
        typer.echo(f"  official package speedup {official['speedup']:.2f}x; tokzoo vs official "
                   f"{official['tokzoo_vs_official']:.2f}x ({official['package']})")
    for backend, row in (record.get("memory") or {}).items():
        if isinstance(row, dict):
            typer.echo(f"  peak memory ({backend} attention): " + ", ".join(
                f"{k} {v / 2**20:.0f} MiB" for k, v in row.items() if k != "baseline_over_tokzoo"))
    if output:
        typer.echo(f"  record written to {output}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("methods")(methods_cmd)
    app.command("bench")(bench_cmd)
