"""Conformance of the ViT methods: tokzoo's method vs the authors' code on the same random timm model.

Each function has the signature ``compare(ctx, reference, params, dtype) -> Measurement`` that
:func:`zoo.repro.conformance.conformance_claim` expects. The pattern is the same for all:

1. build a timm model of the paper's architecture (``repro/configs/<name>.json``) with seeded
   random weights, in ``dtype``; one random batch of images (seeded);
2. tokzoo: ``zoo.apply(model, method, **params)`` with ``record_sources=True``: logits and
   the tokens each surviving token stands for;
3. official: a deep copy of the unpatched model, patched with the authors' own function from
   the checkout (imported with :func:`zoo.repro.harness.official.imported`, dropped afterwards),
   same images: logits and, where the official code traces them, the token sources;
4. compare: largest |logit difference|, token counts per block, sources equal.

Only ``zoo.apply`` and the official functions are used: no tokzoo internals.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from zoo.repro.conformance import Reference, measurement
from zoo.repro.harness.official import imported, max_abs_diff, torch_dtype
from zoo.repro.spec import Measurement, Unavailable

SEED = 0


def _model(config: str, dtype: str, **overrides: Any):
    import torch

    from zoo.repro.harness.vit import vit_model

    torch.manual_seed(SEED)
    return vit_model(config, dtype="float32", **overrides).to(torch_dtype(dtype)).eval()


def _images(model, batch: int, dtype: str):
    import torch

    size = model.patch_embed.img_size
    g = torch.Generator().manual_seed(SEED + 1)
    return torch.randn(batch, 3, *size, generator=g).to(torch_dtype(dtype))


def _stub(name: str, *functions: str):
    """A module ``name`` whose ``functions`` raise if called (for imports the compared code never uses)."""
    import types

    module = types.ModuleType(name)

    def unavailable(*args, **kwargs):
        raise RuntimeError(f"{name} is stubbed out for the conformance comparison")

    for fn in functions:
        setattr(module, fn, unavailable)
    return module


@contextlib.contextmanager
def _default_dtype(dtype: str):
    """torch's default dtype set to ``dtype`` (float32/float64 only) for the official call."""
    import torch

    previous = torch.get_default_dtype()
    if dtype in ("float32", "float64"):
        torch.set_default_dtype(torch_dtype(dtype))
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _ours(model, method: str, params: dict[str, Any], x):
    import torch

    import zoo

    with zoo.apply(model, method, record_sources=True, **params) as handle, torch.inference_mode():
        logits = model(x)
        run = handle.run
        return logits, list(run.tokens.get("vit", [])), run.sources.get("vit")


def _sources_equal(ours, theirs) -> bool:
    """Whether two ``[B, N_kept, N_in]`` 0/1 source maps describe the same groups (row order free)."""
    import torch

    if ours is None or theirs is None or ours.shape != theirs.shape:
        return False
    a = (ours > 0).to(torch.int64)
    b = (theirs > 0).to(torch.int64)
    for i in range(a.shape[0]):
        rows_a = sorted(tuple(r.tolist()) for r in a[i])
        rows_b = sorted(tuple(r.tolist()) for r in b[i])
        if rows_a != rows_b:
            return False
    return True


def _details(config: str, params: dict[str, Any], ours_tokens, theirs_tokens, batch: int, **extra: Any) -> dict:
    return {"model": config, "weights": f"random (torch.manual_seed({SEED}))", "images": f"{batch} x randn",
            "params": dict(params), "tokens_after_block": {"tokzoo": ours_tokens, "official": theirs_tokens}, **extra}


# ---------------------------------------------------------------- ToMe
def tome(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str, *, config: str = "vit-small-16",
         batch: int = 2) -> Measurement:
    """facebookresearch/ToMe ``tome.patch.timm`` (``model.r = r``, proportional attention, sources traced)."""
    import torch

    model = _model(config, dtype)
    theirs_model = copy.deepcopy(model)
    x = _images(model, batch, dtype)
    ours_logits, ours_tokens, ours_src = _ours(model, "tome", params, x)
    with imported(reference.path, "tome") as (tome_pkg,):
        tome_pkg.patch.timm(theirs_model, trace_source=True, prop_attn=bool(params.get("prop_attn", True)))
        theirs_model.r = params["r"]
        with torch.inference_mode():
            theirs_logits = theirs_model(x)
        info = theirs_model._tome_info
        theirs_src = info.get("source")
    n_out = int(theirs_src.shape[1]) if theirs_src is not None else None
    return measurement(reference, dtype, differences={"logits": max_abs_diff(ours_logits, theirs_logits)},
                       kept_equal={"same token sources after the last block": _sources_equal(ours_src, theirs_src),
                                   "same final token count": bool(ours_tokens) and ours_tokens[-1] == n_out},
                       details=_details(config, params, ours_tokens, n_out, batch,
                                        official_call="tome.patch.timm(model, trace_source=True, prop_attn=...); "
                                                      "model.r = r"))


