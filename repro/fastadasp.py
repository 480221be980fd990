"""FastAdaSP (arXiv 2410.03007, EMNLP 2024 Industry): weighted merging of adjacent audio tokens in speech LLMs.

Run: ``tokzoo repro fastadasp`` (``--kind conformance --official /tmp/official/FastAdaSP`` with a
checkout of yichen14/FastAdaSP at 582565a for the conformance claims).

Sources: the abstract of arXiv 2410.03007v1 (7x memory efficiency and 1.83x decoding
throughput without degradation on emotion recognition and spoken QA, on WavLLM and
Qwen-Audio) and the official code (yichen14/FastAdaSP ``Qwen-Audio/modeling_qwen.py`` at
582565a: the merge, its schedules and parameters). The paper's tables (per-task settings,
WER/BLEU/accuracy, FLOPs) were not readable from any stored copy here, so no analytic claim
is declared: the abstract's figures give no merge layer or ratio to compute them from.

Conformance (function level): the official merge is inside a modified Qwen-Audio remote-code
model whose other modules (``configuration_qwen``, ``qwen_generation_utils``, the audio
encoder) are not in the repository, so the official model cannot run. The comparison reads
``QWenBlock.merge_hidden_states`` and the inline merge block of ``QWenBlock.forward`` from the
checkout and runs them beside tokzoo's core op on seeded random tensors (16 cases per dtype;
recorded in ``repro/conformance/fastadasp.json`` by ``python -m
zoo.repro.harness.video_conformance --method fastadasp --official ... --record``).

Speed/memory claims: the paper's models are Qwen-Audio (v1, remote code) and WavLLM; tokzoo's
speech-LLM adapter serves Hugging Face ``Qwen2AudioForConditionalGeneration``, and tokzoo has
no speech benchmark harness yet. Those claims need a GPU and a model tokzoo does not load, and
say so (``skipped``); ``tokzoo bench fastadasp --model qwen2-audio-7b-narrow`` measures prefill
speed on random weights of the Qwen2-Audio-7B layout instead (not a paper claim).
"""

from __future__ import annotations

from zoo.repro import Claim, PaperSpec, Source
from zoo.repro.conformance import Official, conformance_claim
from zoo.repro.spec import Unavailable

ABSTRACT = Source("arXiv:2410.03007v1", "Abstract", "https://arxiv.org/abs/2410.03007v1")
CODE = Official("yichen14/FastAdaSP", "582565a")
NO_HARNESS = ("the paper measures WavLLM and Qwen-Audio (v1, trust_remote_code); tokzoo's speech-LLM adapter serves "
              "Qwen2AudioForConditionalGeneration and has no speech benchmark harness (ER/SQA data, memory and "
              "throughput on a GPU)")


def _not_available(ctx):
    raise Unavailable(NO_HARNESS)


CLAIMS = [conformance_claim(
    f"conformance-merge-{dtype}", method="fastadasp", params={"merge_ratio": 0.5, "weighted": True},
    official=CODE, path="Qwen-Audio/modeling_qwen.py",
    where="QWenBlock.merge_hidden_states and the 'if perform_tome:' block of QWenBlock.forward",
    compare="zoo.repro.harness.speech_conformance:fastadasp", dtype=dtype,
    description=f"tokzoo's FastAdaSP merge (neighbour key cosine, top links, attention-weighted chain merge, splice) "
                f"vs the official block on the same random tensors ({dtype})",
    setting={"level": "function (the official full model cannot run: its remote-code modules are not in the "
                      "repository)",
             "compared": "the spliced sequence (text, merged audio, text) and the selected neighbour links",
             "cases": "16 per dtype: audio spans of 24-120 tokens, merge ratio 0.1-0.8, merge_weighted and "
                      "merge_ave"})
    for dtype in ("float64", "float32", "bfloat16")]

CLAIMS += [
    Claim(id="decode-throughput-sparse", kind="throughput",
          description="decoding throughput with FastAdaSP relative to the baseline on sparse tasks (ER, SQA), "
                      "without task degradation",
          reported=1.83, unit="x", tolerance=0.1, direction="higher",
          setting={"models": "WavLLM and Qwen-Audio (the abstract does not say which gives 1.83x)",
                   "tasks": "emotion recognition, spoken question answering", "hardware": "GPU"},
          source=ABSTRACT, measure=_not_available, needs=("cuda", "weights:Qwen/Qwen-Audio"), method="fastadasp",
          known_deviation=NO_HARNESS),
    Claim(id="memory-efficiency-sparse", kind="throughput",
          description="memory efficiency with FastAdaSP relative to the baseline on sparse tasks (ER, SQA)",
          reported=7.0, unit="x", tolerance=0.5, direction="higher",
          setting={"models": "WavLLM and Qwen-Audio", "tasks": "emotion recognition, spoken question answering",
                   "hardware": "GPU", "metric": "as the abstract words it ('7x memory efficiency'); the "
                   "definition is in the paper's tables, not readable here"},
          source=ABSTRACT, measure=_not_available, needs=("cuda", "weights:Qwen/Qwen-Audio"), method="fastadasp",
          known_deviation=NO_HARNESS),
]

SPEC = PaperSpec(paper_id="fastadasp",
                 title="FastAdaSP: Multitask-Adapted Efficient Inference for Large Speech Language Model",
                 arxiv="2410.03007", method="fastadasp", claims=CLAIMS, notes=__doc__)

if __name__ == "__main__":
    from zoo.repro.script import main

    main(SPEC)
