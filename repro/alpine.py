"""ALPINE: An Adaptive Language-Agnostic Pruning Method for Language Models for Code (arXiv 2407.04147,
Proc. ACM Softw. Eng. / FSE 2025).

Run: ``tokzoo repro alpine`` (``--kind conformance --official PATH`` with a checkout of
github.com/SMART-Dal/FSE25-Alpine-Replication-Package at 5274b9a).

Paper notation -> zoo: the range width ``alpha`` is ``alpha`` (1.0 in the paper and in the official
``scripts/train.py``); the layer sets ``all`` / ``even`` / ``odd`` are ``layers='all'|'even'|'odd'``
(0-based: even = 0, 2, ..., 10 of 12); token merging (the default, ablated in the paper) is
``merge=True``. There is no keep ratio: the number of tokens kept is decided per sequence.

Claims:

- Conformance (kind ``conformance``): tokzoo's ``alpine`` against the authors' own pruning code
  (``pruning/AttenPruner.py`` ``IQRPruner`` and ``pruning/utils.py``
  ``repack_tensor_and_create_mask(..., fuse=True)``, called as they are) inside the steps of
  ``PrunableEncoderLayer.forward`` on one random RoBERTa, three unpadded sentences, float64 and
  float32 (``zoo/repro/harness/conformance_alpine.py``). Measured here: largest difference of the
  last hidden states 1.8e-15 (float64) and 7.2e-7 (float32), token counts after every block equal
  (records in ``repro/results/alpine/``).

No accuracy, FLOPs or speed claim: every number the paper reports (up to 50% fewer FLOPs, 58.1%
less memory, 28.1% more throughput, up to 98.1% of the predictive performance) is measured on
CodeBERT / GraphCodeBERT / UniXCoder *fine-tuned with ALPINE* on Devign and BigCloneBench; neither
the fine-tuned checkpoints nor the data are available here, and applied without that fine-tuning
(as tokzoo does) the accuracies do not carry over. The package's ``extracted_data/*_seq_lengths.json``
(average sequence length entering each layer of those fine-tuned models, e.g. CodeBERT on Devign
with every layer pruning: 511.4 -> 107.9 tokens) are the authors' measurements on their models,
not something tokzoo can recompute. The README's FLOPs lemma (commit 11e7d87, removed from the
README at 5274b9a) prints ``floor((8d^2 + 3d) / (4d + h)) = 1375`` for d = 768, h = 12; the formula
as printed evaluates to 1530 (both above the 1024-token context, so its conclusion stands).
"""

from __future__ import annotations

from zoo.repro import PaperSpec
from zoo.repro.conformance import Official, conformance_claim

CODE = Official("SMART-Dal/FSE25-Alpine-Replication-Package", "5274b9a")
PARAMS = {"alpha": 1.0, "layers": "all"}

CLAIMS = [
    conformance_claim(
        f"conformance-roberta-all-layers-{dtype}", method="alpine", params=PARAMS, official=CODE,
        path="pruning/AttenPruner.py", where="IQRPruner.get_pruning_mask with pruning/utils.py "
        "repack_tensor_and_create_mask(fuse=True), in the steps of PrunableEncoderLayer.forward",
        compare="zoo.repro.harness.conformance_alpine:alpine", dtype=dtype,
        description=f"tokzoo's ALPINE vs the authors' pruning layer on the same random RoBERTa ({dtype})",
        setting={"model": "RoBERTa, hidden 64, 6 layers, 4 heads (random weights)", "alpha": 1.0,
                 "layers": "all", "sentences": "3, unpadded, 24/41/64 tokens",
                 "compared": "last hidden state; token counts after every block"})
    for dtype in ("float64", "float32")
]

SPEC = PaperSpec(paper_id="alpine",
                 title="ALPINE: An Adaptive Language-Agnostic Pruning Method for Language Models for Code",
                 arxiv="2407.04147", method="alpine", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