# ---------------------------------------------------------------- EViT
def evit(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str, *, config: str = "deit-small",
         batch: int = 2) -> Measurement:
    """youweiliang/evit ``evit.EViT`` with the same weights (``keep_rate`` per block, ``fuse_token``)."""
    import torch

    model = _model(config, dtype)
    x = _images(model, batch, dtype)
    state = copy.deepcopy(model.state_dict())
    ours_logits, ours_tokens, _ = _ours(model, "evit", params, x)
    layers = list(params.get("layers", (3, 6, 9)))
    keep = [params["keep_rate"] if i in layers else 1 for i in range(len(model.blocks))]
    cfg = model.patch_embed
    # helpers.py imports torchprofile for its MACs counter, which the model never calls
    with imported(reference.path, "evit", stubs={"torchprofile": _stub("torchprofile", "profile_macs")}) as (evit_mod,):
        theirs = evit_mod.EViT(img_size=cfg.img_size[0], patch_size=cfg.patch_size[0], embed_dim=model.embed_dim,
                               depth=len(model.blocks), num_heads=model.blocks[0].attn.num_heads,
                               mlp_ratio=model.blocks[0].mlp.fc1.out_features / model.embed_dim, qkv_bias=True,
                               num_classes=model.num_classes, keep_rate=tuple(keep),
                               fuse_token=bool(params.get("fuse", True)))
        missing, unexpected = theirs.load_state_dict(state, strict=False)
        if missing:
            raise Unavailable(f"official EViT model lacks the timm weights {missing[:3]} (architecture mismatch)")
        theirs = theirs.to(torch_dtype(dtype)).eval()
        with torch.inference_mode():
            out = theirs(x)
        theirs_logits = out[0] if isinstance(out, tuple) else out
        with torch.inference_mode():
            _, left, _ = theirs.forward_features(x)
    counts = [1 + int(t) for t in left]  # each official block returns its non-CLS token count
    return measurement(reference, dtype, differences={"logits": max_abs_diff(ours_logits, theirs_logits)},
                       kept_equal={"same token counts per block": ours_tokens == counts},
                       details=_details(config, params, ours_tokens, counts, batch,
                                        official_call="evit.EViT(keep_rate=per-block tuple, fuse_token=fuse) with the "
                                                      "timm model's state_dict",
                                        unexpected_keys=list(unexpected)))


# ---------------------------------------------------------------- PPT
def ppt(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str, *, config: str = "deit-small",
        batch: int = 2, thresholds: tuple[float, ...] = ()) -> Measurement:
    """xjwu1024/PPT ``ppt_deit.apply_patch`` (``model.r``, ``pp_loc_list``, ``threshold``, proportional attention).

    Random weights make the significance variance arbitrary; ``thresholds`` (default: the
    claim's own, plus 0 and infinity) also run the all-prune and all-pool paths. Images go one
    at a time: the official source tracing fails on a batch that mixes pruning and pooling
    (``batch_index_select`` of the whole batch's sources with the pruned sub-batch's indices).

    The official code creates the token sizes with ``torch.ones(...)`` in torch's default dtype
    (float32), so in a float64 run its pooling path rounds ``log(size)`` of the proportional
    attention to float32 (logits differ by ~4e-9). The official model therefore runs with
    torch's default dtype set to ``dtype`` (float64 runs); the difference with the float32
    default is kept in the details."""
    import torch

    base = _model(config, dtype)
    x = _images(base, batch, dtype)
    diffs, checks, counts, float32_sizes = {}, {}, {}, {}
    for thr in thresholds or (params.get("threshold", 7e-5), 0.0, float("inf")):
        p = {**params, "threshold": thr}
        key = f"threshold={thr:g}"
        for i in range(batch):
            xi = x[i:i + 1]
            model = copy.deepcopy(base)
            theirs_model = copy.deepcopy(base)
            ours_logits, ours_tokens, ours_src = _ours(model, "ppt", p, xi)
            with imported(reference.path, "ppt_deit") as (ppt_deit,):
                ppt_deit.apply_patch(theirs_model, trace_source=True, prop_attn=bool(p.get("prop_attn", True)),
                                     pp_loc_list=list(p.get("layers", (3, 6, 9))), threshold=thr)
                theirs_model.r = p["r"]
                with torch.inference_mode():
                    default_logits = theirs_model(xi)
                    with _default_dtype(dtype):
                        theirs_logits = theirs_model(xi)
                theirs_src = theirs_model._pp_info.get("source")
            diffs[f"logits ({key}, image {i})"] = max_abs_diff(ours_logits, theirs_logits)
            float32_sizes[f"{key}, image {i}"] = max_abs_diff(ours_logits, default_logits)
            checks[f"same token sources ({key}, image {i})"] = _sources_equal(ours_src, theirs_src)
            counts[f"{key}, image {i}"] = ours_tokens
    return measurement(reference, dtype, differences=diffs, kept_equal=checks,
                       details=_details(config, params, counts, None, batch,
                                        official_call="ppt_deit.apply_patch(model, trace_source=True, prop_attn=True, "
                                                      "pp_loc_list=layers, threshold=t); model.r = r; run with torch's "
                                                      "default dtype = the compared dtype",
                                        max_abs_diff_official_float32_default_dtype=float32_sizes))


