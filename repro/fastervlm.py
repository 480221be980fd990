"""FasterVLM: [CLS] Attention is All You Need for Training-Free Visual Token Pruning (arXiv 2412.01818).

Run: ``tokzoo repro fastervlm`` (the claim needs a GPU, the LLaVA-1.5-7B weights and
lmms-eval: ``pip install 'tokzoo[eval]'``).

Zoo notation: FasterVLM's reduction ratio R is a *prune* ratio; ``keep_ratio = 1 - R``.

The abstract's claim: pruning 95% of the visual tokens keeps 90% of LLaVA-1.5-7B's
performance. tokzoo measures it as the mean over benchmarks of 100 · score(FasterVLM) /
score(LLaVA-1.5-7B), both measured in the same run through lmms-eval with the HF port of
LLaVA-1.5-7B. The paper averages over its own ten benchmarks with LLaVA's evaluation
scripts; tokzoo uses the subset lmms-eval scores without an external judge (listed in the
record) — a difference of protocol stated in the setting.
"""

from __future__ import annotations

from zoo.repro import Claim, PaperSpec, Source
from zoo.repro.harness.vlm import relative_performance

ABSTRACT = Source("arXiv:2412.01818v1", "Abstract", "https://arxiv.org/abs/2412.01818v1")
HUB = "llava-hf/llava-1.5-7b-hf"
TASKS = [("gqa", "exact_match"), ("textvqa_val", "exact_match"), ("pope", "pope_accuracy"),
         ("mme", "mme_percetion_score"), ("scienceqa_img", "exact_match"), ("vizwiz_vqa_val", "exact_match")]
PARAMS = {"keep_ratio": 0.05}

CLAIMS = [
    Claim(id="relative-performance-7b-r95", kind="accuracy",
          description="Share of LLaVA-1.5-7B's benchmark performance kept when FasterVLM prunes 95% of visual tokens",
          reported=90, unit="%", tolerance=0.0, direction="higher",
          setting={"model": "LLaVA-1.5-7B (HF port llava-hf/llava-1.5-7b-hf)", "reduction ratio": "95%",
                   "benchmarks": [t for t, _ in TASKS], "harness": "lmms-eval",
                   "metric": "mean over benchmarks of 100 * score(FasterVLM) / score(baseline), same run",
                   "protocol note": "paper: 10 benchmarks with LLaVA's scripts; here: the judge-free lmms-eval subset"},
          source=ABSTRACT,
          measure=lambda ctx: relative_performance(ctx, HUB, TASKS, "fastervlm", PARAMS,
                                                   control_params={"layers": [0], "keep_ratio": 0.05}),
          needs=("cuda", f"weights:{HUB}", "dataset:lmms-lab/GQA", "dataset:lmms-lab/textvqa", "dataset:lmms-lab/POPE",
                 "dataset:lmms-lab/MME", "dataset:lmms-lab/ScienceQA", "dataset:lmms-lab/VizWiz-VQA"),
          method="fastervlm", params=PARAMS),
]

SPEC = PaperSpec(paper_id="fastervlm",
                 title="[CLS] Attention is All You Need for Training-Free Visual Token Pruning: Make VLM Inference Faster",
                 arxiv="2412.01818", method="fastervlm", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
