"""The LLaVA benchmark: record contents, dispatch and CLI on a tiny config (no speed asserted here)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from zoo.bench import BENCHES, bench_function, family_for  # noqa: E402

TINY = {
    "description": "test-only tiny LLaVA (2 vision layers, 2 LM layers, 16 image tokens)",
    "vision": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                   image_size=56, patch_size=14),
    "text": dict(num_hidden_layers=3, hidden_size=48, intermediate_size=96, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=32064),
}


@pytest.fixture
def tiny_config(monkeypatch):
    from zoo.bench import vlm

    monkeypatch.setitem(vlm.CONFIGS, "tiny-test", TINY)
    return "tiny-test"


def test_dispatch_knows_llava():
    assert "llava" in BENCHES and bench_function("llava").__module__ == "zoo.bench.vlm"
    assert family_for(("llava",)) == "llava"


def test_llava_bench_record(tiny_config):
    from zoo.bench.vlm import bench

    rec = bench("fastv", {"k": 1, "keep_ratio": 0.25}, model=tiny_config, dtype="fp32", threads=1, warmup=0,
                repeats=2, n_system=3, n_question=4)
    assert rec["kind"] == "tokzoo-bench" and rec["family"] == "llava" and rec["method"] == "fastv"
    assert rec["params"]["k"] == 1 and rec["params"]["keep_ratio"] == 0.25
    n = 1 + 3 + 16 + 4
    assert rec["tokens"]["llm_input"] == n
    assert rec["tokens"]["llm_entering_layer"] == [n, n - 12, n - 12]
    flops = rec["flops"]
    assert flops["theoretical_speedup"] > 1 and flops["method_gmacs"] < flops["baseline_gmacs"]
    assert set(rec["cpu_time"]) >= {"baseline", "reduced", "speedup"}
    assert len(rec["baseline"]["samples_s"]) == 2 and rec["setting"]["threads"] == 1
    assert rec["memory"]["reduced_mb"] < rec["memory"]["baseline_mb"]
    assert set(rec["prefill"]) == {"wall", "cpu_time"}
    assert rec["versions"]["transformers"] and rec["hardware"]["cpu"] and rec["date"]
    json.dumps(rec)


def test_llava_bench_vision_method(tiny_config):
    from zoo.bench.vlm import bench

    rec = bench("fastervlm", {"keep_tokens": 4}, model=tiny_config, dtype="fp32", threads=1, warmup=0, repeats=1,
                n_system=3, n_question=4, full_prefill=False, memory=False)
    assert rec["tokens"]["vision"] == [4]
    assert rec["tokens"]["llm_input"] == 1 + 3 + 4 + 4
    assert "prefill" not in rec and "memory" not in rec


def test_bench_cli_llava(tiny_config, tmp_path):
    from typer.testing import CliRunner

    from zoo.cli import app

    out = tmp_path / "rec.json"
    res = CliRunner().invoke(app, ["bench", "fastv", "--model", tiny_config, "--keep-ratio", "0.5", "-p", "k=1",
                                   "--dtype", "fp32", "--threads", "1", "--warmup", "0", "--repeats", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "theoretical speedup" in res.output and "CPU time" in res.output
    rec = json.loads(out.read_text())
    assert rec["setting"]["batch_size"] == 1
    # the record names the command that reproduces it, however the CLI was invoked
    assert rec["command"] == (f"tokzoo bench fastv --model {tiny_config} --dtype fp32 --threads 1 --warmup 0 "
                              "--repeats 1 --device cpu -p k=1 -p keep_ratio=0.5")
    bad = CliRunner().invoke(app, ["bench", "fastv", "--model", "no-such-config", "--repeats", "1"])
    assert bad.exit_code != 0


TINY_QWEN = {
    "kind": "qwen2.5-vl",
    "description": "test-only tiny Qwen2.5-VL (2 vision blocks, 3 LM layers, 8x8 patches -> 16 visual tokens)",
    "vision": dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, in_channels=3, patch_size=14,
                   spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1],
                   hidden_act="silu", tokens_per_second=2),
    "text": dict(num_hidden_layers=3, hidden_size=48, intermediate_size=96, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=32064,
                 rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 2, 2]}),
    "grid": (1, 8, 8),
}


def test_qwen_bench_record(monkeypatch):
    """The same bench on Qwen2.5-VL: the adapter is recorded, the prompt holds the merged-token grid."""
    from zoo.bench import vlm

    monkeypatch.setitem(vlm.CONFIGS, "tiny-qwen", TINY_QWEN)
    rec = vlm.bench("fastv", {"k": 1, "keep_ratio": 0.5}, model="tiny-qwen", dtype="fp32", threads=1, warmup=0,
                    repeats=1, n_system=3, n_question=4, full_prefill=False, memory=False)
    assert rec["family"] == "qwen2.5-vl"
    n = 1 + 3 + 1 + 16 + 1 + 4  # BOS, system, vision start, 16 visual tokens, vision end, question
    assert rec["tokens"]["llm_input"] == n and rec["setting"]["prompt"]["image"] == 16
    assert rec["tokens"]["llm_entering_layer"] == [n, n - 8, n - 8]
    assert rec["flops"]["theoretical_speedup"] > 1
    assert rec["setting"]["load_average"]["logical_cpus"]


def test_decoder_bench_configs_build_the_declared_layouts():
    """Each named configuration's kind and token counts, from the configs alone (no model built)."""
    from zoo.bench import vlm

    assert vlm.config_kind("qwen2.5-vl-7b-vision") == "qwen2.5-vl"
    t, h, w = vlm.CONFIGS["qwen2.5-vl-7b-vision"]["grid"]
    assert t * h * w // 4 >= 1000  # at least 1000 visual tokens after the 2x2 merger
    vision = vlm.CONFIGS["qwen2.5-vl-7b-vision"]["vision"]
    assert (vision["depth"], vision["hidden_size"], vision["fullatt_block_indexes"]) == (32, 1280, [7, 15, 23, 31])
    assert vlm.config_kind("llava-1.5-160m") == "llava"
