"""Local conformance harness: tokzoo's video-method cores against the authors' own functions.

The authors' functions are read at run time from a checkout the user gives (never copied into
tokzoo): top-level functions and class methods are taken out of their files with ``ast``; code
the authors wrote inline inside a model's ``forward`` (FastVID, HoliTom's inner merge) is taken
between the markers the authors put around it. Both sides get identical seeded random tensors;
the report gives, per dtype, the largest absolute difference of the output tokens and whether
the kept indices / group sizes are identical.

Usage (checkouts at the pinned commits of :data:`OFFICIAL`)::

    python -m zoo.repro.harness.video_conformance \\
        --official KD-TAO/DyCoke=/tmp/official/DyCoke --official Visual-AI/PruneVid=/tmp/official/PruneVid ...
        [--record]   # writes repro/conformance/<method>.json

Official-code quirks the comparisons avoid are listed per method (``cases``) and documented in
the method modules (e.g. DyCoke's TTM fails for 4 frames or fewer).
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import platform
import subprocess
import textwrap
import types
from pathlib import Path
from typing import Any, Callable

#: method -> (repository, pinned commit, files read)
OFFICIAL: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "dycoke": ("KD-TAO/DyCoke", "dd7463498203479d0ff6f2d29c4e72928c0af244",
               ("llava/model/llava_arch.py", "llava/model/language_model/modeling_qwen2.py")),
    "prunevid": ("Visual-AI/PruneVid", "b12600c6176c606ee4b6b7d9e26f4aa46d0dfd42",
                 ("models/pllava/modeling_pllava.py", "models/pllava/elastic_cache.py")),
    "fastvid": ("LunarShen/FastVID", "a40a109cb8df20e8c2c17c6850f8269717369990",
                ("fastvid_llavaonevision/LLaVA-NeXT/llava/model/language_model/modeling_qwen2.py",)),
    "framefusion": ("thu-nics/FrameFusion", "fbec1d2e6bd383361c2c87ca13e73f80a8c1a9e9", ("framefusion/main.py",)),
    "holitom": ("cokeshao/HoliTom", "e9b2972f6895c9e7d7fe74eb8c3a2ecaab8056e0",
                ("holitom/llava_arch.py", "holitom/modeling_qwen2.py")),
    "vidcom2": ("xuyang-liu16/VidCom2", "944a17d14f4848ad080a65eab2b0711a760fa154",
                ("token_compressor/vidcom2/vidcom2.py",)),
    "slowfast-llava": ("apple/ml-slowfast-llava", "bea0f73c106b91404ef403353e184b278fcc64a7",
                       ("slowfast_llava/llava/model/llava_arch.py",)),
    # a speech-LLM method: its comparison lives in zoo.repro.harness.speech_conformance
    "fastadasp": ("yichen14/FastAdaSP", "582565a6c573fbf8072c2a9c54918927a0eda498", ("Qwen-Audio/modeling_qwen.py",)),
}
DTYPES = ("float64", "float32", "bfloat16")
PRELUDE = "import math\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn, einsum\n"


# ----------------------------------------------------------------------------- reading official code
def _source(root: Path, path: str) -> str:
    return (root / path).read_text()


def load_defs(root: Path, path: str, names: set[str] = frozenset(), *, methods_of: tuple[str, set[str]] | None = None,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Top-level functions/classes ``names`` (and methods of one class, as plain functions) of
    ``root/path``, executed in a fresh namespace."""
    src = _source(root, path)
    tree = ast.parse(src)
    chunks = [ast.get_source_segment(src, n) for n in tree.body
              if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Assign)) and _name(n) in names]
    if methods_of:
        cls, meths = methods_of
        for n in tree.body:
            if isinstance(n, ast.ClassDef) and n.name == cls:
                chunks += [textwrap.dedent(ast.get_source_segment(src, m)) for m in n.body
                           if isinstance(m, ast.FunctionDef) and m.name in meths]
    ns: dict[str, Any] = dict(extra or {})
    exec(compile(PRELUDE + "\n\n".join(chunks), f"official:{path}", "exec"), ns)  # noqa: S102 (the user's checkout)
    return ns


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Assign):
        return getattr(node.targets[0], "id", "")
    return getattr(node, "name", "")


