"""``tokzoo bench`` for diffusion and the quality harness, end to end on tiny local models."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import diffusion_fixtures as F  # noqa: E402


def test_bench_record_has_timings_official_flops_and_memory():
    from zoo.bench.diffusion import bench

    rec = bench("tomesd", {"ratio": 0.5}, unet=F.unet("sd15"), img_size=128, batch_size=2,
                repeats=1, warmup=0, dtype="fp32")
    assert rec["family"] == "diffusers-unet" and rec["setting"]["latent"] == [16, 16]
    assert set(rec["seconds_per_step"]) == {"baseline", "tokzoo", "official"}
    assert rec["official"]["package"].startswith("tomesd") and rec["official"]["tokzoo_vs_official"] > 0
    flops = rec["flops"]
    assert flops["method_gflops"] < flops["baseline_gflops"] and flops["official_gflops"] == flops["method_gflops"]
    assert rec["memory"]["math"]["baseline"] > rec["memory"]["math"]["tokzoo"]
    assert rec["tokens"]["input"] == 256 and rec["tokens"]["blocks"][0]["self_attn_queries"] == 128
    json.dumps(rec)


def test_flop_counter_agrees_with_the_analytic_block_cost():
    """FlopCounterMode on one real block equals zoo.flops.diffusion.block_macs (x2) for the same tokens."""
    from zoo.bench.diffusion import count_flops
    from zoo.flops.diffusion import block_macs, unet_transformer_blocks

    unet = F.unet("sd15")
    spec = unet_transformer_blocks(dict(unet.config), (16, 16))[0]
    block = unet.down_blocks[0].attentions[0].transformer_blocks[0]
    x, text = torch.randn(2, spec.tokens, spec.dim), torch.randn(2, 77, spec.cross_dim)
    with torch.no_grad():
        counted = count_flops(lambda: block(x, encoder_hidden_states=text))
    assert counted == 2 * 2 * block_macs(spec, text_tokens=77)["total"]


def test_quality_harness_compares_model_method_and_control_on_a_pipeline():
    from zoo.bench.diffusion_quality import compare_generations

    pipe = F.sd_pipeline()
    seen = []

    def metric(images, prompts):  # a stand-in for FID / CLIP score
        seen.append(images.shape)
        return float(images.mean())

    res = compare_generations(pipe, ["a photo of a cat", "a red dog"], "tomesd", {"ratio": 0.5}, metric,
                              control_params={"layers": [0, 5, 6], "keep_ratio": 0.5}, steps=2, batch=2, img_size=32)
    assert set(res) == {"baseline", "method", "control", "images"} and res["images"] == 2
    assert seen == [(2, 3, 32, 32)] * 3
    assert len({res["baseline"], res["method"], res["control"]}) == 3


def test_cli_bench_rejects_unknown_model():
    from zoo.bench.diffusion import unet_config

    with pytest.raises(ValueError, match="sd15-unet"):
        unet_config("sd99")


@pytest.mark.parametrize("layout", ["sd15", "sdxl"])
def test_analytic_layout_matches_the_model(layout):
    """zoo.flops.diffusion lists the blocks the runtime finds, in its execution order, with the token counts
    the runtime records."""
    import zoo
    from zoo.flops.diffusion import unet_transformer_blocks

    unet = F.unet(layout)
    specs = unet_transformer_blocks(dict(unet.config), (16, 16))
    with zoo.apply(unet, "tomesd", ratio=0.0) as h:
        F.output_of(unet, F.unet_inputs(unet))
    table = h.adapter.runtime.table
    assert [s.name for s in specs] == [b.name for b in h.adapter.blocks] == [row["name"] for row in table]
    assert [(s.downsample, s.tokens) for s in specs] == [(row["downsample"], row["tokens"]) for row in table]
