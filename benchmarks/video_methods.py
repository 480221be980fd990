"""Benchmark every video method of the zoo on the LLaVA-OneVision-7B video layout; one record per method.

Usage (from the repository root)::

    .venv/bin/python benchmarks/video_methods.py --threads 2 --repeats 3
    .venv/bin/python benchmarks/video_methods.py --only fastvid vidcom2 --dry-run

Each record (``benchmarks/results/video-<method>.json``) is what ``tokzoo bench <method> --family
llava-onevision`` writes (``zoo.bench.video``): LLM prefill time with and without the method for one
32-frame video (6,272 video tokens), interleaved pairs, medians of wall clock and process CPU time,
peak live tensor memory of both sides, the measured and the theoretical speedup for the recorded
token schedule, hardware, load, versions, date and the equivalent command. Random weights: time
depends on shapes and the token schedule; adaptive methods (PruneVid, FrameFusion, HoliTom's
windows, VidCom2's frame budgets) reduce as the random features dictate, which each record states.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: method id -> (parameters, why this budget)
CONFIGS: dict[str, tuple[dict, str]] = {
    "dycoke": ({"decode_pruning": False}, "DyCoke README defaults K=0.7 (TTM); the decoding stage is not in a prefill"),
    "prunevid": ({"selected_layer": 1}, "PruneVid README defaults (alpha 0.4, tau 0.8), selection after layer 1 of 4"),
    "framefusion": ({"max_steps": 2}, "FrameFusion README cost 0.3, S_th 0.6"),
    "fastvid": ({"keep_ratio": 0.10}, "FastVID paper setting on LLaVA-OneVision (r = 0.10)"),
    "holitom": ({"keep_ratio": 0.10}, "HoliTom 10% retained (w/o the inner merge)"),
    "vidcom2": ({"keep_ratio": 0.25}, "VidCom2 main setting (25%)"),
    "slowfast-llava": ({"n_slow": 8, "fast_size": (4, 4)}, "SlowFast layout: 8 of 32 frames slow (half tokens), 4x4 fast"),
    "frame-subsample": ({"n_frames": 8}, "uniform subsampling control, 8 of 32 frames (25%)"),
    "video-random": ({"keep_ratio": 0.25}, "random control before the LLM, 25%"),
    # image methods as video baselines (the decoder runtime's modules, unchanged)
    "fastv": ({"k": 2, "keep_ratio": 0.25}, "FastV K=2 keeping 25% of the visual tokens (baseline)"),
    "divprune": ({"keep_ratio": 0.25}, "DivPrune at the LLM input keeping 25% (baseline)"),
    "pooling": ({"keep_ratio": 0.25}, "spatial pooling control keeping 25% (baseline)"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="a zoo.bench.video.CONFIGS name")
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None, help="method ids (default: all in CONFIGS)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--dry-run", action="store_true", help="print, do not write records")
    args = ap.parse_args(argv)

    from zoo.bench.common import bench_command, write_json_atomic
    from zoo.bench.video import DEFAULT_CONFIG, bench

    model = args.model or DEFAULT_CONFIG
    for method in args.only or list(CONFIGS):
        params, why = CONFIGS[method]
        command = bench_command(method, params, model=model, family="llava-onevision", dtype=args.dtype,
                                threads=args.threads, warmup=args.warmup, repeats=args.repeats)
        rec = bench(method, params, model=model, dtype=args.dtype, threads=args.threads, warmup=args.warmup,
                    repeats=args.repeats, command=command)
        rec["setting"]["budget_note"] = why
        f = rec["flops"]
        print(f"{method:16s} measured {rec['speedup']:.2f}x (cpu {rec['cpu_time']['speedup']:.2f}x) theoretical "
              f"{f['theoretical_speedup']:.2f}x (causal {f['theoretical_speedup_causal']:.2f}x) ratio "
              f"{f['measured_over_theoretical']:.2f} / {f['measured_over_theoretical_causal']:.2f} tokens "
              f"{rec['tokens']['llm_input']} memory {rec.get('memory', {}).get('ratio')}", flush=True)
        if not args.dry_run:
            write_json_atomic(Path(args.out) / f"video-{method}.json", rec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
