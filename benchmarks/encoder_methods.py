"""Benchmark encoder methods on Hugging Face encoders (``tokzoo bench --model ...``) and write one record each.

Usage (from the repository root)::

    .venv/bin/python benchmarks/encoder_methods.py --models bert-base ast --methods tome --dtype bf16 fp32

Each record (``benchmarks/results/encoder-<model>-<method>-<dtype>.json``) is what ``tokzoo bench``
writes: throughput with and without the method (interleaved pairs, medians), process CPU time,
measured and theoretical speedup (``zoo.flops.encoder`` for the recorded schedule), the ratio of
the two, hardware with the load average, versions, date and the equivalent command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: method id -> (parameters, why this budget)
CONFIGS: dict[str, tuple[dict, str]] = {
    "tome": ({"r": 16}, "ToMe's r=16 (its ViT-B headline budget)"),
    "pitome": ({"ratio": 0.9, "recipe": "vision"}, "PiToMe's README ratio 0.9 in every block"),
    "a-tome": ({"merge_ratio": 0.1}, "10% of the frames merged per block"),
    "power-bert": ({"keep_ratio": 0.5}, "half the tokens left after the last block"),
    "spatten": ({"keep_ratio": 0.5}, "half the tokens left after the last block (pruning at every block)"),
    "alpine": ({"alpha": 1.0}, "the paper's alpha 1.0 at every layer (adaptive: random weights decide how many)"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["bert-base", "ast"])
    ap.add_argument("--methods", nargs="+", default=["tome"])
    ap.add_argument("--dtype", nargs="+", default=["bf16", "fp32"])
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--dry-run", action="store_true", help="print, do not write records")
    args = ap.parse_args(argv)

    from zoo.bench.common import bench_command, write_json_atomic
    from zoo.bench.encoder import CONFIGS as MODELS
    from zoo.bench.encoder import bench
    from zoo.families.encoders.support import support

    for model in args.models:
        for method in args.methods:
            params, why = CONFIGS[method]
            cell = support(method, MODELS[model][0])
            if cell.status == "no":
                print(f"{model:12s} {method:10s} not run: {cell.reason}", flush=True)
                continue
            for dtype in args.dtype:
                command = bench_command(method, params, model=model, batch_size=args.batch_size, dtype=dtype,
                                        threads=args.threads, warmup=args.warmup, repeats=args.repeats)
                rec = bench(method, params, model=model, batch_size=args.batch_size, dtype=dtype, threads=args.threads,
                            warmup=args.warmup, repeats=args.repeats, command=command)
                rec["budget_note"] = why
                print(f"{model:12s} {method:10s} {dtype}: {rec['baseline']['throughput']:7.3f} -> "
                      f"{rec['reduced']['throughput']:7.3f} items/s  measured {rec['speedup']:.2f}x (CPU time "
                      f"{rec['cpu_time']['speedup']:.2f}x)  theoretical {rec['flops']['theoretical_speedup']:.2f}x  "
                      f"ratio {rec['measured_over_theoretical']:.2f}  load {rec['hardware'].get('load_average')}",
                      flush=True)
                if not args.dry_run:
                    write_json_atomic(Path(args.out) / f"encoder-{model}-{method}-{dtype}.json", rec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
