"""Pure-Python token schedules and counting conventions of zoo.flops, against hand counts and
(where torch is installed) the functions the methods themselves use."""

from __future__ import annotations

import itertools

import pytest

from zoo.flops import (DecoderConfig, fastv_schedule, full_schedule, image_tokens_after_layers, kept_tokens,
                       pyramid_schedule, sparsevlm_recycled, sparsevlm_schedule, stack_flops)
from zoo.flops import vit

VICUNA_7B = DecoderConfig(num_layers=32, hidden_size=4096, intermediate_size=11008, num_attention_heads=32)


def test_kept_tokens_is_the_methods_budget_rule():
    torch_select = pytest.importorskip("zoo.core.select")
    for n in (1, 7, 100, 196, 576, 2880):
        for ratio in (0.01, 0.05, 0.07, 0.1, 0.125, 0.25, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0):
            assert kept_tokens(n, keep_ratio=ratio) == torch_select.keep_count(n, ratio), (n, ratio)
        for k in (0, 1, 64, n, n + 5):
            assert kept_tokens(n, keep_tokens=k) == torch_select.keep_count(n, None, k)
    assert kept_tokens(576, keep_ratio=0.1) == 58 and kept_tokens(576, keep_ratio=0.05) == 29


def test_pyramid_schedule_and_pdrop_convention():
    sched = pyramid_schedule(32, 576, 0, layers=[8, 16, 24], lam=0.5)
    assert sched.image == (576,) * 8 + (288,) * 8 + (144,) * 8 + (72,) * 8
    # PyramidDrop's own count, by hand: 32 layers x (4nd^2 + 2n^2d + 3ndm), n = 576 image tokens
    d, m, n = 4096, 11008, 576
    assert stack_flops(full_schedule(32, 576, 99), VICUNA_7B, "pdrop") == 32 * (4 * n * d * d + 2 * n * n * d + 3 * n * d * m)
    assert round(stack_flops(sched, VICUNA_7B, "pdrop") / 1e12, 2) == 1.78
    lam04 = pyramid_schedule(32, 576, 0, layers=[8, 16, 24], lam=0.4)
    assert sorted(set(lam04.image), reverse=True) == [576, 230, 92, 36]  # int(), not round()


def test_sparsevlm_schedule_matches_the_official_rule_by_hand():
    assert [sparsevlm_recycled(p) for p in (0, 1, 276, 109, 94)] == [0, 1, 9, 4, 3]
    sched = sparsevlm_schedule(32, 576, 10, layers=(2, 6, 15), kept=(300, 200, 110))
    assert sched.image == (576,) * 3 + (309,) * 4 + (204,) * 9 + (113,) * 16
    after = image_tokens_after_layers(sched)
    assert sum(after) / 32 == 192.03125 and sum(sched.image) / 32 == 206.5
    # SparseVLM's own FLOPs count: every token entering the layer, 3 FFN matrices
    assert stack_flops(sched, VICUNA_7B, "sparsevlm") == stack_flops(list(sched.total), VICUNA_7B, "pdrop")


def test_fastv_schedule_keeps_the_budget_rule():
    for r in (0.25, 0.5, 0.75, 0.875):
        assert fastv_schedule(40, 576, 36, k=2, r=r).image[-1] == kept_tokens(576, keep_ratio=1 - r)


def test_vit_counts():
    assert vit.tome_counts(197, 12, 13) == [197 - 13 * (i + 1) for i in range(12)]
    assert vit.tome_counts(17, 4, 8) == [9, 5, 3, 2]  # capped at half the patch tokens
    assert vit.evit_counts(197, 12, 0.7, (3, 6, 9), fuse=True)[-1] == 72
    assert vit.evit_counts(197, 12, 0.7, (3, 6, 9), fuse=False) == [197] * 3 + [139] * 3 + [98] * 3 + [69] * 3
    assert vit.per_block_counts(197, [0, 0, 0, 50, 0, 0, 50, 0, 0, 50, 0, 0]) == [197] * 3 + [147] * 3 + [97] * 3 + [49] * 3


# profile_macs of the official evit.py / ppt_deit.py DeiT-S models (torchprofile 0.1.0, random weights);
# tokzoo's formulas must give exactly these numbers
EVIT_PROFILE = {(True, 0.9): 4025801396, (True, 0.8): 3480450218, (True, 0.7): 3032105162, (True, 0.6): 2637750292,
                (True, 0.5): 2311015474, (False, 0.9): 3991992275, (False, 0.8): 3447432641,
                (False, 0.7): 2999739005, (False, 0.6): 2610805579, (False, 0.5): 2284472521}
