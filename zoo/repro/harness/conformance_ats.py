"""Conformance of ATS against the authors' code (adaptivetokensampling/ATS) on the same random DeiT.

``compare(ctx, reference, params, dtype) -> Measurement`` for
:func:`zoo.repro.conformance.conformance_claim`:

1. a timm DeiT of the claim's architecture with seeded random weights in ``dtype`` and seeded
   random images, passed **one image at a time** (see below);
2. tokzoo: ``zoo.apply(model, "ats", record_indices=True, **params)``: logits, the tokens after
   every block, the kept indices of every sampling block;
3. official: ``libs/models/transformers/vit.py`` ``ViT`` (its ``ATSBlock``/``AdaptiveTokenSampler``
   of ``ats_block.py``) built from a config namespace with the fields of the repository's
   ``configs/ImageNet/DeiT_S.yaml`` (``ATS_BLOCKS``, ``NUM_TOKENS`` = K, ``DROP_TOKENS: True``),
   loaded with the timm model's ``state_dict``; which input rows each sampling block keeps is
   read from the outside (a forward hook on each ``AdaptiveTokenSampler``: its ``raw_x`` input and
   the ``selected_x`` it returns are exact copies of rows, matched row by row);
4. compare: logits (method off: the official ``ViT`` with ``ATS_BLOCKS=[]``; method on), the
   tokens after every block, and, per sampling block, the *original* patch ids of the kept
   tokens (kept indices composed from block to block: the official code keeps its tokens in
   ascending-significance order, tokzoo in their original order, so sets of ids are compared).

Why one image at a time: with a batch the official code pads shorter images with zero tokens,
and those zero-significance tokens enter the next block's CDF (its minimum, so the least
significant real token gets a non-zero normalised CDF value and can be sampled); tokzoo builds
the CDF over real tokens only, so that a batch gives the single-image results. A batch run is
in the record's details (``batch_of_2``) to show this.

The official model imports ``fvcore``'s registry (``libs/models/build.py``) and runs
``libs/__init__.py``'s environment setup on import; both are replaced by empty stand-ins (the
model never uses them). Everything of theirs is imported from the checkout and dropped again.

The official attention is not plain softmax: ``Attention.softmax_with_policy``
(``transformer_block.py``), used by every block (the policy is all ones from the start),
computes ``(exp(a - max) * policy + 1e-6 / N) / (sum + 1e-6)`` with the exponentials in float32.
The ``method off`` differences measure what this alone does to the logits.
"""

from __future__ import annotations

import copy
import types
from pathlib import Path
from typing import Any

from zoo.repro.conformance import Reference, measurement
from zoo.repro.harness.conformance_vit import SEED, _images, _model
from zoo.repro.harness.official import imported, max_abs_diff, torch_dtype
from zoo.repro.spec import Measurement, Unavailable


def _stubs(root: Path) -> dict[str, Any]:
    """Path-only packages for ``libs`` (its ``__init__`` sets up a training environment),
    ``libs.models`` and ``libs.models.transformers``, and a ``libs.models.build`` whose
    ``MODEL_REGISTRY.register()`` returns the class unchanged (the real one needs ``fvcore``)."""
    stubs: dict[str, Any] = {}
    for name in ("libs", "libs.models", "libs.models.transformers"):
        mod = types.ModuleType(name)
        mod.__path__ = [str(root.joinpath(*name.split(".")))]
        stubs[name] = mod
    build = types.ModuleType("libs.models.build")
    build.MODEL_REGISTRY = types.SimpleNamespace(register=lambda *a, **k: (lambda cls: cls))
    stubs["libs.models.build"] = build
    return stubs


