"""Token Fusion (ToFu): Bridging the Gap between Token Pruning and Token Merging (arXiv 2312.01026, WACV 2024).

Run: ``tokzoo repro token-fusion``.

No claims: no reported number could be sourced precisely, so none is claimed.

- The abstract (arXiv:2312.01026) states no number ("establishes new benchmarks ... in
  computational efficiency and model accuracy").
- The paper links no official code; no author repository or README with results exists.
- The OpenToMe re-implementation (github.com/Westlake-AI/OpenToMe README.md, checked at
  05fe07a and 579334c) lists ToFu as a supported baseline but reports no ToFu number.
- The paper's result tables (ImageNet-1k top-1, GFLOPs and throughput of off-the-shelf and
  fine-tuned ViTs; Stable Diffusion FID) were not readable from any stored copy here (arXiv
  HTML/ar5iv copies give the abstract and introduction only), and third-party summaries
  give no number.

Numbers in later papers that re-measure ToFu are their measurements, not this paper's, and
are not used. A claim is added only with its number and exact source (a table of a given
arXiv version); the analytic and random-weight throughput helpers (``zoo.repro.analytic``,
``zoo.repro.harness.vit.throughput``) already support the method (``r``, ``prune_blocks``).

Conformance to the authors' code: none possible; the paper links no official code.
"""

from __future__ import annotations

from zoo.repro import PaperSpec

SPEC = PaperSpec(paper_id="token-fusion", title="Token Fusion: Bridging the Gap between Token Pruning and Token Merging",
                 arxiv="2312.01026", method="token-fusion", claims=[], notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
