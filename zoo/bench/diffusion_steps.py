"""Denoising-loop benchmark: a short sampling run of a diffusers UNet with and without a method, for
methods whose saving is across steps (DaTo's feature cache, CA-ToMe's cached matchings).

What is timed: ``steps`` denoising steps of a DDIM sampler (diffusers ``DDIMScheduler``, SD's scaled-linear
betas) on a classifier-free-guidance batch (``batch_size=2``: unconditional + conditional, guidance 7.5)
from fixed random latents and fixed random text embeddings (``seed``). Each step is one UNet call, the
guidance combination and one scheduler step. The two sides run *in lockstep*: the baseline and the method
each follow their own trajectory (own latents, own scheduler), and every step ``i`` is timed once on each
side, the side order flipping every step, so that load drifts on a shared machine hit both alike. The
method side is a second UNet object that shares every parameter tensor with the baseline's (no second copy
of the weights): the method stays applied to it for the whole run, as in a real pipeline, and its
cross-step state lives there. ``repeats`` runs repeat the whole loop with a fresh application.

Each call is timed by the wall clock and by the process CPU time. Per run, the seconds of all its steps are
summed; the speedup is the ratio of those sums (the median over runs), wall and CPU. With
``baseline_every=k`` the baseline is timed at every ``k``-th step only (see :func:`bench_steps`).

FLOPs (``torch.utils.flop_counter.FlopCounterMode``, SDPA by torch's formula, as the one-step bench): every
step of one more, untimed, run of the method (same seed: the same trajectory) is counted, so a step served
from a cache counts what ran (e.g. only ``conv_in``, the time embedding and the output head); the baseline's
shapes are the same at every step, so one baseline step is counted and multiplied by ``steps``.

Also recorded per step of the timed run: what each transformer block's self-attention ran on, and, with a
feature cache, the depth the step ran at (``full``, ``shallow``, ``reuse``).

The sampler: DaTo's scripts sample with DDIM 50 steps; CA-ToMe's README times 50 PLMS steps (diffusers'
``PNDMScheduler`` with ``skip_prk_steps``, which calls the UNet 51 times for 50 steps). The UNet call is
the cost either way (a scheduler step is a few element-wise operations on a 4x64x64 latent), so both run
DDIM here; the record says so.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any, Callable

from zoo.bench.common import bench_record, hardware, say, versions

#: the denoising steps each paper reports its speedups at (``tokzoo bench <m> --steps N`` defaults to these)
PAPER_STEPS: dict[str, dict[str, Any]] = {
    "dato": {"steps": 50, "sampler": "DDIM", "source": "github.com/EvelynZhang-epiclab/DaTo sd1/scripts/"
             "search_ratio.py@e747cd1: ddim_steps=50 with its fixed 50-entry cache_strategy (the default)"},
    "ca-tome": {"steps": 50, "sampler": "PLMS", "source": "github.com/omidiu/ca_tome README.md@ee10d38: SD v1.5, "
                "50 PLMS steps, V100 (CONFIG_3 = steps 0 ... 49: the default cache_steps)"},
}
DEFAULT_STEPS = 50
GUIDANCE = 7.5
SCHEDULER = {"class": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "num_train_timesteps": 1000, "steps_offset": 1, "clip_sample": False, "set_alpha_to_one": False}


def default_steps(method_id: str) -> int:
    """The steps the paper reports at (:data:`PAPER_STEPS`), else 50 (SD's usual sampling length)."""
    return int(PAPER_STEPS.get(method_id, {}).get("steps", DEFAULT_STEPS))


def check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps={steps!r}; allowed: an integer >= 2 (denoising steps of the loop; one step is "
                         "the default one-step bench)")
    return steps


def make_scheduler(steps: int):
    from diffusers import DDIMScheduler

    cfg = {k: v for k, v in SCHEDULER.items() if k != "class"}
    sched = DDIMScheduler(**cfg)
    sched.set_timesteps(steps)
    return sched


def shared_twin(unet: Any) -> Any:
    """A second module of ``unet``'s class and config whose parameters and buffers *are* ``unet``'s tensors
    (built on the meta device, then assigned): no second copy of the weights."""
    import torch

    with torch.device("meta"):
        twin = type(unet).from_config(unet.config)
    twin.load_state_dict(unet.state_dict(), assign=True, strict=True)
    for (name, a), (_, b) in zip(unet.named_parameters(), twin.named_parameters()):
        if a.data_ptr() != b.data_ptr():
            raise RuntimeError(f"shared_twin: parameter {name} was copied, not shared")
    return twin.eval()


class _Trajectory:
    """One side's sampling state: latents, scheduler, the UNet it calls."""

    def __init__(self, unet: Any, latents: Any, text: Any, steps: int) -> None:
        self.unet, self.latents, self.text = unet, latents.clone(), text
        self.scheduler = make_scheduler(steps)
        self.timesteps = list(self.scheduler.timesteps)

    def step(self, i: int) -> None:
        import torch

        t = self.timesteps[i]
        with torch.inference_mode():
            model_in = torch.cat([self.latents, self.latents])
            model_in = self.scheduler.scale_model_input(model_in, t)
            eps = self.unet(model_in, t, encoder_hidden_states=self.text, return_dict=False)[0]
            uncond, cond = eps.chunk(2)
            eps = uncond + GUIDANCE * (cond - uncond)
            self.latents = self.scheduler.step(eps, t, self.latents, return_dict=False)[0]


def _seed_all(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    random.seed(seed)


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def _step_record(handle: Any, reducer_counts: Callable[[], int] | None) -> dict[str, Any]:
    runtime = handle.adapter.runtime
    row: dict[str, Any] = {"step": runtime.step,
                           "self_attn_queries": [r["self_attn_queries"] for r in runtime.table]}
    if runtime.cache is not None and runtime.cache.history:
        row["depth"] = runtime.cache.history[-1][2]
    if reducer_counts is not None:
        row["matchings_computed"] = reducer_counts()
    return row


def _recomputed_counter(handle: Any) -> Callable[[], int] | None:
    """CA-ToMe-style reducers count the matchings they computed; ``None`` for others."""
    reducers = [r for r in handle.adapter.runtime.reducers if hasattr(r, "recomputed")]
    if not reducers:
        return None
    return lambda: sum(r.recomputed for r in reducers)


def baseline_steps(steps: int, every: int) -> list[int]:
    """The 0-based steps at which the baseline is timed: all with ``every=1``, else every ``every``-th step
    from the middle of the first stride (e.g. 50 steps, every 5: 2, 7, ..., 47)."""
    return list(range(min(every // 2, steps - 1), steps, every))


def run_lockstep(method_id: str, params: dict[str, Any], base_net: Any, method_net: Any, latents: Any, text: Any,
                 *, steps: int, seed: int, baseline_every: int = 1, progress=None, label: str = "") -> dict[str, Any]:
    """One timed run: both trajectories, step by step, order flipping every step (the baseline at the steps of
    :func:`baseline_steps`)."""
    import zoo

    _seed_all(seed)
    handle = zoo.apply(method_net, method_id, **params)
    try:
        base, ours = _Trajectory(base_net, latents, text, steps), _Trajectory(method_net, latents, text, steps)
        counter = _recomputed_counter(handle)
        out = {"baseline": {"wall": [], "cpu": []}, "tokzoo": {"wall": [], "cpu": []}, "per_step": []}
        before = counter() if counter else 0
        timed_base = baseline_steps(steps, baseline_every)
        out["baseline_steps"] = timed_base
        for i in range(steps):
            if i % 10 == 0:
                say(progress, f"{label}step {i + 1}/{steps}")
            if i in timed_base:  # the order flips at every step where both sides are timed
                order = [("baseline", base), ("tokzoo", ours)]
                order = order[::-1] if timed_base.index(i) % 2 else order
            else:
                order = [("tokzoo", ours)]
            for name, side in order:
                wall, cpu = _timed(lambda side=side: side.step(i))
                out[name]["wall"].append(wall)
                out[name]["cpu"].append(cpu)
            row = _step_record(handle, counter)
            if counter:
                now = row.pop("matchings_computed")
                row["matchings_computed"], before = now - before, now
            out["per_step"].append(row)
        out["latents"] = (base.latents, ours.latents)
        out["params"] = handle.methods[0].params()
    finally:
        handle.remove()
    return out


def count_run_flops(method_id: str, params: dict[str, Any], base_net: Any, method_net: Any, latents: Any, text: Any,
                    *, steps: int, seed: int) -> dict[str, Any]:
    """FLOPs of one baseline step and of every step of an untimed method run (same seed as the timed runs)."""
    import zoo
    from zoo.bench.diffusion import count_flops

    base = _Trajectory(base_net, latents, text, steps)
    base_step = count_flops(lambda: base.step(0))
    _seed_all(seed)
    per_step = []
    with zoo.apply(method_net, method_id, **params):
        ours = _Trajectory(method_net, latents, text, steps)
        for i in range(steps):
            per_step.append(count_flops(lambda i=i: ours.step(i)))
    return {"baseline_step": base_step, "method_steps": per_step, "method_latents": ours.latents}


def bench_steps(method_id: str, params: dict[str, Any], *, steps: int | None = None, model: str = "sd15-unet",
                batch_size: int = 2, img_size: int | None = None, dtype: str = "bf16", threads: int | None = None,
                warmup: int = 1, repeats: int = 1, device: str = "cpu", seed: int = 0, command: str | None = None,
                flops: bool = True, baseline_every: int = 1, unet: Any = None, progress=None) -> dict[str, Any]:
    """Measure ``method_id`` over a ``steps``-step denoising loop of ``model`` (see the module doc);
    a tokzoo-bench record. ``steps=None``: the paper's (:func:`default_steps`). ``baseline_every=k > 1``
    times the baseline at every ``k``-th step only (:func:`baseline_steps`) and takes ``steps`` times their
    mean as its loop time: the unreduced UNet runs the same shapes and operations at every step (its FLOPs
    are counted once for that reason), so this saves ``(1 - 1/k)`` of the baseline's cost on a slow machine;
    the record says so (``setting.baseline_every``)."""
    import torch

    from zoo.bench.diffusion import DTYPES, check_dtype, unet_and_inputs

    steps = check_steps(default_steps(method_id) if steps is None else steps)
    check_dtype(dtype)
    if batch_size != 2:
        raise ValueError(f"batch_size={batch_size!r}; allowed: 2 (the loop runs classifier-free guidance: "
                         "one unconditional and one conditional row)")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0 (got repeats={repeats}, warmup={warmup})")
    if isinstance(baseline_every, bool) or not isinstance(baseline_every, int) or not 1 <= baseline_every <= steps:
        raise ValueError(f"baseline_every={baseline_every!r}; allowed: an integer from 1 (every step) to steps={steps}")
    if threads is not None:
        torch.set_num_threads(threads)
    img_size = img_size or 512
    net, (sample, _, text) = unet_and_inputs(model, unet, dtype=dtype, device=device, seed=seed, img_size=img_size,
                                             batch_size=batch_size, progress=progress)
    twin = shared_twin(net)
    latents = sample[:1]                                                   # [1, 4, h, w]: one image, CFG doubles it

    for j in range(warmup):  # one UNet call per side (allocator, kernels), outside every timed run
        say(progress, f"warmup {j + 1}/{warmup}")
        for n in (net, twin):
            _Trajectory(n, latents, text, steps).step(0)

    runs = []
    for k in range(repeats):
        runs.append(run_lockstep(method_id, params, net, twin, latents, text, steps=steps, seed=seed,
                                 baseline_every=baseline_every, progress=progress, label=f"run {k + 1}/{repeats}: "))
    first = runs[0]

    def loop_s(samples: list[float]) -> float:  # every step timed: their sum; sampled: steps x their mean
        return sum(samples) if len(samples) == steps else steps * statistics.fmean(samples)

    totals = [{side: {"wall_s": loop_s(r[side]["wall"]), "cpu_s": loop_s(r[side]["cpu"])}
               for side in ("baseline", "tokzoo")} for r in runs]
    wall = statistics.median(t["baseline"]["wall_s"] / t["tokzoo"]["wall_s"] for t in totals)
    cpu = statistics.median(t["baseline"]["cpu_s"] / t["tokzoo"]["cpu_s"] for t in totals)
    base_wall = statistics.median(t["baseline"]["wall_s"] for t in totals)
    ours_wall = statistics.median(t["tokzoo"]["wall_s"] for t in totals)

    def side(name: str, key: str) -> dict[str, Any]:
        med = statistics.median(t[name]["wall_s"] for t in totals)
        return {"median_s": med, "throughput": 1.0 / med,
                "cpu_median_s": statistics.median(t[name]["cpu_s"] for t in totals),
                "runs_s": [t[name]["wall_s"] for t in totals], "cpu_runs_s": [t[name]["cpu_s"] for t in totals],
                "step_samples_s": first[key]["wall"], "step_cpu_samples_s": first[key]["cpu"],
                **({"timed_steps": [i + 1 for i in first["baseline_steps"]]} if name == "baseline" else {})}

    timing = {"baseline": side("baseline", "baseline"), "reduced": side("tokzoo", "tokzoo"),
              "speedup": base_wall / ours_wall,
              "speedup_pairs_median": wall}
    per_step = first["per_step"]
    extra: dict[str, Any] = {
        "seconds_per_image": {"baseline": base_wall, "tokzoo": ours_wall},
        "cpu_time": {"baseline_s": timing["baseline"]["cpu_median_s"], "reduced_s": timing["reduced"]["cpu_median_s"],
                     "speedup": cpu},
        "per_step": per_step,
        "what": "per_step: step (as the method counts it), the tokens each transformer block's self-attention ran "
                "on, the cache depth (feature cache), the matchings computed at that step (CA-ToMe)",
    }
    depths = [row["depth"] for row in per_step if "depth" in row]
    if depths:
        extra["cache_depths"] = {d: depths.count(d) for d in ("full", "shallow", "reuse")}
        base_step_cpu = statistics.median(first["baseline"]["cpu"])
        by_depth: dict[str, list[float]] = {}
        for row, c_ours in zip(per_step, first["tokzoo"]["cpu"]):
            by_depth.setdefault(row.get("depth", "full"), []).append(c_ours)
        extra["cpu_step_by_depth"] = {
            d: {"steps": len(v), "median_cpu_s": statistics.median(v), "baseline_over_it": base_step_cpu /
                statistics.median(v)} for d, v in by_depth.items()}
    if "matchings_computed" in per_step[0]:
        extra["matchings_computed_steps"] = [row["step"] for row in per_step if row["matchings_computed"]]
    base_lat, ours_lat = first["latents"]
    if baseline_every == 1:
        extra["final_latents"] = {"max_abs_difference": float((base_lat.float() - ours_lat.float()).abs().max()),
                                  "what": "max |baseline - method| of the final latents of the first timed run"}
    if flops:
        say(progress, "FLOPs (FlopCounterMode: one baseline step, every step of one method run)")
        fl = count_run_flops(method_id, params, net, twin, latents, text, steps=steps, seed=seed)
        base_total = fl["baseline_step"] * steps
        method_total = sum(fl["method_steps"])
        extra["flops"] = {
            "convention": "FLOPs of the whole loop's UNet calls (FlopCounterMode: 2 per multiply-add; attention by "
                          "torch's SDPA formula); the baseline: one step counted, times steps (same shapes every "
                          "step); the method: every step of an untimed run with the timed runs' seed, cache hits "
                          "counted as what ran",
            "baseline_gflops": base_total / 1e9, "method_gflops": method_total / 1e9,
            "baseline_gmacs": base_total / 2e9, "method_gmacs": method_total / 2e9,
            "baseline_step_gflops": fl["baseline_step"] / 1e9,
            "method_step_gflops": [f / 1e9 for f in fl["method_steps"]],
            "theoretical_speedup": base_total / method_total,
            "counted_run_equals_timed_run": bool(torch.equal(fl["method_latents"], ours_lat)),
        }
    setting = {"model": model, "weights": "random (exact architecture, fast normal init)" if unet is None
               else "given module", "batch_size": batch_size, "img_size": img_size,
               "latent": list(sample.shape[-2:]), "dtype": DTYPES[dtype], "threads": torch.get_num_threads(),
               "device": str(device), "warmup": warmup, "repeats": repeats, "steps": steps, "seed": seed,
               "baseline_every": baseline_every,
               "scheduler": dict(SCHEDULER), "guidance_scale": GUIDANCE,
               "paper_setting": PAPER_STEPS.get(method_id),
               "what": f"a {steps}-step denoising loop (DDIM, CFG batch 2), baseline and method in lockstep, the "
                       "side order flipping every step; seconds per image = the sum over steps"}
    hw = hardware(torch.get_num_threads(), str(device))
    return bench_record(family="diffusers-unet", method=method_id, params=first["params"], setting=setting,
                        timing=timing, extra=extra, hw=hw, vers=versions("torch", "diffusers"), command=command)
