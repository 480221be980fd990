"""zoo.core token ops checked against naive reference implementations written with Python loops."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from zoo.core.attention import size_bias  # noqa: E402
from zoo.core.merge import bipartite_soft_matching, merge_drop, merge_mlerp, merge_weighted  # noqa: E402
from zoo.core.schedule import inflected_schedule, padded_schedule, spread  # noqa: E402
from zoo.core.select import add_tokens_, gather_tokens, keep_count, split_topk, topk_keep_indices  # noqa: E402
from zoo.core.tokens import TokenState, keep, keep_and_fuse, pack_rows  # noqa: E402


# ---------------------------------------------------------------- naive references (loops)
def naive_match(metric, r, n_prefix):
    """Per image: list of (src_position, dst_position) merges and the output order of positions."""
    b, n, _ = metric.shape
    r = max(0, min(r, (n - n_prefix) // 2))
    plans = []
    for i in range(b):
        a_pos = list(range(0, n, 2))
        b_pos = list(range(1, n, 2))
        edges = []  # (similarity, a_rank, a_position, best_b_position)
        for ai, p in enumerate(a_pos):
            best, best_q = -math.inf, None
            for q in b_pos:
                if p < n_prefix or q < n_prefix:
                    continue
                u, v = metric[i, p], metric[i, q]
                sim = float(u @ v / (u.norm() * v.norm()))
                if sim > best:
                    best, best_q = sim, q
            edges.append((best, ai, p, best_q))
        edges.sort(key=lambda e: (-e[0], e[1]))
        merged = edges[:r]
        merged_a = {e[2] for e in merged}
        # ToMe's rule: unmerged A tokens sorted by position only when a prefix is protected,
        # else in descending order of their best match (official ``unm_idx.sort`` only if class_token)
        unm = sorted(p for p in a_pos if p not in merged_a) if n_prefix else [e[2] for e in edges[r:]]
        prefix = list(range(n_prefix))
        order = prefix + [p for p in unm if p >= n_prefix] + [q for q in b_pos if q >= n_prefix]
        plans.append(([(e[2], e[3]) for e in merged], order))
    return plans


def naive_weighted_merge(x, size, plans):
    b, n, c = x.shape
    outs, sizes = [], []
    for i, (merges, order) in enumerate(plans):
        groups = {p: [p] for p in order}
        for src, dst in merges:
            groups[dst].append(src)
        rows, srow = [], []
        for p in order:
            s = sum(float(size[i, q, 0]) for q in groups[p])
            rows.append(sum(x[i, q] * size[i, q, 0] for q in groups[p]) / s)
            srow.append(s)
        outs.append(torch.stack(rows))
        sizes.append(torch.tensor(srow, dtype=x.dtype).unsqueeze(-1))
    return torch.stack(outs), torch.stack(sizes)


@pytest.mark.parametrize("n,n_prefix,r", [(17, 1, 5), (16, 0, 8), (18, 2, 3), (21, 5, 6), (11, 1, 50), (9, 1, 0)])
def test_bipartite_weighted_merge_matches_loops(n, n_prefix, r):
    g = torch.Generator().manual_seed(n * 100 + r)
    x = torch.randn(3, n, 6, generator=g, dtype=torch.float64)
    metric = torch.randn(3, n, 4, generator=g, dtype=torch.float64)
    size = torch.randint(1, 4, (3, n, 1), generator=g).double()
    match = bipartite_soft_matching(metric, r, n_prefix)
    out = merge_weighted(match, TokenState(x=x, size=size, n_prefix=n_prefix))
    plans = naive_match(metric, r, n_prefix)
    ref_x, ref_size = naive_weighted_merge(x, size, plans)
    assert out.x.shape == ref_x.shape == (3, n - min(r, (n - n_prefix) // 2), 6)
    torch.testing.assert_close(out.x, ref_x)
    torch.testing.assert_close(out.size, ref_size)
    # representatives: each output token's own (unmerged) or destination position
    for i, (_, order) in enumerate(plans):
        assert match.representatives()[i].tolist() == order
    # the protected prefix is untouched and first
    torch.testing.assert_close(out.x[:, :n_prefix], x[:, :n_prefix])


def test_drop_and_mlerp_match_loops():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 15, 5, generator=g, dtype=torch.float64)
    metric = torch.randn(2, 15, 3, generator=g, dtype=torch.float64)
    match = bipartite_soft_matching(metric, 4, 1)
    plans = naive_match(metric, 4, 1)
    dropped = merge_drop(match, TokenState(x=x, n_prefix=1))
    mlerp = merge_mlerp(match, TokenState(x=x, n_prefix=1))
    for i, (merges, order) in enumerate(plans):
        torch.testing.assert_close(dropped.x[i], torch.stack([x[i, p] for p in order]))
        groups = {p: [p] for p in order}
        for src, dst in merges:
            groups[dst].append(src)
        for j, p in enumerate(order):
            members = [x[i, q] for q in groups[p]]
            mean = sum(members) / len(members)
            target = max(float(m.norm()) for m in members)
            torch.testing.assert_close(mlerp.x[i, j], mean / mean.norm() * target)
            assert mlerp.size[i, j, 0] == len(members)


def test_sources_follow_merges():
    metric = torch.randn(2, 13, 4)
    n0 = 13
    src = torch.eye(n0).expand(2, n0, n0).clone()
    state = TokenState(x=torch.randn(2, 13, 3), source=src, n_prefix=1)
    match = bipartite_soft_matching(metric, 5, 1)
    out = merge_weighted(match, state)
    # every input token is represented exactly once; sizes equal the represented counts
    assert torch.equal(out.source.sum(1), torch.ones(2, n0))
    torch.testing.assert_close(out.size.squeeze(-1), out.source.sum(-1))


def test_topk_keep_and_split_match_loops():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(4, 12, generator=g)
    scores[0, 3] = scores[0, 7]  # a tie: the lower index wins
    for k in (0, 1, 5, 12):
        idx = topk_keep_indices(scores, k)
        kept, dropped = split_topk(scores, k)
        for i in range(4):
            order = sorted(range(12), key=lambda j: (-float(scores[i, j]), j))
            assert idx[i].tolist() == sorted(order[:k]) == kept[i].tolist()
            assert dropped[i].tolist() == sorted(order[k:])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_gather_tokens_matches_loops(dtype):
    """Every layout gather_tokens handles (whole-row copies, narrow rows, strided views) picks the same values."""
    g = torch.Generator().manual_seed(2)
    wide = torch.randn(3, 11, 16, generator=g).to(dtype)
    cases = {
        "contiguous": wide,
        "narrow": wide[..., :1].contiguous(),
        "strided": wide[:, ::2],
        "channels_view": wide[..., ::2],
        "empty": wide[:, :0][:, :, :0],
    }
    for name, x in cases.items():
        n = x.shape[1]
        for k in (0, 1, max(n - 1, 0), 2 * n):
            idx = torch.randint(0, max(n, 1), (3, k), generator=g) if n else torch.zeros(3, 0, dtype=torch.long)
            out = gather_tokens(x, idx)
            assert out.shape == (3, idx.shape[1], x.shape[2]), name
            for b in range(3):
                for j, i in enumerate(idx[b].tolist()):
                    assert torch.equal(out[b, j], x[b, i]), (name, b, j)
    grad_in = torch.randn(2, 5, 8, generator=g, requires_grad=True)
    gather_tokens(grad_in, torch.tensor([[1, 1, 4], [0, 2, 2]])).sum().backward()
    assert grad_in.grad[:, :, 0].tolist() == [[0, 2, 0, 0, 1], [1, 0, 2, 0, 0]]


def test_add_tokens_matches_loops():
    """Repeated destinations accumulate, for contiguous (row adds) and strided (scatter) outputs."""
    g = torch.Generator().manual_seed(4)
    for width in (16, 1):
        base = torch.randn(2, 9, width, generator=g, dtype=torch.float64)
        src = torch.randn(2, 5, width, generator=g, dtype=torch.float64)
        idx = torch.tensor([[0, 3, 3, 8, 3], [7, 7, 1, 2, 0]])
        ref = base.clone()
        for b in range(2):
            for j, i in enumerate(idx[b].tolist()):
                ref[b, i] += src[b, j]
        for out in (base.clone(), base.clone().transpose(0, 1).contiguous().transpose(0, 1)):
            got = add_tokens_(out, idx, src)
            assert got is out and torch.allclose(got, ref, rtol=0, atol=1e-12)


def test_keep_and_fuse_match_loops():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 9, 4, generator=g, dtype=torch.float64)
    size = torch.randint(1, 3, (2, 9, 1), generator=g).double()
    state = TokenState(x=x, size=size, n_prefix=2)
    w = torch.rand(2, 7, generator=g, dtype=torch.float64)
    kept, dropped = split_topk(w, 4)
    out, rep = keep_and_fuse(state, kept, dropped, w.gather(1, dropped))
    for i in range(2):
        ref = [x[i, 0], x[i, 1]] + [x[i, 2 + j] for j in kept[i].tolist()]
        ref.append(sum(w[i, j] * x[i, 2 + j] for j in dropped[i].tolist()))
        torch.testing.assert_close(out.x[i], torch.stack(ref))
        assert float(out.size[i, -1, 0]) == sum(float(size[i, 2 + j, 0]) for j in dropped[i].tolist())
        heaviest = max(dropped[i].tolist(), key=lambda j: float(w[i, j]))
        assert rep[i].tolist() == [0, 1] + [2 + j for j in kept[i].tolist()] + [2 + heaviest]
    plain, rep2 = keep(state, kept)
    assert plain.n == 6 and rep2[:, :2].tolist() == [[0, 1], [0, 1]]


def test_pack_rows_pads_shorter_rows_with_size_zero_slots():
    g = torch.Generator().manual_seed(4)
    a = TokenState(x=torch.randn(1, 5, 3, generator=g), n_prefix=1)
    b = TokenState(x=torch.randn(1, 3, 3, generator=g), size=torch.tensor([[[1.0], [2.0], [4.0]]]), n_prefix=1)
    packed, rep = pack_rows([(a, torch.arange(5)[None]), (b, torch.tensor([[0, 2, 6]]))], fill=7)
    assert packed.x.shape == (2, 5, 3) and packed.n_prefix == 1
    assert torch.equal(packed.x[0], a.x[0]) and torch.equal(packed.x[1, :3], b.x[0])
    assert bool((packed.x[1, 3:] == 0).all())
    assert packed.size[..., 0].tolist() == [[1, 1, 1, 1, 1], [1, 2, 4, 0, 0]]
    assert rep.tolist() == [[0, 1, 2, 3, 4], [0, 2, 6, 7, 7]]
    same, _ = pack_rows([(a, torch.arange(5)[None]), (a, torch.arange(5)[None])], fill=4)
    assert same.size is None  # equal widths and no sizes: nothing to mark


def test_proportional_attention_equals_duplicated_keys():
    """A key of size s gets the weight of s identical keys (ToMe's proportional attention)."""
    g = torch.Generator().manual_seed(2)
    q = torch.randn(1, 2, 5, 8, generator=g, dtype=torch.float64)
    k = torch.randn(1, 2, 3, 8, generator=g, dtype=torch.float64)
    v = torch.randn(1, 2, 3, 8, generator=g, dtype=torch.float64)
    sizes = [1, 3, 2]
    size = torch.tensor(sizes, dtype=torch.float64).view(1, 3, 1)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=size_bias(size, q.dtype))
    rep = torch.tensor([j for j, s in enumerate(sizes) for _ in range(s)])
    ref = torch.nn.functional.scaled_dot_product_attention(q, k[:, :, rep], v[:, :, rep])
    torch.testing.assert_close(out, ref)