# ---------------------------------------------------------------- GTP-ViT
@contextlib.contextmanager
def _cuda_to_cpu():
    """Tensors the official code moves ``.to("cuda")`` stay on the CPU (GTP-ViT's models_v3.py says to
    drop that call on a CPU machine; this does it without editing their file)."""
    import torch

    original = torch.Tensor.to

    def to(self, *args, **kwargs):
        args = tuple("cpu" if (isinstance(a, str) and a.startswith("cuda")) else a for a in args)
        if isinstance(kwargs.get("device"), str) and kwargs["device"].startswith("cuda"):
            kwargs["device"] = "cpu"
        return original(self, *args, **kwargs)

    torch.Tensor.to = to
    try:
        yield
    finally:
        torch.Tensor.to = original


def gtp_vit(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str, *, config: str = "deit-small",
            batch: int = 2) -> Measurement:
    """Ackesnal/GTP-ViT ``models_v3.GraphPropagationTransformer`` with the timm model's weights and the
    README's evaluation options (``--selection MixedAttnMax --propagation GraphProp --num_prop r
    --alpha``; graph ``Spatial``, 8 neighbours, sparsity 1, no token scale)."""
    from functools import partial

    import torch
    import torch.nn as nn

    graph = {"spatial": "Spatial", "semantic": "Semantic", "mixed": "Mixed"}[params.get("graph", "spatial")]
    model = _model(config, dtype)
    x = _images(model, batch, dtype)
    state = copy.deepcopy(model.state_dict())
    ours_logits, ours_tokens, _ = _ours(model, "gtp-vit", params, x)
    with imported(reference.path, "models_v3") as (mv3,), _cuda_to_cpu(), _default_dtype(dtype):
        theirs = mv3.GraphPropagationTransformer(
            img_size=model.patch_embed.img_size[0], patch_size=model.patch_embed.patch_size[0],
            embed_dim=model.embed_dim, depth=len(model.blocks), num_heads=model.blocks[0].attn.num_heads,
            mlp_ratio=model.blocks[0].mlp.fc1.out_features / model.embed_dim, qkv_bias=True,
            norm_layer=partial(nn.LayerNorm, eps=1e-6), num_classes=model.num_classes, selection="MixedAttnMax",
            propagation="GraphProp", num_prop=int(params["r"]), num_neighbours=int(params.get("num_neighbours", 8)),
            sparsity=1, alpha=float(params.get("alpha", 0.1)), token_scale=bool(params.get("prop_attn", False)),
            graph_type=graph)
        missing, unexpected = theirs.load_state_dict(state, strict=False)
        if missing:
            raise Unavailable(f"official GTP-ViT model lacks the timm weights {missing[:3]} (architecture mismatch)")
        theirs = theirs.to(torch_dtype(dtype)).eval()
        with torch.inference_mode():
            theirs_logits = theirs(x)
    return measurement(reference, dtype, differences={"logits": max_abs_diff(ours_logits, theirs_logits)},
                       details=_details(config, params, ours_tokens, None, batch,
                                        official_call="models_v3.GraphPropagationTransformer(selection='MixedAttnMax', "
                                                      "propagation='GraphProp', num_prop=r, alpha, graph_type, "
                                                      "num_neighbours=8, sparsity=1) with the timm model's state_dict; "
                                                      "its .to('cuda') kept on the CPU",
                                        unexpected_keys=list(unexpected)))
