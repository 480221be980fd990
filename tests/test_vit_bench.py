"""The ViT benchmark: record contents, CLI, dispatch (tiny model, few repeats; no speed asserted here)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("timm")

from zoo.bench import BENCHES, bench_function, family_for  # noqa: E402
from zoo.bench.common import interleaved, summarize  # noqa: E402


def test_interleaving_alternates_and_switches_outside_timing():
    calls = []
    samples = interleaved(lambda: calls.append("b"), lambda: calls.append("m"), warmup=1, repeats=4,
                          enter=lambda: calls.append("+"), leave=lambda: calls.append("-"))
    assert calls == ["b", "+", "m", "-"] + ["b", "+", "m", "-", "+", "m", "-", "b"] * 2
    s = summarize({"baseline": [2.0, 4.0, 3.0], "method": [1.0, 1.0, 3.0]}, items_per_call=6)
    assert s["baseline"]["median_s"] == 3.0 and s["reduced"]["throughput"] == 6.0
    assert s["speedup"] == 3.0 and s["speedup_pairs_median"] == 2.0
    assert len(samples["baseline"]) == len(samples["method"]) == 4


def test_family_dispatch():
    assert "timm-vit" in BENCHES and callable(bench_function("timm-vit"))
    assert family_for(("timm-vit", "llava")) == "timm-vit"
    with pytest.raises(ValueError, match="supports timm-vit"):
        family_for(("timm-vit",), "llava")
    with pytest.raises(KeyError, match="available"):
        bench_function("no-such-family")


def test_vit_bench_record():
    from zoo.bench.vit import bench

    rec = bench("tome", {"r": 4}, model="vit_tiny_patch16_224", img_size=32, batch_size=2, dtype="fp32",
                threads=1, warmup=0, repeats=2, model_kwargs={"patch_size": 4, "depth": 2})
    assert rec["kind"] == "tokzoo-bench" and rec["method"] == "tome" and rec["params"]["r"] == 4
    assert rec["setting"]["dtype"] == "float32" and rec["setting"]["threads"] == 1
    assert rec["tokens"] == {"input": 65, "after_block": [61, 57]}
    assert rec["flops"]["method_gmacs"] < rec["flops"]["baseline_gmacs"]
    assert rec["flops"]["theoretical_speedup"] > 1
    assert len(rec["baseline"]["samples_s"]) == 2 and rec["speedup"] > 0
    for key in ("cpu", "threads", "logical_cpus"):
        assert key in rec["hardware"]
    assert rec["versions"]["torch"] and rec["versions"]["timm"] and rec["date"]


def test_bench_cli(tmp_path):
    from typer.testing import CliRunner

    from zoo.cli import app

    out = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["bench", "evit", "--model", "vit_tiny_patch16_224", "--img-size", "32",
                                   "-p", "layers=(1,)", "-p", "keep_rate=0.5", "-b", "1", "--dtype", "fp32",
                                   "--threads", "1", "--warmup", "0", "--repeats", "1", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "measured speedup" in res.output and "theoretical speedup" in res.output
    rec = json.loads(out.read_text())
    # 4 patches at 32 px: CLS + ceil(0.5 * 4) kept + 1 fused token after block 1
    assert rec["params"]["layers"] == [1] and rec["tokens"]["after_block"] == [5, 4] + [4] * 10
    bad = CliRunner().invoke(app, ["bench", "tome", "--keep-ratio", "1.5"])
    assert bad.exit_code == 2 and "keep_ratio=1.5" in bad.output
