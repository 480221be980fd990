"""The video benchmark (zoo.bench.video): record contents and dispatch on a tiny config (no speed asserted)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from zoo.bench import BENCHES, bench_function, family_for  # noqa: E402

TINY = {
    "description": "test-only tiny LLaVA-OneVision (112 px frames: 16 tokens per frame, 2 LM layers)",
    "vision": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                   image_size=112, patch_size=14),
    "text": dict(num_hidden_layers=2, hidden_size=48, intermediate_size=96, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=97),
}


@pytest.fixture
def tiny_config(monkeypatch):
    from zoo.bench import video

    monkeypatch.setitem(video.CONFIGS, "tiny-video-test", TINY)
    return "tiny-video-test"


def test_dispatch_knows_llava_onevision():
    assert bench_function("llava-onevision").__module__ == "zoo.bench.onevision" and "llava-onevision" in BENCHES
    assert family_for(("llava-onevision", "qwen2.5-vl")) == "llava-onevision"


@pytest.mark.parametrize("method,params", [("frame-subsample", {"n_frames": 2}), ("fastvid", {"keep_ratio": 0.25})])
def test_video_bench_record(tiny_config, method, params):
    from zoo.bench.video import bench

    rec = bench(method, params, model=tiny_config, dtype="fp32", threads=1, warmup=0, repeats=1, frames=8,
                n_system=3, n_question=4)
    assert rec["family"] == "llava-onevision" and rec["method"] == method
    tokens = rec["tokens"]
    assert tokens["video_tokens_in"] == 8 * 16 + 1 and tokens["llm_input"] < tokens["baseline_llm_input"]
    if method == "frame-subsample":  # 2 of 8 frames kept: 32 grid tokens + the newline
        assert tokens["llm_input"] == 3 + 4 + 2 * 16 + 1
    f = rec["flops"]
    assert f["theoretical_speedup"] > 1 and f["method_gmacs"] < f["baseline_gmacs"]
    assert rec["memory"]["reduced_mb"] > 0 and rec["setting"]["prompt"]["video_frames"] == 8
    with pytest.raises(ValueError, match="batch 1"):
        bench(method, params, model=tiny_config, batch_size=2)
