"""The video methods' pure cores (zoo/core/density.py, zoo/core/temporal.py, zoo/papers/<video method>.py)
checked against naive references written with Python loops, on small random tensors.

Agreement with the authors' own functions is checked by the local conformance harness
(``repro/conformance/video.py --official ...``); these tests run everywhere.
"""

from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")

from zoo.core import density, temporal  # noqa: E402
from zoo.papers import dycoke, fastvid, framefusion, holitom, prunevid, slowfast_llava, vidcom2  # noqa: E402

F = torch.nn.functional


def rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


# ---------------------------------------------------------------- zoo.core.density
def naive_peaks(x, k):
    n, c = x.shape
    d = [[float((x[i] - x[j]).norm()) / math.sqrt(c) for j in range(n)] for i in range(n)]
    rho = [math.exp(-sum(v * v for v in sorted(row)[:k]) / k) for row in d]
    dmax = max(max(row) for row in d)
    delta = [min([d[i][j] for j in range(n) if rho[j] > rho[i]] or [dmax]) for i in range(n)]
    return [rho[i] * delta[i] for i in range(n)], d


def test_peak_scores_match_the_definition():
    x = rand(1, 12, 5, seed=1)
    score, _, _ = density.peak_scores(x, k=3)
    ref, _ = naive_peaks(x[0], 3)
    assert torch.allclose(score[0], torch.tensor(ref, dtype=score.dtype), atol=1e-6)


def test_cluster_assigns_each_token_to_its_nearest_centre_and_centres_to_themselves():
    x = rand(2, 15, 4, seed=2)
    labels, centres = density.cluster(x, 4, k=3)
    for b in range(2):
        _, d = naive_peaks(x[b], 3)
        for i in range(15):
            if i in centres[b].tolist():
                assert labels[b, i] == centres[b].tolist().index(i)
            else:
                dists = [d[i][c] for c in centres[b].tolist()]
                assert labels[b, i] == dists.index(min(dists))
    means = density.cluster_means(x, labels, 4)
    for b, c in itertools.product(range(2), range(4)):
        assert torch.allclose(means[b, c], x[b][labels[b] == c].mean(0))


def test_cluster_means_of_an_empty_cluster_is_zero():
    x = rand(1, 4, 3)
    means = density.cluster_means(x, torch.tensor([[0, 0, 2, 2]]), 3)
    assert torch.equal(means[0, 1], torch.zeros(3, dtype=x.dtype))


def test_density_rejects_a_bad_k():
    with pytest.raises(ValueError, match="k=9"):
        density.knn_density(torch.zeros(1, 4, 4), 9)


# ---------------------------------------------------------------- zoo.core.temporal
def test_segments_cuts_labels_and_frame_indices():
    assert temporal.segment_sizes_from_cuts([4, 1], 8) == [2, 3, 3]
    assert temporal.segment_sizes_from_cuts([], 5) == [5]
    assert temporal.segment_sizes_from_labels(torch.tensor([3, 3, 1, 1, 1, 3])) == [2, 3, 1]
    assert temporal.linspace_frame_indices(32, 8) == [0, 4, 8, 13, 17, 22, 26, 31]
    assert temporal.stride_frame_indices(50, 10) == list(range(0, 50, 5))
    with pytest.raises(ValueError, match="cuts"):
        temporal.segment_sizes_from_cuts([7], 8)
    with pytest.raises(ValueError, match="cannot keep 9 of 8"):
        temporal.linspace_frame_indices(8, 9)


def test_pooling_ops_match_loops():
    g = rand(2, 4, 6, 3, seed=3)
    pairs = temporal.pool_pairs(g.reshape(2, 24, 3), "max")
    for t, i in itertools.product(range(2), range(12)):
        assert torch.equal(pairs[t, i], torch.maximum(g.reshape(2, 24, 3)[t, 2 * i], g.reshape(2, 24, 3)[t, 2 * i + 1]))
    avg = temporal.pool_grid(g, (2, 3), "avg")
    assert torch.allclose(avg[1, 1, 2], g[1, 2:4, 4:6].reshape(-1, 3).mean(0))
    sim = temporal.token_similarity_to_next(g.reshape(2, 24, 3))
    assert math.isclose(float(sim[0, 5]), cos(g.reshape(2, 24, 3)[0, 5], g.reshape(2, 24, 3)[1, 5]), rel_tol=1e-9)


