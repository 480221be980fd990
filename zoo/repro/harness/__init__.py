"""Measurement code behind the non-analytic claims (imports torch & co. only when called).

- :mod:`zoo.repro.harness.speed`: paired, interleaved timing of baseline vs method.
- :mod:`zoo.repro.harness.vit`: timm ViTs: random-weight throughput on the exact architecture,
  ImageNet-style top-1 through timm's data pipeline (``--data-dir imagenet-val=PATH``).
- :mod:`zoo.repro.harness.vlm`: HF LLaVA: random-weight prefill latency on the exact
  architecture, benchmarks through lmms-eval (optional extra ``tokzoo[eval]``) or a minimal
  evaluator on a local or Hugging Face dataset.
- :mod:`zoo.repro.harness.methods`: applying a method and a random-pruning control by id.
"""
