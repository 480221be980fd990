"""ToMeSD's per-block work, tokzoo against the official ``tomesd`` package, at Stable Diffusion's shapes.

What is timed: for one full-resolution transformer block, the matching (random 2x2 destinations,
cosine similarity, sort), the merge of the self-attention input and the unmerge of its output, on
``[batch, tokens, 320]`` (SD 1.5's first level: 4,096 tokens at 512 px, 16,384 at 1024 px), bf16.
The rest of a UNet step is the same code for both (diffusers' own modules), so this is where the
two implementations can differ in speed. Both sides see the same generator state; the outputs are
checked equal. The sides alternate every repeat; wall and process CPU time are both recorded with
the machine's load (``--threads 1`` keeps CPU time steady on a shared machine).

Run: ``python benchmarks/diffusion_merge_ops.py [--repeats 30] [--threads 1] [--out FILE]``
"""

from __future__ import annotations

import argparse
import statistics
import time


def main(argv=None) -> dict:
    import torch
    import tomesd.merge as official

    from zoo.bench.common import hardware, versions, write_json_atomic
    from zoo.core.grid import grid_bipartite_merge, window_destinations

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for side in (64, 128):
        n = side * side
        x = torch.randn(args.batch, n, 320, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
        y = torch.randn_like(x)
        r = int(n * 0.5)

        def ours():
            g = torch.Generator().manual_seed(0)
            choice = torch.randint(4, size=(side // 2, side // 2, 1), generator=g)[..., 0]
            dst, src = window_destinations(side, side, 2, 2, choice, x.device)
            plan = grid_bipartite_merge(x, dst, src, r)
            return plan.restore(plan.reduce(y))

        def theirs():
            g = torch.Generator().manual_seed(0)
            m, u = official.bipartite_soft_matching_random2d(x, side, side, 2, 2, r, generator=g)
            return u(m(y))

        assert torch.equal(ours(), theirs()), "tokzoo and tomesd differ"
        samples = {"tokzoo": {"wall": [], "cpu": []}, "official": {"wall": [], "cpu": []}}
        sides = [("tokzoo", ours), ("official", theirs)]
        for i in range(args.repeats + 2):
            for name, fn in (sides if i % 2 == 0 else sides[::-1]):
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                w, c = time.perf_counter() - w0, time.process_time() - c0
                if i >= 2:  # two warm-up rounds
                    samples[name]["wall"].append(w)
                    samples[name]["cpu"].append(c)
        med = {k: {m: statistics.median(v[m]) for m in v} for k, v in samples.items()}
        rows.append({"tokens": n, "img_size": side * 8, "shape": list(x.shape), "ratio": 0.5,
                     "median_s": med, "samples_s": samples,
                     "official_over_tokzoo_wall": med["official"]["wall"] / med["tokzoo"]["wall"],
                     "official_over_tokzoo_cpu": med["official"]["cpu"] / med["tokzoo"]["cpu"]})
        print(f"{n:6d} tokens: tokzoo {med['tokzoo']['cpu'] * 1e3:7.1f} ms CPU, official "
              f"{med['official']['cpu'] * 1e3:7.1f} ms CPU -> official/tokzoo {rows[-1]['official_over_tokzoo_cpu']:.2f}x "
              f"(wall {rows[-1]['official_over_tokzoo_wall']:.2f}x)")
    record = {"kind": "tokzoo-bench-ops", "what": "ToMeSD matching + merge + unmerge of one block, bf16",
              "rows": rows, "threads": args.threads, "repeats": args.repeats, "hardware": hardware(args.threads),
              "versions": versions("torch", "tomesd"), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "command": "python benchmarks/diffusion_merge_ops.py " + " ".join(argv or [])}
    if args.out:
        write_json_atomic(args.out, record)
    return record


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