# ---------------------------------------------------------------- DyCoke
def naive_ttm(frames, keep_ratio):
    t, n, _ = frames.shape
    k = int(keep_ratio * n)
    ref = {i + 1: i for i in range(0, t - 1, 2)}
    ref.update({i + 2: i for i in range(0, t - 4, 4)})
    out = []
    for f in range(t):
        if f not in ref:
            out += [f * n + j for j in range(n)]
        else:
            sims = [(cos(frames[ref[f], j], frames[f, j]), j) for j in range(n)]
            out += [f * n + j for _, j in sorted(sims)[:k]]
    return out


@pytest.mark.parametrize("t", [8, 12, 9])
def test_dycoke_ttm_matches_the_loop_reference(t):
    frames = rand(t, 10, 6, seed=t)
    got = dycoke.temporal_token_merging(frames, 0.3)
    assert got.index.tolist() == naive_ttm(frames, 0.3)
    assert torch.equal(got.tokens, frames.reshape(-1, 6)[got.index])
    assert len(got) == dycoke.ttm_token_count(t, 10, 0.3)
    pos = dycoke.temporal_token_merging(frames, 0.3, token_order="position").index
    assert sorted(pos.tolist()) == sorted(got.index.tolist()) and pos.tolist() == sorted(pos.tolist())


def test_dycoke_token_count_on_the_paper_layout():
    # LLaVA-OneVision: 32 frames x 196 tokens; K = 0.7 keeps 58 tokens in a pruned frame;
    # frames 0, 4, ..., 28 and 30 (the official loop leaves the last window's third frame) stay whole
    assert dycoke.kept_per_frame(196, 0.3) == 58
    assert dycoke.ttm_token_count(32, 196, 0.3) == 9 * 196 + 23 * 58


def test_dycoke_decode_pruner_official_and_previous_reuse():
    a = torch.tensor([0.1, 0.5, 0.2, 0.9, 0.3])
    p = dycoke.DecodeStepPruner(keep=2)
    assert p.step(a).tolist() == [1, 3]  # first step prunes
    assert p.step(a * 1.01) is None  # similar: the official code hides nothing
    assert p.step(torch.tensor([0.9, 0.0, 0.0, 0.0, 0.8])).tolist() == [0, 4]
    q = dycoke.DecodeStepPruner(keep=2, reuse="previous")
    q.step(a)
    assert q.step(a * 1.01).tolist() == [1, 3]


