#!/usr/bin/env python3
"""How fast does `tokzoo list` answer on a big catalog?

Writes a synthetic catalog of N valid entries (default 10,000; titles, venues and labels
drawn with a fixed seed from the shipped catalog's vocabularies), then times `tokzoo list`
as a user runs it (a fresh process each time, wall clock):

- cold: first run, the YAML is parsed and the parse cache written;
- warm: later runs, which reuse the parse cache (the cached JSON is checked against the schema
  again on every load; the YAML is not parsed).

Each command is run --repeat times; the median and minimum wall time and the median CPU
time (user+sys of the child process: less sensitive to other load on the machine) are
reported. Run:

    .venv/bin/python benchmarks/catalog_list_bench.py [--entries 10000] [--repeat 5]

Results depend on the machine's load (this one is shared): compare medians of runs made
one after another, not across days.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoo import vocab  # noqa: E402

WORDS = ("token pruning merging efficient vision transformer video language model adaptive dynamic sparse "
         "attention compression fast diffusion visual large multimodal training-free plug-and-play").split()
VENUES = [("CVPR", "conference"), ("ECCV", "conference"), ("NeurIPS", "conference"), ("ICLR", "conference"),
          ("TPAMI", "journal"), ("CVPRW", "workshop"), ("arXiv", "preprint")]


def synthetic_catalog(n: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    papers = []
    for i in range(n):
        name, kind = rng.choice(VENUES)
        year = rng.randint(2019, 2025)
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 14))]
        papers.append({
            "id": f"paper-{i:05d}",
            "title": f"Paper{i} " + " ".join(words).capitalize(),
            "short_name": f"Paper{i}" if rng.random() < 0.6 else None,
            "section_year": year,
            "venue": {"name": name, "year": None if kind == "preprint" else year, "kind": kind},
            "arxiv": f"{year % 100:02d}{rng.randint(1, 12):02d}.{i:05d}",
            "links": {"paper": f"https://arxiv.org/abs/{i}", **({"code": f"https://github.com/x/p{i}"} if rng.random() < 0.4 else {})},
            "modality": rng.sample(list(vocab.MODALITY), rng.randint(1, 2)),
            "technique": rng.sample(list(vocab.TECHNIQUE), rng.randint(1, 2)),
            "family": rng.sample(list(vocab.FAMILY), rng.randint(1, 2)),
            "training_free": rng.random() < 0.5,
            "zoo": {"status": "none"},
        })
    return {"schema_version": 2, "papers": papers}


def run(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    import yaml

    tokzoo = [sys.executable, "-m", "zoo"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.yaml"
        path.write_text(yaml.safe_dump(synthetic_catalog(args.entries), sort_keys=False), encoding="utf-8")
        file_mb = round(path.stat().st_size / 1e6, 1)
        env = {**os.environ, "TOKZOO_CATALOG": str(path), "TOKZOO_CACHE_DIR": str(Path(tmp) / "cache"), "COLUMNS": "160"}
        commands = {
            "list --modality video": tokzoo + ["list", "--modality", "video"],
            "list (all, table)": tokzoo + ["list"],
            "list 'fast*' --year 2023..2024": tokzoo + ["list", "fast*", "--year", "2023..2024"],
            "list --format json": tokzoo + ["list", "--format", "json"],
        }
        cold = run(commands["list --modality video"], env)[0]
        results = {}
        for label, cmd in commands.items():
            runs = [run(cmd, env) for _ in range(args.repeat)]
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            results[label] = {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
                              "median_cpu_s": round(statistics.median(cpus), 3)}
        baseline = [run([sys.executable, "-c", "pass"], env)[0] for _ in range(args.repeat)]
        # the same command on a one-paper catalog: interpreter + imports + CLI, without the 10,000 entries
        tiny = Path(tmp) / "tiny.yaml"
        tiny.write_text(yaml.safe_dump(synthetic_catalog(1), sort_keys=False), encoding="utf-8")
        tiny_env = {**env, "TOKZOO_CATALOG": str(tiny)}
        run(commands["list --modality video"], tiny_env)
        floor = [run(commands["list --modality video"], tiny_env) for _ in range(args.repeat)]
    report = {
        "entries": args.entries,
        "file_mb": file_mb,
        "cold_first_run_s": round(cold, 3),
        "warm": results,
        "python_startup_median_s": round(statistics.median(baseline), 3),
        "one_entry_catalog": {"median_s": round(statistics.median(w for w, _ in floor), 3),
                              "median_cpu_s": round(statistics.median(c for _, c in floor), 3)},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"synthetic catalog: {args.entries} entries ({report['file_mb']} MB); python {report['python']}, {report['cpus']} CPUs, load {report['loadavg_1min']}")
        print(f"cold first run (YAML parse + cache write): {report['cold_first_run_s']:.3f} s")
        for label, r in results.items():
            print(f"warm  tokzoo {label:32s} wall median {r['median_s']:.3f} s  min {r['min_s']:.3f} s  "
                  f"CPU median {r['median_cpu_s']:.3f} s")
        f = report["one_entry_catalog"]
        print(f"same command on a 1-entry catalog            wall median {f['median_s']:.3f} s  CPU median {f['median_cpu_s']:.3f} s")
        print(f"bare python startup                          median {report['python_startup_median_s']:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