def official_config(model, layers: list[int], k: int) -> types.SimpleNamespace:
    """The ``cfg.VIT`` fields of ``configs/ImageNet/DeiT_S.yaml`` for ``model``'s architecture."""
    depth = len(model.blocks)
    vit = types.SimpleNamespace(
        IMG_SIZE=model.patch_embed.img_size[0], PATCH_SIZE=model.patch_embed.patch_size[0], IN_CHANNELS=3,
        NUM_CLASSES=model.num_classes, EMBED_DIM=model.embed_dim, DEPTH=depth,
        NUM_HEADS=model.blocks[0].attn.num_heads, MLP_RATIO=model.blocks[0].mlp.fc1.out_features / model.embed_dim,
        QKV_BIAS=True, QK_SCALE=None, REPRESENTATION_SIZE=None, DROP_RATE=0.0, ATTN_DROP_RATE=0.0,
        DROP_PATH_RATE=0.0, HYBRID_BACKBONE=None, NORM_LAYER=None, ATS_BLOCKS=list(layers), NUM_TOKENS=[k] * depth,
        DROP_TOKENS=True)
    return types.SimpleNamespace(VIT=vit)


def _provenance(raw_x, selected_x, policy) -> list[list[int]]:
    """Per image: for each kept row of ``selected_x [B, M, C]`` (``policy`` 1), the row of ``raw_x [B, N, C]``
    it is an exact copy of (``-1`` if none)."""
    out = []
    for b in range(raw_x.shape[0]):
        rows = []
        for j in range(selected_x.shape[1]):
            if float(policy[b, j, 0]) == 0:
                continue
            same = (raw_x[b] == selected_x[b, j]).all(dim=-1).nonzero()
            rows.append(int(same[0, 0]) if len(same) else -1)
        out.append(rows)
    return out


def _compose(kept_per_event: list[list[int]], n0: int) -> list[list[int]]:
    """Original token ids surviving each event: ``ids_{e+1} = ids_e[kept_e]`` (``-1`` stays ``-1``)."""
    ids = list(range(n0))
    out = []
    for kept in kept_per_event:
        ids = [ids[i] if 0 <= i < len(ids) else -1 for i in kept]
        out.append(sorted(ids))
    return out


def _official_run(vit_mod, model, cfg, x, dtype: str):
    """Official ``ViT`` with ``model``'s weights on ``x``: logits, tokens per block, kept rows per sampling block."""
    import torch

    theirs = vit_mod.ViT(cfg)
    missing, unexpected = theirs.load_state_dict(copy.deepcopy(model.state_dict()), strict=False)
    own = [m for m in missing if not m.endswith("out_zero_mask")]
    if own:
        raise Unavailable(f"official ATS ViT lacks the timm weights {own[:3]} (architecture mismatch)")
    theirs = theirs.to(torch_dtype(dtype)).eval()
    kept: list[list[list[int]]] = []
    tokens: list[int] = []
    hooks = [blk.register_forward_hook(  # ATSBlock returns (x, policy), Block returns x
        lambda mod, args, kwargs, out: tokens.append(int((out[0] if isinstance(out, tuple) else out).shape[1])),
        with_kwargs=True) for blk in theirs.blocks]
    for i in cfg.VIT.ATS_BLOCKS:
        hooks.append(theirs.blocks[i].attn.register_forward_hook(
            lambda mod, args, kwargs, out: kept.append(_provenance(kwargs["raw_x"], out[1], out[2])),
            with_kwargs=True))
    try:
        with torch.inference_mode():
            logits, _ = theirs(x)
    finally:
        for h in hooks:
            h.remove()
    return logits, tokens, kept, sorted(set(missing) - set(own))


def _ours(model, params, x):
    import torch

    import zoo

    with zoo.apply(model, "ats", record_indices=True, **params) as handle, torch.inference_mode():
        logits = model(x)
        run = handle.run
        kept = [[row.tolist() for row in k] for k in run.kept_indices.get("vit", [])]
        return logits, list(run.tokens.get("vit", [])), kept


