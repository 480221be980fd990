"""SiTo's and DaTo's pruning without the N x N similarity graph equals the graph rule (float64, no ties)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from zoo.core.grid import (redundancy_prune_plan, redundancy_prune_plan_from_tokens, window_argmax,  # noqa: E402
                           window_destinations)


def _tokens(b=2, h=12, w=16, c=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(b, h * w, c, generator=g, dtype=torch.float64), dim=-1)


@pytest.mark.parametrize("n_prune", [1, 40, 96, 144])
@pytest.mark.parametrize("per_row", [False, True])
def test_token_plan_equals_the_graph_plan(n_prune, per_row):
    h, w, sx, sy = 12, 16, 2, 2
    xn = _tokens(h=h, w=w)
    g = torch.Generator().manual_seed(1)
    shape = (2, h // sy, w // sx) if per_row else (h // sy, w // sx)
    base, rest = window_destinations(h, w, sx, sy, torch.randint(sx * sy, shape, generator=g), xn.device)
    if not per_row:
        base, rest = base.expand(2, -1), rest.expand(2, -1)
    ref = redundancy_prune_plan(xn @ xn.transpose(-1, -2), base, rest, n_prune)
    got = redundancy_prune_plan_from_tokens(xn, base, rest, n_prune)
    assert torch.equal(got.keep, ref.keep) and torch.equal(got.restore_idx, ref.restore_idx)
    y = torch.randn(2, got.n_out, 5, dtype=torch.float64)
    assert torch.equal(got.restore(y), ref.restore(y))


def test_token_plan_broadcasts_one_base_choice_over_the_batch():
    h, w = 8, 8
    xn = _tokens(b=3, h=h, w=w)
    base, rest = window_destinations(h, w, 2, 2, None, xn.device)          # [1, K], [1, N - K]
    ref = redundancy_prune_plan(xn @ xn.transpose(-1, -2), base.expand(3, -1), rest.expand(3, -1), 20)
    got = redundancy_prune_plan_from_tokens(xn, base, rest, 20)
    assert torch.equal(got.keep, ref.keep) and torch.equal(got.restore_idx, ref.restore_idx)


def _ctx(h, w):
    return SimpleNamespace(grid=(h, w), n_tokens=h * w, downsample=1, step=1, output_difference=None)


def test_sito_factored_scores_equal_the_full_graph_rule():
    """SiTo outside float16: SimScore by x_i . sum_j x_j and the two graph blocks; a naive reference builds
    the whole graph, sums its rows and prunes from it (same seed: the same noise)."""
    from zoo.papers.sito import SiTo, _SiToReducer

    h, w = 12, 16
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, h * w, 24, generator=g, dtype=torch.float64) + 0.5   # a shared offset: varied SimScores
    method = SiTo(prune_ratio=0.5, score_dtype="input", seed=7, noise_alpha=0.1)
    got = _SiToReducer(method)._plan(_ctx(h, w), x, 96)

    xn = F.normalize(x, dim=-1)
    sim = xn @ xn.transpose(-1, -2)
    noise = torch.randn(2, h * w, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    choice = window_argmax(sim.sum(-1) + 0.1 * noise, h, w, 2, 2)
    base, rest = window_destinations(h, w, 2, 2, choice, x.device)
    ref = redundancy_prune_plan(sim, base, rest, 96)
    assert torch.equal(got.keep, ref.keep) and torch.equal(got.restore_idx, ref.restore_idx)


def test_sito_float16_keeps_the_official_full_graph():
    """score_dtype='float16' (the official rounding) builds the [B, N, N] graph: its plan is the graph rule's
    on the float16 graph exactly."""
    from zoo.papers.sito import SiTo, _SiToReducer

    h, w = 8, 8
    x = torch.randn(2, h * w, 16, generator=torch.Generator().manual_seed(4))
    got = _SiToReducer(SiTo(prune_ratio=0.5, score_dtype="float16", seed=2))._plan(_ctx(h, w), x, 32)
    xn = F.normalize(x.half(), dim=-1)
    sim = xn @ xn.transpose(-1, -2)
    noise = torch.randn(2, h * w, dtype=torch.float16, generator=torch.Generator().manual_seed(2))
    choice = window_argmax(1.0 * sim.sum(-1) + 0.1 * noise, h, w, 2, 2)
    base, rest = window_destinations(h, w, 2, 2, choice, x.device)
    ref = redundancy_prune_plan(sim, base, rest, 32)
    assert torch.equal(got.keep, ref.keep) and torch.equal(got.restore_idx, ref.restore_idx)
