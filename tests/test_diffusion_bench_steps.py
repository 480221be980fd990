"""``tokzoo bench --steps N``: the denoising-loop bench (zoo/bench/diffusion_steps.py) on a tiny UNet, and its
argument checks. No timed assertions: the records' fields, FLOPs and schedules only."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import diffusion_fixtures as F  # noqa: E402

from zoo.bench.validate import BenchArgumentError, check_bench_args  # noqa: E402
from zoo.cli import app  # noqa: E402


def _loop(method, params, steps=4, **kw):
    from zoo.bench.diffusion import bench

    return bench(method, params, unet=F.unet("sd15"), img_size=128, steps=steps, dtype="fp32", threads=1,
                 warmup=kw.pop("warmup", 0), repeats=kw.pop("repeats", 1), **kw)


def test_dato_loop_records_cache_depths_and_counts_cache_hits():
    rec = _loop("dato", {}, steps=4)
    assert rec["family"] == "diffusers-unet" and rec["method"] == "dato"
    s = rec["setting"]
    assert s["steps"] == 4 and s["batch_size"] == 2 and s["latent"] == [16, 16] and s["baseline_every"] == 1
    assert s["scheduler"]["class"] == "DDIMScheduler" and s["paper_setting"]["steps"] == 50
    # the default strategy's first entries: step 1 full, then 0 (reuse), 1, 1 (shallow)
    assert [row["depth"] for row in rec["per_step"]] == ["full", "reuse", "shallow", "shallow"]
    assert rec["cache_depths"] == {"full": 1, "shallow": 2, "reuse": 1}
    assert rec["per_step"][1]["self_attn_queries"] == []               # a reusing step runs no block
    assert len(rec["per_step"][2]["self_attn_queries"]) == 1           # a shallow step: the last up block's last
    for side in ("baseline", "reduced"):
        assert len(rec[side]["step_samples_s"]) == len(rec[side]["step_cpu_samples_s"]) == 4
        assert rec[side]["median_s"] > 0 and rec[side]["cpu_median_s"] >= 0
    assert rec["speedup"] > 0 and rec["cpu_time"]["speedup"] > 0
    fl = rec["flops"]
    assert fl["baseline_gflops"] == pytest.approx(4 * fl["baseline_step_gflops"])
    steps = fl["method_step_gflops"]
    assert len(steps) == 4 and steps[1] < steps[2] < steps[0] < fl["baseline_step_gflops"]
    assert fl["theoretical_speedup"] == pytest.approx(fl["baseline_gflops"] / fl["method_gflops"])
    assert fl["baseline_gmacs"] == pytest.approx(fl["baseline_gflops"] / 2)   # the keys the CLI prints
    assert fl["counted_run_equals_timed_run"] is True
    assert "max_abs_difference" in rec["final_latents"]
    json.dumps(rec)


def test_ca_tome_loop_records_where_the_matching_was_computed():
    rec = _loop("ca-tome", {"threshold": 0.3, "cache_steps": (0, 3)}, steps=4)
    assert rec["matchings_computed_steps"] == [1, 3]                    # step 1 always, then the listed steps
    assert [row["matchings_computed"] > 0 for row in rec["per_step"]] == [True, False, True, False]
    assert "cache_depths" not in rec and list(rec["params"]["cache_steps"]) == [0, 3]


def test_sampled_baseline_times_every_kth_step():
    rec = _loop("tomesd", {"ratio": 0.5}, steps=4, baseline_every=2, flops=False)
    assert rec["baseline"]["timed_steps"] == [2, 4] and len(rec["baseline"]["step_samples_s"]) == 2
    assert len(rec["reduced"]["step_samples_s"]) == 4
    assert "flops" not in rec and "final_latents" not in rec          # the baseline trajectory was not followed


def test_shared_twin_shares_every_parameter():
    from zoo.bench.diffusion_steps import shared_twin

    unet = F.unet("sd15")
    twin = shared_twin(unet)
    assert twin is not unet
    assert all(a.data_ptr() == b.data_ptr() for a, b in zip(unet.parameters(), twin.parameters()))
    x = F.unet_inputs(unet)
    assert torch.equal(F.output_of(unet, x), F.output_of(twin, x))


@pytest.mark.parametrize("kwargs,name", [
    (dict(steps=1), "steps"), (dict(steps=2.5), "steps"), (dict(steps=True), "steps"),
    (dict(steps=3, baseline_every=0), "baseline_every"), (dict(steps=3, baseline_every=4), "baseline_every"),
    (dict(steps=3, batch_size=4), "batch_size"), (dict(steps=3, dtype="fp64"), "dtype"),
])
def test_bench_steps_refuses_bad_arguments_naming_them(kwargs, name):
    from zoo.bench.diffusion_steps import bench_steps

    with pytest.raises(ValueError, match=name):
        bench_steps("tomesd", {}, unet=F.unet("sd15"), img_size=128, **kwargs)


@pytest.mark.parametrize("kwargs,option,text", [
    (dict(steps=1), "--steps", "allowed: an integer >= 2"),
    (dict(steps=0), "--steps", "allowed: an integer >= 2"),
    (dict(steps=5000), "--steps", "at most 1000"),
    (dict(steps=10, batch_size=4), "--batch-size", "a batch of 2"),
    (dict(baseline_every=5), "--baseline-every", "only with --steps"),
    (dict(steps=10, baseline_every=11), "--baseline-every", "to --steps (10)"),
    (dict(steps=10, model="vit_tiny_patch16_224", method="tome"), "--steps", "only the diffusers-unet bench"),
])
def test_check_bench_args_names_the_option(kwargs, option, text):
    method = kwargs.pop("method", "dato")
    with pytest.raises(BenchArgumentError) as err:
        check_bench_args(method, {}, **kwargs)
    assert err.value.option == option and text in str(err.value)


def test_valid_loop_arguments_pass():
    assert check_bench_args("dato", {}, steps=50, baseline_every=5) == "diffusers-unet"
    assert check_bench_args("ca-tome", {}, model="sd15-unet", steps=50, batch_size=2) == "diffusers-unet"


def test_cli_refuses_a_one_step_loop_before_building(monkeypatch):
    import zoo.bench

    monkeypatch.setattr(zoo.bench, "bench_function", lambda fam: pytest.fail("a bench was started"))
    res = CliRunner().invoke(app, ["bench", "dato", "--steps", "1"])
    assert res.exit_code == 2 and "error: --steps: 1: allowed: an integer >= 2" in res.output


def test_cli_passes_the_loop_options_and_its_defaults(monkeypatch):
    """--steps reaches the bench with one warmup call and one run by default, and the command records them."""
    import zoo.bench

    seen = {}

    def fake(method, params, **kw):
        seen.update(kw)
        return {"setting": {"model": "sd15-unet", "batch_size": 2, "dtype": "bfloat16", "threads": 1, "device": "cpu",
                            "repeats": kw["repeats"], "steps": kw["steps"]},
                "baseline": {"throughput": 1.0}, "reduced": {"throughput": 2.0}, "speedup": 2.0,
                "speedup_pairs_median": 2.0, "params": params, "hardware": {},
                "seconds_per_image": {"baseline": 2.0, "tokzoo": 1.0}, "cache_depths": {"full": 1},
                "flops": {"theoretical_speedup": 2.0, "baseline_gmacs": 4.0, "method_gmacs": 2.0}}

    monkeypatch.setattr(zoo.bench, "bench_function", lambda fam: fake)
    res = CliRunner().invoke(app, ["bench", "dato", "--steps", "50", "--baseline-every", "5"])
    assert res.exit_code == 0, res.output
    assert seen["steps"] == 50 and seen["baseline_every"] == 5 and seen["warmup"] == 1 and seen["repeats"] == 1
    assert "--steps 50" in seen["command"] and "--baseline-every 5" in seen["command"]
    assert "seconds per image (50 steps)" in res.output and "1 run(s) of 50 steps" in res.output
    assert "GMACs per image, 50 steps" in res.output
