"""Local conformance harness for speech-LLM methods: tokzoo's FastAdaSP core against the authors' code.

FastAdaSP's official code (yichen14/FastAdaSP, ``Qwen-Audio/modeling_qwen.py``) is a modified
copy of Qwen-Audio's remote-code model: the merge lives in ``QWenBlock.merge_hidden_states``
and inline in ``QWenBlock.forward`` (the ``if perform_tome:`` block: neighbour key cosine,
attention weights, splice). The full model cannot run from the repository (its
``configuration_qwen``, ``qwen_generation_utils`` and audio-encoder modules are not in it), so
the comparison is function-level: both the method and the inline block are read from the
user's checkout at run time (never copied into tokzoo) and run on seeded random tensors laid
out as the official block gets them (``key_state [1, N, H, D]`` after RoPE, the layer's
attention ``[1, H, N, N]``, post-attention states ``h [1, N, C]``, ``audio_pos = [[0, a, b]]``);
tokzoo's :func:`zoo.papers.fastadasp.merge_clip` / :func:`~zoo.papers.fastadasp.received_attention`
get the same tensors. Reported per dtype: the largest absolute difference of the spliced
sequence and whether the selected neighbour links are the same.

Run through :mod:`zoo.repro.harness.video_conformance` (one entry point and one record format
for the function-level conformance records)::

    python -m zoo.repro.harness.video_conformance --method fastadasp \\
        --official yichen14/FastAdaSP=/tmp/official/FastAdaSP --record
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

PATH = "Qwen-Audio/modeling_qwen.py"


def _cases(dtype: str):
    """The seeded random inputs of one dtype (see the module docstring)."""
    import torch

    from zoo.repro.harness.video_conformance import _dtype, _gen, _randn

    dt = _dtype(dtype)
    for seed in range(16):
        g = _gen(seed)
        heads, d, c = 4, 8, 32
        pre, t, post = (3, 5)[seed % 2], (40, 75, 24, 120)[seed % 4], (6, 9)[seed % 2]
        n = pre + t + post
        smooth = torch.cumsum(_randn(1, n, heads, d, g=g), dim=1) * 0.3  # neighbouring keys correlate, as speech
        key_state = (smooth + _randn(1, n, heads, d, g=g)).to(dt)
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        attn = torch.softmax((_randn(1, heads, n, n, g=g) * 2).masked_fill(~causal, float("-inf")), dim=-1).to(dt)
        yield {"pre": pre, "t": t, "key_state": key_state, "attn": attn, "h": _randn(1, n, c, g=g).to(dt),
               "ratio": (0.1, 0.3, 0.5, 0.8)[(seed // 2) % 4],
               "method": "merge_weighted" if seed % 8 < 6 else "merge_ave"}


def _official(root: Path):
    from zoo.repro.harness.video_conformance import load_block, load_defs

    ns = load_defs(root, PATH, methods_of=("QWenBlock", {"merge_hidden_states"}))
    block = load_block(root, PATH, lambda s: s.strip() == "if perform_tome:",
                       lambda s: s.strip().startswith("# -----"))
    return block, type("Block", (), {"merge_hidden_states": ns["merge_hidden_states"]})


def _one(block, owner, case: dict) -> tuple[float, bool]:
    """(max |official - tokzoo| of the spliced sequence, same links and group count) for one case."""
    import torch
    import torch.nn.functional as F

    from zoo.core.adjacent import neighbour_similarity, top_links
    from zoo.papers.fastadasp import merge_clip, neighbour_metric, received_attention
    from zoo.repro.harness.video_conformance import _diff

    pre, t, h, key_state, attn, ratio = (case[k] for k in ("pre", "t", "h", "key_state", "attn", "ratio"))
    env = {"audio_pos": torch.tensor([[0, pre, pre + t]]), "outputs": (None, attn), "key_state": key_state, "h": h,
           "method": case["method"], "ratio": ratio, "self": owner(), "time": time, "torch": torch, "F": F}
    with contextlib.redirect_stdout(io.StringIO()):  # the official block prints progress
        exec(block, env)  # noqa: S102 (the user's checkout)
    m = int(t * ratio)
    weights = received_attention(attn[0])[pre:pre + t] if case["method"] == "merge_weighted" else None
    metric = neighbour_metric(key_state[0].permute(1, 0, 2)[:, pre:pre + t])
    merged, first = merge_clip(h[0, pre:pre + t], metric, weights, m)
    ours = torch.cat([h[0, :pre], merged, h[0, pre + t:]])
    links_theirs = torch.topk(env["cos_similarities"][0], m, dim=-1).indices.sort().values
    links_ours = torch.nonzero(top_links(neighbour_similarity(metric), m)).squeeze(1)
    return _diff(env["h"][0], ours), torch.equal(links_theirs, links_ours) and first.numel() == t - m


def compare_fastadasp(root: Path) -> dict[str, Any]:
    """Every dtype of :data:`zoo.repro.harness.video_conformance.DTYPES`: the record's ``dtypes`` rows."""
    from zoo.repro.harness.video_conformance import DTYPES, _Tally

    block, owner = _official(root)
    tally = _Tally()
    for dtype in DTYPES:
        for case in _cases(dtype):
            tally.add(dtype, *_one(block, owner, case))
    return {"functions": [f"{PATH}::QWenBlock.merge_hidden_states",
                          f"{PATH}::QWenBlock.forward (the inline 'if perform_tome:' block: neighbour key cosine, "
                          "attention weights, splice)"],
            "dtypes": tally.rows, "cases": CASES}


CASES = ("audio spans of 24/40/75/120 tokens between text, 4 heads x 8 dims keys (random walk + noise), causal "
         "softmax attention, merge ratio 0.1/0.3/0.5/0.8; methods merge_weighted (FastAdaSP) and merge_ave; the full "
         "official model cannot run (its remote-code modules are not in the repository)")


def fastadasp(ctx: Any, reference: Any, params: dict[str, Any], dtype: str):
    """Conformance claim compare function (:func:`zoo.repro.conformance.conformance_claim`): one dtype."""
    from zoo.repro.conformance import measurement

    block, owner = _official(reference.path)
    rows = [_one(block, owner, case) for case in _cases(dtype)]
    return measurement(reference, dtype, differences={"spliced sequence (16 cases)": max(d for d, _ in rows)},
                       kept_equal={"same neighbour links in every case": all(ok for _, ok in rows)},
                       details={"cases": CASES}, label=f"cpu, random tensors, {dtype}")


__all__ = ["compare_fastadasp", "fastadasp", "PATH"]
