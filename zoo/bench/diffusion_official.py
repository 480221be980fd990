"""Compare tokzoo with the authors' repositories of SiTo, ToDo and DaTo, run from a local checkout.

The project never ships their code: point ``TOKZOO_OFFICIAL_SITO`` at a checkout of
github.com/EvelynZhang-epiclab/SiTo (tested @708dddb) and ``TOKZOO_OFFICIAL_TODO`` at one of
github.com/ethansmith2000/ImprovedTokenMerge (tested @81928e4), ``TOKZOO_OFFICIAL_DATO`` at one of
github.com/EvelynZhang-epiclab/DaTo (tested @e747cd1; its ``sd1/scripts/datosd`` package). Their files are loaded as they are,
with the smallest environment fixes needed to import them here, each stated:

- SiTo ``sito.py`` allocates a module-level counter on ``device="cuda"`` (only used by commented-out
  plotting): on a machine without CUDA that allocation is made on the CPU; it calls ``F.normalize``
  without importing ``torch.nn.functional as F`` (a NameError at its first call): ``F`` is provided.
- ToDo ``merge.py`` imports ``xformers`` unconditionally: an empty stand-in module is provided when
  xFormers is not installed (the torch SDPA path runs); it passes a LoRA ``scale`` argument to the
  projections unless diffusers' PEFT backend is on, which diffusers >= 0.30 layers no longer accept:
  its ``USE_PEFT_BACKEND`` is set to True (no ``scale`` argument), which is what recent diffusers does.
- DaTo ``dato.py`` allocates the same CUDA counter (made on the CPU here); ``patch.py`` imports
  ``make_ddim_timesteps`` from CompVis' ``ldm`` package without using it: when ``ldm`` does not import,
  a stand-in module with that name (raising if called) is provided.

Randomness is aligned as in the ToMeSD comparison: the official code draws from torch's global
generator (SiTo's noise, ToDo's random destinations), tokzoo forks it at the same state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any

from zoo.repro.spec import Measurement, Unavailable

ENV = {"sito": "TOKZOO_OFFICIAL_SITO", "todo": "TOKZOO_OFFICIAL_TODO", "dato": "TOKZOO_OFFICIAL_DATO"}
REPOS = {"sito": "github.com/EvelynZhang-epiclab/SiTo@708dddb", "todo": "github.com/ethansmith2000/ImprovedTokenMerge@81928e4",
         "dato": "github.com/EvelynZhang-epiclab/DaTo@e747cd1"}


def checkout(method: str, path: str | None = None, ctx: Any = None) -> Path:
    """The authors' checkout: ``path``, else the one the repro run was given for the claim's
    ``official:`` need (``--official`` or ``TOKZOO_OFFICIAL_<OWNER>_<REPO>``), else ``ENV[method]``."""
    root = path or _from_run(ctx) or os.environ.get(ENV[method])
    if not root or not Path(root).is_dir():
        raise Unavailable(f"a checkout of {REPOS[method]} ({ENV[method]}=PATH)")
    return Path(root)


def _from_run(ctx: Any) -> str | None:
    if ctx is None:
        return None
    from zoo.repro.conformance import Official, official_path
    from zoo.repro.spec import OFFICIAL_NEED

    needs = [n for n in getattr(ctx.claim, "needs", ()) if OFFICIAL_NEED.match(n)]
    return official_path(Official.parse(needs[0]), ctx.options.official) if needs else None


def _load(name: str, path: Path, package: str | None = None, extra: dict[str, Any] | None = None):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if package:
        module.__package__ = package
    module.__dict__.update(extra or {})
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _cuda_zeros_on_cpu():
    import torch

    if torch.cuda.is_available():
        yield
        return
    real = torch.zeros

    def zeros(*args, **kwargs):
        if str(kwargs.get("device", "")) == "cuda":
            kwargs["device"] = "cpu"
        return real(*args, **kwargs)

    torch.zeros = zeros
    try:
        yield
    finally:
        torch.zeros = real


def load_sito(path: str | None = None, ctx: Any = None):
    """The official SiTo package (``apply_patch``) from a checkout, as a package named ``official_sito``."""
    import torch.nn.functional as F

    root = checkout("sito", path, ctx)
    pkg = types.ModuleType("official_sito")
    pkg.__path__ = [str(root)]
    sys.modules["official_sito"] = pkg
    _load("official_sito.utils", root / "utils.py", "official_sito")
    with _cuda_zeros_on_cpu():
        _load("official_sito.sito", root / "sito.py", "official_sito", {"F": F})
    return _load("official_sito.patch", root / "patch.py", "official_sito")


def load_todo(path: str | None = None, ctx: Any = None):
    """The official ToDo code (``patch_attention_proc``) from a checkout."""
    root = checkout("todo", path, ctx)
    if "xformers" not in sys.modules and importlib.util.find_spec("xformers") is None:
        from importlib.machinery import ModuleSpec

        stub = types.ModuleType("xformers")
        stub.ops = types.ModuleType("xformers.ops")
        stub.__spec__ = ModuleSpec("xformers", None)
        stub.ops.__spec__ = ModuleSpec("xformers.ops", None)
        sys.modules["xformers"], sys.modules["xformers.ops"] = stub, stub.ops
    merge = _load("merge", root / "merge.py")
    merge.USE_PEFT_BACKEND = True
    return _load("official_todo_utils", root / "utils.py")


def sito_conformance(params_list: list[dict[str, Any]], path: str | None = None):
    """Max |tokzoo - official SiTo| over option sets on a tiny SD 1.x UNet (official names mapped)."""

    def measure(ctx) -> Measurement:
        import copy

        import torch

        import zoo
        from zoo.bench.diffusion_claims import tiny_inputs
        from zoo.bench.diffusion_tiny import tiny_sd_unet

        official = load_sito(path, ctx)
        net = tiny_sd_unet()
        sample, t, text = tiny_inputs()
        rows, worst = [], 0.0
        with torch.no_grad():
            for params in params_list:
                torch.manual_seed(3)
                with zoo.apply(net, "sito", **{"score_dtype": "float16", **params}):  # the official graph dtype
                    ours = net(sample, t, encoder_hidden_states=text).sample
                ref = copy.deepcopy(net)
                official.apply_patch(ref, prune_ratio=params.get("prune_ratio", 0.5),
                                     max_downsample_ratio=params.get("max_downsample", 1),
                                     prune_selfattn_flag=True, prune_crossattn_flag=False, prune_mlp_flag=False,
                                     noise_alpha=params.get("noise_alpha", 0.1), sim_beta=params.get("sim_beta", 1.0))
                torch.manual_seed(3)
                theirs = ref(sample, t, encoder_hidden_states=text).sample
                diff = float((ours - theirs).abs().max())
                worst = max(worst, diff)
                rows.append({"params": params, "max_abs_diff": diff, "bitwise_equal": bool(torch.equal(ours, theirs))})
        return Measurement(worst, details={"official": REPOS["sito"], "runs": rows,
                                           "model": "tiny SD 1.x-layout UNet, random weights, float32, batch 2"})

    return measure


def todo_conformance(params_list: list[dict[str, Any]], path: str | None = None):
    """Max |tokzoo - official ToDo| on a tiny UNet of SD's first widths (320, 640, then 960): the official code
    picks the level by the width (320: level 1, 640: level 2), tokzoo by the downsampling; on SD 1.x/SDXL and on
    this UNet both give the same blocks."""

    def measure(ctx) -> Measurement:
        import copy

        import torch

        import zoo
        from zoo.bench.diffusion_claims import tiny_inputs
        from zoo.bench.diffusion_tiny import tiny_sd_unet

        official = load_todo(path, ctx)
        net = tiny_sd_unet(channels=(320, 640, 960), groups=32, attention_head_dim=8)
        sample, t, text = tiny_inputs()
        rows, worst = [], 0.0
        with torch.no_grad():
            for params in params_list:
                torch.manual_seed(3)
                with zoo.apply(net, "todo", **params):
                    ours = net(sample, t, encoder_hidden_states=text).sample
                ref = copy.deepcopy(net)
                official.patch_attention_proc(ref, {
                    "ratio": params.get("similarity_ratio", 0.5), "merge_tokens": "keys/values",
                    "use_rand": params.get("use_rand", True), "sx": params.get("sx", 2), "sy": params.get("sy", 2),
                    "merge_method": "downsample", "downsample_method": params.get("downsample_method", "nearest-exact"),
                    "downsample_factor": params.get("downsample_factor", 2),
                    "timestep_threshold_switch": params.get("timestep_threshold_switch", 0.0),
                    "timestep_threshold_stop": params.get("timestep_threshold_stop", 0.0),
                    "secondary_merge_method": params.get("secondary_method", "similarity"),
                    "downsample_factor_level_2": params.get("downsample_factor_level_2", 1),
                    "ratio_level_2": params.get("similarity_ratio_level_2", 0.5)})
                torch.manual_seed(3)
                theirs = ref(sample, t, encoder_hidden_states=text).sample
                diff = float((ours - theirs).abs().max())
                worst = max(worst, diff)
                rows.append({"params": params, "max_abs_diff": diff, "bitwise_equal": bool(torch.equal(ours, theirs))})
        return Measurement(worst, details={"official": REPOS["todo"], "runs": rows,
                                           "model": "tiny SD 1.x-layout UNet at widths 320, 640, 960, random "
                                                    "weights, float32, batch 2"})

    return measure


def load_dato(path: str | None = None, ctx: Any = None):
    """The official DaTo package (``sd1/scripts/datosd``: ``apply_patch``, ``DeepCacheSDHelper``) from a
    checkout of the repository (or of that folder), as a package named ``official_dato``."""
    root = checkout("dato", path, ctx)
    pkg_dir = root / "sd1" / "scripts" / "datosd" if (root / "sd1").is_dir() else root
    try:
        import ldm.modules.diffusionmodules.util  # noqa: F401
    except ImportError:
        def make_ddim_timesteps(*args, **kwargs):
            raise NotImplementedError("tokzoo stand-in: CompVis ldm is not installed")

        names = ["ldm", "ldm.modules", "ldm.modules.diffusionmodules", "ldm.modules.diffusionmodules.util"]
        for name in names:
            sys.modules[name] = types.ModuleType(name)
        sys.modules[names[-1]].make_ddim_timesteps = make_ddim_timesteps
    pkg = types.ModuleType("official_dato")
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["official_dato"] = pkg
    _load("official_dato.utils", pkg_dir / "utils.py", "official_dato")
    with _cuda_zeros_on_cpu():
        _load("official_dato.dato", pkg_dir / "dato.py", "official_dato")
    return _load("official_dato.patch", pkg_dir / "patch.py", "official_dato")


#: the official select_dato_method needs one of the 50 DDIM timesteps (its model_timesteps list)
DATO_TIMES = (981.0, 961.0, 941.0, 921.0)


def dato_conformance(params_list: list[dict[str, Any]], path: str | None = None, steps: int = 3):
    """Max |tokzoo - official DaTo| of ``steps`` consecutive UNet calls on a tiny SD 1.x UNet (batch 2, CFG-like).

    The official token pruning patches the diffusers blocks (its ``make_diffusers_dato_block``); its temporal
    difference comes from its own UNet wrapper (``DeepCacheSDHelper.wrap_unet_forward``, given a view of the
    UNet that returns the output tensor, as CompVis' UNet does). Its block cache is not compared: it wraps
    CompVis' ``input_blocks``/``output_blocks``, which diffusers' UNet does not have (tokzoo's cache is
    tested against a hook-based reference, ``tests/test_diffusion_dato.py``). The official code prunes
    ``0.4`` of the tokens whatever it is given, so every run uses ``prune_ratio=0.4``; tokzoo runs with
    ``cache_strategy=None`` and the official with its cache helper's difference only.
    """

    def measure(ctx) -> Measurement:
        import copy
        import random

        import torch

        import zoo
        from zoo.bench.diffusion_claims import tiny_inputs
        from zoo.bench.diffusion_tiny import tiny_sd_unet

        official = load_dato(path, ctx)
        net = tiny_sd_unet()
        inputs = [tiny_inputs(seed=i + 1, t=DATO_TIMES[i]) for i in range(steps)]
        rows, worst = [], 0.0
        with torch.no_grad():
            for params in params_list:
                kw = dict(prune_ratio=0.4, cache_strategy=None, **params)
                torch.manual_seed(3)
                random.seed(5)
                with zoo.apply(net, "dato", **kw):
                    ours = [net(x, t, encoder_hidden_states=c).sample for x, t, c in inputs]
                ref = copy.deepcopy(net)
                official.apply_patch(
                    ref, max_downsample_ratio=kw.get("max_downsample", 1),
                    prune_selfattn_flag=kw.get("prune_selfattn", True), prune_crossattn_flag=kw.get("prune_crossattn", False),
                    prune_mlp_flag=kw.get("prune_mlp", False), sx=kw.get("sx", 2), sy=kw.get("sy", 2),
                    local_random=kw.get("base_selection", "dynamics") == "random", align_cfg=kw.get("align_cfg", True),
                    noise_alpha=kw.get("noise_alpha", 0.1), diff_gema=kw.get("diff_gamma", 0.1))
                view = types.SimpleNamespace(forward=lambda x, t, c, _m=ref: _m(x, t, encoder_hidden_states=c).sample)
                helper = official.DeepCacheSDHelper(num_steps=50, pipe=view)
                helper.reset_states()
                helper.set_params()
                helper.wrap_unet_forward()
                official.my_cur_timestep, official.my_pre_output, official.my_output_diff = 0, None, None
                torch.manual_seed(3)
                random.seed(5)
                theirs = [view.forward(x, t, c) for x, t, c in inputs]
                official.remove_patch(ref)
                diffs = [float((a - b).abs().max()) for a, b in zip(ours, theirs)]
                worst = max([worst] + diffs)
                rows.append({"params": params, "max_abs_diff_per_step": diffs,
                             "bitwise_equal": all(torch.equal(a, b) for a, b in zip(ours, theirs))})
        return Measurement(worst, details={"official": REPOS["dato"], "runs": rows, "steps": steps,
                                           "timesteps": list(DATO_TIMES[:steps]),
                                           "model": "tiny SD 1.x-layout UNet, random weights, float32, batch 2"})

    return measure
