"""DyCoke (arXiv 2411.15024): TTM before the LLM, dynamic KV-cache pruning while decoding.

Run: ``tokzoo repro dycoke`` (or ``python repro/dycoke.py``).

Sources: the official README's results table (``figures/table.png`` at commit dd74634: retained
ratio, TFLOPs and FLOPs ratio per setting on LLaVA-OV-0.5B/7B/72B) and the arXiv abstract.

Paper notation -> zoo: ``K`` (TTM pruning rate) -> ``keep_ratio = 1 - K``; ``P`` (decoding
pruning rate) -> ``decode_keep_ratio = 1 - P``; ``L`` -> ``layer``.

Counting, as found by reproducing the table (LLaVA-OV-7B rows; 32 frames x 196 tokens):

- *Retained ratio (final)* is the window arithmetic ``(1 + 3 (1 - K)) / 4 * (1 - P)``: of every
  four frames one is kept whole and three keep ``1 - K`` of their tokens, and the decoding stage
  keeps ``1 - P`` of those. The official code truncates ``int((1 - K) * 196)`` (58, not 58.8) and
  leaves the third frame of the last window whole (for 32 frames: 3,098 TTM tokens, not 2,979);
  each record's details give the implementation's exact count.
- *FLOPs (T)* are FastV's Eq. 5 prefill counts (``zoo.flops`` convention ``"fastv"``) on the TTM
  tokens of that window arithmetic: with 76 non-visual tokens all four LLaVA-OV-7B rows
  (41.4 / 30.8 / 24.1 / 17.9 T) are reproduced to the printed digit. The decoding term is not
  identifiable from the table (0 to about 32 decoded tokens under tokzoo's ``"dycoke"`` reading
  fit equally well): tokzoo's ``dycoke`` convention (prefill + KV-cached decoding, see
  ``zoo.flops.llm``) stays tokzoo's reading, unverified against the supplement's equations, which
  were not available offline. The 0.5B and 72B rows need configs tokzoo does not ship; not
  claimed.

Speed (1.5x) and memory (1.4x) claims of the abstract and the accuracy columns need a GPU,
the LLaVA-OV weights and the benchmarks; they are declared and skipped here.
"""

from __future__ import annotations

from zoo.flops import full_schedule, stack_flops
from zoo.repro import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.analytic import decoder, reproducing_range

REPO, COMMIT = "github.com/KD-TAO/DyCoke", "dd74634"
TABLE = Source(f"{REPO} figures/table.png@{COMMIT}", "README results table, block 'LLaVA-OV-7B'",
               "https://github.com/KD-TAO/DyCoke/blob/dd7463498203479d0ff6f2d29c4e72928c0af244/figures/table.png")
ABSTRACT = Source("arXiv:2411.15024v3", "Abstract", "https://arxiv.org/abs/2411.15024v3")
CONFIG = "llava-onevision-7b"
FRAMES, PER_FRAME, OTHER = 32, 196, 76
P = 0.7
RATIO_DEVIATION = ("the table's FLOPs-ratio column is not the ratio of its own TFLOPs column (30.8/41.4 = 74.4% is "
                   "printed 75%, 24.1/41.4 = 58.2% is printed 59%); tokzoo measures with the 76 non-visual tokens that "
                   "reproduce the TFLOPs column; these two ratios need 97-413 non-visual tokens (see the records' "
                   "non_visual_tokens_reproducing), where the TFLOPs column no longer matches")


def ttm_fraction(k: float) -> float:
    """Share of a video's tokens TTM keeps in the paper's window arithmetic: ``(1 + 3 (1 - K)) / 4``."""
    return (1 + 3 * (1 - k)) / 4


def _details(k: float) -> dict:
    from zoo.papers.video_budgets import ttm_token_count

    exact = ttm_token_count(FRAMES, PER_FRAME, round(1 - k, 12))
    return {"implementation_ttm_tokens_32x196": exact, "window_arithmetic_tokens": FRAMES * PER_FRAME * ttm_fraction(k),
            "implementation_final_ratio_percent": 100 * exact * (1 - P) / (FRAMES * PER_FRAME)}


def _retained(k: float):
    def measure(ctx) -> Measurement:
        return Measurement(100 * ttm_fraction(k) * (1 - P), details=_details(k),
                           params={"keep_ratio": round(1 - k, 12), "decode_keep_ratio": round(1 - P, 12), "layer": 3})
    return measure


