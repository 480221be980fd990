"""zoo.flops.llm: conventions by hand, schedules, and agreement with torch's FlopCounterMode."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.flops import (
    CONVENTIONS,
    DecoderConfig,
    TokenSchedule,
    decode_flops,
    drop_schedule,
    fastv_schedule,
    flops_ratio,
    flops_reduction,
    full_schedule,
    layer_flops,
    stack_flops,
    theoretical_speedup,
)

CONFIGS = Path(__file__).resolve().parents[1] / "repro" / "configs"


def tiny(**kw) -> DecoderConfig:
    base = dict(num_layers=4, hidden_size=64, intermediate_size=176, num_attention_heads=4)
    base.update(kw)
    return DecoderConfig(**base)


def test_fastv_convention_is_eq5_by_hand():
    cfg = tiny()
    n, d, m = 100, 64, 176
    assert layer_flops(n, cfg, "fastv") == 4 * n * d * d + 2 * n * n * d + 2 * n * d * m


def test_pdrop_counts_image_tokens_only_with_three_ffn_matrices():
    cfg = tiny()
    sched = TokenSchedule(image=(10, 10, 5, 5), other=(7, 7, 7, 7))
    d, m = 64, 176
    expected = sum(4 * n * d * d + 2 * n * n * d + 3 * n * d * m for n in (10, 10, 5, 5))
    assert stack_flops(sched, cfg, "pdrop") == expected
    # the fastv convention counts every token of the same schedule
    assert stack_flops(sched, cfg, "fastv") == sum(layer_flops(n, cfg, "fastv") for n in (17, 17, 12, 12))


def test_fastv_schedule_layers_and_counts():
    s = fastv_schedule(6, n_image=576, n_other=40, k=2, r=0.75)
    assert s.image == (576, 576, 144, 144, 144, 144)
    assert s.total == (616, 616, 184, 184, 184, 184)
    with pytest.raises(ValueError, match="r=1.5"):
        fastv_schedule(6, 576, 40, k=2, r=1.5)


def test_drop_schedule_rejects_bad_boundaries():
    with pytest.raises(ValueError, match="boundaries"):
        drop_schedule(4, 100, 10, boundaries=[3, 1], image_tokens=[50, 25])
    with pytest.raises(ValueError, match="2 boundaries but 1"):
        drop_schedule(4, 100, 10, boundaries=[1, 2], image_tokens=[50])


def test_ratio_reduction_speedup_agree():
    cfg = tiny()
    base = full_schedule(4, 64, 16)
    meth = fastv_schedule(4, 64, 16, k=1, r=0.5)
    ratio = flops_ratio(meth, base, cfg, "fastv")
    assert 0 < ratio < 1
    assert flops_reduction(meth, base, cfg, "fastv") == pytest.approx(1 - ratio)
    assert theoretical_speedup(meth, base, cfg, "fastv") == pytest.approx(1 / ratio)


def test_unknown_convention_and_wrong_length_are_named():
    cfg = tiny()
    with pytest.raises(ValueError, match="unknown FLOPs convention 'macs'.*tokzoo"):
        stack_flops([1, 2, 3, 4], cfg, "macs")
    with pytest.raises(ValueError, match="3 layers but the decoder has 4"):
        stack_flops([1, 2, 3], cfg)
    with pytest.raises(ValueError, match="num_layers=0"):
        tiny(num_layers=0)


def test_decode_flops_grow_with_cache():
    cfg = tiny()
    short = decode_flops([10] * 4, cfg, "dycoke", new_tokens=3)
    long = decode_flops([100] * 4, cfg, "dycoke", new_tokens=3)
    d, m = 64, 176
    by_hand = sum(4 * (4 * d * d + 2 * d * (10 + s + 1) + 2 * d * m) for s in range(3))
    assert short == by_hand
    assert long > short
    assert stack_flops([10] * 4, cfg, "dycoke", new_tokens=3) == stack_flops([10] * 4, cfg, "dycoke") + short


def test_config_files_load_with_hf_keys():
    cfg = DecoderConfig.from_file(CONFIGS / "llava-1.5-7b.json")
    assert (cfg.num_layers, cfg.hidden_size, cfg.intermediate_size, cfg.mlp) == (32, 4096, 11008, "swiglu")
    with pytest.raises(ValueError, match="lacks intermediate_size"):
        DecoderConfig.from_dict({"num_hidden_layers": 2, "hidden_size": 8, "num_attention_heads": 2}, name="x")


def test_conventions_are_documented():
    for name, conv in CONVENTIONS.items():
        assert conv.name == name and conv.source and conv.counts in {"all", "image"}


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_tokzoo_convention_matches_flop_counter_on_a_llama_layer(kv_heads):
    """The default count equals what torch counts for the matmuls of a real (tiny) Llama layer.

    Eager attention: on the CPU, FlopCounterMode does not count the fused SDPA kernel.
    """
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRotaryEmbedding

    hf = LlamaConfig(hidden_size=64, intermediate_size=176, num_attention_heads=4, num_key_value_heads=kv_heads,
                     num_hidden_layers=1, vocab_size=32, attn_implementation="eager")
    layer = LlamaDecoderLayer(hf, layer_idx=0).eval()
    rope = LlamaRotaryEmbedding(hf)
    n = 37
    x = torch.randn(1, n, 64)
    pos = torch.arange(n)[None]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(x, position_embeddings=rope(x, pos), attention_mask=None, position_ids=pos)
    cfg = DecoderConfig.from_pretrained_config(hf)
    assert layer_flops(n, cfg) == counter.get_total_flops()