def test_keep_count_rounding():
    assert keep_count(100, keep_ratio=0.07) == 7
    assert keep_count(196, keep_ratio=0.7) == 138  # EViT: ceil(0.7 * 196)
    assert keep_count(10, keep_ratio=0.01) == 1
    assert keep_count(10, keep_tokens=20) == 10
    assert keep_count(10) == 10


def test_schedules():
    def tome_parse_r(depth, r, inflect):  # the paper code's formula, spelled out
        lo = int(r * (1.0 - inflect))
        hi = 2 * r - lo
        return [int(lo + (hi - lo) / (depth - 1) * i) for i in range(depth)]

    for r, infl in [(16, 0.0), (16, -1.0), (8, 0.5), (13, -0.3)]:
        assert inflected_schedule(12, r, infl) == tome_parse_r(12, r, infl)
    assert inflected_schedule(12, 16, -1.0)[0] == 32
    assert padded_schedule(4, [3, 1]) == [3, 1, 0, 0]
    with pytest.raises(ValueError, match="4 blocks"):
        padded_schedule(4, [1] * 5)
    assert spread(7, [1, 2, 3], 5) == [0, 3, 2, 2, 0]


def test_attention_paths_agree_in_every_dtype():
    """``attend``: explicit (fused scale + bias in half precision) and SDPA give the same attention,
    and the signals match the explicit probabilities."""
    from zoo.core.attention import attend, attention_probs

    g = torch.Generator().manual_seed(21)
    q, k, v = (torch.randn(2, 3, 9, 8, generator=g, dtype=torch.float64) for _ in range(3))
    bias = torch.rand(2, 1, 1, 9, generator=g, dtype=torch.float64).add(0.5).log()
    ref = attention_probs(q, k, 8 ** -0.5, bias)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5), (torch.bfloat16, 3e-2)):
        qq, kk, vv, bb = (t.to(dtype) for t in (q, k, v, bias))
        for explicit in (False, True):
            out, info = attend(qq, kk, vv, scale=8 ** -0.5, bias=bb, needs=frozenset({"cls_attn", "keys"}),
                               explicit=explicit)
            torch.testing.assert_close(out.double(), ref @ v, rtol=tol, atol=tol)
            torch.testing.assert_close(info["cls_attn"].double(), ref[:, :, 0], rtol=tol, atol=tol)
            torch.testing.assert_close(info["keys"].double(), k.mean(1), rtol=tol, atol=tol)
        probs = attention_probs(qq, kk, 8 ** -0.5, None)
        torch.testing.assert_close(probs.double(), attention_probs(q, k, 8 ** -0.5), rtol=tol, atol=tol)
