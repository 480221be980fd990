"""The methods' scoring and graph rules against naive loop implementations."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from zoo.papers.gtp_vit import mixed_attn_max, normalise, semantic_graph, spatial_graph  # noqa: E402
from zoo.papers.ppt import significance  # noqa: E402
from zoo.papers.zero_tprune import importance, weighted_page_rank  # noqa: E402


def attn_probs(b, h, n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, h, n, n, generator=g, dtype=torch.float64).mul(3).softmax(-1)


def test_weighted_page_rank_and_importance():
    a = attn_probs(2, 3, 7, 0)
    iters = 4
    wpr = weighted_page_rank(a, iters)
    imp = importance(a, iters, n_prefix=1)
    for b in range(2):
        per_head = []
        for h in range(3):
            s = [1 / 7] * 7
            for _ in range(iters):
                s = [sum(float(a[b, h, i, j]) * s[i] for i in range(7)) for j in range(7)]
            per_head.append(s)
            torch.testing.assert_close(wpr[b, h], torch.tensor(s, dtype=torch.float64))
        for j in range(1, 7):
            ref = math.sqrt(sum(per_head[h][j] ** 2 for h in range(3)))
            assert float(imp[b, j - 1]) == pytest.approx(ref, rel=1e-5)
    torch.testing.assert_close(wpr.sum(-1), torch.ones(2, 3, dtype=torch.float64))


def test_gtp_mixed_attn_max():
    a = attn_probs(2, 3, 6, 1)
    rank = mixed_attn_max(a, n_prefix=2)
    for b in range(2):
        for j in range(2, 6):
            diag = max(float(a[b, h, j, j]) for h in range(3))
            received = max(sum(float(a[b, h, i, j]) for i in range(6)) for h in range(3))
            assert float(rank[b, j - 2]) == pytest.approx(diag * received)


def test_gtp_graphs():
    adj = spatial_graph(3, 4, torch.device("cpu"))
    for p in range(12):
        for q in range(12):
            near = p != q and abs(p // 4 - q // 4) <= 1 and abs(p % 4 - q % 4) <= 1
            assert bool(adj[p, q]) == near
    norm = normalise(adj)
    deg = adj.sum(-1)
    for p in range(12):
        for q in range(12):
            assert float(norm[p, q]) == pytest.approx(float(adj[p, q]) / math.sqrt(deg[p] * deg[q]))
    x = torch.randn(1, 9, 5, generator=torch.Generator().manual_seed(2))
    sem = semantic_graph(x, 3)
    for p in range(9):
        sims = sorted(((float(torch.cosine_similarity(x[0, p], x[0, q], dim=0)), q) for q in range(9) if q != p),
                      reverse=True)
        assert {q for q in range(9) if sem[0, p, q]} == {q for _, q in sims[:3]}


def test_ats_ppt_significance():
    a = attn_probs(2, 3, 6, 3)
    v = torch.randn(2, 3, 6, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    sig = significance(a[:, :, 0], v, n_prefix=1)  # the CLS row of the attention
    for b in range(2):
        raw = []
        for j in range(1, 6):
            cls = sum(float(a[b, h, 0, j]) for h in range(3))
            vnorm = math.sqrt(sum(float(v[b, h, j, d]) ** 2 for h in range(3) for d in range(4)))
            raw.append(cls * vnorm)
        total = sum(raw)
        for j in range(5):
            assert float(sig[b, j]) == pytest.approx(raw[j] / total, rel=1e-5)