def load_block(root: Path, path: str, start: Callable[[str], bool], stop: Callable[[str], bool]):
    """Compile the lines strictly between the first line matching ``start`` and the next matching ``stop``."""
    lines = _source(root, path).splitlines()
    a = next(i for i, line in enumerate(lines) if start(line))
    b = next(i for i in range(a + 1, len(lines)) if stop(lines[i]))
    return compile(textwrap.dedent("\n".join(lines[a + 1:b])), f"official:{path}:{a + 2}-{b}", "exec")


# ----------------------------------------------------------------------------- helpers
def _torch():
    import torch

    return torch


def _dtype(name: str):
    return getattr(_torch(), name)


def _gen(seed: int):
    return _torch().Generator().manual_seed(seed)


def _randn(*shape, g):
    return _torch().randn(*shape, generator=g, dtype=_torch().float64)


def _diff(a, b) -> float:
    if tuple(a.shape) != tuple(b.shape):
        return float("inf")
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


class _Tally:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def add(self, dtype: str, diff: float, same: bool) -> None:
        row = self.rows.setdefault(dtype, {"max_abs_diff": 0.0, "cases": 0, "identical_indices": 0})
        row["max_abs_diff"] = max(row["max_abs_diff"], diff)
        row["cases"] += 1
        row["identical_indices"] += int(same)


# ----------------------------------------------------------------------------- comparisons
def compare_dycoke(root: Path) -> dict[str, Any]:
    torch = _torch()
    from zoo.papers.dycoke import DecodeStepPruner, temporal_token_merging

    ttm = load_defs(root, OFFICIAL["dycoke"][2][0], {"dycole_ttm"})["dycole_ttm"]
    cache_ns = load_defs(root, OFFICIAL["dycoke"][2][1], methods_of=("PrunableDynamicCache", {"update_cache", "dycoke_pruning"}))
    Cache = type("Cache", (), {"update_cache": cache_ns["update_cache"], "dycoke_pruning": cache_ns["dycoke_pruning"]})
    tally = _Tally()
    for dtype in DTYPES:
        for seed in range(18):
            g = _gen(seed)
            t, n = (8, 16, 32, 6, 10, 12)[seed % 6], (196, 49, 16)[seed % 3]
            x = _randn(t, n, 24, g=g).to(_dtype(dtype))
            ref = ttm(x.reshape(t * n, 24), n, 0.7)
            ours = temporal_token_merging(x, 0.3).tokens
            tally.add(dtype, _diff(ref, ours), tuple(ref.shape) == tuple(ours.shape))
    agree = steps = 0
    for seed in range(20):
        g = _gen(100 + seed)
        start, n_img, n_text = 5, 40, 7
        cfg = types.SimpleNamespace(image_token_start_index=start, image_token_length=n_img, dycoke_radio=0.7,
                                    attention_score=None, seq_length_with_past=None)
        cache, ours = Cache(), DecodeStepPruner(keep=int(n_img * 0.3))
        base = torch.rand(n_img, generator=g, dtype=torch.float64)
        for step in range(12):
            length = start + n_img + n_text + step + 1
            cfg.seq_length_with_past = length
            img = base + (0.02 if step % 3 else 1.0) * torch.rand(n_img, generator=g, dtype=torch.float64)
            row = torch.rand(length, generator=g, dtype=torch.float64)
            row[start:start + n_img] = img
            attn = torch.zeros(1, 2, 1, length, dtype=torch.float64)
            attn[0, :, 0] = row
            cache.kv_cache = None
            cache.dycoke_pruning((None, attn), 3, cfg)
            sel = ours.step(img)
            if cache.kv_cache is None:
                ok = sel is None
            else:
                theirs = sorted(i - start for i in cache.kv_cache if start <= i < start + n_img)
                ok = sel is not None and theirs == sel.tolist()
            agree += ok
            steps += 1
    return {"functions": ["llava_arch.py::dycole_ttm", "modeling_qwen2.py::PrunableDynamicCache.dycoke_pruning"],
            "dtypes": tally.rows, "decode_steps": {"compared": steps, "same_visible_tokens": agree},
            "cases": "T in {6, 8, 10, 12, 16, 32} (the official TTM fails for T <= 4), N in {16, 49, 196}, K = 0.7; "
                     "DP: 20 sequences x 12 steps mixing similar and dissimilar attention, P = 0.7"}


