"""A-ToMe: Accelerating Transducers through Adjacent Token Merging (arXiv 2306.16009, Interspeech 2023).

Run: ``tokzoo repro a-tome``.

No claims: the abstract's numbers (57% fewer tokens, 70% faster GPU inference, no notable WER
loss on LibriSpeech) are for transducers trained with A-ToMe in place; neither the models nor
code are public (no official repository was found), and the paper's per-setting tables were not
readable from any stored copy here (checked 2026-12-02: abstract pages and review summaries only;
Papers with Code lists no results). tokzoo's implementation follows the abstract and the method
summary (adjacent frames, key cosine, fixed merge ratio or threshold); where the paper's exact
rules were not available the module docstring says what tokzoo chose. Real-weight fidelity on
text (all-MiniLM-L6-v2) is in ``benchmarks/results/minilm-fidelity.json``; on speech there are no
real weights here (Whisper runs on random weights in the tests and benchmarks).
"""

from __future__ import annotations

from zoo.repro import PaperSpec

SPEC = PaperSpec(paper_id="a-tome", title="Accelerating Transducers through Adjacent Token Merging",
                 arxiv="2306.16009", method="a-tome", claims=[], notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