def _tflops(k: float | None, as_ratio: bool = False):
    def measure(ctx) -> Measurement:
        cfg = decoder(CONFIG)
        n_video = FRAMES * PER_FRAME

        def value(n_other: int) -> float:
            n = n_video if k is None else round(n_video * ttm_fraction(k))
            method = stack_flops(full_schedule(cfg.num_layers, n, n_other), cfg, "fastv")
            if as_ratio:
                return 100 * method / stack_flops(full_schedule(cfg.num_layers, n_video, n_other), cfg, "fastv")
            return method / 1e12

        claim = ctx.claim
        m = Measurement(value(OTHER), params={} if k is None else {"keep_ratio": round(1 - k, 12), "layer": 3})
        m.details.update({"convention": "fastv (Eq. 5, prefill)", "non_visual_tokens": OTHER, "visual_tokens_in": n_video,
                          "non_visual_tokens_reproducing": reproducing_range(
                              lambda n: abs(value(n) - claim.reported) <= claim.tolerance, range(0, 513))})
        if k is not None:
            m.details.update(_details(k))
        return m
    return measure


CLAIMS = [
    Claim(id="flops-7b-full-tokens", kind="analytic", description="Prefill TFLOPs of LLaVA-OV-7B on 32 frames, no reduction",
          reported=41.4, unit="TFLOPs", tolerance=printed(1),
          setting={"model": "LLaVA-OV-7B (Qwen2-7B, 28 layers)", "video": "32 frames x 196 tokens",
                   "metric": "FastV Eq. 5 prefill FLOPs (multiply-adds), 76 non-visual tokens"},
          source=TABLE, measure=_tflops(None)),
]
for k, retained, tflops, ratio in ((0.3, 23.25, 30.8, 75), (0.5, 18.75, 24.1, 59), (0.7, 14.25, 17.9, 43)):
    tag = f"k{str(k).replace('.', '')}"
    params = {"keep_ratio": round(1 - k, 12), "decode_keep_ratio": round(1 - P, 12), "layer": 3}
    setting = {"model": "LLaVA-OV-7B", "video": "32 frames x 196 tokens", "K": k, "L": 3, "P": P}
    CLAIMS += [
        Claim(id=f"retained-ratio-7b-{tag}", kind="analytic",
              description=f"Final retained ratio of the visual tokens with K={k}, P={P}",
              reported=retained, unit="%", tolerance=printed(2),
              setting={**setting, "metric": "TTM share (1 + 3(1-K))/4 times the decoding share 1-P"},
              source=TABLE, measure=_retained(k), method="dycoke", params=params),
        Claim(id=f"flops-7b-{tag}", kind="analytic", description=f"Prefill TFLOPs with K={k}",
              reported=tflops, unit="TFLOPs", tolerance=printed(1),
              setting={**setting, "metric": "FastV Eq. 5 prefill FLOPs on the TTM tokens, 76 non-visual tokens"},
              source=TABLE, measure=_tflops(k), method="dycoke", params=params),
        Claim(id=f"flops-ratio-7b-{tag}", kind="analytic", description=f"FLOPs ratio to full tokens with K={k}",
              reported=ratio, unit="%", tolerance=printed(0),
              setting={**setting, "metric": "FLOPs(DyCoke) / FLOPs(full), FastV Eq. 5 prefill, 76 non-visual tokens"},
              source=TABLE, measure=_tflops(k, as_ratio=True), method="dycoke", params=params,
              known_deviation="" if k == 0.7 else RATIO_DEVIATION),
    ]

HUB = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
for task, metric, reported in (("videomme", "videomme_perception_score", 58.3), ("nextqa_mc_test", "exact_match", 78.2)):
    params = {"keep_ratio": 0.3, "decode_keep_ratio": 0.3, "layer": 3}
    CLAIMS.append(Claim(
        id=f"{task.split('_')[0]}-7b-k07", kind="accuracy",
        description=f"{task} of LLaVA-OV-7B with DyCoke K=0.7, L=3, P=0.7 (lmms-eval)",
        reported=reported, unit="%", tolerance=2.0, direction="higher",
        setting={"model": "LLaVA-OV-7B (HF port; the table used the original LLaVA-NeXT code)", "frames": 32,
                 "K": 0.7, "L": 3, "P": 0.7, "harness": "lmms-eval", "task": task, "metric": metric},
        source=Source(TABLE.ref, "README results table, LLaVA-OV-7B, row 'Ours (K=0.7, L=3, P=0.7)'", TABLE.url),
        measure=lambda ctx, t=task, m=metric, p=params: __import__("zoo.repro.harness.video", fromlist=["x"]).video_score(
            ctx, HUB, t, m, "dycoke", p, wrapper="llava_hf", control_params={"keep_ratio": 0.1425}),
        needs=("cuda", f"weights:{HUB}", f"dataset:lmms-lab/{'Video-MME' if task == 'videomme' else 'NExTQA'}"),
        method="dycoke", params=params))

SPEC = PaperSpec(paper_id="dycoke", title="DyCoke: Dynamic Compression of Tokens for Fast Video Large Language Models",
                 arxiv="2411.15024", method="dycoke", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