def compare_prunevid(root: Path) -> dict[str, Any]:
    torch = _torch()
    from zoo.papers.prunevid import merge_video, select_tokens

    files = OFFICIAL["prunevid"][2]
    ns = load_defs(root, files[0], {"cluster_dpc_knn", "index_points", "refine_clusters", "segment_lengths"},
                   methods_of=("PllavaForConditionalGeneration",
                               {"compute_cluster_vectors", "spatial_merge_tokens", "merge_frames_dynamic"}))
    ns2 = load_defs(root, files[1], methods_of=("VTPWindowCache", {"process_attention"}))
    Off = type("Off", (), {k: ns[k] for k in ("compute_cluster_vectors", "spatial_merge_tokens", "merge_frames_dynamic")})
    Off.process_attention = ns2["process_attention"]
    tally = _Tally()
    for dtype in DTYPES:
        for seed in range(12):
            g = _gen(seed)
            t, h = (16, 8, 12)[seed % 3], (6, 12)[seed % 2]
            x = _randn(1, h * h, 32, g=g) + 0.25 * _randn(t, h * h, 32, g=g)
            x[t // 2:] += 1.5 * _randn(1, h * h, 32, g=g)
            x = x.to(_dtype(dtype))
            off = Off()
            off.alpha = 0.4
            off.config = types.SimpleNamespace(num_frames=t, pooling_shape=(t, h, h), temporal_segment_ratio=0.25,
                                               cluster_ratio=0.5)
            torch.manual_seed(seed)
            ref, ss, ds, ws = off.merge_frames_dynamic(x.reshape(1, t * h * h, 32), threshold=0.8, k=7)
            ours, groups = merge_video(x, tau=0.8, cluster_ratio=0.5, temporal_segment_ratio=0.25)
            same = (ss, ds, ws) == (groups.static, groups.dynamic, groups.window)
            scores = torch.rand(len(ours), generator=g, dtype=torch.float64)
            att = scores.reshape(1, 1, 1, -1).expand(1, 2, 3, -1).clone()
            sel_same = same and torch.equal(off.process_attention(att, ss, ds, ws).sort().values,
                                            select_tokens(scores, groups, 0.4))
            tally.add(dtype, _diff(ref[0], ours.tokens), same and sel_same)
    return {"functions": ["modeling_pllava.py::merge_frames_dynamic (+ cluster_dpc_knn, refine_clusters, segment_lengths)",
                          "elastic_cache.py::VTPWindowCache.process_attention"],
            "dtypes": tally.rows,
            "cases": "T in {8, 12, 16} with a scene cut, 6x6 / 12x12 grids, tau 0.8, cluster ratio 0.5, segment ratio "
                     "0.25, alpha 0.4; the official density noise runs (seeded), tokzoo adds none"}


def compare_fastvid(root: Path) -> dict[str, Any]:
    torch = _torch()
    from zoo.papers.fastvid import fastvid

    block = load_block(root, OFFICIAL["fastvid"][2][0], lambda s: "######## FastVID ########" in s,
                       lambda s: s.strip().startswith("##############################################################"))
    tally = _Tally()
    for dtype in DTYPES:
        for seed in range(12):
            g = _gen(seed)
            t, n, c, start, tail = (32, 16, 8, 12)[seed % 4], (196, 49)[seed % 2], 32, 5, 7
            v = _randn(1, n, c, g=g) + 0.6 * _randn(t, n, c, g=g)
            for cut in (t // 3, 2 * t // 3):
                v[cut:] += _randn(1, n, c, g=g)
            v = v.to(_dtype(dtype))
            sal = torch.rand(t, n, generator=g, dtype=torch.float64).to(_dtype(dtype))
            glob = (v.double().mean(1) + 0.05 * _randn(t, c, g=g)).to(_dtype(dtype))
            length = start + t * n + tail
            hs = _randn(1, length, c, g=g).to(_dtype(dtype))
            hs[0, start:start + t * n] = v.reshape(-1, c)
            r = 0.1 if n == 196 else 0.3
            me = types.SimpleNamespace(video_start_idx=start, video_token_len=t * n, frame_num=t,
                                       frame_attn_weights=sal.reshape(-1), frame_global_features=glob, fastvid_DySeg_c=8,
                                       fastvid_DySeg_tau=0.9, fastvid_retention_ratio=r, fastvid_STPrune_d=0.4,
                                       fastvid_DTM_p=4, fastvid_DTM_beta=0.6)
            env = dict(torch=torch, F=torch.nn.functional, self=me, hidden_states=hs, seq_length=length, causal_mask=None,
                       position_embeddings=(torch.zeros(1, length, 4), torch.zeros(1, length, 4)))
            exec(block, env)  # noqa: S102
            idx = env["keep_indexs"]
            vid = (idx >= start) & (idx < start + t * n)
            ours = fastvid(v, sal, glob, keep_ratio=r)
            same = torch.equal(idx[vid] - start, ours.index)
            tally.add(dtype, _diff(env["hidden_states"][0][vid], ours.tokens) if same else float("inf"), same)
    return {"functions": ["fastvid_llavaonevision/.../modeling_qwen2.py: the '# FastVID' block of Qwen2Model.forward"],
            "dtypes": tally.rows,
            "cases": "T in {8, 12, 16, 32} with two scene cuts, N in {49, 196}, r in {0.1, 0.3}, c 8, tau 0.9, d 0.4, "
                     "p 4, beta 0.6; the official density noise runs, tokzoo adds none"}


def compare_framefusion(root: Path) -> dict[str, Any]:
    torch = _torch()
    from zoo.papers.framefusion import FrameFusionPlan

    ns: dict[str, Any] = {}
    exec(compile(_source(root, OFFICIAL["framefusion"][2][0]), "official:framefusion/main.py", "exec"), ns)  # noqa: S102
    FF = ns["FrameFusion"]
    tally = _Tally()
    for dtype in DTYPES:
        for seed in range(12):
            g = _gen(seed)
            t, p, c, pre, post = (8, 16, 6, 12)[seed % 4], (16, 49)[seed % 2], 32, 5, 9
            v = _randn(1, p, c, g=g) + (0.3, 0.6, 1.0)[seed % 3] * _randn(t, p, c, g=g)
            n = pre + t * p + post
            hs = _randn(1, n, c, g=g)
            hs[0, pre:pre + t * p] = v.reshape(-1, c)
            hs = hs.to(_dtype(dtype))
            pt = torch.full((1, n), -1, dtype=torch.long)
            pt[0, pre:pre + t * p] = torch.arange(p).repeat(t)
            off = FF(cost=0.3, similarity_lower_bound=0.6, ratio_lower_bound=0.1)
            off.prepare(pt.clone(), p, torch.tensor(pre), torch.tensor(pre + t * p), torch.tensor(t * p), n)
            plan = FrameFusionPlan(0.3, 0.6, 0.1, 28)
            h_off, h_our, pt_our = hs.clone(), hs[0].clone(), pt[0].clone()
            worst, same = 0.0, True
            for _ in range(8):
                attn = None
                if off.finish_merging and not off.finish_pruning:
                    attn = torch.rand(1, 2, 1, h_off.shape[1], generator=g, dtype=torch.float64).to(_dtype(dtype))
                pe = [torch.zeros(1, h_off.shape[1], 4), torch.zeros(1, h_off.shape[1], 4)]
                h_off, pe, _ = off(h_off, pe, None, attn)
                if plan.merging:
                    h_our, keep = plan.merge_step(h_our, pt_our, p)
                    h_our, pt_our = h_our[keep], pt_our[keep]
                elif plan.pruning and attn is not None:
                    vis = pt_our != -1
                    kept = plan.prune_step(attn[0].mean(dim=(0, 1))[vis])
                    keep = ~vis
                    keep[torch.nonzero(vis).reshape(-1)[kept]] = True
                    h_our, pt_our = h_our[keep], pt_our[keep]
                if h_off.shape[1] != h_our.shape[0]:
                    same = False
                    break
                worst = max(worst, _diff(h_off[0], h_our))
            tally.add(dtype, worst if same else float("inf"), same)
    return {"functions": ["framefusion/main.py::FrameFusion.forward (merging and pruning branches)"],
            "dtypes": tally.rows,
            "cases": "T in {6, 8, 12, 16}, 16 / 49 patches, text before and after, cost 0.3, S_th 0.6, ratio bound 0.1, "
                     "8 successive calls (multi-step merging, budget-capped merging and the pruning step all occur)"}


def compare_holitom(root: Path) -> dict[str, Any]:
    torch = _torch()
    from zoo.papers.holitom import holitom, inner_merge

    names = {"cluster_dpc_knn", "select_static_windows", "merge_tokens_by_clustering", "merge_tokens_by_attention_density",
             "merge_tokens_by_density", "holitom", "get_static_dynamic_features", "add_newline_token"}
    ns = load_defs(root, OFFICIAL["holitom"][2][0], methods_of=("LlavaMetaForCausalLM_holitom", names))
    H = type("H", (), {k: ns[k] for k in names})

    def official(pooled, attn, retain):
        h = H()
        h.model = types.SimpleNamespace(image_newline=torch.zeros(pooled.shape[-1]))
        bs, n, _ = pooled.shape
        normed = torch.nn.functional.normalize(pooled, p=2, dim=-1)
        fs = torch.nn.functional.cosine_similarity(normed[:-1], normed[1:], dim=-1)
        frames, reduced = h.select_static_windows(fs, bs, 0.8, 1024)
        r = min(retain / ((bs * n - reduced) / (bs * n)), 1)
        sf, df, _, da, sp, dp = h.get_static_dynamic_features(pooled, attn, frames, fs, 0.8)
        return torch.cat([h.holitom(sf[i], df[i], da[i], sp[i], dp[i], e - s + 1, r, 0.0, 0.6, 7, pooled.dtype, "one_token")
                          for i, (s, e) in enumerate(frames)], 0)

    inner = load_block(root, OFFICIAL["holitom"][2][1], lambda s: "# [modified]" in s, lambda s: "# [modified]" in s)
    tally, tally_inner = _Tally(), _Tally()
    for dtype in DTYPES:
        for seed in range(12):
            g = _gen(seed)
            t, n = (16, 8, 12)[seed % 3], (49, 36)[seed % 2]
            x = _randn(1, n, 32, g=g) + 0.15 * _randn(t, n, 32, g=g)
            for cut in sorted(torch.randint(1, t, (seed % 4 + 1,), generator=g).tolist()):
                x[cut:] += _randn(1, n, 32, g=g)
            x[:, : n // 3] += 0.8 * _randn(t, n // 3, 32, g=g)
            x = x.to(_dtype(dtype))
            a = torch.rand(t, n, generator=g, dtype=torch.float64).to(_dtype(dtype))
            retain = (0.1, 0.25)[seed % 2]
            torch.manual_seed(seed)
            ref = official(x, a, retain)
            ours = holitom(x, a, keep_ratio=retain).tokens
            tally.add(dtype, _diff(ref, ours), tuple(ref.shape) == tuple(ours.shape))
        for seed in range(6):
            g = _gen(50 + seed)
            hs = _randn(1, 60, 16, g=g).to(_dtype(dtype))
            imp = torch.rand(40, generator=g, dtype=torch.float64).to(_dtype(dtype))
            top = imp.topk(20).indices + 5
            env = dict(torch=torch, hidden_states=hs.clone(), device="cpu", HOLITOM_image_token_length=40,
                       HOLITOM_image_token_start_index=5, top_attention_rank_index=top)
            exec(inner, env)  # noqa: S102
            ours, keep = inner_merge(hs[0], torch.arange(5, 45), imp, 0.5)
            tally_inner.add(dtype, _diff(env["hidden_states"][0], ours), torch.equal(keep.nonzero().reshape(-1) + 5,
                                                                                     top.sort().values))
    return {"functions": ["holitom/llava_arch.py: select_static_windows, get_static_dynamic_features, holitom, "
                          "merge_tokens_by_* (one_token layout)",
                          "holitom/modeling_qwen2.py: the merge block between the '# [modified]' markers"],
            "dtypes": tally.rows, "inner_merge": tally_inner.rows,
            "cases": "T in {8, 12, 16} with 1-4 scene cuts and a dynamic third of the grid, 6x6 / 7x7 grids, "
                     "retain 0.1 / 0.25, tau 0.8, beta 0.6, D 0, K 7; inner merge: 40 visual tokens, R 0.5"}


def compare_vidcom2(root: Path) -> dict[str, Any]:
    from zoo.papers.vidcom2 import vidcom2

    ns: dict[str, Any] = {}
    exec(compile(_source(root, OFFICIAL["vidcom2"][2][0]), "official:vidcom2.py", "exec"), ns)  # noqa: S102
    tally = _Tally()
    for dtype in DTYPES:
        for seed in range(12):
            g = _gen(seed)
            t, h = (32, 16, 8)[seed % 3], (14, 12)[seed % 2]
            x = (_randn(t, h * h, 64, g=g) + 0.7 * _randn(t, 1, 64, g=g)).to(_dtype(dtype))
            ref = ns["vidcom2_compression"](x.reshape(t * h * h, 64), model="qwen2_vl", base_scale=0.25, frame_token_len=h * h)
            ours = vidcom2(x, 0.25).tokens
            tally.add(dtype, _diff(ref, ours), tuple(ref.shape) == tuple(ours.shape))
    return {"functions": ["token_compressor/vidcom2/vidcom2.py::vidcom2_compression (linear mapper)"],
            "dtypes": tally.rows, "cases": "T in {8, 16, 32}, 12x12 / 14x14 grids, C 64, base scale 0.25"}


def _rearrange(x, pattern: str, **sizes):
    """The few einops patterns SlowFast-LLaVA uses (einops is not a tokzoo dependency)."""
    if pattern in ("t n d -> t d n", "t d n -> t n d"):
        return x.transpose(1, 2).contiguous()
    if pattern == "t (n0 n1) d -> d t n0 n1":
        t, n, d = x.shape
        return x.reshape(t, sizes["n0"], sizes["n1"], d).permute(3, 0, 1, 2)
    if pattern == "d t n0 n1 -> (t n0 n1) d":
        return x.permute(1, 2, 3, 0).reshape(-1, x.shape[0])
    raise NotImplementedError(pattern)


def compare_slowfast(root: Path) -> dict[str, Any]:
    import re

    from zoo.papers.slowfast_llava import slowfast

    ns = load_defs(root, OFFICIAL["slowfast-llava"][2][0], methods_of=("LlavaMetaForCausalLM",
                                                                       {"temporal_aggregation", "prepare_slowfast"}),
                   extra={"rearrange": _rearrange, "re": re})
    SF = type("SF", (), {"temporal_aggregation": ns["temporal_aggregation"], "prepare_slowfast": ns["prepare_slowfast"]})
    tally = _Tally()
    for dtype in DTYPES:
        for seed in range(12):
            g = _gen(seed)
            t, h = (32, 16, 8)[seed % 3], (14, 12)[seed % 2]
            x = (_randn(t, h * h, 64, g=g) + 0.7 * _randn(t, 1, 64, g=g)).to(_dtype(dtype))
            for pool in ("spatial_1d_max_pool", "spatial_1d_avg_pool", "spatial_2d_max_pool", "spatial_2d_avg_pool"):
                s = min(10, t // 2)
                ref = SF().prepare_slowfast(x, f"slowfast-slow_{s}frms_{pool}-fast_4x4")[0]
                ours = slowfast(x.reshape(t, h, h, 64), n_slow=s, slow_pool=pool, fast_size=(4, 4)).tokens
                tally.add(dtype, _diff(ref, ours), tuple(ref.shape) == tuple(ours.shape))
    return {"functions": ["slowfast_llava/llava/model/llava_arch.py::prepare_slowfast, temporal_aggregation"],
            "dtypes": tally.rows,
            "cases": "T in {8, 16, 32}, 12x12 / 14x14 grids, four slow-pathway poolings, fast 4x4; einops replaced by "
                     "permute/reshape for its four patterns"}


COMPARE: dict[str, Callable[[Path], dict[str, Any]]] = {
    "dycoke": compare_dycoke, "prunevid": compare_prunevid, "fastvid": compare_fastvid,
    "framefusion": compare_framefusion, "holitom": compare_holitom, "vidcom2": compare_vidcom2,
    "slowfast-llava": compare_slowfast,
    "fastadasp": lambda root: __import__("zoo.repro.harness.speech_conformance",
                                         fromlist=["compare_fastadasp"]).compare_fastadasp(root),
}


def _head(path: Path) -> str:
    out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def run(method: str, root: Path) -> dict[str, Any]:
    """Compare one method against the checkout at ``root``; a JSON-ready report."""
    import torch
    import transformers  # noqa: F401  (versions recorded)

    repo, commit, files = OFFICIAL[method]
    head = _head(root)
    report = COMPARE[method](root)
    return {"method": method, "kind": "conformance",
            "official": {"repository": repo, "commit": commit, "head": head,
                         "commit_verified": bool(head) and head.startswith(commit), "files": list(files)},
            **report,
            "date": _dt.date.today().isoformat(), "versions": {"python": platform.python_version(),
                                                               "torch": torch.__version__},
            "hardware": platform.processor() or platform.machine()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official", action="append", default=[], metavar="OWNER/REPO=PATH", help="an official checkout")
    ap.add_argument("--method", action="append", default=[], help="restrict to these methods")
    ap.add_argument("--record", action="store_true", help="write repro/conformance/<method>.json")
    args = ap.parse_args(argv)
    given = dict(item.split("=", 1) for item in args.official)
    status = 0
    for method, (repo, _, _) in OFFICIAL.items():
        if args.method and method not in args.method:
            continue
        if repo not in given:
            print(f"{method}: skipped (needs --official {repo}=PATH)")
            continue
        rep = run(method, Path(given[repo]))
        print(json.dumps({k: rep[k] for k in ("method", "dtypes")}, indent=None))
        if any(row["identical_indices"] != row["cases"] for row in rep["dtypes"].values()):
            status = 1
        if args.record:
            out = Path(__file__).resolve().parents[3] / "repro" / "conformance" / f"{method}.json"
            out.parent.mkdir(exist_ok=True)
            out.write_text(json.dumps(rep, indent=2) + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
