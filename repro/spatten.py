"""SpAtten: Efficient Sparse Attention Architecture with Cascade Token and Head Pruning (arXiv 2012.09852,
HPCA 2021).

Run: ``tokzoo repro spatten``.

No claims: nothing the paper reports can be rebuilt by tokzoo.

- The paper's headline numbers (DRAM access reduced about 10x, speedups and energy savings against
  other attention accelerators, a GPU and a CPU) are measurements of the SpAtten accelerator
  (its hardware model), not of the algorithm alone; the accuracy
  tables use BERT and GPT-2 checkpoints on GLUE/SQuAD/language modelling with per-task pruning
  ratios that tokzoo does not have (and whether the BERT models were fine-tuned with pruning was
  not confirmed from the sources read here).
- The authors' repository (github.com/mit-han-lab/spatten@a0f1388) holds the hardware model, a fast
  BERT behaviour model in C++ (cycle counts from a workload CSV) and an LLM KV-cache variant
  (``spatten_llm/kv_cache_token_pruning.py``: per-layer, per-head selection of the most attended
  cached tokens besides fixed start and recent windows, for Llama chat). Its workload files are
  GPT-2 generation traces. There is no encoder (BERT) cascade token pruning code to compare with,
  so there is no conformance claim; tokzoo's importance score (attention received, summed over
  heads and queries, accumulated over blocks, survivors in original order) is checked against a
  loop reference in ``tests/test_encoder_attention_pruning.py``.
- Real-weight fidelity on all-MiniLM-L6-v2 is in ``benchmarks/results/minilm-fidelity.json``.
"""

from __future__ import annotations

from zoo.repro import PaperSpec

SPEC = PaperSpec(paper_id="spatten",
                 title="SpAtten: Efficient Sparse Attention Architecture with Cascade Token and Head Pruning",
                 arxiv="2012.09852", method="spatten", claims=[], notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