# ---------------------------------------------------------------- PruneVid
def test_prunevid_refine_labels():
    # label 1's longest run is kept, its short run joins the longer neighbour; a label with runs of 1 vanishes
    assert prunevid.refine_labels([0, 0, 1, 1, 1, 0, 2, 1, 1]) == [0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert prunevid.refine_labels([2, 0, 0, 0]) == [0, 0, 0, 0]
    assert prunevid.refine_labels([0, 1, 0, 1]) == [0, 0, 0, 0]


def test_prunevid_static_mask_and_selection_match_loops():
    w = rand(3, 7, 4, seed=5)
    w[:, :3] = w[:1, :3] + 0.01 * rand(3, 3, 4, seed=6)
    mask = prunevid.static_mask(w, 0.8)
    for n in range(7):
        sims = [cos(w[i, n], w[j, n]) for i in range(3) for j in range(3) if i != j]
        assert bool(mask[n]) == (sum(sims) / len(sims) > 0.8)
    assert mask[:3].all()
    groups = prunevid.PruneVidGroups(static=[5, 0], dynamic=[6, 8], window=[2, 4])
    scores = rand(19, seed=7)
    kept = prunevid.select_tokens(scores, groups, 0.4)
    ref = []
    for start, length in [(0, 5), (5, 3), (8, 3), (11, 0), (11, 2), (13, 2), (15, 2), (17, 2)]:
        order = sorted(range(start, start + length), key=lambda i: -float(scores[i]))
        ref += order[:int(length * 0.4)]
    assert kept.tolist() == sorted(ref)


def test_prunevid_merge_accounts_for_every_token():
    frames = rand(1, 36, 8, seed=8) + 0.2 * rand(12, 36, 8, seed=9)
    frames[6:] += rand(1, 36, 8, seed=10)
    out, groups = prunevid.merge_video(frames)
    assert sum(groups.window) == 12 and len(out) == sum(groups.static) + sum(groups.dynamic)
    assert float(out.size.sum()) == 12 * 36  # every input token is in exactly one output token
    assert len(out) < 12 * 36


# ---------------------------------------------------------------- FastVID
def test_fastvid_dyseg_budget_and_anchor_counts():
    g = rand(10, 6, seed=11)
    g[5:] += 3 * rand(1, 6, seed=12)
    sims = [cos(g[i], g[i + 1]) for i in range(9)]
    lowest = sorted(range(9), key=lambda i: sims[i])[:2]
    cuts = sorted(set(lowest) | {i for i in range(9) if sims[i] < 0.9})
    assert fastvid.dyseg(g, c=3, tau=0.9) == temporal.segment_sizes_from_cuts(cuts, 10)
    assert fastvid.budget(196, 0.10, 0.4) == (12, 7)  # R = 19: 12 salient + 7 context per frame
    # anchors: every 4th frame counted from a segment's end; 7 * 5 // 2 = 17 and 7 * 4 // 1 = 28 context tokens
    assert fastvid.anchor_context_counts([1, 5, 4], 7, 4) == [7] + [17, 0, 0, 0, 17] + [0, 0, 0, 28]


def test_fastvid_keeps_salient_tokens_verbatim_and_original_order():
    frames = rand(8, 49, 16, seed=13)
    sal = rand(8, 49, seed=14).abs()
    glob = frames.mean(1)
    out = fastvid.fastvid(frames, sal, glob, keep_ratio=0.3)
    assert out.index.tolist() == sorted(out.index.tolist())
    salient, _ = fastvid.budget(49, 0.3, 0.4)
    flat = frames.reshape(-1, 16)
    for t in range(8):
        for j in torch.topk(sal[t], salient).indices.tolist():
            pos = out.index.tolist().index(t * 49 + j)
            assert torch.equal(out.tokens[pos], flat[t * 49 + j])
    assert len(out) <= 8 * int(49 * 0.3)


# ---------------------------------------------------------------- FrameFusion
def test_framefusion_pruning_ratio_closed_form():
    assert framefusion.pruning_ratio([], 0.3, 28) == pytest.approx(0.7)
    s = [0.2, 0.1]
    spent = 0.8 + 0.8 * 0.9
    assert framefusion.pruning_ratio(s, 0.3, 28) == pytest.approx(1 - (28 * 0.3 - spent) / (26 * 0.72))
    assert framefusion.pruning_ratio([], 1.0, 28) == 0.0
    with pytest.raises(ValueError, match="cost=0.01 is too small"):
        framefusion.pruning_ratio([0.0], 0.01, 28)


def test_framefusion_merge_step_matches_a_loop():
    p, t = 4, 5
    hidden = rand(2 + p * t + 3, 6, seed=15)
    hidden[2 + p:2 + 2 * p] = hidden[2:2 + p] + 0.01 * rand(p, 6, seed=16)  # frame 1 ~ frame 0
    patch = torch.full((hidden.shape[0],), -1)
    patch[2:2 + p * t] = torch.arange(p).repeat(t)
    plan = framefusion.FrameFusionPlan(cost=0.3, similarity_lower_bound=0.6, ratio_lower_bound=0.1, num_layers=28)
    new, keep = plan.merge_step(hidden, patch, p)
    # loop reference: per patch, walk the frames; a token >= 0.6 similar to the previous token of its patch
    # joins the run's head, which becomes the plain mean
    ref = hidden.clone()
    ref_keep = torch.ones(hidden.shape[0], dtype=torch.bool)
    for q in range(p):
        seq = [i for i in range(hidden.shape[0]) if patch[i] == q]
        head, members = seq[0], []
        for prev, cur in zip(seq, seq[1:]):
            if cos(hidden[prev], hidden[cur]) >= 0.6:
                members.append(cur)
                ref_keep[cur] = False
            else:
                if members:
                    ref[head] = (hidden[head] + sum(hidden[m] for m in members)) / (len(members) + 1)
                head, members = cur, []
        if members:
            ref[head] = (hidden[head] + sum(hidden[m] for m in members)) / (len(members) + 1)
    assert torch.equal(keep, ref_keep) and not keep[2 + p:2 + 2 * p].any()
    assert torch.allclose(new[keep], ref[keep])


# ---------------------------------------------------------------- HoliTom
def test_holitom_windows_maximise_saved_tokens():
    frames = rand(1, 9, 4, seed=17) + 0.05 * rand(7, 9, 4, seed=18)
    frames[3:] += rand(1, 9, 4, seed=19)
    frames[:, :3] += rand(7, 3, 4, seed=20)
    sim = temporal.token_similarity_to_next(frames)
    windows, saved = holitom.static_windows(sim, 0.8)
    gain = holitom.saved_tokens(sim, 0.8)

    def value(parts):
        return sum(float(gain[a, b]) for a, b in parts)

    best = 0.0
    for cuts in itertools.product([0, 1], repeat=6):  # brute force over all partitions of 7 frames
        bounds = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [7]
        best = max(best, value([(bounds[i], bounds[i + 1] - 1) for i in range(len(bounds) - 1)]))
    assert saved == best == value(windows)
    assert windows[0][0] == 0 and windows[-1][1] == 6


def test_holitom_inner_merge_matches_a_loop():
    hidden = rand(12, 5, seed=21)
    visual = torch.arange(2, 10)
    imp = rand(8, seed=22).abs()
    out, keep = holitom.inner_merge(hidden, visual, imp, 0.5)
    top = sorted(range(8), key=lambda i: -float(imp[i]))[:4]
    ref = hidden.clone()
    for i in range(8):
        if i in top:
            continue
        j = max(top, key=lambda q: cos(hidden[2 + i], hidden[2 + q]))
        ref[2 + j] = (ref[2 + j] + ref[2 + i]) / 2
    assert torch.allclose(out, ref) and keep.sum() == 4


def test_holitom_budget():
    frames = rand(6, 16, 8, seed=23)
    out = holitom.holitom(frames, rand(6, 16, seed=24).abs(), keep_ratio=0.25)
    assert len(out) <= math.ceil(6 * 16 * 0.25) + 6


# ---------------------------------------------------------------- VidCom2
def test_vidcom2_matches_a_loop():
    frames = rand(4, 9, 6, seed=25)
    frames[2] += 2
    got = vidcom2.vidcom2(frames, 0.4)
    flat = frames.reshape(-1, 6)
    var = flat.var(0, unbiased=False)
    ch = sorted(range(6), key=lambda c: float(var[c]))[:3]
    unit = F.normalize(flat[:, ch], dim=-1).reshape(4, 9, 3)
    vc, fc = unit.reshape(-1, 3).mean(0), unit.mean(1)
    def gs(x, c):
        return sum(math.exp(-float(((x - c) ** 2).sum()) / (2 * a)) for a in vidcom2.ALPHAS)

    v = [[gs(unit[t, n], vc) for n in range(9)] for t in range(4)]
    u = torch.tensor([-sum(row) / 9 for row in v], dtype=torch.float64)
    p = torch.softmax((u - u.max()) / 0.01, 0)
    ref = []
    for t in range(4):
        k = max(1, round(min(1.0, 0.4 * float(1 + p[t] - p.mean())) * 9))
        score = [(v[t][n] + gs(unit[t, n], fc[t]), n) for n in range(9)]
        ref += sorted(t * 9 + n for _, n in sorted(score)[:k])
    assert got.index.tolist() == ref


# ---------------------------------------------------------------- SlowFast-LLaVA
def test_slowfast_layout_and_token_count():
    grid = rand(20, 6, 6, 4, seed=26)
    out = slowfast_llava.slowfast(grid, n_slow=4, fast_size=(2, 2))
    assert len(out) == slowfast_llava.token_count(20, 6, 6, n_slow=4, fast_size=(2, 2)) == 4 * 18 + 20 * 4
    slow0 = out.tokens[:18]
    flat0 = grid[0].reshape(36, 4)
    assert torch.equal(slow0[1], torch.maximum(flat0[2], flat0[3]))
    fast = out.tokens[4 * 18:].reshape(20, 4, 4)
    assert torch.allclose(fast[7, 3], grid[7, 3:, 3:].reshape(-1, 4).mean(0))
    assert out.index[4 * 18 + 3].item() == 0 * 36 + 3 * 6 + 3
    # the paper's layout: 50 frames of 24 x 24 LLaVA-NeXT tokens, 10 slow frames, 4 x 4 fast tokens
    assert slowfast_llava.token_count(50, 24, 24) == 3680


def test_framefusion_merge_step_capped_by_the_budget_ends_both_stages():
    p, t = 4, 5
    hidden = rand(p * t, 6, seed=27)
    hidden[p:2 * p] = hidden[:p] + 0.01 * rand(p, 6, seed=28)
    patch = torch.arange(p).repeat(t)
    plan = framefusion.FrameFusionPlan(cost=0.9, similarity_lower_bound=0.6, ratio_lower_bound=0.1, num_layers=28)
    _, keep = plan.merge_step(hidden, patch, p)
    # the budget allows merging int(0.1 * 20) of the 20 visual tokens (1: 1 - 25.2/28 is 0.0999... in binary, as in
    # the official code); the most similar goes, no pruning follows
    assert int((~keep).sum()) == int(framefusion.pruning_ratio([], 0.9, 28) * 20) == 1
    assert not plan.merging and not plan.pruning