def ats(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str, *, config: str = "deit-small",
        images: int = 2) -> Measurement:
    """adaptivetokensampling/ATS ``ViT`` with ``ATSBlock`` s (``DROP_TOKENS: True``) vs tokzoo's ``ats``."""
    import torch

    base = _model(config, dtype)
    x = _images(base, images, dtype)
    layers = list(params.get("layers", range(3, len(base.blocks))))
    n_patches = base.patch_embed.num_patches
    if params.get("keep_ratio") not in (None, 1.0):
        raise ValueError("the comparison takes keep_tokens (K - 1), not keep_ratio")
    k = int(params.get("keep_tokens", n_patches)) + 1  # the official NUM_TOKENS counts the CLS token
    diffs: dict[str, float] = {}
    checks: dict[str, bool] = {}
    per_image: dict[str, Any] = {}
    singles: list[tuple[Any, list[list[int]]]] = []
    root = Path(reference.path)
    with imported(root, "libs.models.transformers.vit", stubs=_stubs(root)) as (vit_mod,):
        off_logits, _, _, _ = _official_run(vit_mod, base, official_config(base, [], k), x, dtype)
        with torch.inference_mode():
            diffs["logits, method off (both images)"] = max_abs_diff(base(x), off_logits)
        for i in range(images):
            xi = x[i:i + 1]
            ours_logits, ours_tokens, ours_kept = _ours(copy.deepcopy(base), params, xi)
            theirs_logits, theirs_tokens, theirs_kept, own = _official_run(
                vit_mod, base, official_config(base, layers, k), xi, dtype)
            ours_ids = _compose([row[0] for row in ours_kept], n_patches + 1)
            theirs_ids = _compose([row[0] for row in theirs_kept], n_patches + 1)
            singles.append((theirs_logits, theirs_ids))
            diffs[f"logits, method on (image {i})"] = max_abs_diff(ours_logits, theirs_logits)
            checks[f"same kept patches at every sampling block (image {i})"] = ours_ids == theirs_ids
            checks[f"same tokens after every block (image {i})"] = ours_tokens == theirs_tokens
            per_image[f"image {i}"] = {
                "tokens_after_block": {"tokzoo": ours_tokens, "official": theirs_tokens},
                "kept_patch_ids_differing_per_block": [len(set(a) ^ set(b)) for a, b in zip(ours_ids, theirs_ids)],
                "kept_original_ids_last_block": {"tokzoo": ours_ids[-1] if ours_ids else None,
                                                 "official": theirs_ids[-1] if theirs_ids else None}}
        batch_logits, batch_tokens, batch_kept, _ = _official_run(vit_mod, base, official_config(base, layers, k), x,
                                                                   dtype)
    ours_batch_logits, ours_batch_tokens, ours_batch_kept = _ours(copy.deepcopy(base), params, x)
    batch = {"official_tokens_after_block": batch_tokens, "tokzoo_tokens_after_block": ours_batch_tokens}
    for i, (single_logits, single_ids) in enumerate(singles):
        ids = _compose([[r for r in row[i] if r >= 0] for row in batch_kept], n_patches + 1)
        batch[f"image {i}"] = {
            "official batch vs official single: max |logit diff|": max_abs_diff(batch_logits[i:i + 1], single_logits),
            "official batch vs official single: kept patch ids differing per block": [
                len(set(a) ^ set(b)) for a, b in zip(ids, single_ids)],
            "tokzoo batch vs official single: max |logit diff|": max_abs_diff(ours_batch_logits[i:i + 1],
                                                                              single_logits)}
    details = {
        "model": config, "weights": f"random (torch.manual_seed({SEED}))", "images": f"{images} x randn, one at a time",
        "params": dict(params), "official_num_tokens_K": k, "official_ats_blocks": layers, "per_image": per_image,
        "official_buffers_not_from_timm": own, "batch_of_2": batch,
        "official_call": "libs/models/transformers/vit.py ViT(cfg) with cfg.VIT of configs/ImageNet/DeiT_S.yaml "
                         "(ATS_BLOCKS, NUM_TOKENS=[K]*depth, DROP_TOKENS=True) and the timm state_dict; "
                         "libs/__init__ and fvcore's registry stubbed",
    }
    return measurement(reference, dtype, differences=diffs, kept_equal=checks, details=details)
