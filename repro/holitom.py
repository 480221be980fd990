"""HoliTom (arXiv 2505.21334): holistic token merging, outer-LLM plus an optional inner-LLM merge.

Run: ``tokzoo repro holitom``.

Source: the benchmark table of the official README (``imgs/benchmark.jpeg`` at commit e9b2972):
LLaVA-OV-7B, prefilling TFLOPs per "before LLM retained ratio" (25 / 20 / 15 / 10%), for
HoliTom without (w/o M) and with the inner-LLM merge (README setting ``HOLITOM_k=18``,
``HOLITOM_r=0.5``), plus accuracies.

Counting: FastV's Eq. 5 prefill count on the visual tokens alone (``"fastv"``, no text tokens):
it gives the vanilla row's 40.8 T for 32 x 196 = 6,272 tokens exactly. The retained counts are
``round(r * 6272)``; the inner merge halves them from decoder layer 18. The table's ratio column
is its TFLOPs column divided by 40.8 (claimed as such, below). The 25% and 10%
rows reproduce; at 20% and 15% ``round(r * 6272)`` gives 0.1-0.2 T less than printed (the table
does not give its token counts).

The "FLOPs Ratio" column is the printed TFLOPs divided by the printed 40.8 (e.g. 7.0 / 40.8 =
17.2%; the unrounded ratio at 20% would be 16.9%): its claims divide the computed TFLOPs, rounded
to the printed 0.1 T, by the computed vanilla TFLOPs rounded the same way, so they reproduce
where the TFLOPs cells do (25%, 10%) and deviate with them (20%, 15%). Not claimed: the FastV and
PDrop rows (9.3 T / 22.8%, 10.5 T / 25.7%; the table gives neither their layers nor their
budgets); the VisionZip, PruneVid and FastVID rows repeat the HoliTom (w/o M) TFLOPs of the same
retained ratio.
"""

from __future__ import annotations

from zoo.flops import stack_flops
from zoo.flops.video import holitom_schedule
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder

TABLE = Source("github.com/cokeshao/HoliTom imgs/benchmark.jpeg@e9b2972", "README benchmark table, LLaVA-OV-7B",
               "https://github.com/cokeshao/HoliTom/blob/e9b2972f6895c9e7d7fe74eb8c3a2ecaab8056e0/imgs/benchmark.jpeg")
CONFIG, N_VIDEO = "llava-onevision-7b", 32 * 196
INNER = {"inner_layer": 18, "inner_ratio": 0.5}
DEVIATION = ("round(r * 6272) visual tokens give 0.1-0.2 T less than printed; the table does not state the token "
             "counts behind its 20% and 15% rows")


def _tflops(ratio: float | None, inner: bool):
    def measure(ctx) -> Measurement:
        cfg = decoder(CONFIG)
        n = N_VIDEO if ratio is None else round(ratio * N_VIDEO)
        sched = holitom_schedule(cfg.num_layers, n, 0, **(INNER if inner else {}))
        params = {} if ratio is None else {"keep_ratio": ratio, **(INNER if inner else {})}
        return Measurement(stack_flops(sched, cfg, "fastv") / 1e12, params=params,
                           details={"convention": "fastv (Eq. 5, prefill, visual tokens only)",
                                    "visual_tokens_per_layer": list(sched.image)})
    return measure


CLAIMS = [Claim(id="flops-vanilla", kind="analytic", description="Prefilling TFLOPs of LLaVA-OV-7B, 32 frames, no reduction",
                reported=40.8, unit="TFLOPs", tolerance=printed(1),
                setting={"model": "LLaVA-OV-7B", "video": "32 frames x 196 tokens", "metric": "FastV Eq. 5, visual tokens"},
                source=TABLE, measure=_tflops(None, False))]
