"""Encoder FLOPs against torch's FlopCounterMode on the real patched run; the encoder benchmark
(record, CLI dispatch by model name). No speed is asserted here (benchmarks/ does that)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from encoder_fixtures import MODELS  # noqa: E402
from zoo.flops.encoder import EncoderShape, encoder_macs, run_schedule, theoretical_speedup  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one intra-op thread for tiny models


def counted_macs(model, inputs) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(**inputs)
    return counter.get_total_flops() / 2


def test_formula_equals_counted_macs_without_heads(monkeypatch):
    """BERT without pooler, eager attention: every counted MAC is a block's (the formula's), exactly,
    unreduced and with EViT (whose own scores are a mean over heads: no matmul)."""
    from transformers import BertModel

    from encoder_fixtures import bert_config

    torch.manual_seed(0)
    model = BertModel(bert_config(attn_implementation="eager"), add_pooling_layer=False).eval()
    monkeypatch.setattr("zoo.core.attention.prefer_explicit", lambda *a: True)  # count q k^T and attn v
    ids = torch.randint(5, 120, (2, 65), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = counted_macs(model, {"input_ids": ids})
        with zoo.apply(model, "evit", layers=(1, 2), keep_rate=0.5, fuse=False) as h:
            reduced = counted_macs(model, {"input_ids": ids})
    shape = EncoderShape.from_adapter(h.adapter, 65)
    assert (shape.embed_dim, shape.attn_dim, shape.mlp_in, shape.mlp_out, shape.embed) == (32, 32, 64, 64, 0)
    assert encoder_macs(shape).total * 2 == base
    assert encoder_macs(shape, run_schedule(h.run, "text")).total * 2 == reduced
    assert theoretical_speedup(shape, run_schedule(h.run, "text")) == pytest.approx(base / reduced)


@pytest.mark.parametrize("name", list(MODELS))
def test_formula_follows_the_recorded_schedule_on_every_adapter(monkeypatch, name):
    """The formula for the recorded schedule (+ input convolutions) against the counted run: equal up
    to heads/poolers and the method's own similarity products, which the convention leaves out."""
    monkeypatch.setattr("zoo.core.attention.prefer_explicit", lambda *a: True)
    model, inputs, p = MODELS[name]()
    with torch.no_grad(), zoo.apply(model, "tome", r=6) as h:
        counted = counted_macs(model, inputs)
    stage = h.adapter.stage
    shape = EncoderShape.from_adapter(h.adapter, h.run.input_tokens[stage])
    ours = encoder_macs(shape, run_schedule(h.run, stage)).total * 3
    assert 0.93 < ours / counted <= 1.0, (name, ours, counted)


def test_encoder_bench_record():
    from zoo.bench.encoder import bench

    rec = bench("tome", {"r": 4}, model="minilm-l6", seq_len=17, batch_size=1, dtype="fp32", threads=1,
                warmup=0, repeats=1)
    assert rec["kind"] == "tokzoo-bench" and rec["family"] == "hf-bert" and rec["setting"]["seq_len"] == 17
    assert rec["tokens"]["input"] == 17 and rec["tokens"]["after_block"] == [13, 9, 5, 3, 2, 2]
    assert rec["flops"]["theoretical_speedup"] > 1 and rec["flops"]["method_gmacs"] < rec["flops"]["baseline_gmacs"]
    assert rec["measured_over_theoretical"] == pytest.approx(rec["speedup"] / rec["flops"]["theoretical_speedup"])
    assert rec["cpu_time"]["speedup"] > 0 and rec["versions"]["transformers"]
    with pytest.raises(ValueError, match="encoder benchmark models"):
        bench("tome", {"r": 4}, model="no-such-model")


def test_bench_cli_picks_the_family_from_the_model_name(tmp_path):
    from typer.testing import CliRunner

    from zoo.bench import model_family
    from zoo.cli import app

    assert model_family("bert-base") == "hf-bert" and model_family("ast") == "hf-ast"
    assert model_family("vit_base_patch16_224") is None
    out = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["bench", "tome", "--model", "minilm-l6", "--seq-len", "12", "--r", "2", "-b", "1",
                                   "--dtype", "fp32", "--threads", "1", "--warmup", "0", "--repeats", "1",
                                   "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "measured / theoretical" in res.output and "hf-bert" in res.output
    rec = json.loads(out.read_text())
    assert rec["setting"]["model"] == "minilm-l6" and "--seq-len 12" in rec["command"]


def test_every_encoder_bench_model_class_resolves():
    """Each named benchmark model's class exists in the installed transformers (whisper-base's
    WhisperEncoder is not a top-level export: the bench crashed on it)."""
    pytest.importorskip("transformers")
    from zoo.bench.encoder import CONFIGS, model_class

    for name, (_, cls_name, _, _, _) in CONFIGS.items():
        assert model_class(cls_name).__name__ == cls_name, name
