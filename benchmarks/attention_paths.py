"""Fused SDPA against an explicit softmax attention, per dtype and token count: the measurement behind
:func:`zoo.core.attention.prefer_explicit`.

Usage (from the repository root)::

    .venv/bin/python benchmarks/attention_paths.py --threads 2 --out benchmarks/results/attention-paths.json

q, k, v come from a fused qkv projection as in timm/HF layers (``[B, N, 3, H, d]`` permuted, not
contiguous) with a size bias (proportional attention), as the encoder runtime calls them. The two
paths alternate (order flipping each repeat); the record keeps the minima and medians per shape,
the machine's load, and which path ``prefer_explicit`` picks for each shape.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = [  # (batch, heads, tokens, head dim): ViT-S/B at 224 px and after merging, BERT at 128/512, AST, Whisper
    (16, 6, 197, 64), (16, 12, 197, 64), (16, 12, 100, 64), (16, 12, 50, 64),
    (8, 12, 128, 64), (4, 12, 256, 64), (4, 12, 384, 64), (4, 12, 512, 64), (2, 12, 1214, 64), (2, 8, 1500, 64),
]


def main(argv: list[str] | None = None) -> int:
    import torch

    from zoo.bench.common import hardware, versions, write_json_atomic
    from zoo.core.attention import attend, prefer_explicit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dtype", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    load0 = os.getloadavg()
    for name in args.dtype:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
        for b, h, n, d in SHAPES:
            g = torch.Generator().manual_seed(0)
            qkv = torch.randn(b, n, 3 * h * d, generator=g).to(dtype)
            q, k, v = qkv.reshape(b, n, 3, h, d).permute(2, 0, 3, 1, 4).unbind(0)
            bias = torch.rand(b, 1, 1, n, generator=g).add(1).log().to(dtype)
            times: dict[str, list[float]] = {"sdpa": [], "explicit": []}
            with torch.inference_mode():
                for explicit in (False, True):  # warm-up
                    attend(q, k, v, scale=d ** -0.5, bias=bias, explicit=explicit)
                for i in range(args.repeats):
                    order = (False, True) if i % 2 == 0 else (True, False)
                    for explicit in order:
                        t0 = time.perf_counter()
                        attend(q, k, v, scale=d ** -0.5, bias=bias, explicit=explicit)
                        times["explicit" if explicit else "sdpa"].append(time.perf_counter() - t0)
            row = {"dtype": name, "batch": b, "heads": h, "tokens": n, "head_dim": d,
                   "min_s": {k2: min(v2) for k2, v2 in times.items()},
                   "median_s": {k2: statistics.median(v2) for k2, v2 in times.items()},
                   "faster": "explicit" if min(times["explicit"]) < min(times["sdpa"]) else "sdpa",
                   "prefer_explicit": prefer_explicit(dtype, torch.device("cpu"), n)}
            rows.append(row)
            print(f"{name} B{b} H{h} N{n}: sdpa {row['min_s']['sdpa'] * 1e3:7.2f} ms  explicit "
                  f"{row['min_s']['explicit'] * 1e3:7.2f} ms  faster={row['faster']:8s} policy="
                  f"{'explicit' if row['prefer_explicit'] else 'sdpa'}", flush=True)
    record = {"kind": "tokzoo-attention-paths", "rows": rows, "hardware": hardware(torch.get_num_threads()),
              "versions": versions("torch"), "load_average_start": [round(x, 2) for x in load0],
              "load_average_end": [round(x, 2) for x in os.getloadavg()],
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "agreement": sum(r["faster"] == ("explicit" if r["prefer_explicit"] else "sdpa") for r in rows) / len(rows)}
    print(f"policy agrees with the measurement on {record['agreement']:.0%} of the shapes; load {record['load_average_start']}")
    if args.out:
        write_json_atomic(ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out), record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
