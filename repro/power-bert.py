"""PoWER-BERT: Accelerating BERT Inference via Progressive Word-vector Elimination (arXiv 2001.08950, ICML 2020).

Run: ``tokzoo repro power-bert``.

No claims: the sourced numbers need models tokzoo cannot rebuild.

- The official README (github.com/IBM/PoWER-BERT@6b0e406) reports GLUE test scores and K80
  inference times of BERT-base against PoWER-BERT (e.g. MRPC 88.7 -> 88.1 F1, 1798 -> 674 ms,
  2.7x, batch 128). Those PoWER-BERT models were fine-tuned, had their retention configuration
  learned by the soft-extract search and were then retrained with it; neither the checkpoints nor
  the learned configurations are published, and the README says the configuration must be read
  from each run's training log.
- tokzoo applies the word-vector elimination off the shelf with a given configuration
  (``retention``) or the zoo's ``keep_ratio``; its significance score is the official
  ``Hard_Extract``'s (heads averaged, column sums minus the diagonal, [CLS] kept, survivors in
  original order), checked against a loop reference in ``tests/test_vit_scores.py``. The official
  code (TensorFlow 1.15 / Keras 2.3) does not run on this stack, so there is no side-by-side run.
- The README's "Speedup" row (4.5x ... 2.0x) is the ratio of its own two time rows, not a number
  computable from a model config; checking it would be arithmetic on printed cells, not a
  measurement, so it is not claimed. The paper's tables (retention configurations, FLOPs) were not
  readable from any stored copy (checked 2026-12-02: the paper's text is stored from its
  beginning only; Papers with Code lists no results).
- Real-weight fidelity on all-MiniLM-L6-v2 is in ``benchmarks/results/minilm-fidelity.json``.
"""

from __future__ import annotations

from zoo.repro import PaperSpec

SPEC = PaperSpec(paper_id="power-bert", title="PoWER-BERT: Accelerating BERT Inference via Progressive Word-vector Elimination",
                 arxiv="2001.08950", method="power-bert", claims=[], notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
