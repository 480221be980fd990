"""PruneVid (arXiv 2412.16117): spatio-temporal merging before the LLM, attention selection inside it.

Run: ``tokzoo repro prunevid``.

Source: the results table of the official README (commit b12600c): retained ratio and FLOPs
(x) per method on PLLaVA-7B (16 x 12 x 12 = 2,304 video tokens, Vicuna-7B LLM) and
LLaVA-OneVision (32 x 196 = 6,272 tokens assumed; the README gives no frame count), plus
accuracies.

Counting (FastV's Eq. 5 prefill, ``"fastv"``, visual tokens only; each record lists the range of
non-visual token counts that reproduces the printed digits):

- FastV rows: pruned after layer 2 (FastV's default K) to the retained ratio;
- PruMerge rows: every layer sees the retained ratio;
- PruneVid rows: the merged tokens up to and including layer 10 (``selected_layer``), the selected
  ones after it. The table gives only the final retained ratio; the merged count is taken as
  ``retained / alpha`` (``alpha = 0.4`` keeps 40% of every group), the ratio a uniform
  selection implies.

PLLaVA: PruMerge and PruneVid reproduce with the visual tokens alone; FastV needs 20 or more
non-visual tokens. LLaVA-OneVision rows do not reproduce under these assumptions: the README
lists the LLaVA-OneVision code as not yet released, so its frame count, FastV layer and PruneVid
merge ratio are unknown.
"""

from __future__ import annotations

from zoo.flops import drop_schedule, flops_ratio, full_schedule
from zoo.flops.video import prunevid_schedule
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder, reproducing_range

README = Source("github.com/Visual-AI/PruneVid README.md@b12600c", "section 'Performance', results table",
                "https://github.com/Visual-AI/PruneVid/blob/b12600c6176c606ee4b6b7d9e26f4aa46d0dfd42/README.md")
MODELS = {"pllava": ("llava-1.5-7b", 2304, "PLLaVA-7B (Vicuna-7B LLM), 16 x 12 x 12 video tokens"),
          "ov": ("llava-onevision-7b", 6272, "LLaVA-OneVision-7B (Qwen2-7B), 32 x 196 video tokens (assumed)")}
OV_DEVIATION = ("the LLaVA-OneVision code is not released (README TODO list): its frame count, FastV layer and the "
                "PruneVid merge ratio are unknown; tokzoo's assumptions (32 frames, K = 2, merged = retained / 0.4) do "
                "not give the printed value")


def _schedule(kind: str, cfg, n: int, ratio: float, n_other: int):
    if kind == "fastv":
        return drop_schedule(cfg.num_layers, n, n_other, boundaries=[2], image_tokens=[round(ratio * n)])
    if kind == "prumerge":
        return full_schedule(cfg.num_layers, round(ratio * n), n_other)
    return prunevid_schedule(cfg.num_layers, round(ratio / 0.4 * n), round(ratio * n), n_other, selected_layer=10)


def _flops(model: str, kind: str, ratio: float):
    def measure(ctx) -> Measurement:
        config, n, _ = MODELS[model]
        cfg = decoder(config)

        def value(n_other: int) -> float:
            return flops_ratio(_schedule(kind, cfg, n, ratio, n_other), full_schedule(cfg.num_layers, n, n_other), cfg,
                               "fastv")

        claim = ctx.claim
        sched = _schedule(kind, cfg, n, ratio, 0)
        return Measurement(value(0), params={"keep_ratio": 0.4, "selected_layer": 10} if kind == "prunevid" else {},
                           details={"convention": "fastv (Eq. 5, prefill, visual tokens only)",
                                    "visual_tokens_per_layer": list(sched.image),
                                    "non_visual_tokens_reproducing": reproducing_range(
                                        lambda k: abs(value(k) - claim.reported) <= claim.tolerance, range(0, 513))})
    return measure


ROWS = [("pllava", "fastv", 0.300, 0.33), ("pllava", "prumerge", 0.557, 0.53), ("pllava", "prunevid", 0.162, 0.23),
        ("ov", "fastv", 0.300, 0.30), ("ov", "prumerge", 0.552, 0.49), ("ov", "prunevid", 0.170, 0.20)]
CLAIMS = []
for model, kind, ratio, reported in ROWS:
    deviation = OV_DEVIATION if model == "ov" else (
        "measured on the visual tokens alone (0.323x); 0.33x needs 20 or more non-visual tokens" if kind == "fastv" else "")
    CLAIMS.append(Claim(
        id=f"flops-{model}-{kind}", kind="analytic",
        description=f"FLOPs of {MODELS[model][2].split(',')[0]} with {kind} at {ratio:.1%} retained, relative to the baseline",
        reported=reported, unit="x", tolerance=printed(2), direction="equal",
        setting={"model": MODELS[model][2], "method": kind, "retained_ratio": ratio,
                 "metric": "FLOPs(method) / FLOPs(baseline), FastV Eq. 5 prefill, visual tokens only"},
        source=README, measure=_flops(model, kind, ratio),
        method="prunevid" if kind == "prunevid" else "", params={"keep_ratio": 0.4} if kind == "prunevid" else {},
        known_deviation=deviation))

HUB = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
CLAIMS.append(Claim(
    id="mvbench-ov", kind="accuracy", description="MVBench of LLaVA-OneVision-7B with PruneVid",
    reported=57.5, unit="%", tolerance=1.5, direction="higher",
    setting={"model": "LLaVA-OneVision-7B (HF port; the authors' OV code is unreleased)", "frames": 32,
             "alpha": 0.4, "selected_layer": 10, "tau": 0.8, "harness": "lmms-eval", "task": "mvbench"},
    source=README,
    measure=lambda ctx: __import__("zoo.repro.harness.video", fromlist=["x"]).video_score(
        ctx, HUB, "mvbench", "mvbench_accuracy", "prunevid", {"keep_ratio": 0.4}, wrapper="llava_hf",
        control_params={"keep_ratio": 0.17}),
    needs=("cuda", f"weights:{HUB}", "dataset:OpenGVLab/MVBench"), method="prunevid", params={"keep_ratio": 0.4}))

SPEC = PaperSpec(paper_id="prunevid", title="PruneVid: Visual Token Pruning for Efficient Video Large Language Models",
                 arxiv="2412.16117", method="prunevid", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
