"""A small, valid catalog covering every filter dimension, for the catalog/CLI/importer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE_YAML = """\
# fixture catalog (comment kept by round-trip edits)
schema_version: 2
papers:
  - id: fastv
    title: "An Image is Worth 1/2 Tokens After Layer 2: Plug-and-Play Acceleration for VLLM Inference"
    short_name: FastV
    section_year: 2024
    venue: {name: ECCV, year: 2024, kind: conference, note: Oral}
    arxiv: "2403.06764"
    links:
      paper: https://arxiv.org/abs/2403.06764
      code: https://github.com/pkunlp-icler/FastV
    modality: [image]
    technique: [pruning]
    family: [vlm]
    training_free: true
    zoo: {status: implemented, method: fastv}
  - id: vidtome
    title: "VidToMe: Video Token Merging for Zero-Shot Video Editing"
    short_name: VidToMe
    section_year: 2023
    venue: {name: CVPR, year: 2024, kind: conference}
    arxiv: "2312.10656"
    links:
      paper: https://arxiv.org/abs/2312.10656
      project: https://vidtome-diffusion.github.io/
    modality: [video]
    technique: [merging]
    family: [diffusion]
    training_free: true
    zoo: {status: none}
  - id: locret
    title: "Locret: Enhancing Eviction in Long-Context LLM Inference with Trained Retaining Heads"
    short_name: Locret
    section_year: 2024
    venue: {name: arXiv, year: null, kind: preprint}
    arxiv: "2410.01805"
    links:
      paper: https://arxiv.org/abs/2410.01805
      code: https://github.com/example/locret
    modality: [text]
    technique: [kv-compression]
    family: [llm]
    training_free: false
    zoo: {status: none}
  - id: fastast
    title: "FastAST: Accelerating Audio Spectrogram Transformer via Token Merging and Cross-Model Knowledge Distillation"
    short_name: FastAST
    section_year: 2024
    venue: {name: Interspeech, year: 2024, kind: conference}
    arxiv: null
    links:
      paper: https://www.isca-archive.org/interspeech_2024/example.pdf
    modality: [audio]
    technique: [merging]
    family: [speech]
    training_free: false
    zoo: {status: planned}
  - id: token-pooling
    title: "Token Pooling in Vision Transformers"
    short_name: null
    section_year: 2021
    venue: {name: NeurIPSW, year: 2022, kind: workshop}
    arxiv: "2110.03860"
    links:
      paper: https://arxiv.org/abs/2110.03860
      code: https://github.com/example/token-pooling
      other:
        - https://huggingface.co/example/token-pooling
    modality: [image, video]
    technique: [pooling, merging]
    family: [vit]
    training_free: false
    zoo: {status: none}
  - id: todo
    title: "ToDo: Token Downsampling for Efficient Generation of High-Resolution Images & Videos"
    short_name: ToDo
    section_year: 2025
    venue: {name: TPAMI, year: 2025, kind: journal}
    arxiv: "2402.13573"
    links:
      paper: https://arxiv.org/abs/2402.13573
    modality: [image]
    technique: [caching]
    family: [diffusion]
    training_free: true
    zoo: {status: none}
"""

#: the same catalog in schema_version 1 (``year`` instead of ``section_year``), which still loads
FIXTURE_YAML_V1 = FIXTURE_YAML.replace("schema_version: 2", "schema_version: 1").replace("\n    section_year: ", "\n    year: ")

FIXTURE_IDS = ["fastv", "vidtome", "locret", "fastast", "token-pooling", "todo"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own parse cache and no TOKZOO_CATALOG from the environment."""
    monkeypatch.setenv("TOKZOO_CACHE_DIR", str(tmp_path_factory.mktemp("tokzoo-cache")))
    monkeypatch.delenv("TOKZOO_CATALOG", raising=False)


def write_catalog(folder: Path, text: str = FIXTURE_YAML, name: str = "catalog.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the ``occurrence``-th line containing ``needle``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found")
