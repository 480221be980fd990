"""Encoder methods beside the authors' own code, in one process: conformance and speed.

Usage (from the repository root; ``--official`` is a folder holding checkouts of the authors'
repositories, fetched and unpacked outside the repository, e.g. ``/tmp/official/ToMe``)::

    .venv/bin/python benchmarks/encoder_official.py --official /tmp/official --check conformance
    .venv/bin/python benchmarks/encoder_official.py --official /tmp/official --check speed --dtype bf16 fp32

Checkouts used (folder name -> repository; the commit is read from a ``COMMIT`` file in the
folder when present, else recorded as unknown):

- ``ToMe`` (facebookresearch/ToMe: ``tome.patch.timm``), ``evit`` (youweiliang/evit: ``evit.EViT``),
  ``GTP-ViT`` (Ackesnal/GTP-ViT: ``models_v3.GraphPropagationTransformer``), ``PPT`` (xjwu1024/PPT:
  ``ppt_deit.apply_patch``), ``PiToMe`` (hchautran/PiToMe: ``algo/pitome``'s timm blocks and
  ``merge.pitome_text``), ``ATS`` (adaptivetokensampling/ATS: ``libs/models/transformers/vit.py``'s
  ``ViT``, speed only: its conformance is ``tokzoo repro ats --kind conformance``).

*Conformance*: the same random timm weights (attention sharpened so that scores differ) in
float64; the official model and ``zoo.apply`` at the same budget; the largest logit difference
relative to the logit scale, and whether the token counts agree. *Speed*: the same model and
budget, float32 and bfloat16, official and tokzoo timed alternately (order flipping each
repeat) with the unreduced model beside them; medians, minima, process CPU time, load average,
the tokens after every block on both sides (ATS's count is data-dependent, and the official
code pads the shorter images of a batch).

The authors' code is imported from ``--official`` only; nothing of it is copied here. Where it
cannot run unchanged on this stack the glue is stated next to the builder (GTP-ViT moves its
spatial graph to CUDA at construction: the builder maps that ``.to("cuda")`` to the CPU;
EViT's helpers import ``torchprofile`` for FLOP counting only: a stand-in module is provided;
PiToMe's package ``__init__`` imports HF patches for transformers 4.x: its ``merge`` and timm
``patch`` modules are loaded directly and the per-forward bookkeeping of its DeiT wrapper
(``_info`` ratio/bsm lists) is set before each call, since that wrapper's ``forward_features``
targets an older timm).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import importlib.util
import json
import os
import statistics
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REPOS = {
    "ToMe": "facebookresearch/ToMe", "evit": "youweiliang/evit", "GTP-ViT": "Ackesnal/GTP-ViT",
    "PPT": "xjwu1024/PPT", "PiToMe": "hchautran/PiToMe", "ATS": "adaptivetokensampling/ATS",
}
#: speed-check method id -> checkout folder
CHECKOUT = {"tome": "ToMe", "evit": "evit", "gtp-vit": "GTP-ViT", "ppt": "PPT", "pitome": "PiToMe", "ats": "ATS"}


# ---------------------------------------------------------------- importing the authors' code
@contextlib.contextmanager
def isolated_import(folder: Path, shadow: tuple[str, ...] = ()):
    """Put ``folder`` first on ``sys.path`` and hide modules named in ``shadow`` (e.g. PPT ships its
    own ``tome.py``, which must not meet the ToMe package); restore both afterwards."""
    saved = {k: v for k, v in sys.modules.items() if k in shadow or any(k.startswith(s + ".") for s in shadow)}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        for k in [k for k in sys.modules if k in shadow or any(k.startswith(s + ".") for s in shadow)]:
            del sys.modules[k]
        sys.modules.update(saved)


def load_package_modules(folder: Path, package: str, modules: list[str]) -> dict[str, Any]:
    """Import ``modules`` (dotted, relative to ``folder``) under a synthetic package ``package`` whose
    ``__init__`` files are skipped (PiToMe's import every patch, some written for transformers 4.x)."""
    out = {}
    for dotted in modules:
        parts = dotted.split(".")
        for depth in range(len(parts)):
            name = ".".join([package, *parts[:depth]])
            if name not in sys.modules:
                pkg = types.ModuleType(name)
                pkg.__path__ = [str(folder.joinpath(*parts[:depth]))]
                sys.modules[name] = pkg
        full = ".".join([package, *parts])
        spec = importlib.util.spec_from_file_location(full, folder.joinpath(*parts[:-1], parts[-1] + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[full] = mod
        spec.loader.exec_module(mod)
        out[dotted] = mod
    return out


def commit_of(folder: Path) -> str:
    f = folder / "COMMIT"
    return f.read_text().strip() if f.is_file() else "unknown (no COMMIT file in the checkout)"


# ---------------------------------------------------------------- official builders
@dataclass
class Pair:
    """One method at one budget: the tokzoo call and a builder of the official model."""

    method: str
    params: dict[str, Any]
    repo_dir: str
    build: Callable[[Path, Any], Callable[[Any], Any]]
    variants: tuple[str, ...] = ("deit",)
    note: str = ""
    tokzoo_params: dict[str, Any] = field(default_factory=dict)


def build_tome(r: int):
    def build(root: Path, model: Any):
        with isolated_import(root / "ToMe", shadow=("tome",)):
            import tome

            off = copy.deepcopy(model)
            tome.patch.timm(off, prop_attn=True)
            off.r = r
        return off
    return build


def _timm_dims(model: Any) -> dict[str, Any]:
    embed = model.patch_embed
    return dict(img_size=embed.img_size[0], patch_size=embed.patch_size[0], embed_dim=model.embed_dim,
                depth=len(model.blocks), num_heads=model.blocks[0].attn.num_heads,
                num_classes=model.head.out_features)


def build_evit(layers: tuple[int, ...], keep_rate: float):
    def build(root: Path, model: Any):

        if "torchprofile" not in sys.modules:  # imported by evit/helpers.py for FLOP counting only
            stub = types.ModuleType("torchprofile")
            stub.profile_macs = lambda *a, **k: 0
            sys.modules["torchprofile"] = stub
        with isolated_import(root / "evit", shadow=("evit", "helpers")):
            evit = importlib.import_module("evit")
            d = _timm_dims(model)
            rates = tuple(keep_rate if i in layers else 1.0 for i in range(d["depth"]))
            off = evit.EViT(qkv_bias=True, keep_rate=rates, fuse_token=True, **d)
        off.load_state_dict(model.state_dict(), strict=True)
        return off.to(next(model.parameters()).dtype).eval()
    return build


def build_gtp(r: int, graph: str = "Spatial", alpha: float = 0.1):
    def build(root: Path, model: Any):
        import functools

        import torch

        real_to = torch.Tensor.to

        def cpu_to(self, *args, **kwargs):  # the official constructor moves its spatial graph to "cuda"
            args = tuple("cpu" if a == "cuda" else a for a in args)
            return real_to(self, *args, **kwargs)

        with isolated_import(root / "GTP-ViT", shadow=("models_v3",)):
            mv3 = importlib.import_module("models_v3")
            d = _timm_dims(model)
            torch.Tensor.to = cpu_to
            try:
                off = mv3.GraphPropagationTransformer(
                    qkv_bias=True, norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6),
                    selection="MixedAttnMax", propagation="GraphProp", num_prop=r, alpha=alpha,
                    graph_type=graph, token_scale=False, **d)
            finally:
                torch.Tensor.to = real_to
        off.load_state_dict(model.state_dict(), strict=True)
        dtype = next(model.parameters()).dtype
        off.spatial_graph = off.spatial_graph.to(dtype) if hasattr(off, "spatial_graph") else None
        return off.to(dtype).eval()
    return build


def build_ppt(layers: tuple[int, ...], r: int, threshold: float):
    def build(root: Path, model: Any):
        with isolated_import(root / "PPT", shadow=("tome", "ppt_deit")):
            ppt = importlib.import_module("ppt_deit")
            off = copy.deepcopy(model)
            ppt.apply_patch(off, prop_attn=True, pp_loc_list=list(layers), threshold=threshold)
            off.r = r
        return off
    return build


def build_pitome(ratio: float):
    """PiToMe's timm blocks (``algo/pitome/patch/timm.py``) with the per-forward state its DeiT
    wrapper (``algo/pitome/patch/deit.py``) sets: the same ``ratio`` in every block, margins
    ``0.75 - 0.75 * l / L``, bipartite (``pitome_bsm``) matching in the first ``ceil(L / 2)`` blocks."""
    def build(root: Path, model: Any):
        import math

        from timm.models.vision_transformer import Attention, Block

        mods = load_package_modules(root / "PiToMe" / "algo" / "pitome", "_pitome_official", ["merge", "patch.timm"])
        pt = mods["patch.timm"]
        off = copy.deepcopy(model)
        depth = len(off.blocks)
        info = {"ratio": [], "size": None, "source": None, "trace_source": False, "prop_attn": False,
                "class_token": off.cls_token is not None, "distill_token": False, "use_bsm_pitome": []}
        margins = [.75 - .75 * (i / depth) for i in range(depth)]
        layer = 0
        for module in off.modules():
            if isinstance(module, Block):
                module.__class__ = pt.PiToMeBlock
                module.init_margin(margins[layer])
                module._info = info
                layer += 1
            elif isinstance(module, Attention):
                module.__class__ = pt.PiToMeAttention
        n_bsm = math.ceil(depth * 0.5)

        def run(x):
            info["ratio"] = [ratio] * depth
            info["use_bsm_pitome"] = [True] * n_bsm + [False] * (depth - n_bsm)
            info["size"] = None
            return off(x)
        run.module = off
        return run
    return build


def build_ats(layers: tuple[int, ...], keep_tokens: int):
    """ATS's own ``ViT`` (``libs/models/transformers/vit.py``, ``ATSBlock`` s) from the fields of
    ``configs/ImageNet/DeiT_S.yaml`` (``NUM_TOKENS`` K = ``keep_tokens + 1``, ``DROP_TOKENS``), loaded with
    the timm weights; built as ``tokzoo repro ats --kind conformance`` builds it
    (``zoo.repro.harness.conformance_ats``: ``libs/__init__`` and fvcore's registry are stand-ins)."""
    def build(root: Path, model: Any):
        from zoo.repro.harness.conformance_ats import _stubs, official_config
        from zoo.repro.harness.official import imported

        with imported(root / "ATS", "libs.models.transformers.vit", stubs=_stubs(root / "ATS")) as (vit_mod,):
            off = vit_mod.ViT(official_config(model, list(layers), keep_tokens + 1))
        missing, _ = off.load_state_dict(model.state_dict(), strict=False)
        if any(not m.endswith("out_zero_mask") for m in missing):
            raise RuntimeError(f"official ATS ViT lacks timm weights: {missing[:3]}")
        return off.to(next(model.parameters()).dtype).eval()
    return build


PAIRS: list[Pair] = [
    Pair("tome", {"r": 8}, "ToMe", build_tome(8), ("deit", "gap", "distilled")),
    Pair("evit", {"layers": (1, 2), "keep_rate": 0.7}, "evit", build_evit((1, 2), 0.7)),
    Pair("gtp-vit", {"r": 6}, "GTP-ViT", build_gtp(6)),
    Pair("ppt", {"layers": (1, 2, 3), "r": 8, "threshold": 1.0}, "PPT", build_ppt((1, 2, 3), 8, 1.0),
         note="threshold 1.0: every image pools"),
    Pair("ppt", {"layers": (1, 2, 3), "r": 8, "threshold": 0.0}, "PPT", build_ppt((1, 2, 3), 8, 0.0),
         note="threshold 0: every image prunes"),
    Pair("ppt", {"layers": (1, 2, 3), "r": 8, "threshold": "median"}, "PPT", None,
         note="threshold between the images' variances: some prune, some pool, in the same batch"),
    Pair("pitome", {"ratio": 0.9}, "PiToMe", build_pitome(0.9)),
]

SPEED_BUDGETS = {  # method -> (tokzoo params, official builder) on the speed model (12 blocks)
    "tome": ({"r": 13}, build_tome(13)),
    "evit": ({"layers": (3, 6, 9), "keep_rate": 0.7}, build_evit((3, 6, 9), 0.7)),
    "gtp-vit": ({"r": 13}, build_gtp(13)),
    "ppt": ({"layers": (3, 6, 9), "r": 50, "threshold": 7e-5}, build_ppt((3, 6, 9), 50, 7e-5)),
    "pitome": ({"ratio": 0.925}, build_pitome(0.925)),
    # DeiT_S.yaml: ATS in blocks 3-11, K = 197 (every token may survive; the count is data-dependent)
    "ats": ({"layers": tuple(range(3, 12)), "keep_tokens": 196}, build_ats(tuple(range(3, 12)), 196)),
}


def official_tokens(official: Any, x: Any) -> list[int] | None:
    """Tokens after each block of the official model (forward hooks on its ``blocks``), or None."""
    import torch

    blocks = getattr(getattr(official, "module", official), "blocks", None)
    if blocks is None:
        return None
    seen: list[int] = []
    hooks = [b.register_forward_hook(lambda m, a, out: seen.append(int((out[0] if isinstance(out, tuple) else out).shape[1])))
             for b in blocks]
    try:
        with torch.inference_mode():
            official(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


# ---------------------------------------------------------------- models
def tiny_timm(variant: str, seed: int = 0, depth: int = 4):
    import timm
    import torch

    name, kw = "vit_tiny_patch16_224", dict(img_size=32, patch_size=4, embed_dim=48, depth=depth, num_heads=3,
                                            num_classes=10)
    if variant == "gap":
        kw.update(class_token=False, global_pool="avg")
    elif variant == "distilled":
        name = "deit_tiny_distilled_patch16_224"
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False, **kw)
    with torch.no_grad():
        for blk in model.blocks:
            blk.attn.qkv.weight.mul_(4.0)
    return model.eval()


def _logits(out: Any) -> Any:
    return out[0] if isinstance(out, tuple) else out


def ppt_median_threshold(model: Any, x: Any, layer: int) -> float:
    """A threshold between the images' significance variances at ``layer`` (so the batch mixes prune and pool)."""
    import torch

    from zoo.papers.ppt import significance

    seen = {}

    def hook(mod, args, out):
        h = mod.norm1(args[0])
        b, n, _ = h.shape
        qkv = mod.attn.qkv(h).reshape(b, n, 3, mod.attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * mod.attn.scale) @ k.transpose(-2, -1)).softmax(-1)
        seen["var"] = significance(attn[:, :, 0], v, 1).var(dim=1)

    handle = model.blocks[layer].register_forward_hook(hook)
    with torch.no_grad():
        model(x)
    handle.remove()
    v = seen["var"].sort().values
    mid = len(v) // 2
    return float((v[mid - 1] + v[mid]) / 2)  # strictly between two images (not on one: a tie decides by rounding)


# ---------------------------------------------------------------- conformance
def conformance(root: Path, pairs: list[Pair]) -> list[dict[str, Any]]:
    import torch


    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    rows = []
    # the official codes create some tensors with the default dtype (PPT's token sizes and its
    # mixed prune/pool batch buffer): float64 by default here, so that both sides compute in float64
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _conformance(root, pairs, x, rows)
    finally:
        torch.set_default_dtype(previous)


def _conformance(root: Path, pairs: list[Pair], x: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import torch

    import zoo

    for pair in pairs:
        for variant in pair.variants:
            model = tiny_timm(variant).double()
            params = dict(pair.params)
            build = pair.build
            if params.get("threshold") == "median":
                thr = ppt_median_threshold(model, x, params["layers"][0])
                params["threshold"] = thr
                build = build_ppt(params["layers"], params["r"], thr)
            try:
                official = build(root, model)
            except Exception as exc:  # report, keep going
                rows.append({"method": pair.method, "variant": variant, "params": params,
                             "error": f"official code did not run: {type(exc).__name__}: {exc}"})
                continue
            with torch.no_grad():
                base = model(x)
                theirs = _logits(official(x))
                with zoo.apply(model, pair.method, **params) as h:
                    ours = model(x)
            scale = float(base.abs().max())
            diff = float((ours - theirs).abs().max())
            rows.append({
                "method": pair.method, "variant": variant, "params": params, "note": pair.note,
                "max_abs_diff": diff, "relative_to_logit_scale": diff / scale,
                "method_changed_logits": float((ours - base).abs().max()) / scale,
                "tokens_after_block": h.run.tokens[h.adapter.stage],
                "repository": REPOS[pair.repo_dir], "commit": commit_of(root / pair.repo_dir),
            })
            print(f"{pair.method:8s} {variant:9s} {json.dumps(params):55s} |ours - official| / scale = "
                  f"{diff / scale:.2e}  (method moved logits by {rows[-1]['method_changed_logits']:.2e})", flush=True)
    return rows


def pitome_text_merge(root: Path) -> list[dict[str, Any]]:
    """PiToMe's text recipe, function level: the official ``merge.pitome_text`` (one BERT block's
    merge, size-weighted through ``merge_wavg``) against tokzoo's plan on the same tensors."""
    import math

    import torch

    from zoo.core.tokens import TokenState
    from zoo.papers.pitome import apply_plan, plan_merges

    mods = load_package_modules(root / "PiToMe" / "algo" / "pitome", "_pitome_official", ["merge"])
    merge_mod = mods["merge"]
    g = torch.Generator().manual_seed(3)
    rows = []
    for t, ratio, margin in ((33, 0.8, 0.9), (64, 0.6, 0.75), (17, 0.5, 0.8)):
        metric = torch.randn(3, t, 16, generator=g, dtype=torch.float64)
        x = torch.randn(3, t, 8, generator=g, dtype=torch.float64)
        merge = merge_mod.pitome_text(metric, ratio=ratio, margin=margin, class_token=True)
        theirs, _ = merge_mod.merge_wavg(merge, x, None)
        r = math.floor((t - 1) - (t - 1) * ratio)
        plan = plan_merges(metric[:, 1:], r, margin, "text", False)
        ours, _ = apply_plan(plan, TokenState(x=x, n_prefix=1))
        diff = float((ours.x - theirs).abs().max())
        rows.append({"method": "pitome", "variant": "text recipe, one block (merge.pitome_text)",
                     "params": {"tokens": t, "ratio": ratio, "margin": margin}, "max_abs_diff": diff,
                     "relative_to_logit_scale": diff / float(x.abs().max()),
                     "repository": REPOS["PiToMe"], "commit": commit_of(root / "PiToMe")})
        print(f"pitome   text      T={t} ratio={ratio} margin={margin}: |ours - official| = {diff:.2e}", flush=True)
    return rows


# ---------------------------------------------------------------- speed
def speed(root: Path, methods: list[str], *, model_name: str, batch: int, dtypes: list[str], repeats: int,
          warmup: int, threads: int | None) -> list[dict[str, Any]]:
    import timm
    import torch

    import zoo
    from zoo.bench.common import hardware, versions

    if threads:
        torch.set_num_threads(threads)
    out = []
    for dtype_name in dtypes:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
        torch.manual_seed(0)
        base_model = timm.create_model(model_name, pretrained=False).eval()
        x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(dtype)
        for method in methods:
            params, build = SPEED_BUDGETS[method]
            ours_model = copy.deepcopy(base_model).to(dtype)
            official = build(root, copy.deepcopy(base_model).to(dtype))
            try:
                with torch.inference_mode():
                    official(x)
            except Exception as exc:  # the authors' code does not run in this dtype: say so, keep going
                out.append({"kind": "tokzoo-official-speed", "method": method, "params": params, "model": model_name,
                            "dtype": str(dtype).replace("torch.", ""),
                            "official_error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"})
                print(f"{method:8s} {out[-1]['dtype']:8s} official code fails: {out[-1]['official_error']}", flush=True)
                continue
            handle = zoo.apply(ours_model, method, **params)
            baseline = base_model.to(dtype)
            calls = {"baseline": lambda: baseline(x), "tokzoo": lambda: ours_model(x), "official": lambda: official(x)}
            wall: dict[str, list[float]] = {k: [] for k in calls}
            cpu: dict[str, list[float]] = {k: [] for k in calls}
            load0 = os.getloadavg()
            with torch.inference_mode():
                for _ in range(warmup):
                    for fn in calls.values():
                        fn()
                order = list(calls)
                for i in range(repeats):
                    for name in (order if i % 2 == 0 else order[::-1]):
                        c0, t0 = time.process_time(), time.perf_counter()
                        calls[name]()
                        wall[name].append(time.perf_counter() - t0)
                        cpu[name].append(time.process_time() - c0)
                with torch.no_grad():
                    agree = float((_logits(official(x)).float() - ours_model(x).float()).abs().max())
            tokens = handle.run.tokens[handle.adapter.stage]
            handle.remove()
            theirs_tokens = official_tokens(official, x)
            med = {k: statistics.median(v) for k, v in wall.items()}
            rec = {
                "kind": "tokzoo-official-speed", "method": method, "params": params, "model": model_name,
                "weights": "random (timm pretrained=False)", "batch_size": batch, "dtype": str(dtype).replace("torch.", ""),
                "threads": torch.get_num_threads(), "repeats": repeats, "warmup": warmup,
                "median_s": med, "min_s": {k: min(v) for k, v in wall.items()},
                "cpu_median_s": {k: statistics.median(v) for k, v in cpu.items()},
                "samples_s": wall, "cpu_samples_s": cpu,
                # ratios of neighbouring calls (same repeat, so the same load): the most robust statistic here
                "paired_cpu_ratio_median": statistics.median(o / t for o, t in zip(cpu["official"], cpu["tokzoo"])),
                "paired_wall_ratio_median": statistics.median(o / t for o, t in zip(wall["official"], wall["tokzoo"])),
                "tokzoo_vs_official": med["official"] / med["tokzoo"],
                "tokzoo_vs_official_min": min(wall["official"]) / min(wall["tokzoo"]),
                "tokzoo_speedup": med["baseline"] / med["tokzoo"], "official_speedup": med["baseline"] / med["official"],
                "tokens_after_block": tokens, "official_tokens_after_block": theirs_tokens,
                "max_abs_logit_diff_vs_official": agree,
                "load_average_start": [round(v, 2) for v in load0],
                "load_average_end": [round(v, 2) for v in os.getloadavg()],
                "repository": REPOS[CHECKOUT[method]], "commit": commit_of(root / CHECKOUT[method]),
                "hardware": hardware(torch.get_num_threads()), "versions": versions("torch", "timm"),
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            out.append(rec)
            print(f"{method:8s} {rec['dtype']:8s} tokzoo {med['tokzoo']:.3f}s official {med['official']:.3f}s "
                  f"baseline {med['baseline']:.3f}s -> tokzoo/official speed {rec['tokzoo_vs_official']:.3f}x "
                  f"(min-based {rec['tokzoo_vs_official_min']:.3f}x, paired CPU time "
                  f"{rec['paired_cpu_ratio_median']:.3f}x) load {rec['load_average_start']}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official", required=True, help="folder with the authors' checkouts (ToMe, evit, GTP-ViT, PPT, PiToMe)")
    ap.add_argument("--check", choices=["conformance", "speed", "all"], default="all")
    ap.add_argument("--only", nargs="*", default=None, help="method ids")
    ap.add_argument("--model", default="vit_small_patch16_224", help="timm model for the speed check")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dtype", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="write the records (JSON) here")
    args = ap.parse_args(argv)
    root = Path(args.official)
    os.chdir(root)  # GTP-ViT's propagate() appends to a file named "missing" in the working directory
    records: dict[str, Any] = {}
    if args.check in ("conformance", "all"):
        pairs = [p for p in PAIRS if args.only is None or p.method in args.only]
        records["conformance"] = conformance(root, pairs)
        if args.only is None or "pitome" in args.only:
            records["conformance"] += pitome_text_merge(root)
    if args.check in ("speed", "all"):
        methods = [m for m in SPEED_BUDGETS if args.only is None or m in args.only]
        records["speed"] = speed(root, methods, model_name=args.model, batch=args.batch_size, dtypes=args.dtype,
                                 repeats=args.repeats, warmup=args.warmup, threads=args.threads)
    if args.out:
        from zoo.bench.common import hardware, versions, write_json_atomic
        from zoo.repro.provenance import git_commit

        records["kind"] = "tokzoo-official-comparison"
        records["provenance"] = {
            "hardware": hardware(), "versions": versions("torch", "timm", "transformers"),
            "tokzoo_commit": git_commit(ROOT), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": "python benchmarks/encoder_official.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "official_checkouts": {name: {"repository": repo, "commit": commit_of(root / name)} for name, repo in REPOS.items()},
        }

        write_json_atomic(Path(args.out) if Path(args.out).is_absolute() else ROOT / args.out, records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
