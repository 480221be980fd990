"""Benchmark every ViT method of the zoo on one model and write one record per method.

Usage (from the repository root)::

    .venv/bin/python benchmarks/vit_methods.py --threads 1 --repeats 10
    .venv/bin/python benchmarks/vit_methods.py --only tome evit --dry-run

Each record (``benchmarks/results/vit-<method>.json``) is what ``tokzoo bench`` writes:
throughput with and without the method (interleaved pairs, medians), measured and
theoretical speedup, token schedule, hardware, versions, date and the equivalent command.
Random weights: throughput depends on shapes and the token schedule, not on the weights
(ATS's adaptive count does depend on the attention, so its record states the count it ran).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: method id -> (parameters, why this budget)
CONFIGS: dict[str, tuple[dict, str]] = {
    "tome": ({"r": 16}, "ToMe paper headline (ViT-B/16, r=16)"),
    "evit": ({"layers": (3, 6, 9), "keep_rate": 0.7}, "EViT paper default (keep rate 0.7 at blocks 4, 7, 10)"),
    "zero-tprune": ({"r": 16}, "ToMe's r=16 budget"),
    "token-fusion": ({"r": 16}, "ToMe's r=16 budget"),
    "ppt": ({"r": 50, "layers": (3, 6, 9)}, "PPT official evaluation (r_tokens=50 at 3, 6, 9)"),
    "gtp-vit": ({"r": 16}, "ToMe's r=16 budget"),
    "ats": ({"keep_ratio": 0.5}, "ATS at blocks 3..11 with K - 1 = half the patches; random weights give flat "
                                 "significance, so the adaptive count stays near that bound"),
    "random": ({"layers": (3, 6, 9), "keep_ratio": 0.343}, "EViT's budget (0.7^3 of the patches kept)"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vit_base_patch16_224")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--only", nargs="*", default=None, help="method ids (default: all in CONFIGS)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--suffix", default="", help="appended to the record file names (vit-<method><suffix>.json)")
    ap.add_argument("--dry-run", action="store_true", help="print, do not write records")
    args = ap.parse_args(argv)

    from zoo.bench.common import bench_command, write_json_atomic
    from zoo.bench.vit import bench

    for method in args.only or list(CONFIGS):
        params, why = CONFIGS[method]
        command = bench_command(method, params, model=args.model, batch_size=args.batch_size, dtype=args.dtype,
                                threads=args.threads, warmup=args.warmup, repeats=args.repeats)
        rec = bench(method, params, model=args.model, batch_size=args.batch_size, dtype=args.dtype,
                    threads=args.threads, warmup=args.warmup, repeats=args.repeats, command=command)
        rec["budget_note"] = why
        print(f"{method:13s} {rec['baseline']['throughput']:7.2f} -> {rec['reduced']['throughput']:7.2f} items/s  "
              f"measured {rec['speedup']:.2f}x (pairs {rec['speedup_pairs_median']:.2f}x)  "
              f"theoretical {rec['flops']['theoretical_speedup']:.2f}x  load {rec['hardware'].get('load_average')}",
              flush=True)
        if not args.dry_run:
            write_json_atomic(Path(args.out) / f"vit-{method}{args.suffix}.json", rec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
