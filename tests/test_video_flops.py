"""zoo.flops.video: the video methods' schedules and costs, checked against zoo.flops.llm and by hand."""

from __future__ import annotations

import pytest

from zoo.flops import DecoderConfig, decode_flops, full_schedule, stack_flops
from zoo.flops import video as fv

CFG = DecoderConfig(num_layers=4, hidden_size=8, intermediate_size=16, num_attention_heads=2, name="toy")


def test_decode_cost_agrees_with_the_llm_module_when_nothing_is_pruned():
    sched = full_schedule(4, 10, 3)
    assert fv.decode_cost([13] * 4, CFG, "dycoke", 5) == decode_flops(sched, CFG, "dycoke", new_tokens=5)
    cost = fv.dycoke_cost(CFG, n_visual=10, n_other=3, new_tokens=5)
    assert cost.total == stack_flops(sched, CFG, "dycoke", new_tokens=5)


def test_dycoke_decode_pruning_by_hand():
    d, m = 8, 16
    cost = fv.dycoke_cost(CFG, n_visual=10, n_other=3, new_tokens=2, decode_keep=4, layer=1)
    # step s, layer l: 4d^2 + 2dm + 2d * (visible + s + 1); layer 0 sees 13 prompt tokens, layers 1-3 see 4 + 3
    def per(c):
        return 4 * d * d + 2 * d * m + 2 * d * c

    expect = sum(per(13 + s + 1) + 3 * per(7 + s + 1) for s in range(2))
    assert cost.decode == expect
    assert cost.prefill == stack_flops(full_schedule(4, 10, 3), CFG, "dycoke")
    with pytest.raises(ValueError, match="layer=9"):
        fv.dycoke_cost(CFG, n_visual=1, n_other=1, new_tokens=1, layer=9)


def test_schedules_and_ratios():
    s = fv.prunevid_schedule(4, 20, 8, 3, selected_layer=1)
    assert s.image == (20, 20, 8, 8) and s.other == (3,) * 4
    h = fv.holitom_schedule(4, 10, 2, inner_layer=3, inner_ratio=0.5)
    assert h.image == (10, 10, 10, 5)
    assert fv.holitom_schedule(4, 10, 2).image == (10,) * 4
    assert fv.token_cost([100, 50, 30, 30], 100) == pytest.approx(0.525)
    assert fv.retained_ratio(608, 6272) == pytest.approx(0.0969, abs=1e-4)
    with pytest.raises(ValueError, match="at least one layer"):
        fv.token_cost([], 10)