for ratio, plain, merged in ((0.25, 8.7, 7.1), (0.20, 7.0, 5.8), (0.15, 5.2, 4.3), (0.10, 3.4, 2.8)):
    pct = int(round(ratio * 100))
    for inner, rep in ((False, plain), (True, merged)):
        CLAIMS.append(Claim(
            id=f"flops-retain-{pct}{'-inner' if inner else ''}", kind="analytic",
            description=f"Prefilling TFLOPs with HoliTom{'' if inner else ' (w/o M)'} at {pct}% retained before the LLM",
            reported=rep, unit="TFLOPs", tolerance=printed(1),
            setting={"model": "LLaVA-OV-7B", "video": "32 frames x 196 tokens", "retain_ratio": ratio,
                     **({"inner merge": "layer 18, r = 0.5"} if inner else {}),
                     "metric": "FastV Eq. 5 prefill FLOPs, visual tokens only"},
            source=TABLE, measure=_tflops(ratio, inner), method="holitom",
            params={"keep_ratio": ratio, **(INNER if inner else {})},
            known_deviation=DEVIATION if ratio in (0.20, 0.15) else ""))



def _ratio(ratio: float, inner: bool):
    """The table's 'FLOPs Ratio': TFLOPs rounded to 0.1 T over the vanilla TFLOPs rounded the same way."""
    method, vanilla = _tflops(ratio, inner), _tflops(None, False)

    def measure(ctx) -> Measurement:
        m, v = method(ctx), vanilla(ctx)
        m.details.update({"tflops": m.value, "vanilla_tflops": v.value, "unrounded_ratio_pct": 100 * m.value / v.value,
                          "rule": "100 * round(TFLOPs, 1) / round(vanilla TFLOPs, 1), the printed cells' ratio"})
        m.value = 100 * round(m.value, 1) / round(v.value, 1)
        return m
    return measure


for ratio, plain, merged in ((0.25, 21.3, 17.4), (0.20, 17.2, 14.2), (0.15, 12.7, 10.5), (0.10, 8.3, 6.9)):
    pct = int(round(ratio * 100))
    for inner, rep in ((False, plain), (True, merged)):
        CLAIMS.append(Claim(
            id=f"flops-ratio-retain-{pct}{'-inner' if inner else ''}", kind="analytic",
            description=f"FLOPs ratio to vanilla of HoliTom{'' if inner else ' (w/o M)'} at {pct}% retained before the LLM",
            reported=rep, unit="%", tolerance=printed(1),
            setting={"model": "LLaVA-OV-7B", "video": "32 frames x 196 tokens", "retain_ratio": ratio,
                     **({"inner merge": "layer 18, r = 0.5"} if inner else {}),
                     "metric": "'FLOPs Ratio' column: prefill TFLOPs (FastV Eq. 5, visual tokens only) rounded to 0.1 T, "
                               "over the vanilla 40.8 T"},
            source=TABLE, measure=_ratio(ratio, inner), method="holitom",
            params={"keep_ratio": ratio, **(INNER if inner else {})},
            known_deviation=("follows the row's TFLOPs cell: " + DEVIATION) if ratio in (0.20, 0.15) else ""))

HUB = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
for task, metric, reported in (("mvbench", "mvbench_accuracy", 57.3), ("videomme", "videomme_perception_score", 56.8)):
    params = {"keep_ratio": 0.10, **INNER}
    CLAIMS.append(Claim(
        id=f"{task}-retain-10-inner", kind="accuracy", description=f"{task} of LLaVA-OV-7B with HoliTom at 10% retained",
        reported=reported, unit="%", tolerance=1.5, direction="higher",
        setting={"model": "LLaVA-OV-7B (HF port)", "frames": 32, "retain_ratio": 0.10, "inner merge": "layer 18, r 0.5",
                 "harness": "lmms-eval", "task": task, "metric": metric},
        source=Source(TABLE.ref, "README benchmark table, LLaVA-OV-7B, row 'HoliTom' at 10%", TABLE.url),
        measure=lambda ctx, t=task, m=metric, p=params: __import__("zoo.repro.harness.video", fromlist=["x"]).video_score(
            ctx, HUB, t, m, "holitom", p, wrapper="llava_hf", control_params={"keep_ratio": 0.10}),
        needs=("cuda", f"weights:{HUB}", f"dataset:{'OpenGVLab/MVBench' if task == 'mvbench' else 'lmms-lab/Video-MME'}"),
        method="holitom", params=params))

SPEC = PaperSpec(paper_id="holitom", title="HoliTom: Holistic Token Merging for Fast Video Large Language Models",
                 arxiv="2505.21334", method="holitom", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
