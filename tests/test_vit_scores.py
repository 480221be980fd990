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


def test_pitome_energy_and_plans_match_loops():
    from zoo.papers.pitome import energy, plan_merges

    g = torch.Generator().manual_seed(5)
    metric = torch.randn(2, 9, 4, generator=g, dtype=torch.float64)
    for recipe, margin in (("vision", 0.5), ("text", 0.8)):
        e, sim = energy(metric, margin, recipe)
        for b in range(2):
            for i in range(9):
                vals = []
                for j in range(9):
                    u, v = metric[b, i], metric[b, j]
                    s = float(u @ v / (u.norm() * v.norm()))
                    if recipe == "vision":
                        vals.append(s - margin if s >= margin else math.exp(s - margin) - 1)
                    else:
                        sigma = 1 - margin
                        vals.append(math.exp(-((1 - s) / sigma) ** 2 / 2) / (sigma * math.sqrt(2 * math.pi)))
                assert float(e[b, i]) == pytest.approx(sum(vals) / 9, rel=1e-9, abs=1e-12)
        r = 3
        for bipartite in ((False, True) if recipe == "vision" else (False,)):
            plan = plan_merges(metric, r, margin, recipe, bipartite)
            for b in range(2):
                order = sorted(range(9), key=lambda i: (-float(e[b, i]), i))
                if bipartite:
                    a, bb = order[::2], order[1::2]
                    best = {i: max(bb, key=lambda j: (float(sim[b, i, j]), -bb.index(j))) for i in a}
                    edges = sorted(a, key=lambda i: (-float(sim[b, i, best[i]]), a.index(i)))
                    src, keep = edges[:r], edges[r:]
                else:
                    top, keep = order[:2 * r], order[2 * r:]
                    a, bb = (top[:r], top[r:]) if recipe == "text" else (top[::2], top[1::2])
                    best = {i: max(bb, key=lambda j: (float(sim[b, i, j]), -bb.index(j))) for i in a}
                    src = a
                assert plan.keep[b].tolist() == keep and plan.dst[b].tolist() == bb
                assert sorted(plan.src[b].tolist()) == sorted(src)
                for s_i, d in zip(plan.src[b].tolist(), plan.dst_of_src[b].tolist()):
                    assert bb[d] == best[s_i]


def test_power_bert_significance_matches_loops():
    from zoo.papers.power_bert import significance

    a = attn_probs(2, 3, 6, 7)
    sig = significance(a, n_prefix=1)
    for b in range(2):
        for j in range(1, 6):
            ref = sum(sum(float(a[b, h, i, j]) for h in range(3)) / 3 for i in range(6) if i != j)
            assert float(sig[b, j - 1]) == pytest.approx(ref, rel=1e-6)


def test_power_bert_significance_accumulates_in_float32():
    """bfloat16 attention: the sums run in float32 (as if the probabilities were upcast first);
    float64 attention stays float64."""
    from zoo.papers.power_bert import significance

    a = attn_probs(2, 4, 50, 8)
    assert significance(a, 1).dtype == torch.float64
    half = a.bfloat16()
    got = significance(half, 1)
    up = half.float().mean(dim=1)
    ref = (up.sum(dim=1) - up.diagonal(dim1=-2, dim2=-1))[:, 1:]
    assert got.dtype == torch.float32 and torch.allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_a_tome_adjacent_merge_matches_loops():
    from zoo.core.tokens import TokenState
    from zoo.papers.a_tome import adjacent_similarity, merge_adjacent

    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 9, 3, generator=g, dtype=torch.float64)
    size = torch.randint(1, 3, (2, 9, 1), generator=g).double()
    # n_prefix=1: 8 reducible tokens, 7 links (link u joins reducible tokens u and u + 1)
    links = torch.tensor([[0, 1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0, 1]], dtype=torch.bool)
    new, rep = merge_adjacent(TokenState(x=x, size=size, n_prefix=1), links)
    for b in range(2):
        groups, cur = [], [1]
        for u in range(7):
            if links[b, u]:
                cur.append(u + 2)
            else:
                groups.append(cur)
                cur = [u + 2]
        groups.append(cur)
        assert rep[b, :1 + len(groups)].tolist() == [0] + [grp[0] for grp in groups]
        for k, grp in enumerate(groups):
            w = sum(float(size[b, i, 0]) for i in grp)
            ref = sum(x[b, i] * size[b, i, 0] for i in grp) / w
            torch.testing.assert_close(new.x[b, 1 + k], ref)
            assert float(new.size[b, 1 + k, 0]) == w
        assert bool((new.size[b, 1 + len(groups):] == 0).all())  # the row merging less ends in size-0 slots
    m = torch.randn(1, 5, 4, generator=g, dtype=torch.float64)
    sim = adjacent_similarity(m)
    for t in range(4):
        assert float(sim[0, t]) == pytest.approx(float(torch.cosine_similarity(m[0, t], m[0, t + 1], dim=0)))


def test_ppt_pruning_keeps_the_official_descending_significance_order():
    """Issue 13: after pruning, PPT's tokens are in descending significance (the official
    ``torch.sort(scores, descending=True)``), which decides what a later pooling block pairs."""
    from zoo.core.reduce import BlockView
    from zoo.core.tokens import TokenState
    from zoo.papers.ppt import PPT, _PPTReducer

    g = torch.Generator().manual_seed(12)
    b, n, h, d = 2, 11, 2, 4
    x = torch.randn(b, n, 6, generator=g, dtype=torch.float64)
    attn = attn_probs(b, h, n, 13)
    values = torch.randn(b, h, n, d, generator=g, dtype=torch.float64)
    keys = torch.randn(b, n, d, generator=g, dtype=torch.float64)
    reducer = _PPTReducer(PPT(layers=(0,), r=3, threshold=0.0))  # threshold 0: every image prunes
    state = TokenState(x=x, n_prefix=1)
    reducer.begin(state, 1, None, {})
    new, rep = reducer.reduce(BlockView(index=0, depth=1, state=state, keys=keys, cls_attn=attn[:, :, 0],
                                        values=values))
    sig = significance(attn[:, :, 0], values, n_prefix=1)
    for i in range(b):
        order = sorted(range(n - 1), key=lambda j: -float(sig[i, j]))[:n - 1 - 3]
        assert rep[i].tolist() == [0] + [j + 1 for j in order]
        torch.testing.assert_close(new.x[i], x[i, rep[i]])
