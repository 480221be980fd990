"""DivPrune: Diversity-based Visual Token Pruning for Large Multimodal Models (arXiv 2503.02175).

Run: ``tokzoo repro divprune``.

Zoo notation: the official ``SUBSET_RATIO`` (the kept fraction, 0.098 by default) is
``keep_ratio``; DivPrune acts on the language model's input (``LAYER_INDEX=0``).

The README says ``python ./tflops.py`` gives "the TFLOP numbers reported in the paper"; the
claims below are that script's printed averages (vbdi/divprune ``tflops.py`` at 799e2d9,
run here unchanged): per benchmark ``T (4nd^2 + 2n^2d + 2ndm)`` with ``n`` the text tokens
plus the visual tokens left (``v - round((1 - r) v)``), averaged over the script's benchmark
list (11 image benchmarks with their text lengths; LLaVA-1.6 with per-benchmark visual token
counts; 5 video benchmarks with 8 x 144 frame tokens and ``r = 0.1``). tokzoo measures them
with ``zoo.flops.llm`` (FastV's Eq. 5, the same per-layer formula) on the kept counts of its
own implementation (``DivPrune.count``: ``int(round(r v))``) and the LLMs' public shapes.
"""

from __future__ import annotations

from zoo.repro import Claim, Measurement, PaperSpec, Source

TFLOPS = Source("github.com/vbdi/divprune tflops.py@799e2d9",
                "printed averages of tflops.py (README: 'the TFLOP numbers reported in the paper')",
                "https://github.com/vbdi/divprune/blob/799e2d950aa01ba7860907f5a6d86061f885dca6/tflops.py")
IMAGE_TEXT = [15, 15, 23, 83, 25, 113, 15, 39, 21, 91, 57]  # tflops.py: text tokens of the 11 image benchmarks
NEXT_VISUAL = [2225, 1922, 2239, 1927, 2108, 1882, 2292, 2249, 2250, 1598, 2116]  # LLaVA-1.6 visual tokens
VIDEO_TEXT = [28, 63, 21, 38, 196]
LLMS = {"7b": dict(num_layers=32, hidden_size=4096, intermediate_size=11008, num_attention_heads=32),
        "13b": dict(num_layers=40, hidden_size=5120, intermediate_size=13824, num_attention_heads=40)}


def _averages(llm: str, texts, visuals, ratio: float):
    from zoo.flops import llm as flops
    from zoo.papers.divprune import DivPrune

    cfg = flops.DecoderConfig(**LLMS[llm], name=f"vicuna-{llm}")
    method = DivPrune(keep_ratio=ratio)
    full, pruned, ratios = [], [], []
    for text, v in zip(texts, visuals):
        base = flops.stack_flops(flops.full_schedule(cfg.num_layers, v, text), cfg, "fastv")
        kept = flops.stack_flops(flops.full_schedule(cfg.num_layers, method.count(v), text), cfg, "fastv")
        full.append(base)
        pruned.append(kept)
        ratios.append(100.0 * kept / base)
    n = len(full)
    return {"full_tflops": sum(full) / n / 1e12, "pruned_tflops": sum(pruned) / n / 1e12, "ratio_pct": sum(ratios) / n,
            "kept_visual_tokens": [method.count(v) for v in visuals]}


def _measure(llm, texts, visuals, ratio, key):
    def measure(ctx) -> Measurement:
        out = _averages(llm, texts, visuals, ratio)
        return Measurement(round(out[key], 4), details=out, params={"keep_ratio": ratio})
    return measure


SETTINGS = {
    "llava-1.5-7b": ("7b", IMAGE_TEXT, [576] * 11, 0.098, "LLaVA-1.5-7B, 11 image benchmarks, 576 visual tokens"),
    "llava-1.5-13b": ("13b", IMAGE_TEXT, [576] * 11, 0.098, "LLaVA-1.5-13B, 11 image benchmarks, 576 visual tokens"),
    "llava-1.6-7b": ("7b", IMAGE_TEXT, NEXT_VISUAL, 0.098, "LLaVA-1.6-7B, 11 image benchmarks, per-benchmark anyres tokens"),
    "llava-1.6-7b-video": ("7b", VIDEO_TEXT, [8 * 144] * 5, 0.1, "LLaVA-1.6-7B video, 5 benchmarks, 8 frames x 144"),
}
REPORTED = {"llava-1.5-7b": (0.5122, 15.6303), "llava-1.5-13b": (1.0020, 15.7132),
            "llava-1.6-7b": (1.2659, 10.7966), "llava-1.6-7b-video": (0.9371, 14.1044)}
#: the script's "avg full TFLOPs" line (the unpruned baseline it divides by)
REPORTED_FULL = {"llava-1.5-7b": 3.2280, "llava-1.5-13b": 6.2813, "llava-1.6-7b": 11.8489, "llava-1.6-7b-video": 6.5386}

CLAIMS = []
for name, (llm, texts, visuals, ratio, label) in SETTINGS.items():
    tflops, pct = REPORTED[name]
    setting = {"model": label, "keep_ratio (SUBSET_RATIO)": ratio, "convention": "T (4nd^2 + 2n^2d + 2ndm), FastV Eq. 5",
               "average": "over the script's benchmarks"}
    CLAIMS.append(Claim(id=f"pruned-tflops-{name}", kind="analytic",
                        description=f"Average TFLOPs of the LLM with DivPrune ({label})", reported=tflops,
                        unit="TFLOPs", tolerance=0.00005, setting=setting, source=TFLOPS,
                        measure=_measure(llm, texts, visuals, ratio, "pruned_tflops"), method="divprune",
                        params={"keep_ratio": ratio}))
    CLAIMS.append(Claim(id=f"full-tflops-{name}", kind="analytic",
                        description=f"Average TFLOPs of the LLM without pruning ({label})", reported=REPORTED_FULL[name],
                        unit="TFLOPs", tolerance=0.00005, setting={**setting, "budget": "none (the baseline)"},
                        source=Source(TFLOPS.ref, "printed 'avg full TFLOPs' of tflops.py", TFLOPS.url),
                        measure=_measure(llm, texts, visuals, ratio, "full_tflops")))
    CLAIMS.append(Claim(id=f"tflops-ratio-{name}", kind="analytic",
                        description=f"Average DivPrune / baseline TFLOPs ({label})", reported=pct, unit="%",
                        tolerance=0.00005, setting=setting, source=TFLOPS,
                        measure=_measure(llm, texts, visuals, ratio, "ratio_pct"), method="divprune",
                        params={"keep_ratio": ratio}))

SPEC = PaperSpec(paper_id="divprune", title="DivPrune: Diversity-based Visual Token Pruning for Large Multimodal Models",
                 arxiv="2503.02175", method="divprune", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