PPT_PROFILE = {"prune/prune/prune": 2943702819, "prune/prune/pool": 2943896799, "prune/pool/prune": 2944114399,
               "prune/pool/pool": 2944308379, "pool/prune/prune": 2944411999, "pool/prune/pool": 2944605979,
               "pool/pool/prune": 2944823579, "pool/pool/pool": 2945017559}


def test_torchprofile_convention_equals_profile_macs_of_the_official_models():
    shape = vit.ViTShape.preset("deit_small")
    for (fuse, kr), expected in EVIT_PROFILE.items():
        counts = vit.evit_counts(197, 12, kr, (3, 6, 9), fuse=fuse)
        extra = vit.evit_torchprofile_extra(shape, counts, (3, 6, 9), n_input=197, fuse=fuse)
        assert vit.torchprofile_macs(shape, vit.schedule_from_counts(197, counts), extra=extra) == expected, (fuse, kr)
    counts = vit.per_block_counts(197, [0, 0, 0, 50, 0, 0, 50, 0, 0, 50, 0, 0])
    for pattern in itertools.product(("prune", "pool"), repeat=3):
        extra = vit.ppt_torchprofile_extra(shape, counts, (3, 6, 9), pattern, n_input=197)
        got = vit.torchprofile_macs(shape, vit.schedule_from_counts(197, counts), extra=extra)
        assert got == PPT_PROFILE["/".join(pattern)], pattern
    with pytest.raises(ValueError, match="branch 'merge'"):
        vit.ppt_torchprofile_extra(shape, counts, (3, 6, 9), ("merge", "prune", "prune"), n_input=197)


# fvcore.nn.FlopCountAnalysis (fvcore 0.1.5.post20221221) of timm models patched with the official
# tome.patch.timm (facebookresearch/ToMe af95e4b), random weights, timm's fused attention off; keys are
# (model, r, inflect). ViT-L/H were built with global_pool="avg", fc_norm=True (fine-tuned MAE layout).
FVCORE_TOME = {("deit_tiny", 0, 0): 1258411200, ("deit_tiny", 8, 0): 932523200, ("deit_tiny", 12, 0): 775568832,
               ("deit_tiny", 16, 0): 626872256, ("deit_small", 0, 0): 4608338304, ("deit_small", 8, 0): 3428157824,
               ("deit_small", 13, 0): 2711673920, ("deit_small", 16, 0): 2298405248,
               ("deit_base", 0, 0): 17582740224, ("deit_base", 8, 0): 13122683648, ("deit_base", 12, 0): 10926624768,
               ("deit_base", 16, 0): 8784053504, ("deit_base", 20, 0): 7143284608,
               ("vit_large", 0, 0): 61603132416, ("vit_large", 8, 0): 30993148928, ("vit_large", 8, -1): 22346199168,
               ("vit_huge", 0, 0): 167400382720, ("vit_huge", 7, 0): 92910970240, ("vit_huge", 7, -1): 72604969200}


def _vit_huge_14() -> vit.ViTShape:
    return vit.ViTShape(embed_dim=1280, depth=32, num_heads=16, attn_dim=1280, mlp_in=5120, mlp_out=5120,
                        patch_size=(14, 14), in_chans=3, num_patches=256, num_prefix_tokens=1, num_classes=1000)


def test_fvcore_convention_equals_flop_count_analysis_of_the_official_tome_patch():
    from zoo.core.schedule import inflected_schedule  # pure Python

    for (name, r, inflect), expected in FVCORE_TOME.items():
        shape = _vit_huge_14() if name == "vit_huge" else vit.ViTShape.preset(name)
        counts = vit.per_block_counts(shape.num_tokens, inflected_schedule(shape.depth, r, inflect))
        sched = vit.schedule_from_counts(shape.num_tokens, counts)
        got = vit.fvcore_macs(shape, sched, extra=vit.tome_matching_macs(shape, sched),
                              pooled_norm=name in ("vit_large", "vit_huge"))
        assert got == expected, (name, r, inflect, got - expected)
    # no merging, no matching: the unreduced count is the plain one plus the norms
    shape = vit.ViTShape.preset("deit_small")
    assert vit.tome_matching_macs(shape, vit.full_schedule(shape)) == 0
    assert vit.fvcore_macs(shape) - vit.vit_macs(shape).total == 5 * 384 * 197 * 25


def test_vit_params_equal_timm_parameter_counts():
    # sum(p.numel() for p in timm.create_model(name).parameters()), timm 1.0.31
    assert vit.vit_params(vit.ViTShape.preset("deit_small")) == 22050664
    assert vit.vit_params(vit.ViTShape.preset("deit_tiny")) == 5717416
