"""Token Fusion (ToFu): Bridging the Gap between Token Pruning and Token Merging (arXiv 2312.01026, WACV 2024).

Run: ``tokzoo repro token-fusion``.

No claims yet. The abstract states no number ("establishes new benchmarks ... in
computational efficiency and model accuracy"), and no official code repository or README
with results could be found; the paper's result tables (ImageNet top-1 of off-the-shelf
and fine-tuned ViTs, Stable Diffusion FID) could not be read from a citable copy here. A
claim is added only with its number and exact source (table of a given arXiv version).
"""

from __future__ import annotations

from zoo.repro import PaperSpec

SPEC = PaperSpec(paper_id="token-fusion", title="Token Fusion: Bridging the Gap between Token Pruning and Token Merging",
                 arxiv="2312.01026", method="token-fusion", claims=[], notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
