"""PiToMe: Accelerating Transformers with Spectrum-Preserving Token Merging (arXiv 2405.16148, NeurIPS 2024).

Run: ``tokzoo repro pitome``.

No claims yet: no reported number with a setting tokzoo can rebuild was sourced here.

- The official README (github.com/hchautran/PiToMe@550b5de) gives commands and checkpoints
  (LAVIS BLIP/ALBEF/CLIP retrieval, timm/MAE classification, BERT text classification) but no
  result table; its "saved from 40-60% FLOPs of the base models" is a range over models and
  tasks with no setting. The paper's tables were not readable from any stored copy here
  (checked 2026-12-02: arXiv HTML copies are stored from their beginning only; the NeurIPS poster
  summary github.com/deep-diver/neurips2024 content/posters/PPdJPIO3mV/index.md@354dcfa shows
  the tables only as images hosted elsewhere, not stored; no other copy was found).
- Conformance with the authors' code is measured instead (not a paper claim): with the same
  random weights in float64, tokzoo's ``pitome`` and the official timm blocks
  (``algo/pitome/patch/timm.py`` with its DeiT wrapper's per-forward settings) give logits equal
  to 8e-16 of their scale (``benchmarks/encoder_official.py --check conformance``, record
  ``benchmarks/results/encoder-official-conformance.json``); the text recipe's selection is
  checked against ``merge.pitome_text`` in the same record.
- Real-weight fidelity on all-MiniLM-L6-v2 (cosine to the unreduced sentence embedding,
  ranking agreement on a small retrieval set) is in ``benchmarks/results/minilm-fidelity.json``.

A claim is added only with its number and exact source (a table of a given arXiv version).
"""

from __future__ import annotations

from zoo.repro import PaperSpec

SPEC = PaperSpec(paper_id="pitome", title="Accelerating Transformers with Spectrum-Preserving Token Merging",
                 arxiv="2405.16148", method="pitome", claims=[], notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
