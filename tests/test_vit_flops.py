"""ViT FLOPs (fvcore-style MACs) from the recorded schedule, checked against papers and torch's counter."""

from __future__ import annotations

import pytest

from zoo.flops.vit import ViTShape, full_schedule, schedule_from_counts, theoretical_speedup, vit_macs


def test_reference_models_match_the_papers():
    # DeiT paper Table 1 / ToMe tables: DeiT-S 4.6, DeiT-B 17.6 "GFLOPs" at 224 px
    assert round(vit_macs(ViTShape.preset("deit_small_patch16_224")).gmacs, 1) == 4.6
    assert round(vit_macs(ViTShape.preset("deit_base_patch16_224")).gmacs, 1) == 17.6
    assert round(vit_macs(ViTShape.preset("deit_tiny")).gmacs, 2) == pytest.approx(1.25, abs=0.011)


def test_schedule_bookkeeping():
    shape = ViTShape.preset("deit_small")
    assert schedule_from_counts(197, [197, 150, 150]) == [(197, 197), (197, 150), (150, 150)]
    sched = schedule_from_counts(197, [197] * 3 + [147] * 3 + [97] * 3 + [47] * 3)
    cost = vit_macs(shape, sched)
    assert cost.attn[3] == vit_macs(shape).attn[3] and cost.mlp[3] < vit_macs(shape).mlp[3]
    assert theoretical_speedup(shape, full_schedule(shape)) == 1.0
    with pytest.raises(ValueError, match="12"):
        vit_macs(shape, sched[:5])
    with pytest.raises(KeyError, match="known"):
        ViTShape.preset("swin_t")


def test_ppt_deit_small_from_a_real_run():
    """PPT README (xjwu1024/PPT): DeiT-S, r_tokens=50 at pp_loc_list 3 6 9 -> 2.94 GMACs (baseline 4.60)."""
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    import zoo
    from zoo.flops.vit import run_cost

    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch16_224", pretrained=False).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad(), zoo.apply(model, "ppt", r=50, layers=(3, 6, 9)) as h:
        model(x)
    # PPT caps r at half the patch tokens (96 // 2 = 48 at block 9), as its official code does
    assert h.run.tokens["vit"] == [197] * 3 + [147] * 3 + [97] * 3 + [49] * 3
    cost = run_cost(model, h.run)
    assert cost.gmacs == pytest.approx(2.94, rel=0.01)
    assert vit_macs(ViTShape.from_timm(model)).gmacs == pytest.approx(4.60, rel=0.005)


@pytest.mark.parametrize("method,params", [
    (None, {}),
    ("random", dict(layers=(0, 2), keep_ratio=0.3)),
    ("evit", dict(layers=(1, 2), keep_rate=0.6)),
    ("tome", dict(r=5, inflect=-0.5)),
])
def test_analytic_count_equals_torch_flop_counter(method, params):
    """torch.utils.flop_counter on the real (patched) forward agrees with the analytic count of the
    recorded schedule; FlopCounterMode counts FLOPs = 2 x MACs. ToMe's matching (a @ b^T of the
    keys per merge) is the method's own cost, added here explicitly."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("timm")
    from torch.utils.flop_counter import FlopCounterMode

    import zoo
    from vit_fixtures import tiny_vit
    from zoo.flops.vit import run_cost

    model = tiny_vit("deit")
    for blk in model.blocks:
        blk.attn.fused_attn = False  # torch's counter sees the attention matmuls only when unfused on CPU
    batch = 2
    x = torch.randn(batch, 3, 32, 32)
    with torch.no_grad():
        if method is None:
            with FlopCounterMode(display=False) as counter:
                model(x)
            from zoo.interface import Run

            run = Run()
            run.start("vit", 65)
            for _ in range(4):
                run.log("vit", 65)
        else:
            with zoo.apply(model, method, **params) as h, FlopCounterMode(display=False) as counter:
                model(x)
            run = h.run
    expected = batch * run_cost(model, run).total
    if method == "tome":
        head_dim = model.blocks[0].attn.head_dim
        counts = [run.input_tokens["vit"], *run.tokens["vit"]]
        expected += sum(batch * ((n + 1) // 2) * (n // 2) * head_dim for n in counts[:-1])
    assert counter.get_total_flops() == 2 * expected
