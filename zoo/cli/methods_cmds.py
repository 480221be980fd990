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


def methods_cmd(
    family: Optional[str] = typer.Option(None, "--family", help="Only methods supporting this adapter (e.g. timm-vit)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the registered methods: id, paper, families, placement and parameters with defaults."""
    from zoo.interface import methods

    try:
        infos = methods()
    except ImportError as exc:
        typer.echo(f"error: listing methods needs the method dependencies ({exc}); install tokzoo[vit]", err=True)
        raise typer.Exit(1)
    if family:
        infos = [i for i in infos if family in i.families]
    if as_json:
        typer.echo(json.dumps([{
            "id": i.id, "arxiv": i.arxiv, "families": list(i.families), "placement": i.placement,
            "params": i.params, "paper_notation": i.paper_notation, "summary": i.summary,
        } for i in infos], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tokzoo methods ({len(infos)})", show_lines=True)
    for col in ("id", "paper", "families", "parameters (defaults)", "summary"):
        table.add_column(col, overflow="fold")
    for i in infos:
        params = ", ".join(f"{k}={v}" for k, v in i.params.items())
        table.add_row(i.id, f"arXiv {i.arxiv}" if i.arxiv else "(control)", ", ".join(i.families), params, i.summary)
    Console(width=max(100, Console().width)).print(table)


def bench_cmd(
    method: str = typer.Argument(..., help="Method id (see `tokzoo methods`)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model name (timm name for timm-vit, default "
                                        "vit_base_patch16_224; a zoo.bench.vlm.CONFIGS name for llava; "
                                        "sd15-unet for the diffusion methods)."),
    r: Optional[int] = typer.Option(None, "--r", help="ToMe-style tokens removed per block."),
    keep_ratio: Optional[float] = typer.Option(None, "--keep-ratio", help="Fraction of reducible tokens kept."),
    param: list[str] = typer.Option([], "--param", "-p", help="Other method parameters as key=value (repeatable)."),
    family: Optional[str] = typer.Option(None, "--family", help="Adapter to benchmark on (default: the method's first)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1,
                                             help="Items per call (default: the family's, 16 for timm-vit, 1 for llava)."),
    img_size: Optional[int] = typer.Option(None, "--img-size", help="Input resolution (default: the model's)."),
    dtype: str = typer.Option("bf16", "--dtype", help="fp32, bf16 or fp16 (weights and inputs)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch intra-op threads (default: torch's)."),
    warmup: int = typer.Option(3, "--warmup", min=0),
    repeats: int = typer.Option(10, "--repeats", min=1, help="Interleaved baseline/method pairs."),
    device: str = typer.Option("cpu", "--device"),
    as_json: bool = typer.Option(False, "--json", help="Print the full JSON record."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Also write the JSON record to this file."),
) -> None:
    """Throughput of a method against the unreduced model (same process, interleaved), plus FLOPs."""
    from zoo.bench import bench_function, family_for
    from zoo.bench.common import bench_command, write_json_atomic
    from zoo.interface import method_class

    params = _parse_params(param)
    if r is not None:
        params["r"] = r
    if keep_ratio is not None:
        params["keep_ratio"] = keep_ratio
    try:
        cls = method_class(method)
        cls(**params)  # validate before building a model
        fam = family_for(tuple(cls.families), family)
    except (KeyError, TypeError, ValueError) as exc:
        typer.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(2)
    fn = bench_function(fam)
    given = {k: v for k, v in (("model", model), ("batch_size", batch_size)) if v is not None}
    command = bench_command(method, params, model=model, family=family, batch_size=batch_size,
                            img_size=img_size, dtype=dtype, threads=threads, warmup=warmup,
                            repeats=repeats, device=device)
    record = fn(method, params, **given, img_size=img_size, dtype=dtype,
                threads=threads, warmup=warmup, repeats=repeats, device=device, command=command)
    if output:
        write_json_atomic(output, record)
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    s, b, m = record["setting"], record["baseline"], record["reduced"]
    typer.echo(f"{method} {record['params']} on {s['model']} ({fam}), batch {s['batch_size']}, {s['dtype']}, "
               f"{s['threads']} threads, {s['device']}; median of {s['repeats']} interleaved pairs")
    typer.echo(f"  baseline  {b['throughput']:9.2f} items/s")
    typer.echo(f"  {method:9s} {m['throughput']:9.2f} items/s")
    typer.echo(f"  measured speedup {record['speedup']:.2f}x (median of pair ratios {record['speedup_pairs_median']:.2f}x)")
    flops = record.get("flops")
    if flops:
        typer.echo(f"  theoretical speedup {flops['theoretical_speedup']:.2f}x "
                   f"({flops['baseline_gmacs']:.2f} -> {flops['method_gmacs']:.2f} GMACs per item)")
    cpu = record.get("cpu_time")
    if cpu:
        typer.echo(f"  process CPU time speedup {cpu['speedup']:.2f}x")
    steps = record.get("seconds_per_step")  # diffusion: one denoising step per call
    if steps:
        typer.echo("  seconds per denoising step: " + ", ".join(f"{k} {v:.3f}" for k, v in steps.items()))
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
