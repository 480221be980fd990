"""ATS: Adaptive Token Sampling for Efficient Vision Transformers (arXiv 2111.15667, ECCV 2022).

Run: ``tokzoo repro ats``.

ATS keeps a data-dependent number of tokens, so its cost is measured on real images with
real weights: the claim's value is the mean fvcore-style GMACs of DeiT-S without ATS divided
by the mean with ATS, over the evaluated images, for the repository's DeiT-S evaluation
config (ATS in blocks 3-11, at most 197 tokens; ``configs/ImageNet/DeiT_S.yaml``), with the
top-1 of both in the same run. The README/abstract's headline is "reducing the computational
cost (GFLOPs) by 2x while preserving the accuracy" over several models; DeiT-S is the model
its evaluation instructions use. Random weights would give a meaningless token count, so
there is no random-weight speed claim.

No analytic claim (sources checked 2026-12-02: the README, both abstracts, issue
adaptivetokensampling/ATS#1, where a user quotes Table 1's DeiT-S+ATS "2.9" GFLOPs and the
maintainer confirms the reported GFLOPs are averaged over the validation images, and the image
of Figure 4 in github.com/Dayoung-Kil/Dayoung-Kil.github.io assets/img/notes/ats/fig4.png@8bc61f1,
which plots ATS+DeiT-S at 79.7% and -37% GFLOPs; all of these are averages over real images with
the authors' models, and the copies do not say whether those models were fine-tuned, so none is
claimed beside the headline below): the README (at 11bc16b) and both abstract versions give only headline
reductions ("2x" in the README and the arXiv v2 abstract, "37%" in an earlier abstract
version), which are averages over real images with real weights; an upper-bound GFLOPs of a K schedule is tokzoo's arithmetic, not a reported
number, and the paper's per-model GFLOPs tables were not readable from a stored copy here.

Conformance to the authors' code (``tokzoo repro ats --kind conformance --official PATH``,
checkout of github.com/adaptivetokensampling/ATS at 9271257): the official ``ViT`` of
``libs/models/transformers/vit.py`` with its ``ATSBlock`` s (``ats_block.py``), built from the
fields of ``configs/ImageNet/DeiT_S.yaml`` (ATS in blocks 3-11, ``NUM_TOKENS`` K = 197,
``DROP_TOKENS: True``) with the timm DeiT-S's random weights, against ``zoo.apply(model, "ats",
...)`` (``zoo.repro.harness.conformance_ats``; its ``fvcore`` registry and ``libs/__init__``'s
environment setup are replaced by empty stand-ins). Images go one at a time: in a batch the
official code pads shorter images with zero tokens, which then enter the next block's CDF and
can change which tokens the other images keep (the record's ``batch_of_2`` shows one such
change); tokzoo builds the CDF over real tokens only, so its batch equals the single runs.
The official attention (``softmax_with_policy``, every block) is ``(exp(a - max) + 1e-6 / N) /
(sum + 1e-6)`` with float32 exponentials: with ATS off it alone moves the logits by ~4e-8 in
float64, so the float64 claim's tolerance is 1e-6; the kept patches and token counts per
block are checks of their own.

Not compared: a budget below the tokens a block receives (K < N). The official code does not
run there: ``inverse_transform_sampling`` gathers ``K - 1`` of its ``N - 1`` unique indices with
``expand(B, heads, K - 1, N)`` on a tensor of ``N - 1`` rows (``RuntimeError: The expanded
size of the tensor (64) must match the existing size (196)`` with K = 65 on DeiT-S), so only
K = 197, the value of the repository's only config, is compared. tokzoo's cap (the most
significant hits, when more than K - 1 are hit) has no official counterpart.
"""

from __future__ import annotations

from zoo.repro import Claim, PaperSpec, Source
from zoo.repro.conformance import Official, conformance_claim
from zoo.repro.harness import methods

README = Source("github.com/adaptivetokensampling/ATS README.md@11bc16b",
                "introduction paragraph ('reducing the computational cost (GFLOPs) by 2x while preserving the accuracy')",
                "https://github.com/adaptivetokensampling/ATS/blob/11bc16bbeecd19e579ac1114b666e7196561a137/README.md")
WEIGHTS = "timm/deit_small_patch16_224.fb_in1k"
PARAMS = {"layers": list(range(3, 12)), "keep_tokens": 196}  # K = 197 tokens incl. CLS


def gflops_factor(ctx):
    from zoo.repro.harness.vit import imagenet_top1

    methods.require_method("ats")
    m = imagenet_top1(ctx, "deit-small", "ats", PARAMS, weights=WEIGHTS, batch=1)  # per-image token counts
    sched = m.details.get("mean_tokens_after_block")
    if not sched:
        raise RuntimeError("the ats implementation did not record per-block token counts")
    from zoo.repro.analytic import vit_macs

    m.details["gmacs_method_mean"] = vit_macs("deit-small", sched) / 1e9
    m.value = vit_macs("deit-small") / vit_macs("deit-small", sched)
    return m


CLAIMS = [
    Claim(id="gflops-factor-deit-s", kind="fidelity",
          description="GFLOPs reduction factor of off-the-shelf DeiT-S with ATS (data-dependent token count)",
          reported=2.0, unit="x", tolerance=0.3, direction="higher",
          setting={"model": "DeiT-S", "weights": WEIGHTS, "ATS blocks": "3-11", "max tokens": 197,
                   "benchmark": "ImageNet-1k val", "metric": "mean GMACs baseline / mean GMACs with ATS",
                   "note": "the '2x' headline covers several models; DeiT-S is the README's evaluation model"},
          source=README, measure=gflops_factor, needs=("cpu", f"weights:{WEIGHTS}", "dataset:imagenet-val"),
          method="ats", params=PARAMS),
]

ATS_CODE = Official("adaptivetokensampling/ATS", "9271257")
CLAIMS += [conformance_claim(
    f"conformance-deit-s-k197-{dtype}", method="ats", params=PARAMS, official=ATS_CODE,
    path="libs/models/transformers/ats_block.py", where="AdaptiveTokenSampler (score_assignment_step, "
    "inverse_transform_sampling, drop_tokens) inside libs/models/transformers/vit.py ViT, cfg.VIT of "
    "configs/ImageNet/DeiT_S.yaml (ATS_BLOCKS 3-11, NUM_TOKENS 197, DROP_TOKENS True)",
    compare="zoo.repro.harness.conformance_ats:ats", dtype=dtype, tolerance=1e-6 if dtype == "float64" else None,
    description=f"tokzoo's ATS vs the official ViT with ATSBlocks on the same random DeiT-S ({dtype})",
    setting={"model": "DeiT-S (timm, random weights)", "ATS blocks": "3-11", "K": 197, "images": "2 x randn, one at "
             "a time", "compared": "logits (method off and on), tokens after every block, original patch ids kept "
             "by every sampling block",
             **({"tolerance note": "1e-6: the official softmax_with_policy (+1e-6 terms, float32 exponentials) alone "
                                   "moves the logits by ~4e-8 with ATS off"} if dtype == "float64" else {})})
    for dtype in ("float64", "float32")]

SPEC = PaperSpec(paper_id="ats", title="Adaptive Token Sampling For Efficient Vision Transformers",
                 arxiv="2111.15667", method="ats", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
